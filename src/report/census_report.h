/* The exporter census as a table (one row per exporter type, one sub-row
 * per consumer site) and its text and JSON Lines reports. Sites are named
 * like a SUMMARY line: the innermost frame outside the interpreter of the
 * acquiring stack; acquiring stacks with the same site make one sub-row. */
#ifndef BUFSAN_REPORT_CENSUS_REPORT_H
#define BUFSAN_REPORT_CENSUS_REPORT_H

#include "../common/options.h"
#include "../engine/census.h"

typedef struct {
    char *site;
    census_counts n;
} census_site_row;

typedef struct {
    const census_type *type;
    census_site_row *sites; /* most exports first */
    size_t nsites;
} census_row;

typedef struct {
    census_row *rows; /* most exports first */
    size_t nrows;
} census_table;

int census_table_build(const bs_census *c, census_table *out);
void census_table_free(census_table *t);

/* Names the sites not named yet and renders the evidence stacks not
 * rendered yet: offline, after each trace, while its module map is loaded. */
void census_resolve(bs_census *c);

/* Writes the census in OPTS->log_format (text, or json records of kind
 * "census"; sarif: text) where findings go. */
void census_report_write(bs_census *c, const bs_options *opts);

#endif
