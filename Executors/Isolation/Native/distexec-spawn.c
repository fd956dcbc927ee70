/*
 * libdistexec-spawn.so: starts a command task in its cgroup from inside the worker, with one exec (the task's).
 *
 * It does what distexec-launch does in cgroup mode, in the child between clone and exec instead of in a
 * program of its own: joins the cgroup, drops to the task user, sets no_new_privs. Measured on a 2-core VM,
 * the launcher's own exec cost 0.39 ms of CPU per task, more than half of what `echo` costs; this costs none
 * of that. Reaper mode (no cgroup) keeps the launcher, which must stay the parent of the task's orphans.
 *
 * The child is created like glibc's posix_spawn creates it: clone(CLONE_VM | CLONE_VFORK) on a stack of its
 * own, the parent suspended until the child execs or exits, every signal blocked around the clone and every
 * handler reset to the default in the child before it unblocks them, so no handler of the worker's ever runs
 * in the child. Sharing the worker's memory, the child calls only thin system-call wrappers; the identity
 * calls are raw system calls, because glibc's setresuid and friends would change the credentials of every
 * thread of the worker (they broadcast to the thread list the child shares).
 *
 * A failure before the task's exec is returned as a stage (the launcher's numbering) and an errno; the failed
 * child has then been reaped. Linked with -z now: no lazy symbol binding (the dynamic linker) runs in the child.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

enum { STAGE_CGROUP = 2, STAGE_IDENTITY = 3, STAGE_EXEC = 4, STAGE_FORK = 5, STAGE_SETUP = 6 };

#define CHILD_STACK (64 * 1024)
#define KERNEL_SIGSET_BYTES (_NSIG / 8)

struct request {
    const char *path;
    char *const *argv;
    char *const *envp;
    const char *cwd;
    int stdout_fd;
    int stderr_fd;
    const char *cgroup_procs;
    long uid;
    long gid;
    /* Written by the child, read by the parent once the child has exec'd or exited. */
    volatile int stage;
    volatile int error;
};

static int fail(struct request *request, int stage)
{
    request->error = errno;
    request->stage = stage;
    _exit(127);
}

static int child(void *argument)
{
    struct request *request = argument;

    /* Default dispositions for every signal (the task must not inherit the worker's ignored SIGPIPE), then
       an empty mask: with the handlers reset first, nothing of the worker's can run here in between. */
    struct sigaction defaults = { 0 };
    defaults.sa_handler = SIG_DFL;
    for (int sig = 1; sig < _NSIG; sig++) {
        if (sig != SIGKILL && sig != SIGSTOP) {
            syscall(SYS_rt_sigaction, sig, &defaults, NULL, KERNEL_SIGSET_BYTES);
        }
    }

    if (setsid() < 0) {
        fail(request, STAGE_SETUP);
    }
    /* A worker started with 0-2 closed may have been given a pipe there: move it out of the way first. */
    int out = request->stdout_fd, err = request->stderr_fd;
    if ((out < 3 && (out = fcntl(out, F_DUPFD_CLOEXEC, 3)) < 0) || (err < 3 && (err = fcntl(err, F_DUPFD_CLOEXEC, 3)) < 0)) {
        fail(request, STAGE_SETUP);
    }
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null < 0 || dup2(null, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0) {
        fail(request, STAGE_SETUP);
    }
    if (syscall(SYS_close_range, 3, ~0U, 0) != 0) {
        for (int fd = 3; fd < 65536; fd++) {
            close(fd);
        }
    }
    if (chdir(request->cwd) != 0) {
        fail(request, STAGE_SETUP);
    }

    int procs = open(request->cgroup_procs, O_WRONLY | O_CLOEXEC);
    if (procs < 0 || write(procs, "0", 1) != 1) {
        fail(request, STAGE_CGROUP);
    }
    close(procs);

    if (request->gid >= 0) {
        gid_t group = (gid_t)request->gid;
        if (syscall(SYS_setgroups, 1, &group) != 0 || syscall(SYS_setresgid, group, group, group) != 0) {
            fail(request, STAGE_IDENTITY);
        }
    }
    if (request->uid >= 0 && syscall(SYS_setresuid, request->uid, request->uid, request->uid) != 0) {
        fail(request, STAGE_IDENTITY);
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        fail(request, STAGE_IDENTITY);
    }

    unsigned long long empty[KERNEL_SIGSET_BYTES / sizeof(unsigned long long)] = { 0 };
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, empty, NULL, KERNEL_SIGSET_BYTES);
    execve(request->path, request->argv, request->envp);
    return fail(request, STAGE_EXEC);
}

/*
 * Starts PATH with ARGV and ENVP in a session of its own, stdin /dev/null, stdout and stderr on STDOUT_FD and
 * STDERR_FD, in CWD, in the cgroup whose cgroup.procs is CGROUP_PROCS, as UID/GID (-1: keep the worker's).
 * 0 and *PID; or -1 with *STAGE and *ERROR.
 */
__attribute__((visibility("default")))
int distexec_spawn(const char *path, char *const *argv, char *const *envp, const char *cwd, int stdout_fd, int stderr_fd,
                   const char *cgroup_procs, int uid, int gid, int *pid, int *stage, int *error)
{
    struct request request = {
        .path = path, .argv = argv, .envp = envp, .cwd = cwd, .stdout_fd = stdout_fd, .stderr_fd = stderr_fd,
        .cgroup_procs = cgroup_procs, .uid = uid, .gid = gid, .stage = 0, .error = 0,
    };
    *pid = -1;
    *stage = 0;
    *error = 0;

    char *stack = mmap(NULL, CHILD_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) {
        *stage = STAGE_FORK;
        *error = errno;
        return -1;
    }

    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &previous);
    int saved_errno = errno;
    pid_t child_pid = clone(child, stack + CHILD_STACK, CLONE_VM | CLONE_VFORK | SIGCHLD, &request);
    int clone_errno = errno;
    errno = saved_errno;
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    munmap(stack, CHILD_STACK);

    if (child_pid < 0) {
        *stage = STAGE_FORK;
        *error = clone_errno;
        return -1;
    }
    if (request.stage != 0) {
        int status;
        while (waitpid(child_pid, &status, 0) < 0 && errno == EINTR) {
        }
        *stage = request.stage;
        *error = request.error;
        return -1;
    }
    *pid = child_pid;
    return 0;
}
