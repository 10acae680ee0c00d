/* One verdict for a process tree: reads the run records (see runrec.h)
 * that every process under bufsan wrote into the run directory, prints one
 * combined summary and decides the launcher's exit status. A worker whose
 * exit status its parent swallowed (multiprocessing.Pool) still counts. */
#include "verdict.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/checks.h"

typedef struct {
    int pid, ppid;
    unsigned long long errors, warnings, suppressed, duplicates;
    int ended; /* the process line was written: the process ended normally */
    char command[256];
} proc_rec;

static int cmp_proc(const void *a, const void *b)
{
    return ((const proc_rec *)a)->pid - ((const proc_rec *)b)->pid;
}

static int still_running(int pid)
{
    return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

/* Splits LINE at tabs in place; returns the number of fields. */
static int split(char *line, char **f, int max)
{
    int n = 0;
    line[strcspn(line, "\n")] = '\0';
    while (n < max) {
        f[n++] = line;
        char *tab = strchr(line, '\t');
        if (!tab)
            break;
        *tab = '\0';
        line = tab + 1;
    }
    return n;
}

int verdict_print(FILE *out, const char *dir, int status, int exitcode)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(out, "==bufsan== verdict: cannot read the run directory %s\n", dir);
        return status;
    }
    proc_rec *procs = NULL;
    size_t nprocs = 0, cap = 0;
    unsigned long long by_check[BS_CHECK_COUNT] = {0};
    unsigned long long errors = 0, warnings = 0, suppressed = 0;
    char *findings = NULL; /* "pid\tline" blocks, printed after the header */
    size_t flen = 0;
    FILE *fl = open_memstream(&findings, &flen);
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' || len < 5 || strcmp(e->d_name + len - 4, ".rec") != 0)
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        char line[2048];
        proc_rec p = {0};
        int have_proc = 0;
        /* the findings of this record: those written as they happened, then,
         * after the process line, the final de-duplicated list */
        char *mine = NULL;
        size_t mlen = 0;
        FILE *fm = open_memstream(&mine, &mlen);
        unsigned long long mine_by_check[BS_CHECK_COUNT] = {0};
        while (fgets(line, sizeof line, f)) {
            char *fld[8];
            int n = split(line, fld, 8);
            if (n >= 4 && !strcmp(fld[0], "start")) {
                p.pid = atoi(fld[1]);
                p.ppid = atoi(fld[2]);
                snprintf(p.command, sizeof p.command, "%s", fld[3]);
                have_proc = 1;
            } else if (n >= 8 && !strcmp(fld[0], "process")) {
                p.pid = atoi(fld[1]);
                if (!have_proc) /* the parent it was started by, not its reaper */
                    p.ppid = atoi(fld[2]);
                p.errors = strtoull(fld[3], NULL, 10);
                p.warnings = strtoull(fld[4], NULL, 10);
                p.suppressed = strtoull(fld[5], NULL, 10);
                p.duplicates = strtoull(fld[6], NULL, 10);
                snprintf(p.command, sizeof p.command, "%s", fld[7]);
                have_proc = p.ended = 1;
                /* the totals follow */
                if (fm) {
                    fclose(fm);
                    free(mine);
                    mine = NULL;
                    fm = open_memstream(&mine, &mlen);
                }
                memset(mine_by_check, 0, sizeof mine_by_check);
            } else if (n >= 6 && !strcmp(fld[0], "finding") && have_proc) {
                int id = bs_check_by_name(fld[2], strlen(fld[2]));
                unsigned long long occ = strtoull(fld[3], NULL, 10);
                if (id >= 0)
                    mine_by_check[id] += occ;
                if (!p.ended) {
                    /* a record cut short counts what it holds */
                    if (!strcmp(fld[1], "error"))
                        p.errors++;
                    else
                        p.warnings++;
                }
                /* the exporter type, when the record has one */
                const char *type = n >= 7 && fld[6][0] ? fld[6] : NULL;
                if (fm)
                    fprintf(fm, "==bufsan==   pid %d: %s: %s%s%s %s (count %s%s%s)\n", p.pid,
                            fld[1], fld[2], type ? " " : "", type ? type : "", fld[5], fld[4],
                            occ > 1 ? ", reported " : "", occ > 1 ? fld[3] : "");
            }
        }
        fclose(f);
        if (fm)
            fclose(fm);
        if (have_proc && nprocs == cap) {
            cap = cap ? cap * 2 : 16;
            proc_rec *np = realloc(procs, cap * sizeof *np);
            if (!np) {
                free(mine);
                break;
            }
            procs = np;
        }
        if (have_proc) {
            procs[nprocs++] = p;
            errors += p.errors;
            warnings += p.warnings;
            suppressed += p.suppressed;
            for (int i = 0; i < BS_CHECK_COUNT; i++)
                by_check[i] += mine_by_check[i];
            if (fl && mine)
                fputs(mine, fl);
        }
        free(mine);
    }
    closedir(d);
    if (fl)
        fclose(fl);
    qsort(procs, nprocs, sizeof *procs, cmp_proc);
    size_t with_errors = 0, cut_short = 0;
    for (size_t i = 0; i < nprocs; i++) {
        with_errors += procs[i].errors > 0;
        cut_short += !procs[i].ended;
    }
    /* one process that ended has said it all in its own summary (on stderr
     * or in its log_path file); a tree, or a process killed before its
     * summary, gets the combined verdict */
    if (nprocs > 1 || cut_short) {
        fprintf(out, "==bufsan== verdict for %zu process%s: %zu with errors\n", nprocs,
                nprocs == 1 ? "" : "es", with_errors);
        for (size_t i = 0; i < nprocs; i++)
            fprintf(out, "==bufsan==   pid %d (parent %d): %llu error%s, %llu warning%s, %llu "
                         "suppressed%s: %.120s\n", procs[i].pid, procs[i].ppid, procs[i].errors,
                    procs[i].errors == 1 ? "" : "s", procs[i].warnings,
                    procs[i].warnings == 1 ? "" : "s", procs[i].suppressed,
                    procs[i].ended ? ""
                    : still_running(procs[i].pid) ? " (still running: what it reported so far)"
                                                   : " (killed before its summary: what it "
                                                     "reported until then)", procs[i].command);
        if (findings && flen)
            fputs(findings, out);
        fprintf(out, "SUMMARY: bufsan: %llu error%s, %llu warning%s, %llu suppressed in %zu "
                     "process%s", errors, errors == 1 ? "" : "s", warnings,
                warnings == 1 ? "" : "s", suppressed, nprocs, nprocs == 1 ? "" : "es");
        const char *sep = " (";
        for (int i = 0; i < BS_CHECK_COUNT; i++)
            if (by_check[i]) {
                fprintf(out, "%s%s: %llu", sep, bs_checks[i].name, by_check[i]);
                sep = ", ";
            }
        fputs(sep[0] == ',' ? ")\n" : "\n", out);
    }
    free(findings);
    free(procs);
    /* the program's own failure wins; else any process's error fails the run */
    if (status != 0)
        return status;
    return errors ? exitcode : 0;
}
