/* See output.h. */
#include "output.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *log_path;
static int fd = -1;
static pid_t fd_pid;
static char path_buf[4096];

void output_configure(const char *p)
{
    free(log_path);
    log_path = (p && *p) ? strdup(p) : NULL;
    fd = -1;
}

static void expand_path(char *out, size_t len, const char *tmpl, pid_t pid)
{
    if (strstr(tmpl, "%p")) {
        size_t o = 0;
        for (const char *s = tmpl; *s && o + 1 < len; s++) {
            if (s[0] == '%' && s[1] == 'p') {
                o += (size_t)snprintf(out + o, len - o, "%d", (int)pid);
                s++;
            } else {
                out[o++] = *s;
            }
        }
        out[o < len ? o : len - 1] = '\0';
    } else {
        snprintf(out, len, "%s.%d", tmpl, (int)pid);
    }
}

static void write_all(int to, const char *data, size_t len)
{
    while (len) {
        ssize_t n = write(to, data, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        data += n;
        len -= (size_t)n;
    }
}

static int current_fd(void)
{
    if (!log_path)
        return 2;
    pid_t pid = getpid();
    if (fd >= 0 && fd_pid == pid)
        return fd;
    expand_path(path_buf, sizeof path_buf, log_path, pid);
    fd = open(path_buf, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    fd_pid = pid;
    if (fd < 0) {
        char msg[4400];
        int n = snprintf(msg, sizeof msg,
                         "==%d==WARNING: bufsan: cannot open log_path file %s (%s); writing to "
                         "stderr\n", (int)pid, path_buf, strerror(errno));
        write_all(2, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
        free(log_path);
        log_path = NULL;
        return 2;
    }
    return fd;
}

void output_write(const char *data, size_t len)
{
    write_all(current_fd(), data, len);
}

const char *output_path(void)
{
    return (log_path && fd >= 0) ? path_buf : NULL;
}

void output_after_fork_child(void)
{
    if (fd > 2)
        close(fd);
    fd = -1;
}
