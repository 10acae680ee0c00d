/* The loader's table of memory mapped through the PLT (mapped.c). */
#ifndef BUFSAN_LOADER_MAPPED_H
#define BUFSAN_LOADER_MAPPED_H

#include <stdint.h>

/* Starts recording mmap / munmap / mremap / mprotect (a Python process). */
void mapped_start_recording(void);
/* Is [ADDR, ADDR+LEN) inside one readable anonymous region mapped since? */
int mapped_contains(unsigned long long addr, unsigned long long len);

#endif
