/* See runrec.h. Runs when a finding is reported and at process end,
 * possibly in a forked worker about to _exit: plain open/write(2), no
 * stdio. */
#include "runrec.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void field(strbuf *b, const char *s)
{
    sb_puts(b, "\t");
    for (; s && *s; s++)
        sb_printf(b, "%c", (*s == '\t' || *s == '\n' || *s == '\r') ? ' ' : *s);
}

void runrec_start_lines(strbuf *b, int pid, int ppid, const char *command)
{
    sb_printf(b, "bufsan-run\t2\nstart\t%d\t%d", pid, ppid);
    field(b, command);
    sb_puts(b, "\n");
}

void runrec_process_line(strbuf *b, const bs_runrec_process *p)
{
    sb_printf(b, "process\t%d\t%d\t%llu\t%llu\t%llu\t%llu", p->pid, p->ppid,
              (unsigned long long)p->errors, (unsigned long long)p->warnings,
              (unsigned long long)p->suppressed, (unsigned long long)p->duplicates);
    field(b, p->command);
    sb_puts(b, "\n");
}

void runrec_finding_line(strbuf *b, const bs_rfinding *r, const char *location)
{
    sb_printf(b, "finding\t%s\t%s\t%llu\t%llu", bs_severity_name(r->f->severity),
              bs_checks[r->f->check].name, (unsigned long long)r->occurrences,
              (unsigned long long)r->count);
    field(b, location);
    field(b, r->f->has_exporter && r->f->exporter_type ? r->f->exporter_type : "");
    sb_puts(b, "\n");
}

int runrec_append(int fd, const strbuf *b)
{
    const char *p = b->data ? b->data : "";
    size_t left = b->len;
    while (left) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        left -= (size_t)n;
    }
    return 0;
}

int runrec_create(const char *dir, int pid, const strbuf *start)
{
    char path[4096];
    /* never append to another process's record: the pid may have been
     * reused, or this image exec'd from a forked child that left one */
    for (int n = 0; n < 100; n++) {
        if (n)
            snprintf(path, sizeof path, "%s/%d.%d.rec", dir, pid, n);
        else
            snprintf(path, sizeof path, "%s/%d.rec", dir, pid);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0 && errno == EEXIST)
            continue;
        if (fd < 0)
            return -1;
        if (runrec_append(fd, start) < 0) {
            int e = errno;
            close(fd);
            unlink(path);
            errno = e;
            return -1;
        }
        return fd;
    }
    errno = EEXIST;
    return -1;
}
