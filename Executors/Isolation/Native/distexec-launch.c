/*
 * distexec-launch: the first program of every command task where the worker may not create cgroups (in
 * cgroup mode the worker starts tasks itself, through libdistexec-spawn.so). The worker starts it with
 * posix_spawn (in a session of its own, stdin /dev/null, stdout/stderr on the task's pipes, fd 3 a
 * close-on-exec status pipe) and it puts the task where it cannot reach the worker or outlive its limits:
 *
 *   distexec-launch reaper - UID GID PATH ARGV0 [ARG...]
 *       where no cgroup may be created: becomes a child subreaper, forks the task (dropped to UID/GID) and
 *       stays as its parent, so every orphan the task leaves (setsid, double fork, daemon) is re-parented to
 *       it. When the task's main process ends it kills what is left and exits with that process's status.
 *       SIGTERM/SIGINT/SIGHUP are forwarded to the whole tree; SIGUSR1 kills the whole tree at once.
 *
 *   distexec-launch probe DIR|- UID GID [FILE...]
 *       what the worker runs once at start-up: joins DIR (unless "-") and drops to UID/GID, prints
 *       "readable:FILE" for each FILE it can then open, and exits 0; or says on stderr what failed and exits 1.
 *
 * UID/GID "-" keeps the worker's identity (a worker that cannot switch users). The task runs with
 * no_new_privs, so no set-uid program lifts it back. Failures before the task's exec are reported on fd 3 as
 * two ints (stage, errno); a successful exec closes fd 3 with nothing written.
 *
 * Linked statically: it starts as the worker's user with the task's environment, and a dynamic loader would
 * honour LD_PRELOAD and friends in it.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

enum { STAGE_USAGE = 1, STAGE_CGROUP = 2, STAGE_IDENTITY = 3, STAGE_EXEC = 4, STAGE_FORK = 5 };
#define STATUS_FD 3

static void report(int stage, int err)
{
    int message[2] = { stage, err };
    ssize_t ignored = write(STATUS_FD, message, sizeof message);
    (void)ignored;
}

static void fail(int stage, int err)
{
    report(stage, err);
    _exit(127);
}

static void close_other_fds(void)
{
    /* Nothing of the worker's beyond 0-2 (and the status pipe) reaches the task. */
    if (syscall(SYS_close_range, STATUS_FD + 1, ~0U, 0) != 0) {
        for (int fd = STATUS_FD + 1; fd < 65536; fd++) {
            close(fd);
        }
    }
}

static int parse_id(const char *text, long *id)
{
    if (strcmp(text, "-") == 0) {
        *id = -1;
        return 0;
    }
    char *end;
    errno = 0;
    *id = strtol(text, &end, 10);
    return (errno != 0 || *end != '\0' || *id < 0) ? -1 : 0;
}

/* Joins the cgroup DIR; 0, or the errno of what failed. */
static int join_cgroup(const char *dir)
{
    char procs[4096];
    if (snprintf(procs, sizeof procs, "%s/cgroup.procs", dir) >= (int)sizeof procs) {
        return ENAMETOOLONG;
    }
    int fd = open(procs, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        return errno;
    }
    int error = write(fd, "0", 1) == 1 ? 0 : errno;
    close(fd);
    return error;
}

/* Drops to UID/GID (-1: keep); 0, or the errno of what failed. */
static int drop_identity(long uid, long gid)
{
    if (gid >= 0) {
        gid_t group = (gid_t)gid;
        if (setgroups(1, &group) != 0 || setresgid(group, group, group) != 0) {
            return errno;
        }
    }
    if (uid >= 0 && setresuid((uid_t)uid, (uid_t)uid, (uid_t)uid) != 0) {
        return errno;
    }
    return 0;
}

static void become_task(long uid, long gid, const char *path, char **argv)
{
    int error = drop_identity(uid, gid);
    if (error != 0) {
        fail(STAGE_IDENTITY, error);
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        fail(STAGE_IDENTITY, errno);
    }
    execve(path, argv, environ);
    fail(STAGE_EXEC, errno);
}

