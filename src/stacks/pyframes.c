/* Python frames of the current thread, read from the interpreter's frame
 * chain (through pyver.h, which knows each version's layout). Capture reads memory only:
 * no frame objects are created, nothing is allocated, nothing is called.
 * Resolution (file, line, function) uses the C-API and runs once per new
 * stack; it keeps the code object alive so its address is never reused for
 * a different code object while the depot names it. */
#include "../pyver/pyver.h"

#include <stdlib.h>
#include <string.h>

#include "../common/u64map.h"
#include "capture.h"
#include "depot.h"

/* XXH3's 16-byte mixer: the 128-bit product of two words, folded. */
static inline uint64_t mul_fold(uint64_t a, uint64_t b)
{
    __uint128_t p = (__uint128_t)a * b;
    return (uint64_t)p ^ (uint64_t)(p >> 64);
}

/* inlined in both: the current thread's walk is on every event's path */
static inline __attribute__((always_inline)) int frames_of(void *tstate, uint64_t *keys, int max,
                                                           uint64_t *hash)
{
    uint64_t h = 0x9e3779b97f4a7c15ULL;
    int n = 0;
    PyThreadState *ts = tstate;
    if (ts)
        for (_PyInterpreterFrame *f = pyver_top_frame(ts); f && n < max; f = f->previous) {
            int at;
            PyCodeObject *co = pyver_frame_code(f, &at);
            if (!co)
                continue;
            uint64_t c = (uint64_t)(uintptr_t)co;
            uint64_t off = (uint64_t)(uint32_t)at;
            keys[2 * n] = c;
            keys[2 * n + 1] = off;
            /* hashed on the way (30-frame stacks: the frame chain is walked
             * anyway, and XXH3's long-input path was 6% of test_buffer):
             * each frame mixed as XXH3 mixes 16 bytes, chained polynomially */
            h = h * 0x9fb21c651e98df25ULL + mul_fold(c ^ 0xbe4ba423396cfeb8ULL, off ^ 0x1cad21f72c81017cULL);
            n++;
        }
    *hash = h ^ (uint64_t)n;
    return n;
}

int pyframes_capture(uint64_t *keys, int max, uint64_t *hash)
{
    return frames_of(pyver_tstate_unchecked(), keys, max, hash);
}

int pyframes_capture_of(void *tstate, uint64_t *keys, int max, uint64_t *hash)
{
    return frames_of(tstate, keys, max, hash);
}

static char *utf8_or(PyObject *s, const char *fallback)
{
    const char *u = (s && PyUnicode_Check(s)) ? PyUnicode_AsUTF8(s) : NULL;
    if (!u) {
        PyErr_Clear();
        u = fallback;
    }
    return strdup(u);
}

/* The names of each code object, resolved once: a test suite's thousands
 * of distinct frames share a few hundred code objects (the depot stores
 * each distinct frame once and never frees the strings it is given). Used
 * with the GIL held (and pyver_lock). */
typedef struct {
    const char *file, *function;
} code_names;

static u64map names_by_code;

static const code_names *names_of(PyCodeObject *co)
{
    if (!names_by_code.cap && u64map_init(&names_by_code, 256) < 0)
        return NULL;
    code_names *n = u64map_get(&names_by_code, (uint64_t)(uintptr_t)co);
    if (n)
        return n;
    n = malloc(sizeof *n);
    if (!n)
        return NULL;
    Py_INCREF(co); /* owned by the depot from now on */
    n->file = utf8_or(co->co_filename, "?");
    n->function = utf8_or(co->co_qualname ? co->co_qualname : co->co_name, "?");
    /* out of memory: not remembered, but kept (the caller's frame points at it) */
    (void)u64map_put(&names_by_code, (uint64_t)(uintptr_t)co, n);
    return n;
}

void pyframes_resolve(const uint64_t key[2], void *out)
{
    bs_py_frame *f = out;
    PyCodeObject *co = (PyCodeObject *)(uintptr_t)key[0];
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    pyver_lock();
    const code_names *n = names_of(co);
    pyver_unlock();
    f->file = n && n->file ? n->file : "?";
    f->function = n && n->function ? n->function : "?";
    f->line = PyCode_Addr2Line(co, (int)key[1]);
    PyErr_Restore(type, value, tb);
}

/* The ASCII text of a str object, read from its memory (no C-API call):
 * NULL unless it is a compact ASCII string. */
static char *ascii_copy(PyObject *s)
{
    if (!s || !PyUnicode_Check(s) || !PyUnicode_IS_READY(s) || !PyUnicode_IS_COMPACT_ASCII(s))
        return NULL;
    return strndup((const char *)PyUnicode_DATA(s), (size_t)PyUnicode_GET_LENGTH(s));
}

int pyframes_capture_detached(void *out, int max)
{
    bs_py_frame *fr = out;
    /* this thread's own state (a TSS lookup, no lock): its frames do not
     * change while it runs this code, and they keep their code objects
     * alive; _PyThreadState_UncheckedGet would name the GIL holder */
    PyThreadState *ts = PyGILState_GetThisThreadState();
    if (!ts)
        return 0;
    int n = 0;
    for (_PyInterpreterFrame *f = pyver_top_frame(ts); f && n < max; f = f->previous) {
        int at;
        PyCodeObject *co = pyver_frame_code(f, &at);
        if (!co)
            continue;
        char *file = ascii_copy(co->co_filename);
        char *func = ascii_copy(co->co_qualname ? co->co_qualname : co->co_name);
        fr[n].file = file ? file : strdup("?");
        fr[n].function = func ? func : strdup("?");
        /* PyCode_Addr2Line only decodes the line table: no allocation, no
         * reference counts, no exception */
        fr[n].line = PyCode_Addr2Line(co, at);
        n++;
    }
    return n;
}

void pyframes_free_detached(void *frames, int n)
{
    bs_py_frame *fr = frames;
    for (int i = 0; i < n; i++) {
        free((char *)fr[i].file);
        free((char *)fr[i].function);
    }
}
