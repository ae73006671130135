// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The monitor of the captive servers (server.c runs them): one thread
 * that reads every server's stdout and stderr and writes each line to
 * dmio's stderr prefixed with the region (msgline()), and that keeps the
 * servers' deadlines: a server that has not answered in time, or when a
 * stop signal comes, is killed (its process group), which ends the
 * connect that waits for it.  The thread blocks every signal, so the
 * handlers run on the main thread; it runs while there are servers.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "base/base.h"
#include "regions/regions.h"
#include "regions/server.h"

#define DRAIN_WAIT 1.0		/* seconds a server's last lines are waited for */
#define SIGNAL_LOOK 0.1		/* seconds between looks at a stop signal, while
				 * a server starts */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t drained = PTHREAD_COND_INITIALIZER;
static struct server *servers;		/* under lock */
static unsigned long rounds;		/* under lock: the monitor's turns done */
static pthread_t monitor;
static bool running;			/* the main thread's */
static int kick_fd = -1;		/* an eventfd: the list changed */

static void kick(void)
{
	uint64_t one = 1;

	while (write(kick_fd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}

/* Say s's line so far, and start a new one. */
static void say_line(struct server *s)
{
	msgline(s->name, s->line, s->used);
	s->used = 0;
}

/* Read what s wrote; say each whole line (a long one in pieces). */
static void take_output(struct server *s)
{
	char buf[4096];
	ssize_t n = read(s->err_fd, buf, sizeof(buf));

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		if (s->used)
			say_line(s);
		s->eof = true;
		pthread_cond_broadcast(&drained);
		return;
	}
	for (ssize_t i = 0; i < n; i++) {
		if (buf[i] == '\n') {
			say_line(s);
			continue;
		}
		s->line[s->used++] = buf[i];
		if (s->used == sizeof(s->line))
			say_line(s);
	}
}

/* Kill the servers that did not answer in time, or at a stop signal;
 * the seconds until the next look, or -1. */
static double keep_deadlines(void)
{
	double now = now_seconds(), next = -1;

	for (struct server *s = servers; s; s = s->next) {
		if (!s->deadline)
			continue;
		if (now >= s->deadline || signal_stop()) {
			s->timed_out = !signal_stop();
			s->interrupted = !s->timed_out;
			s->deadline = 0;
			kill(-s->pid, SIGKILL);
			continue;
		}
		if (next < 0 || s->deadline - now < next)
			next = s->deadline - now;
		if (next > SIGNAL_LOOK)
			next = SIGNAL_LOOK;
	}
	return next;
}

/* The pollfds of the kick and of every server's pipe still open, in *p
 * (and the servers in *at, from [1]), grown as needed: how many, or 0
 * when out of memory. */
static unsigned int poll_set(struct pollfd **p, struct server ***at, unsigned int *cap)
{
	unsigned int n = 1;

	for (struct server *s = servers; s; s = s->next)
		n++;
	if (n > *cap) {
		struct pollfd *np = realloc(*p, n * sizeof(**p));
		struct server **na = np ? realloc(*at, n * sizeof(**at)) : NULL;

		if (np)
			*p = np;
		if (!na)
			return 0;
		*at = na;
		*cap = n;
	}
	n = 1;
	(*p)[0] = (struct pollfd){ kick_fd, POLLIN, 0 };
	for (struct server *s = servers; s; s = s->next)
		if (!s->eof) {
			(*at)[n] = s;
			(*p)[n++] = (struct pollfd){ s->err_fd, POLLIN, 0 };
		}
	return n;
}

static void *monitor_run(void *arg)
{
	struct pollfd *p = NULL;
	struct server **at = NULL;
	unsigned int cap = 0;
	uint64_t v;

	(void)arg;
	pthread_mutex_lock(&lock);
	while (servers) {
		double wait = keep_deadlines();
		/* Out of memory: the deadlines are kept, the pipes wait. */
		unsigned int n = poll_set(&p, &at, &cap);

		pthread_mutex_unlock(&lock);
		if (!n) {
			nanosleep(&(struct timespec){ 0, 100000000L }, NULL);
			pthread_mutex_lock(&lock);
			continue;
		}
		poll(p, n, wait < 0 ? -1 : (int)(wait * 1000) + 1);
		if (p[0].revents && read(kick_fd, &v, sizeof(v)) < 0) {
			/* EAGAIN: another read took it */
		}
		pthread_mutex_lock(&lock);
		/* A server is unlisted only after its pipe's end: at[] holds. */
		for (unsigned int i = 1; i < n; i++)
			if (p[i].revents)
				take_output(at[i]);
		rounds++;
		pthread_cond_broadcast(&drained);
	}
	pthread_mutex_unlock(&lock);
	free(p);
	free(at);
	return NULL;
}

int monitor_add(struct server *s)
{
	sigset_t all, was;
	int err = 0;

	if (kick_fd < 0)
		kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (kick_fd < 0)
		return -errno;
	pthread_mutex_lock(&lock);
	s->next = servers;
	servers = s;
	pthread_mutex_unlock(&lock);
	s->listed = true;
	if (running) {
		kick();
		return 0;
	}
	/* Its signals blocked: the handlers are the main thread's. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &was);
	err = -pthread_create(&monitor, NULL, monitor_run, NULL);
	pthread_sigmask(SIG_SETMASK, &was, NULL);
	running = !err;
	if (err) {
		pthread_mutex_lock(&lock);
		servers = s->next;
		pthread_mutex_unlock(&lock);
		s->listed = false;
	}
	return err;
}

/* DRAIN_WAIT at most for its last lines: a process it left may hold its
 * pipe.  Then the monitor is let finish the turn that may still look at
 * it. */
void monitor_remove(struct server *s)
{
	struct timespec until;
	struct server **pp;
	unsigned long turn;
	bool last;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += (long)(DRAIN_WAIT * 1e9);
	until.tv_sec += until.tv_nsec / 1000000000L;
	until.tv_nsec %= 1000000000L;
	pthread_mutex_lock(&lock);
	while (!s->eof && !pthread_cond_timedwait(&drained, &lock, &until))
		;
	if (s->used)
		say_line(s);
	for (pp = &servers; *pp != s; pp = &(*pp)->next)
		;
	*pp = s->next;
	last = !servers;
	turn = rounds;
	kick();
	while (!last && rounds == turn)
		pthread_cond_wait(&drained, &lock);
	pthread_mutex_unlock(&lock);
	s->listed = false;
	if (last) {
		pthread_join(monitor, NULL);
		running = false;
	}
}

void monitor_answered(struct server *s)
{
	pthread_mutex_lock(&lock);
	s->deadline = 0;
	pthread_mutex_unlock(&lock);
}

bool monitor_killed(struct server *s, bool *timed_out)
{
	bool killed;

	pthread_mutex_lock(&lock);
	*timed_out = s->timed_out;
	killed = s->timed_out || s->interrupted;
	pthread_mutex_unlock(&lock);
	return killed;
}
