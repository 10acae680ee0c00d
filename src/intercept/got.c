/* See got.h. Addresses in the dynamic section are already relocated by
 * ld.so on x86-64; values below the load base are treated as offsets. GOT
 * pages under RELRO are made writable for the write and read-only again. */
#define _GNU_SOURCE
#include "got.h"

#include <elf.h>
#include <link.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../common/u64map.h"

typedef struct {
    const got_hook *hooks;
    int nhooks;
    got_skip_fn skip;
    void *ctx;
    int written;
} walk_ctx;

static uintptr_t dyn_ptr(uintptr_t base, ElfW(Addr) v)
{
    return v < base ? base + v : v;
}

static int in_relro(struct dl_phdr_info *info, uintptr_t addr)
{
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_GNU_RELRO)
            continue;
        uintptr_t start = info->dlpi_addr + ph->p_vaddr;
        if (addr >= start && addr < start + ph->p_memsz)
            return 1;
    }
    return 0;
}

static void write_slot(struct dl_phdr_info *info, void **slot, void *value, walk_ctx *w)
{
    if (*slot == value)
        return;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t start = (uintptr_t)slot & ~(page - 1);
    int relro = in_relro(info, (uintptr_t)slot);
    if (relro && mprotect((void *)start, page, PROT_READ | PROT_WRITE) != 0)
        return;
    __atomic_store_n(slot, value, __ATOMIC_SEQ_CST);
    if (relro)
        mprotect((void *)start, page, PROT_READ);
    w->written++;
}

static void scan_relocs(struct dl_phdr_info *info, const ElfW(Rela) *rel, size_t size,
                        const ElfW(Sym) *symtab, const char *strtab, walk_ctx *w)
{
    for (size_t i = 0; i < size / sizeof *rel; i++) {
        unsigned type = (unsigned)ELF64_R_TYPE(rel[i].r_info);
        if (type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT)
            continue;
        size_t symi = ELF64_R_SYM(rel[i].r_info);
        if (!symi)
            continue;
        const char *name = strtab + symtab[symi].st_name;
        for (int h = 0; h < w->nhooks; h++)
            if (!strcmp(name, w->hooks[h].name)) {
                void **slot = (void **)(info->dlpi_addr + rel[i].r_offset);
                write_slot(info, slot, w->hooks[h].replacement, w);
            }
    }
}

/* The objects scanned already, by load address and name; forgotten when an
 * object is unloaded (another may then sit at the same address). Loading an
 * extension module rescanned every object: 2.7% of a `import numpy`. */
static u64map scanned;
static unsigned long long scanned_subs;

static uint64_t object_key(const struct dl_phdr_info *info, const char *path)
{
    return u64_mix((uint64_t)info->dlpi_addr ^ fnv1a_str(FNV1A_BASIS, path)) | 1;
}

static int visit(struct dl_phdr_info *info, size_t size, void *data)
{
    walk_ctx *w = data;
    (void)size;
    const char *path = info->dlpi_name ? info->dlpi_name : "";
    if (info->dlpi_subs != scanned_subs || !scanned.cap) {
        u64map_destroy(&scanned);
        if (u64map_init(&scanned, 64) < 0)
            scanned.cap = 0;
        scanned_subs = info->dlpi_subs;
    }
    uint64_t key = object_key(info, path);
    if (scanned.cap && u64map_get(&scanned, key))
        return 0;
    if (scanned.cap)
        (void)u64map_put(&scanned, key, (void *)1);
    if (w->skip && w->skip(path, info->dlpi_addr, w->ctx))
        return 0;
    const ElfW(Dyn) *dyn = NULL;
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_DYNAMIC)
            dyn = (const ElfW(Dyn) *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
    if (!dyn)
        return 0;
    const ElfW(Sym) *symtab = NULL;
    const char *strtab = NULL;
    const ElfW(Rela) *jmprel = NULL, *rela = NULL;
    size_t pltrelsz = 0, relasz = 0;
    for (const ElfW(Dyn) *d = dyn; d->d_tag != DT_NULL; d++) {
        switch (d->d_tag) {
        case DT_SYMTAB: symtab = (const ElfW(Sym) *)dyn_ptr(info->dlpi_addr, d->d_un.d_ptr); break;
        case DT_STRTAB: strtab = (const char *)dyn_ptr(info->dlpi_addr, d->d_un.d_ptr); break;
        case DT_JMPREL: jmprel = (const ElfW(Rela) *)dyn_ptr(info->dlpi_addr, d->d_un.d_ptr); break;
        case DT_PLTRELSZ: pltrelsz = d->d_un.d_val; break;
        case DT_RELA: rela = (const ElfW(Rela) *)dyn_ptr(info->dlpi_addr, d->d_un.d_ptr); break;
        case DT_RELASZ: relasz = d->d_un.d_val; break;
        }
    }
    if (!symtab || !strtab)
        return 0;
    if (jmprel)
        scan_relocs(info, jmprel, pltrelsz, symtab, strtab, w);
    if (rela)
        scan_relocs(info, rela, relasz, symtab, strtab, w);
    return 0;
}

int got_patch_all(const got_hook *hooks, int nhooks, got_skip_fn skip, void *ctx)
{
    walk_ctx w = {hooks, nhooks, skip, ctx, 0};
    dl_iterate_phdr(visit, &w);
    return w.written;
}
