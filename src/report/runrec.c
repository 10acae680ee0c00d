/* See runrec.h. Runs at process end, possibly in a forked worker about to
 * _exit: plain write(2), no stdio. */
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

void runrec_process_line(strbuf *b, const bs_runrec_process *p)
{
    sb_printf(b, "bufsan-run\t1\nprocess\t%d\t%d\t%llu\t%llu\t%llu\t%llu", p->pid, p->ppid,
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

int runrec_write(const char *dir, int pid, const strbuf *b)
{
    char tmp[4096], final[4096];
    snprintf(tmp, sizeof tmp, "%s/.%d.rec.tmp", dir, pid);
    snprintf(final, sizeof final, "%s/%d.rec", dir, pid);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    const char *p = b->data ? b->data : "";
    size_t left = b->len;
    while (left) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            close(fd);
            unlink(tmp);
            return -1;
        }
        p += n;
        left -= (size_t)n;
    }
    close(fd);
    return rename(tmp, final);
}
