/* What the options fuzzer and its corpus replay run on one input: the bytes
 * before the first NUL are a BUFSAN_OPTIONS string, the bytes after it a
 * suppressions file. Both parsers must give 0 or one error line, never
 * crash, leak or loop, whatever the bytes. */
#ifndef BUFSAN_TESTS_FUZZ_OPTIONS_BODY_H
#define BUFSAN_TESTS_FUZZ_OPTIONS_BODY_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/common/options.h"
#include "../../src/report/suppress.h"

static void fuzz_options_one(const uint8_t *data, size_t len)
{
    const uint8_t *nul = memchr(data, 0, len);
    size_t optlen = nul ? (size_t)(nul - data) : len;
    char *optstr = malloc(optlen + 1);
    if (!optstr)
        return;
    memcpy(optstr, data, optlen);
    optstr[optlen] = '\0';
    bs_options o;
    char err[512];
    bs_options_defaults(&o);
    if (bs_options_parse(&o, optstr, "BUFSAN_OPTIONS", err, sizeof err) < 0 &&
        (!err[0] || strchr(err, '\n')))
        abort(); /* an error is one non-empty line */
    bs_options_free(&o);
    free(optstr);
    if (!nul)
        return;
    size_t slen = len - optlen - 1;
    /* fmemopen needs a size > 0: an empty suppressions part is a stream of
     * one byte of our own, read first (the input's buffer ends at its NUL:
     * the byte after it is not ours to read) */
    static char empty[1];
    FILE *f = slen ? fmemopen((void *)(nul + 1), slen, "r") : fmemopen(empty, 1, "r");
    if (!f)
        return;
    if (!slen)
        fgetc(f);
    bs_suppressions s;
    if (suppressions_read(&s, f, "fuzz.supp", err, sizeof err) == 0)
        suppressions_free(&s);
    else if (!err[0] || strchr(err, '\n'))
        abort();
    fclose(f);
}

#endif
