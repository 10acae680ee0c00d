/*
 * bufsan_embed: an application embedding libpython. It runs each Python
 * source file named on its command line with PyRun_SimpleString (so frames
 * say "<string>") in its own lifetime of the interpreter (Py_Initialize ...
 * Py_FinalizeEx, then again for the next file) and returns 0: under bufsan
 * a leak found at any finalization must still turn the exit status into 66.
 * With --main first, each file runs through Py_BytesMain instead (which
 * initializes and finalizes inside libpython; frames name the file).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *
embed_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *text;
    long size;

    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return NULL;
    }
    text = malloc((size_t)size + 1);
    if (text != NULL && fread(text, 1, (size_t)size, f) != (size_t)size) {
        free(text);
        text = NULL;
    }
    if (text != NULL)
        text[size] = '\0';
    fclose(f);
    return text;
}

static int
embed_run_source(const char *source)
{
    int rc;

    Py_Initialize();
    rc = PyRun_SimpleString(source);
    if (Py_FinalizeEx() < 0)
        return 120;
    printf("embed: finalized\n");
    fflush(stdout);
    return rc == 0 ? 0 : 1;
}

static int
embed_run_main(char *program, char *path)
{
    char *args[] = {program, path, NULL};
    int rc = Py_BytesMain(2, args);

    printf("embed: finalized\n");
    fflush(stdout);
    return rc;
}

int
main(int argc, char **argv)
{
    char *source;
    int rc = 0;
    int first = 1, use_main = 0;
    int i;

    if (argc > 1 && strcmp(argv[1], "--main") == 0) {
        use_main = 1;
        first = 2;
    }
    if (argc <= first) {
        fprintf(stderr, "usage: %s [--main] SCRIPT.py [SCRIPT.py...]\n", argv[0]);
        return 2;
    }
    for (i = first; i < argc && rc == 0; i++) {
        if (use_main) {
            rc = embed_run_main(argv[0], argv[i]);
            continue;
        }
        source = embed_read_file(argv[i]);
        if (source == NULL) {
            perror(argv[i]);
            return 2;
        }
        rc = embed_run_source(source);
        free(source);
    }
    return rc;
}
