/*
 * In-box runner of the AlgoItny judge.
 *
 * It runs as PID 1 of a bubblewrap sandbox (--as-pid-1), already under the slot's
 * unprivileged uid and the seccomp filter, and executes one command once per test:
 * fork, per-test rlimits, exec, a wall-clock and CPU watchdog, then SIGKILL to every
 * other process of the pid namespace so nothing survives into the next test.
 * CPU time is the whole box's: every process of the test, including children the
 * program never waits for (orphans are re-parented to us, PID 1, and reaped here), from
 * the delta of our RUSAGE_CHILDREN plus, while it runs, the times of the live processes.
 * Memory likewise: the peak is the program's own (wait4), or the box's when larger (the
 * sum of the live processes' PSS, sampled by the watchdog, and the peak of any process
 * reaped during the test). The writable scratch places (/box, /tmp,
 * /dev/shm) are emptied after every test. One sandbox start-up is paid per
 * submission instead of per test, and each test keeps its own limits and measurements.
 *
 * The same binary has a second mode, "launch", used by the host to enter the slot's
 * cgroups and drop to the slot uid before exec'ing bubblewrap (no preexec_fn in the
 * multi-threaded host).
 *
 * Protocol (run mode). The spec arrives on stdin, one item per line:
 *   argc, then argc lines of argv (argv[0] an absolute path), then cwd, then a scratch
 *   directory emptied (with /tmp and /dev/shm) after every test, or "-" to keep files (compile step),
 *   cpu_ms wall_ms as_bytes(0 = none) fsize_bytes nproc stack_bytes nofile out_cap err_cap ack
 *   cwd_quota_bytes (0 = none: the disk space the files under cwd may take, for a host directory),
 *   ntests, then ntests lines: an input path, or "-" for /dev/null, or "|R W": stdin is the
 *   inherited fd R and stdout the inherited fd W (an interactive problem's pipes, passed in by the
 *   host; the runner closes its own copies once the program started, so either end sees EOF when
 *   the other side's box ends).
 * An argv item containing "%T" has it replaced by the test's index (a checker run per test reads
 *   /in/<index>, /out/<index>, /ans/<index>).
 * For each test it writes to stdout one header line
 *   "T <index> <E|S|X> <code> <cpu_us> <wall_us> <maxrss_kb> <flags> <out_len> <err_len>\n"
 * followed by out_len bytes of the test's stdout and err_len bytes of its stderr.
 * E = exited with <code>, S = killed by signal <code>, X = could not start (errno <code>).
 * flags: 1 killed by the wall-clock watchdog, 2 killed by the CPU watchdog,
 *        4 stdout longer than out_cap, 8 stderr longer than err_cap,
 *        16 killed by the output watchdog (a runtime that ignores SIGXFSZ kept going),
 *        32 killed because the files under cwd took more than cwd_quota_bytes.
 * With ack = 1 it reads one byte from stdin after each test: 'c' continues, anything
 * else (or EOF) stops. It ends with the line "D\n".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef O_TMPFILE
#define O_TMPFILE (020000000 | O_DIRECTORY)
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

#define MAX_ARGS 64
#define MAX_LINE 4096

static char line_buf[MAX_LINE];

static void die(const char *msg) {
    fprintf(stderr, "runner: %s: %s\n", msg, strerror(errno));
    _exit(120);
}

static char *read_line(FILE *in) {
    if (!fgets(line_buf, sizeof line_buf, in)) {
        errno = EINVAL;
        die("truncated spec");
    }
    size_t n = strlen(line_buf);
    if (n && line_buf[n - 1] == '\n') line_buf[n - 1] = 0;
    return strdup(line_buf);
}

static long long read_ll(FILE *in) {
    char *s = read_line(in);
    long long v = strtoll(s, NULL, 10);
    free(s);
    return v;
}

static int64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void write_all(int fd, const char *buf, size_t len) {
    while (len > 0) {
        ssize_t w = write(fd, buf, len);
        if (w < 0) {
            if (errno == EINTR) continue;
            _exit(121); /* host went away */
        }
        buf += w;
        len -= (size_t)w;
    }
}

