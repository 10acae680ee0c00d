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

/* Rewrites the message MSG (a buffer of CAP bytes) so that it prints as one
 * line of text whatever it quotes: control bytes and bytes that are not
 * valid UTF-8 become \xNN (truncated to CAP). */
void escape_message(char *msg, size_t cap);

#endif
