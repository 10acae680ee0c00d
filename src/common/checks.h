/* The table of checks (checks.inc) as an enum and lookup helpers. */
#ifndef BUFSAN_COMMON_CHECKS_H
#define BUFSAN_COMMON_CHECKS_H

typedef enum { BS_SEV_OFF = 0, BS_SEV_WARNING = 1, BS_SEV_ERROR = 2 } bs_severity;

typedef enum {
#define BS_CHECK(id, name, sev, desc) BS_CHECK_##id,
#include "checks.inc"
#undef BS_CHECK
    BS_CHECK_COUNT
} bs_check_id;

typedef struct {
    const char *name;
    bs_severity default_severity;
    const char *description;
} bs_check_info;

extern const bs_check_info bs_checks[BS_CHECK_COUNT];

/* Returns the check id for NAME, or -1. */
int bs_check_by_name(const char *name, unsigned long len);
const char *bs_severity_name(bs_severity s);

/* Where the checks are documented; each check's section is "#<name>" in it
 * (docs/checks.md is generated with one heading per check). */
const char *bs_checks_doc_url(void);

#endif