static int64_t tv_us(struct timeval tv) { return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec; }

/* CPU time (user + system) of every child reaped so far (and of what they reaped). */
static int64_t reaped_cpu_us(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_CHILDREN, &ru) != 0) return 0;
    return tv_us(ru.ru_utime) + tv_us(ru.ru_stime);
}

/* CPU time of every live process of the box but us (own time + their reaped children's). */
static int64_t live_cpu_us(void) {
    DIR *d = opendir("/proc");
    if (!d) return 0;
    long hz = sysconf(_SC_CLK_TCK);
    unsigned long long ticks = 0;
    struct dirent *e;
    char path[64], buf[1024];
    while ((e = readdir(d)) != NULL) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end || pid <= 1) continue;
        snprintf(path, sizeof path, "/proc/%ld/stat", pid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n <= 0) continue;
        buf[n] = 0;
        char *p = strrchr(buf, ')');
        if (!p) continue;
        unsigned long long ut = 0, st = 0;
        long long cut = 0, cst = 0;
        if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %lld %lld", &ut, &st, &cut, &cst) !=
            4)
            continue;
        ticks += ut + st + (unsigned long long)(cut > 0 ? cut : 0) + (unsigned long long)(cst > 0 ? cst : 0);
    }
    closedir(d);
    return (int64_t)(ticks * 1000000ULL / (unsigned long long)hz);
}

/* Memory of every live process of the box but us, in kB: the sum of their proportional set
 * sizes (shared pages split between sharers, so a fork's copy-on-write pages count once). */
static long long live_pss_kb(void) {
    DIR *d = opendir("/proc");
    if (!d) return 0;
    long long total = 0;
    struct dirent *e;
    char path[64], buf[4096];
    while ((e = readdir(d)) != NULL) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end || pid <= 1) continue;
        snprintf(path, sizeof path, "/proc/%ld/smaps_rollup", pid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n <= 0) continue;
        buf[n] = 0;
        char *pss = strstr(buf, "\nPss:");
        if (pss) total += strtoll(pss + 5, NULL, 10);
    }
    closedir(d);
    return total;
}

static long children_maxrss_kb(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_CHILDREN, &ru) != 0) return 0;
    return ru.ru_maxrss;
}

/* Disk space (allocated blocks) of the files under a directory, never following links. */
static long long dir_usage_at(int dfd, int depth) {
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return 0;
    }
    long long total = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        total += (long long)st.st_blocks * 512;
        if (S_ISDIR(st.st_mode) && depth < 32) {
            int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0) total += dir_usage_at(sub, depth + 1);
        }
    }
    closedir(d);
    return total;
}

static long long dir_usage(const char *path) {
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    return fd < 0 ? 0 : dir_usage_at(fd, 0);
}

static int make_capture(const char *dir) {
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0) return fd;
    char name[256];
    snprintf(name, sizeof name, "%s/.cap-%d-%lld", dir, (int)getpid(), (long long)now_us());
    fd = open(name, O_CREAT | O_EXCL | O_RDWR | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) die("capture file");
    unlink(name);
    return fd;
}

/* Sends up to cap bytes of a capture file; returns the length sent, sets *over if longer. */
static size_t capture_len(int fd, size_t cap, int *over) {
    struct stat st;
    if (fstat(fd, &st) != 0) return 0;
    size_t size = (size_t)st.st_size;
    *over = size > cap;
    return size > cap ? cap : size;
}

static void send_capture(int fd, size_t len) {
    char buf[65536];
    if (lseek(fd, 0, SEEK_SET) != 0) return;
    while (len > 0) {
        ssize_t r = read(fd, buf, len < sizeof buf ? len : sizeof buf);
        if (r <= 0) {
            /* the file shrank: pad so the framing stays exact */
            memset(buf, 0, sizeof buf);
            while (len > 0) {
                size_t k = len < sizeof buf ? len : sizeof buf;
                write_all(1, buf, k);
                len -= k;
            }
            return;
        }
        write_all(1, buf, (size_t)r);
        len -= (size_t)r;
    }
}

