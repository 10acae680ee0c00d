/* Native frame symbolization: pc -> module, offset, function, file:line.
 * Uses elfutils libdwfl (ELF symbol tables, DWARF, separate debug files by
 * build-id), so static functions of the executable are named when a symbol
 * table or debug info exists. Only called when a report is written, never
 * on the hot path. Not async-signal-safe. */
#ifndef BUFSAN_STACKS_SYMBOLIZE_H
#define BUFSAN_STACKS_SYMBOLIZE_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *module;   /* path, or "" */
    uint64_t offset;      /* pc - module load base */
    const char *function; /* or NULL */
    const char *file;     /* source file, or NULL */
    int line;
} bs_native_frame;

/* Symbolizes PC (a return address: the line is looked up at pc-1) in this
 * process. Strings stay valid until symbolize_reset(). Returns 0 or -1. */
int symbolize_pc(uint64_t pc, bs_native_frame *out);
/* The same without the source line (file NULL, line 0 unless an earlier
 * call looked it up): no DWARF line tables are loaded. */
int symbolize_pc_name(uint64_t pc, bs_native_frame *out);

/* A module of a recorded process (trace files). */
typedef struct {
    const char *path;
    uint64_t bias, lo, hi;     /* load bias; mapped address range */
    const uint8_t *build_id;
    size_t build_id_len;
} bs_module_entry;

/* Symbolizes pcs of another process from its module map (offline reports):
 * the files are opened by path, checked against the build-id, and debug
 * info is found as for live processes (separate files by build-id). The
 * entries are copied. M=NULL, N=0: back to this process. */
void symbolize_use_module_map(const bs_module_entry *m, size_t n);

/* Forgets cached module maps (after fork or dlopen). */
void symbolize_reset(void);

#endif
