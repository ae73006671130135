// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Signals.  SIGINT, SIGTERM and SIGHUP ask the job to stop (it drains,
 * flushes and reports); SIGUSR1 asks for one progress line, as dd does.
 * The handlers record the signal and write to the job's eventfd, so that
 * the main loop, asleep in poll(), wakes at once; a stop signal also
 * writes an eventfd that stays readable, which ends an NBD connect
 * (dmio_nbd_open()'s cancel_fd), before or after.  They are installed
 * without SA_RESTART: a read or write blocked on a pipe returns.  The
 * library's completion thread blocks every signal, so the handlers run on
 * the main thread.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/base.h"

static int stop_sig, status_req, wake_fd = -1, stop_fd = -1; /* atomic */

static void wake(int *fdp)
{
	int fd = __atomic_load_n(fdp, __ATOMIC_RELAXED);
	uint64_t one = 1;

	if (fd >= 0 && write(fd, &one, sizeof(one)) < 0) {
		/* Only a full counter fails: the loop is awake then. */
	}
}

static void on_stop(int sig)
{
	int e = errno;

	__atomic_store_n(&stop_sig, sig, __ATOMIC_RELAXED);
	wake(&wake_fd);
	wake(&stop_fd);
	errno = e;
}

static void on_status(int sig)
{
	int e = errno;

	(void)sig;
	__atomic_store_n(&status_req, 1, __ATOMIC_RELAXED);
	wake(&wake_fd);
	errno = e;
}

void signals_init(void)
{
	struct sigaction sa = { .sa_handler = on_stop };

	__atomic_store_n(&stop_fd, eventfd(0, EFD_CLOEXEC), __ATOMIC_RELAXED);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = on_status;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = SIG_IGN; /* a closed pipe is a write error, reported */
	sigaction(SIGPIPE, &sa, NULL);
}

void signals_wake(int fd)
{
	__atomic_store_n(&wake_fd, fd, __ATOMIC_RELAXED);
}

int signals_stop_fd(void)
{
	return __atomic_load_n(&stop_fd, __ATOMIC_RELAXED);
}

int signal_stop(void)
{
	return __atomic_load_n(&stop_sig, __ATOMIC_RELAXED);
}

bool signal_status_taken(void)
{
	return __atomic_exchange_n(&status_req, 0, __ATOMIC_RELAXED);
}
