/* A spin lock for sections of a few instructions, and the pause a spinning
 * waiter takes between looks. Header only: the loader (no libpython), the
 * version-specific cores and the engine all use it. */
#ifndef BUFSAN_COMMON_SPIN_H
#define BUFSAN_COMMON_SPIN_H

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static inline void spin_lock(int *word)
{
    while (__atomic_exchange_n(word, 1, __ATOMIC_ACQUIRE))
        while (__atomic_load_n(word, __ATOMIC_RELAXED))
            cpu_relax();
}

static inline void spin_unlock(int *word)
{
    __atomic_store_n(word, 0, __ATOMIC_RELEASE);
}

#endif
