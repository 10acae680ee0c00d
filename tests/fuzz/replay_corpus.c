/* Replays the trace regression corpus (tests/trace_corpus) through what the
 * fuzzer runs, under ASan/UBSan: every file must be read without a crash. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_body.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: replay_corpus DIR\n");
        return 2;
    }
    DIR *d = opendir(argv[1]);
    if (!d) {
        perror(argv[1]);
        return 1;
    }
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", argv[1], de->d_name);
        FILE *f = fopen(path, "rb");
        if (!f)
            continue;
        fseek(f, 0, SEEK_END);
        long len = ftell(f);
        fseek(f, 0, SEEK_SET);
        uint8_t *buf = malloc(len > 0 ? (size_t)len : 1);
        size_t got = buf ? fread(buf, 1, (size_t)(len > 0 ? len : 0), f) : 0;
        fclose(f);
        fuzz_one(buf, got);
        free(buf);
        n++;
    }
    closedir(d);
    printf("replayed %d corpus files\n", n);
    return n > 0 ? 0 : 1;
}
