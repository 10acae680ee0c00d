/* The contract between the Python-agnostic loader (libbufsan.so) and a core
 * built for one Python version (bufsan_core-X.Y.so). The loader fills the
 * first half and calls bufsan_core_start(); the core fills the hooks. */
#ifndef BUFSAN_LOADER_API_H
#define BUFSAN_LOADER_API_H

#define BUFSAN_LOADER_API_VERSION 3

typedef struct bufsan_loader_api {
    int api_version;
    /* filled by the loader */
    const char *libdir;            /* directory holding the loader and cores */
    void *loader_base;             /* load address of the loader: symbols that
                                      resolve into it are interposed */
    void *next_get_buffer;         /* PyObject_GetBuffer after the loader */
    void *next_release;            /* PyBuffer_Release after the loader */
    /* is [addr, addr+len) in anonymous readable memory the program mapped
       through the PLT and has not unmapped since (the object arenas)? */
    int (*mapped_contains)(unsigned long long addr, unsigned long long len);
    /* filled by the core; NULL until it is ready */
    int (*get_buffer)(void *obj, void *view, int flags);
    void (*release)(void *view);
    /* called once with the program's exit status; returns the status to use */
    int (*exit_status)(int status);
    /* called when a forked child calls _exit (os._exit: multiprocessing
     * workers); returns the status to use */
    int (*exit_without_finalize)(int status);
    /* called when an embedder calls Py_Initialize, Py_InitializeEx or
     * Py_InitializeFromConfig (where the loader interposes them), before
     * the interpreter's: a lifetime after Py_FinalizeEx is set up here */
    void (*before_initialize)(void);
} bufsan_loader_api;

/* Exported by each core. Returns 0 when installed. */
typedef int (*bufsan_core_start_fn)(bufsan_loader_api *api);
#define BUFSAN_CORE_START_SYMBOL "bufsan_core_start"

#endif
