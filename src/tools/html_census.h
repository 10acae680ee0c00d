/* The census section of the HTML report (`bufsan report --census --html`):
 * the census table, one row per exporter type and a sub-row per consumer
 * site, after the timeline. */
#ifndef BUFSAN_TOOLS_HTML_CENSUS_H
#define BUFSAN_TOOLS_HTML_CENSUS_H

#include <stdio.h>

#include "../engine/census.h"

/* The census the page shows (NULL: no section). */
void html_census_attach(bs_census *c);
/* Writes the section to OUT (nothing when no census is attached). */
void html_census_write(FILE *out);

#endif
