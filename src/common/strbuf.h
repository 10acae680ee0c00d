/* A growable string for building reports before one write(2). */
#ifndef BUFSAN_COMMON_STRBUF_H
#define BUFSAN_COMMON_STRBUF_H

#include <stddef.h>

typedef struct {
    char *data;
    size_t len, cap;
} strbuf;

void sb_printf(strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_puts(strbuf *b, const char *s);
/* Appends S as a JSON string literal, quotes included. */
void sb_json_str(strbuf *b, const char *s);
void sb_free(strbuf *b);

#endif