/* Every process below this one: read each /proc/<pid>/stat's parent, walk down from ourselves. */
static int signal_tree(int sig)
{
    static pid_t pids[65536], parents[65536];
    int count = 0;
    DIR *proc = opendir("/proc");
    if (proc == NULL) {
        return 0;
    }
    struct dirent *entry;
    while ((entry = readdir(proc)) != NULL && count < 65536) {
        char *end;
        long pid = strtol(entry->d_name, &end, 10);
        if (*end != '\0' || pid <= 0) {
            continue;
        }
        char path[64], buffer[512];
        snprintf(path, sizeof path, "/proc/%ld/stat", pid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            continue;
        }
        ssize_t n = read(fd, buffer, sizeof buffer - 1);
        close(fd);
        if (n <= 0) {
            continue;
        }
        buffer[n] = '\0';
        /* pid (comm) state ppid …; comm may hold spaces and parentheses, so look after the last ')'. */
        char *close_paren = strrchr(buffer, ')');
        if (close_paren == NULL) {
            continue;
        }
        char state;
        long ppid;
        if (sscanf(close_paren + 1, " %c %ld", &state, &ppid) != 2) {
            continue;
        }
        pids[count] = (pid_t)pid;
        parents[count] = (pid_t)ppid;
        count++;
    }
    closedir(proc);

    static pid_t tree[65536];
    int size = 0, signalled = 0;
    tree[size++] = getpid();
    for (int head = 0; head < size; head++) {
        for (int i = 0; i < count; i++) {
            if (parents[i] == tree[head] && size < 65536) {
                tree[size++] = pids[i];
                if (kill(pids[i], sig) == 0) {
                    signalled++;
                }
            }
        }
    }
    return signalled;
}

static int exit_status(int status)
{
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Kill everything below us until nothing is left to reap, then end as the task's main process ended. */
static void finish(int main_status)
{
    struct timespec pause = { 0, 10 * 1000 * 1000 };
    for (;;) {
        signal_tree(SIGKILL);
        int status;
        pid_t pid;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        }
        if (pid < 0 && errno == ECHILD) {
            break;
        }
        nanosleep(&pause, NULL);
    }
    _exit(exit_status(main_status));
}

static void reap_and_wait(pid_t main_pid)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    for (;;) {
        int status;
        pid_t pid;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
            if (pid == main_pid) {
                finish(status);
            }
        }
        siginfo_t info;
        int sig = sigwaitinfo(&set, &info);
        if (sig == SIGUSR1) {
            signal_tree(SIGKILL);
        } else if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP) {
            signal_tree(sig);
        }
    }
}

static int probe(int argc, char **argv)
{
    long uid, gid;
    if (argc < 5 || parse_id(argv[3], &uid) != 0 || parse_id(argv[4], &gid) != 0) {
        fprintf(stderr, "usage: distexec-launch probe DIR|- UID|- GID|- [FILE...]\n");
        return 1;
    }
    int error = strcmp(argv[2], "-") == 0 ? 0 : join_cgroup(argv[2]);
    if (error != 0) {
        fprintf(stderr, "cannot join the cgroup %s: %s\n", argv[2], strerror(error));
        return 1;
    }
    error = drop_identity(uid, gid);
    if (error != 0) {
        fprintf(stderr, "cannot switch to user %s, group %s: %s\n", argv[3], argv[4], strerror(error));
        return 1;
    }
    /* Files a task could read, as the task user would see them (directories on the way included). */
    for (int i = 5; i < argc; i++) {
        int fd = open(argv[i], O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        if (fd >= 0) {
            printf("readable:%s\n", argv[i]);
            close(fd);
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "probe") == 0) {
        return probe(argc, argv);
    }
    if (fcntl(STATUS_FD, F_SETFD, FD_CLOEXEC) != 0 || argc < 7) {
        fprintf(stderr, "usage: distexec-launch reaper - UID|- GID|- PATH ARGV0 [ARG...] (started by the worker)\n");
        return 127;
    }
    close_other_fds();
    long uid, gid;
    if (parse_id(argv[3], &uid) != 0 || parse_id(argv[4], &gid) != 0) {
        fail(STAGE_USAGE, EINVAL);
    }
    const char *path = argv[5];
    char **task_argv = &argv[6];

    if (strcmp(argv[1], "reaper") != 0) {
        fail(STAGE_USAGE, EINVAL);
    }

    if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) {
        fail(STAGE_FORK, errno);
    }
    sigset_t blocked, previous;
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGCHLD);
    sigaddset(&blocked, SIGTERM);
    sigaddset(&blocked, SIGINT);
    sigaddset(&blocked, SIGHUP);
    sigaddset(&blocked, SIGUSR1);
    sigprocmask(SIG_BLOCK, &blocked, &previous);
    pid_t child = fork();
    if (child < 0) {
        fail(STAGE_FORK, errno);
    }
    if (child == 0) {
        sigprocmask(SIG_SETMASK, &previous, NULL);
        become_task(uid, gid, path, task_argv);
    }
    /* The child holds the status pipe until its exec; ours must not keep it open. */
    close(STATUS_FD);
    reap_and_wait(child);
    return 127;
}
