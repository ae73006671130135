// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Captive NBD servers ("[ CMD ARGS... ]"): a command that dmio runs for
 * the length of the job, handed a listening Unix socket by systemd's
 * socket activation (the socket as fd 3, LISTEN_PID, LISTEN_FDS=1 and
 * LISTEN_FDNAMES), as nbdcopy does through libnbd's
 * nbd_connect_systemd_socket_activation().  dmio makes the socket itself,
 * in a private directory, so that the region is an NBD URI like any other
 * (several connections, block status, TLS-free), and it decides when the
 * server ends:
 *
 * - The server runs in a process group of its own, so that a Ctrl-C at
 *   the terminal is dmio's alone (it drains, reports, then stops the
 *   servers); its stdin is /dev/null, its stdout and stderr a pipe whose
 *   lines dmio writes to its own stderr, prefixed with the region.
 * - PR_SET_PDEATHSIG: the kernel sends it SIGTERM when dmio dies, however
 *   (even by SIGKILL), so that none outlives dmio.
 * - Until it answers (server_answered()), it has a deadline: past it, or
 *   at a stop signal, its group is killed, which ends the connect that
 *   waits for it (the socket closes).
 * - server_stop(): SIGTERM to its group, SERVER_GRACE seconds, SIGKILL;
 *   then it is reaped, its socket and directory removed.
 *
 * One thread, the monitor (monitor.c), reads every server's pipe and
 * keeps the deadlines.  Everything here runs on the main thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/base.h"
#include "regions/regions.h"
#include "regions/server.h"

#define SERVER_GRACE 10.0	/* seconds from SIGTERM to SIGKILL */
#define EXIT_WAIT 1.0		/* seconds a server that closed its socket has to exit */

/* ---- starting one ---- */

/* The program argv0 names, as execvp() would find it, in path: 0 or
 * -errno. */
static int find_program(const char *argv0, char *path, size_t len)
{
	const char *dirs = getenv("PATH"), *d;
	int err = -ENOENT;

	if (strchr(argv0, '/')) {
		snprintf(path, len, "%s", argv0);
		return access(path, X_OK) ? -errno : 0;
	}
	for (d = dirs && *dirs ? dirs : "/usr/local/bin:/usr/bin:/bin"; ; d++) {
		size_t n = strcspn(d, ":");

		snprintf(path, len, "%.*s%s%s", (int)n, d, n ? "/" : "", argv0);
		if (!access(path, X_OK))
			return 0;
		if (errno == EACCES)
			err = -EACCES;
		d += n;
		if (!*d)
			return err;
	}
}

/* The environment of the server: this one, with LISTEN_* as socket
 * activation wants them; LISTEN_PID's value is the child's to write, in
 * pid (room for "LISTEN_PID=" and 20 digits).  NULL when out of memory. */
static char **server_environment(char *pid)
{
	extern char **environ;
	size_t n = 0, k = 0;
	char **env;

	while (environ[n])
		n++;
	env = calloc(n + 4, sizeof(*env));
	for (size_t i = 0; env && i < n; i++)
		if (strncmp(environ[i], "LISTEN_", 7))
			env[k++] = environ[i];
	if (env) {
		env[k++] = pid;
		env[k++] = "LISTEN_FDS=1";
		env[k++] = "LISTEN_FDNAMES=nbd";
	}
	return env;
}

/* In the child: become the server, or write why not (an errno) to
 * exec_fd and exit 127.  Only async-signal-safe calls: the monitor may
 * hold a lock. */
static void child(int listen_fd, int err_fd, int exec_fd, pid_t parent, const char *path,
		  char *const *argv, char **env, char *pid)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigset_t none;
	int null = open("/dev/null", O_RDONLY), e;
	char digits[24], *d = digits + sizeof(digits);

	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent) /* dmio died before it could be told */
		_exit(127);
	setpgid(0, 0);
	sigaction(SIGPIPE, &dfl, NULL); /* dmio ignores it: the server need not */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* Out of the way of 0-3 first (it stays close-on-exec). */
	exec_fd = fcntl(exec_fd, F_DUPFD_CLOEXEC, 10);
	if (null < 0 || exec_fd < 0 || dup2(null, 0) < 0 || dup2(err_fd, 1) < 0 ||
	    dup2(err_fd, 2) < 0 || dup2(listen_fd, 3) < 0 || fcntl(3, F_SETFD, 0) < 0)
		goto fail;
	/* Nothing else of dmio's goes with it. */
	syscall(SYS_close_range, 4, ~0U, 4 /* CLOSE_RANGE_CLOEXEC */);
	for (pid_t v = getpid(); d == digits + sizeof(digits) || v; v /= 10)
		*--d = (char)('0' + v % 10);
	memcpy(pid + 11, d, (size_t)(digits + sizeof(digits) - d));
	pid[11 + (digits + sizeof(digits) - d)] = 0;
	execve(path, argv, env);
