/* See run.h. The launcher is a shell script; the waiting is done here
 * because only a subreaper (PR_SET_CHILD_SUBREAPER) can wait for the
 * processes its command leaves behind: a Popen child that outlives its
 * parent, a forkserver and its workers. Without it the verdict was read
 * while they still ran, and their records were written into a removed
 * run directory. */
#define _GNU_SOURCE
#include "run.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../common/strbuf.h"

static volatile sig_atomic_t command_pid;

/* SIGTERM/SIGHUP to the launcher end the command the way they would have
 * without it; the tree is still waited for. */
static void forward(int sig)
{
    if (command_pid > 0)
        kill((pid_t)command_pid, sig);
}

static int status_of(int st)
{
    return WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 1;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The parent pid in /proc/PID/stat (after the parenthesized command). */
static int parent_of(int pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *rp = strrchr(buf, ')');
    int ppid = -1;
    if (!rp || sscanf(rp + 1, " %*c %d", &ppid) != 1)
        return -1;
    return ppid;
}

static void command_line(int pid, char *out, size_t size)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(out, 1, size - 1, f) : 0;
    if (f)
        fclose(f);
    for (size_t i = 0; i < n; i++)
        if (out[i] == '\0')
            out[i] = ' ';
    while (n > 0 && out[n - 1] == ' ')
        n--;
    out[n] = '\0';
}

/* One line naming the processes of our tree still running. */
static void name_stragglers(long wait_seconds)
{
    DIR *d = opendir("/proc");
    if (!d)
        return;
    int self = (int)getpid();
    strbuf names = {0};
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        int pid = atoi(e->d_name);
        if (pid <= 0 || pid == self)
            continue;
        /* ours when an ancestor is us (orphans were reparented to us) */
        int p = pid, ours = 0;
        for (int depth = 0; depth < 64 && p > 1; depth++) {
            p = parent_of(p);
            if (p == self) {
                ours = 1;
                break;
            }
        }
        if (!ours)
            continue;
        char cmd[120];
        command_line(pid, cmd, sizeof cmd);
        sb_printf(&names, "%spid %d (%s)", count ? ", " : "", pid, cmd[0] ? cmd : "?");
        count++;
    }
    closedir(d);
    if (count) {
        char line[2048];
        snprintf(line, sizeof line, "==bufsan== verdict: not waiting for %d process%s still "
                 "running %ld s after the command ended (wait_timeout=%ld; their findings are "
                 "counted as far as recorded): %s", count, count == 1 ? "" : "es", wait_seconds,
                 wait_seconds, names.data);
        escape_message(line, sizeof line);
        fprintf(stderr, "%s\n", line);
    }
    sb_free(&names);
}

int run_tree(char **argv, const char *preload, long wait_seconds)
{
    /* orphans of the tree are reparented to us instead of to init */
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
        fprintf(stderr, "==bufsan== warning: cannot become a subreaper (%s): processes that "
                        "outlive their parent are not waited for\n", strerror(errno));
    struct sigaction ign = {.sa_handler = SIG_IGN}, fwd = {.sa_handler = forward};
    struct sigaction old_int, old_quit, old_term, old_hup;
    sigemptyset(&fwd.sa_mask);
    /* Ctrl-C reaches the command (same process group); we stay for the verdict */
    sigaction(SIGINT, &ign, &old_int);
    sigaction(SIGQUIT, &ign, &old_quit);
    sigaction(SIGTERM, &fwd, &old_term);
    sigaction(SIGHUP, &fwd, &old_hup);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "bufsan: error: cannot start '%s' (fork: %s)\n", argv[0], strerror(errno));
        return 126;
    }
    if (pid == 0) {
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGQUIT, &old_quit, NULL);
        sigaction(SIGTERM, &old_term, NULL);
        sigaction(SIGHUP, &old_hup, NULL);
        if (preload && *preload)
            setenv("LD_PRELOAD", preload, 1);
        execvp(argv[0], argv);
        int err = errno;
        char line[4400];
        snprintf(line, sizeof line, "bufsan: error: cannot run '%s' (%s)", argv[0],
                 strerror(err));
        escape_message(line, sizeof line);
        fprintf(stderr, "%s\n", line);
        _exit(err == ENOENT ? 127 : 126);
    }
    command_pid = pid;
    int status = -1;
    for (;;) {
        int st;
        pid_t w = waitpid(-1, &st, 0);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            break; /* ECHILD: the command is gone (cannot happen before it) */
        if (w == pid) {
            status = status_of(st);
            break;
        }
    }
    command_pid = 0;
    /* then whatever it left running: reaped as they end (orphans are ours) */
    double deadline = now() + (double)wait_seconds;
    for (;;) {
        int st;
        pid_t w = waitpid(-1, &st, WNOHANG);
        if (w > 0)
            continue;
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            break; /* ECHILD: the whole tree has ended */
        if (now() >= deadline) {
            name_stragglers(wait_seconds);
            break;
        }
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return status < 0 ? 1 : status;
}
