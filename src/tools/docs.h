/* Documents generated from the check and option tables. */
#ifndef BUFSAN_TOOLS_DOCS_H
#define BUFSAN_TOOLS_DOCS_H

#include <stdio.h>

/* docs/checks.md: one section per row of the check table, its body read
 * from DOCS_DIR/checks/<check>.md. Returns -1 (after naming every missing
 * file on stderr) when a check has no file. */
int docs_checks_markdown(FILE *out, const char *docs_dir);

/* docs/bufsan.1: the man page, options and checks from the tables. */
void docs_man_page(FILE *out);

#endif
