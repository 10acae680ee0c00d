/* See fields.h. */
#include "fields.h"

#include <stdint.h>

#define TR_FIELD(m, role)                                                                   \
    {#m, offsetof(bs_event, m), sizeof(((bs_event *)0)->m), TR_ROLE_##role},
const tr_field tr_fields[] = {
#include "event_fields.inc"
};
#undef TR_FIELD
const size_t tr_nfields = sizeof tr_fields / sizeof tr_fields[0];

size_t tr_named_extent(void)
{
    size_t end = 0;
    for (size_t i = 0; i < tr_nfields; i++)
        if (tr_fields[i].offset + tr_fields[i].size > end)
            end = tr_fields[i].offset + tr_fields[i].size;
    return end;
}