/* Empties a directory (recursively, never following links) so no file outlives its test. */
static void empty_dir_at(int dfd) {
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        if (unlinkat(dirfd(d), e->d_name, 0) == 0) continue;
        int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub >= 0) {
            fchmod(sub, 0700);
            empty_dir_at(sub);
        }
        unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR);
    }
    closedir(d);
}

static void empty_dir(const char *path) {
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) empty_dir_at(fd);
}

static void kill_all_others(void) {
    if (getpid() == 1) {
        kill(-1, SIGKILL); /* every process of the pid namespace but us */
    }
    while (1) {
        pid_t r = waitpid(-1, NULL, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) break; /* ECHILD: nothing left */
    }
}

/* argv with every "%T" replaced by the test index (a fresh copy; the child execs it). */
static char **argv_for_test(char **argv, int t) {
    int n = 0;
    while (argv[n]) n++;
    char **out = calloc((size_t)n + 1, sizeof(char *));
    if (!out) return argv;
    char idx[16];
    snprintf(idx, sizeof idx, "%d", t);
    for (int i = 0; i < n; i++) {
        const char *a = argv[i];
        size_t len = strlen(a) + 1, extra = 0;
        for (const char *p = strstr(a, "%T"); p; p = strstr(p + 2, "%T")) extra += strlen(idx);
        char *b = malloc(len + extra);
        if (!b) return argv;
        char *w = b;
        while (*a) {
            if (a[0] == '%' && a[1] == 'T') {
                w += sprintf(w, "%s", idx);
                a += 2;
            } else {
                *w++ = *a++;
            }
        }
        *w = 0;
        out[i] = b;
    }
    out[n] = NULL;
    return out;
}

