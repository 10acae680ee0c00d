/* The table of bs_event fields (event_fields.inc) as data. */
#ifndef BUFSAN_TRACE_FIELDS_H
#define BUFSAN_TRACE_FIELDS_H

#include <stddef.h>

#include "../engine/event.h"

typedef enum { TR_ROLE_PLAIN, TR_ROLE_STACK, TR_ROLE_TYPENAME, TR_ROLE_THREAD } tr_field_role;

typedef struct {
    const char *name;
    size_t offset, size;
    tr_field_role role;
} tr_field;

extern const tr_field tr_fields[];
extern const size_t tr_nfields;
/* Bytes of bs_event covered by named fields (from offset 0, contiguous). */
size_t tr_named_extent(void);

#endif
