/* The launcher's runner: runs the command as a child of a subreaper, so
 * that every process of the tree, orphaned or not, ends up waited for here
 * before the verdict is read. */
#ifndef BUFSAN_TOOLS_RUN_H
#define BUFSAN_TOOLS_RUN_H

/* Runs ARGV (execvp) with LD_PRELOAD=PRELOAD in its environment only, waits
 * for it, then for every process of its tree for up to WAIT_SECONDS more;
 * names in one line on stderr those still running then. Returns the
 * command's status (128 + signal when killed), or 127/126 when it could
 * not be run (with a message). */
int run_tree(char **argv, const char *preload, long wait_seconds);

#endif
