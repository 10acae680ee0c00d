/* See strbuf.h. On allocation failure the buffer stops growing (a truncated
 * report beats none). */
#include "strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int reserve(strbuf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *n = realloc(b->data, cap);
    if (!n)
        return -1;
    b->data = n;
    b->cap = cap;
    return 0;
}

void sb_printf(strbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[512];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof tmp) {
        if (reserve(b, (size_t)n) == 0) {
            memcpy(b->data + b->len, tmp, (size_t)n + 1);
            b->len += (size_t)n;
        }
        return;
    }
    if (reserve(b, (size_t)n) < 0)
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void sb_puts(strbuf *b, const char *s)
{
    size_t n = strlen(s);
    if (reserve(b, n) < 0)
        return;
    memcpy(b->data + b->len, s, n + 1);
    b->len += n;
}

void sb_json_str(strbuf *b, const char *s)
{
    sb_puts(b, "\"");
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        switch (*p) {
        case '"': sb_puts(b, "\\\""); break;
        case '\\': sb_puts(b, "\\\\"); break;
        case '\n': sb_puts(b, "\\n"); break;
        case '\r': sb_puts(b, "\\r"); break;
        case '\t': sb_puts(b, "\\t"); break;
        default:
            if (*p < 0x20)
                sb_printf(b, "\\u%04x", *p);
            else {
                char c[2] = {(char)*p, 0};
                sb_puts(b, c);
            }
        }
    }
    sb_puts(b, "\"");
}

void sb_free(strbuf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* Length of the valid UTF-8 sequence at S (1..4, and not a C1 control),
 * or 0. */
static size_t utf8_len(const unsigned char *s)
{
    unsigned c = s[0];
    size_t n = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
    if (!n || c > 0xf4)
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if (n == 2 && c == 0xc2 && s[1] < 0xa0)
        return 0; /* U+0080..U+009F: C1 controls */
    if (n == 3 && ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] >= 0xa0)))
        return 0; /* overlong, surrogates */
    if (n == 4 && ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] >= 0x90)))
        return 0;
    return n;
}

void escape_message(char *msg, size_t cap)
{
    if (!cap)
        return;
    size_t len = strnlen(msg, cap - 1);
    char *src = malloc(len + 1);
    if (!src) {
        /* no memory: at least no control byte survives */
        for (size_t i = 0; i < len; i++)
            if ((unsigned char)msg[i] < 0x20 || (unsigned char)msg[i] >= 0x7f)
                msg[i] = '?';
        return;
    }
    memcpy(src, msg, len);
    src[len] = '\0';
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        const unsigned char *c = (const unsigned char *)src + i;
        size_t n = *c >= 0x80 ? utf8_len(c) : (*c >= 0x20 && *c != 0x7f);
        if (n) {
            if (o + n >= cap)
                break;
            memcpy(msg + o, c, n);
            o += n;
            i += n;
        } else {
            if (o + 4 >= cap)
                break;
            snprintf(msg + o, 5, "\\x%02x", *c);
            o += 4;
            i++;
        }
    }
    msg[o] = '\0';
    free(src);
}