fail:
	e = errno;
	if (write(exec_fd, &e, sizeof(e)) < 0)
		_exit(127);
	_exit(127);
}

/* A listening socket in a new private directory, in s: its fd, or -errno
 * (said in why). */
static int server_socket(struct server *s, char *why, size_t len)
{
	const char *tmp = getenv("TMPDIR");
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd;

	snprintf(s->dir, sizeof(s->dir), "%s/dmio-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(s->dir)) {
		int e = errno;

		snprintf(why, len, "cannot make a directory %s: %s", s->dir, strerror(e));
		*s->dir = 0;
		return -e;
	}
	if ((size_t)snprintf(a.sun_path, sizeof(a.sun_path), "%s/nbd.sock", s->dir) >=
	    sizeof(a.sun_path)) {
		snprintf(why, len, "%s/nbd.sock: too long for a socket (TMPDIR)", s->dir);
		return -ENAMETOOLONG;
	}
	if (asprintf(&s->uri, "nbd+unix:///?socket=%s", a.sun_path) < 0) {
		s->uri = NULL;
		return -ENOMEM;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, SOMAXCONN)) {
		int e = errno;

		snprintf(why, len, "cannot listen on %s: %s", a.sun_path, strerror(e));
		if (fd >= 0)
			close(fd);
		return -e;
	}
	return fd;
}

/* Remove what s made, and free it. */
static void server_free(struct server *s)
{
	char sock[PATH_MAX + 16];

	if (s->err_fd >= 0)
		close(s->err_fd);
	if (s->pidfd >= 0)
		close(s->pidfd);
	if (*s->dir) {
		snprintf(sock, sizeof(sock), "%s/nbd.sock", s->dir);
		unlink(sock);
		rmdir(s->dir);
	}
	free(s->uri);
	free(s->name);
	free(s);
}

/* Fork and exec the server on listen_fd: 0, or -errno (said in why). */
static int server_fork(struct server *s, int listen_fd, const char *path, char *const *argv,
		       char *why, size_t len)
{
	char pid[32] = "LISTEN_PID=", **env = server_environment(pid);
	int out[2] = { -1, -1 }, ex[2] = { -1, -1 }, e = 0;
	pid_t parent = getpid();
	ssize_t n;

	if (!env || pipe2(out, O_CLOEXEC) || pipe2(ex, O_CLOEXEC)) {
		e = env ? errno : ENOMEM;
		goto out;
	}
	s->pid = fork();
	if (s->pid < 0) {
		e = errno;
		goto out;
	}
	if (!s->pid)
		child(listen_fd, out[1], ex[1], parent, path, argv, env, pid);
	close(ex[1]);
	ex[1] = -1;
	/* Nothing: it runs; an errno: it could not. */
	while ((n = read(ex[0], &e, sizeof(e))) < 0 && errno == EINTR)
		;
	if (n == sizeof(e)) {
		snprintf(why, len, "cannot run %s: %s", path, strerror(e));
		waitpid(s->pid, NULL, 0);
		s->pid = 0;
		goto out;
	}
	e = 0;
	s->err_fd = out[0];
	out[0] = -1;
	fcntl(s->err_fd, F_SETFL, O_NONBLOCK);
	s->pidfd = (int)syscall(SYS_pidfd_open, s->pid, 0);
out:
	for (int i = 0; i < 2; i++) {
		if (out[i] >= 0)
			close(out[i]);
		if (ex[i] >= 0)
			close(ex[i]);
	}
	free(env);
	if (e && !*why)
		snprintf(why, len, "%s", strerror(e));
	return -e;
}

int server_start(char *const *argv, const char *name, const struct opts *o,
		 struct server **sp, char *why, size_t len)
{
	struct server *s = calloc(1, sizeof(*s));
	char path[PATH_MAX];
	int fd, err;