static int launch_mode(int argc, char **argv) {
    /* runner launch <uid> <gid> <cgroup.procs path>... -- command... */
    if (argc < 5) return 2;
    uid_t uid = (uid_t)strtoul(argv[2], NULL, 10);
    gid_t gid = (gid_t)strtoul(argv[3], NULL, 10);
    int i = 4;
    char pidbuf[32];
    int n = snprintf(pidbuf, sizeof pidbuf, "%d\n", (int)getpid());
    for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
        int fd = open(argv[i], O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, pidbuf, (size_t)n) != n) die("join cgroup");
        close(fd);
    }
    if (i >= argc - 1) return 2;
    if (getuid() == 0) {
        if (uid == 0 || gid == 0) {
            errno = EPERM;
            die("refusing to run a box as root");
        }
        if (setgroups(0, NULL) != 0) die("setgroups");
        if (setresgid(gid, gid, gid) != 0) die("setgid");
        if (setresuid(uid, uid, uid) != 0) die("setuid");
        if (setuid(0) == 0) {
            errno = EPERM;
            die("could regain root");
        }
    }
    execv(argv[i + 1], &argv[i + 1]);
    die("exec");
    return 127;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "launch") == 0) return launch_mode(argc, argv);

    /* Nobody in the box (same uid) may ptrace us or read /proc/1/{mem,fd,environ}. */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    signal(SIGPIPE, SIG_IGN);

    FILE *in = stdin;
    int cargc = (int)read_ll(in);
    if (cargc < 1 || cargc >= MAX_ARGS) {
        errno = EINVAL;
        die("argc");
    }
    char *cargv[MAX_ARGS + 1];
    for (int i = 0; i < cargc; i++) cargv[i] = read_line(in);
    cargv[cargc] = NULL;
    char *cwd = read_line(in);
    char *scratch = read_line(in); /* directories emptied after every test ("-" = none) */
    long long cpu_ms, wall_ms, as_bytes, fsize, nproc, stack, nofile, out_cap, err_cap, ack, cwd_quota;
    char *lim = read_line(in);
    if (sscanf(lim, "%lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld", &cpu_ms, &wall_ms, &as_bytes, &fsize,
               &nproc, &stack, &nofile, &out_cap, &err_cap, &ack, &cwd_quota) != 11) {
        errno = EINVAL;
        die("limits");
    }
    free(lim);
    int ntests = (int)read_ll(in);
    char **inputs = calloc((size_t)(ntests > 0 ? ntests : 1), sizeof(char *));
    for (int t = 0; t < ntests; t++) inputs[t] = read_line(in);

    extern char **environ;
    for (int t = 0; t < ntests; t++) {
        int pipe_in = -1, pipe_out = -1;
        int infd;
        if (inputs[t][0] == '|') {
            if (sscanf(inputs[t] + 1, "%d %d", &pipe_in, &pipe_out) != 2 || pipe_in < 3 || pipe_out < 3) {
                errno = EINVAL;
                die("pipe spec");
            }
            infd = pipe_in;
        } else {
            infd = strcmp(inputs[t], "-") == 0 ? open("/dev/null", O_RDONLY | O_CLOEXEC)
                                               : open(inputs[t], O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        }
        int outfd = make_capture(cwd);
        int errfd = make_capture(cwd);
        int report[2];
        if (pipe2(report, O_CLOEXEC) != 0) die("pipe");
        int64_t cpu_base = reaped_cpu_us();
        long maxrss_base = children_maxrss_kb();
        long long box_peak_kb = 0;
        int64_t start = now_us();
        pid_t pid = fork();
        if (pid < 0) die("fork");
        if (pid == 0) {
            int e = 0;
            if (infd < 0) e = errno;
            if (!e && (dup2(infd, 0) < 0 || dup2(pipe_out >= 0 ? pipe_out : outfd, 1) < 0 || dup2(errfd, 2) < 0))
                e = errno;
            syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
            struct rlimit rl;
            long long cpu_s = (cpu_ms + 999) / 1000 + 1;
            rl.rlim_cur = rl.rlim_max = (rlim_t)cpu_s; /* soft = hard: the kernel sends SIGKILL */
            if (!e && setrlimit(RLIMIT_CPU, &rl) != 0) e = errno;
            if (!e && as_bytes > 0) {
                rl.rlim_cur = rl.rlim_max = (rlim_t)as_bytes;
                if (setrlimit(RLIMIT_AS, &rl) != 0) e = errno;
            }
            rl.rlim_cur = rl.rlim_max = (rlim_t)fsize;
            if (!e && setrlimit(RLIMIT_FSIZE, &rl) != 0) e = errno;
            rl.rlim_cur = rl.rlim_max = (rlim_t)nproc;
            if (!e && setrlimit(RLIMIT_NPROC, &rl) != 0) e = errno;
            rl.rlim_cur = rl.rlim_max = (rlim_t)stack;
            if (!e && setrlimit(RLIMIT_STACK, &rl) != 0) e = errno;
            rl.rlim_cur = rl.rlim_max = 0;
            if (!e && setrlimit(RLIMIT_CORE, &rl) != 0) e = errno;
            rl.rlim_cur = rl.rlim_max = (rlim_t)nofile;
            if (!e && setrlimit(RLIMIT_NOFILE, &rl) != 0) e = errno;
            if (!e && chdir(cwd) != 0) e = errno;
            signal(SIGPIPE, SIG_DFL);
            if (!e) {
                char **targv = argv_for_test(cargv, t);
                execve(targv[0], targv, environ);
                e = errno;
            }
            if (write(report[1], &e, sizeof e) < 0) _exit(127);
            _exit(127);
        }
        close(report[1]);
        if (infd >= 0) close(infd);
        if (pipe_out >= 0) close(pipe_out); /* the program holds the pipes now: EOF follows its end */

        int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        int flags = 0;
        int status = 0;
        int main_done = 0;
        struct rusage ru;
        memset(&ru, 0, sizeof ru);
        for (;;) {
            /* Reap the program and every orphan re-parented to us (their CPU joins RUSAGE_CHILDREN). */
            for (;;) {
                int st = 0;
                struct rusage any;
                pid_t r = wait4(-1, &st, WNOHANG, &any);
                if (r <= 0) break;
                if (r == pid) {
                    status = st;
                    ru = any;
                    main_done = 1;
                }
            }
            if (main_done) break;
            int64_t elapsed = now_us() - start;
            int64_t cpu = reaped_cpu_us() - cpu_base + live_cpu_us();
            long long pss = live_pss_kb();
            if (pss > box_peak_kb) box_peak_kb = pss;
            struct stat ost, est;
            if (elapsed >= wall_ms * 1000) {
                flags |= 1;
            } else if (cpu > cpu_ms * 1000) {
                flags |= 2;
            } else if ((fstat(outfd, &ost) == 0 && ost.st_size > out_cap) ||
                       (fstat(errfd, &est) == 0 && est.st_size > err_cap)) {
                flags |= 16;
            } else if (cwd_quota > 0 && dir_usage(cwd) > cwd_quota) {
                flags |= 32;
            }
            if (flags & 51) {
                kill(pid, SIGKILL);
                if (getpid() == 1) kill(-1, SIGKILL);
                while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR) {
                }
                break;
            }
            int64_t wait_ms = wall_ms - elapsed / 1000;
            int64_t cpu_left_ms = cpu_ms - cpu / 1000;
            if (cpu_left_ms < 5) cpu_left_ms = 5;
            if (cpu_left_ms > 100) cpu_left_ms = 100;
            if (wait_ms > cpu_left_ms) wait_ms = cpu_left_ms;
            if (wait_ms < 1) wait_ms = 1;
            if (pidfd >= 0) {
                struct pollfd pfd = {.fd = pidfd, .events = POLLIN};
                poll(&pfd, 1, (int)wait_ms);
            } else {
                struct timespec ts = {.tv_sec = 0, .tv_nsec = 2000000};
                nanosleep(&ts, NULL);
            }
        }
        int64_t wall = now_us() - start;
        if (pidfd >= 0) close(pidfd);
        kill_all_others();
        if (cwd_quota > 0 && dir_usage(cwd) > cwd_quota) flags |= 32; /* also what it left behind */
        /* Everything of this test is reaped now: the box's CPU time is exact. */
        int64_t box_cpu_us = reaped_cpu_us() - cpu_base;
        /* A process reaped during this test with a larger peak than any before it. */
        long reaped_maxrss = children_maxrss_kb();
        if (reaped_maxrss > maxrss_base && reaped_maxrss > box_peak_kb) box_peak_kb = reaped_maxrss;

        int spawn_errno = 0;
        char kind = 'E';
        int code = 0;
        if (read(report[0], &spawn_errno, sizeof spawn_errno) == (ssize_t)sizeof spawn_errno && spawn_errno) {
            kind = 'X';
            code = spawn_errno;
        } else if (WIFSIGNALED(status)) {
            kind = 'S';
            code = WTERMSIG(status);
        } else {
            code = WEXITSTATUS(status);
        }
        close(report[0]);
        int64_t cpu_us = tv_us(ru.ru_utime) + tv_us(ru.ru_stime);
        if (box_cpu_us > cpu_us) cpu_us = box_cpu_us;
        long maxrss_kb = ru.ru_maxrss > box_peak_kb ? ru.ru_maxrss : (long)box_peak_kb;
        int over_out = 0, over_err = 0;
        size_t out_len = capture_len(outfd, (size_t)out_cap, &over_out);
        size_t err_len = capture_len(errfd, (size_t)err_cap, &over_err);
        if (over_out) flags |= 4;
        if (over_err) flags |= 8;
        char head[256];
        int hn = snprintf(head, sizeof head, "T %d %c %d %lld %lld %ld %d %zu %zu\n", t, kind, code,
                          (long long)cpu_us, (long long)wall, maxrss_kb, flags, out_len, err_len);
        write_all(1, head, (size_t)hn);
        send_capture(outfd, out_len);
        send_capture(errfd, err_len);
        close(outfd);
        close(errfd);
        if (strcmp(scratch, "-") != 0) {
            empty_dir(scratch);
            empty_dir("/tmp");
            empty_dir("/dev/shm");
        }
        if (ack) {
            char c = 0;
            if (read(0, &c, 1) != 1 || c != 'c') break;
        }
    }
    write_all(1, "D\n", 2);
    return 0;
}
