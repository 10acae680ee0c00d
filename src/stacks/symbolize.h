/* Native frame symbolization: pc -> module, offset, function, file:line.
 * Uses elfutils libdwfl (ELF symbol tables, DWARF, separate debug files by
 * build-id), so static functions of the executable are named when a symbol
 * table or debug info exists. Only called when a report is written, never
 * on the hot path. Not async-signal-safe. */
#ifndef BUFSAN_STACKS_SYMBOLIZE_H
#define BUFSAN_STACKS_SYMBOLIZE_H

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

/* Forgets cached module maps (after fork or dlopen). */
void symbolize_reset(void);

#endif
