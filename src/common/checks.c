/* The check table, expanded from checks.inc. */
#include "checks.h"

#include <string.h>

const bs_check_info bs_checks[BS_CHECK_COUNT] = {
#define BS_CHECK(id, name, sev, desc) [BS_CHECK_##id] = {name, BS_SEV_##sev, desc},
#include "checks.inc"
#undef BS_CHECK
};

int bs_check_by_name(const char *name, unsigned long len)
{
    for (int i = 0; i < BS_CHECK_COUNT; i++)
        if (strlen(bs_checks[i].name) == len && memcmp(bs_checks[i].name, name, len) == 0)
            return i;
    return -1;
}

const char *bs_severity_name(bs_severity s)
{
    switch (s) {
    case BS_SEV_ERROR: return "error";
    case BS_SEV_WARNING: return "warning";
    default: return "off";
    }
}

/* Packagers point this at the published docs (-DBUFSAN_CHECKS_DOC_URL=...). */
#ifndef BUFSAN_CHECKS_DOC_URL
#define BUFSAN_CHECKS_DOC_URL "docs/checks.md"
#endif

const char *bs_checks_doc_url(void)
{
    return BUFSAN_CHECKS_DOC_URL;
}