	*why = 0;
	if (!s || !(s->name = strdup(name))) {
		free(s);
		return -ENOMEM;
	}
	s->pidfd = s->err_fd = -1;
	err = find_program(argv[0], path, sizeof(path));
	if (err) {
		snprintf(why, len, "%s: %s", argv[0],
			 err == -ENOENT ? "command not found" : strerror(-err));
		server_free(s);
		return err;
	}
	fd = server_socket(s, why, len);
	err = fd < 0 ? fd : server_fork(s, fd, path, argv, why, len);
	if (fd >= 0)
		close(fd); /* the server's alone: when it ends, connects fail */
	s->timeout = o->server_timeout;
	s->deadline = now_seconds() + s->timeout;
	if (!err)
		err = monitor_add(s);
	if (err) {
		if (s->pid > 0)
			server_stop(s);
		else
			server_free(s);
		return err;
	}
	if (o->verbose)
		warnmsg("%s: server PID %d on %s", name, (int)s->pid, s->uri);
	*sp = s;
	return 0;
}

const char *server_uri(const struct server *s)
{
	return s->uri;
}

void server_answered(struct server *s)
{
	monitor_answered(s);
}

/* ---- its end ---- */

/* Whether s has exited (not reaped), waiting up to seconds for it. */
static bool exited(struct server *s, double seconds)
{
	double until = now_seconds() + seconds;
	struct pollfd p = { s->pidfd, POLLIN, 0 };
	siginfo_t si = { 0 };

	if (s->pidfd >= 0) {
		while (poll(&p, 1, (int)(seconds * 1000)) < 0 && errno == EINTR &&
		       (seconds = until - now_seconds()) > 0)
			;
		return p.revents != 0;
	}
	/* No pidfd (a kernel before 5.3): look every 10 ms. */
	do {
		if (!waitid(P_PID, (id_t)s->pid, &si, WEXITED | WNOHANG | WNOWAIT) && si.si_pid)
			return true;
	} while (now_seconds() < until && !nanosleep(&(struct timespec){ 0, 10000000L }, NULL));
	return false;
}

/* How a wait status ended, in words. */
static void ended(int status, char *buf, size_t len)
{
	if (WIFSIGNALED(status))
		snprintf(buf, len, "was killed by SIG%s", sigabbrev_np(WTERMSIG(status)));
	else
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
}

int server_why(struct server *s, char *why, size_t len)
{
	bool timed_out;
	int status;
	char how[64];

	if (monitor_killed(s, &timed_out) && !timed_out)
		return -EINTR;
	if (timed_out) {
		snprintf(why, len, "the server did not answer within %u s (--server-timeout)",
			 s->timeout);
		return -ETIMEDOUT;
	}
	/* A server that exits closes the socket first: a moment to see it. */
	if (!exited(s, EXIT_WAIT) || waitid(P_PID, (id_t)s->pid, &(siginfo_t){ 0 },
					      WEXITED | WNOWAIT))
		return 0;
	waitpid(s->pid, &status, 0);
	s->pid = 0;
	ended(status, how, sizeof(how));
	snprintf(why, len, "the server %s before it answered", how);
	return -ECONNREFUSED;
}

void server_check(struct server *s)
{
	s->ended = s->pid > 0 && exited(s, 0);
}

void server_stop(struct server *s)
{
	bool early, killed, timed_out;
	char how[64];
	int status = 0;

	if (!s)
		return;
	killed = monitor_killed(s, &timed_out);
	if (s->pid > 0) {
		/* Ended before it was asked to (qemu-nbd ends when its last
		 * client goes): say how, if it was early or not well. */
		early = !killed && exited(s, 0);
		if (!early) {
			kill(-s->pid, SIGTERM);
			if (!exited(s, SERVER_GRACE)) {
				warnmsg("%s: the server did not end within %.0f s of SIGTERM: "
					"killed", s->name, SERVER_GRACE);
				kill(-s->pid, SIGKILL);
			}
		}
		/* Whatever it left in its group goes with it (its pid is not
		 * free for another until it is reaped). */
		kill(-s->pid, SIGKILL);
		waitpid(s->pid, &status, 0);
		if (early && (status || s->ended)) {
			ended(status, how, sizeof(how));
			warnmsg("%s: the server %s before %s", s->name, how,
				s->ended ? "the job ended" : "dmio stopped it");
		}
	}
	if (s->listed)
		monitor_remove(s);
	server_free(s);
}
