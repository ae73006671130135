// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Signals and progress.  SIGINT and SIGTERM ask the job to stop (it drains,
 * flushes and reports); SIGUSR1 asks for one status line, as dd does.
 * --progress shows a bar on a terminal and plain lines otherwise, always on
 * stderr.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

volatile sig_atomic_t stop_signal, status_request;

static void on_stop(int sig)
{
	stop_signal = sig;
}

static void on_status(int sig)
{
	(void)sig;
	status_request = 1;
}

void signals_init(void)
{
	struct sigaction sa = { .sa_handler = on_stop };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = on_status;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = SIG_IGN; /* a closed pipe is a write error, reported */
	sigaction(SIGPIPE, &sa, NULL);
}

static struct {
	bool on, tty, quiet;
	uint64_t total;
	double start, last;
} p;

void progress_init(const struct opts *o, uint64_t total_bytes)
{
	p.on = o->progress;
	p.tty = isatty(2);
	p.quiet = o->quiet;
	p.total = total_bytes;
	p.start = p.last = now_seconds();
}

/* "1.5 GiB" */
static void human(char *buf, size_t len, double v)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	unsigned int u = 0;

	while (v >= 1024 && u < 5)
		v /= 1024, u++;
	snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

static void line(uint64_t done, double t, bool bar)
{
	char d[32], tot[32], rate[32], eta[32] = "--:--";
	double secs = t - p.start, bps = secs > 0 ? done / secs : 0;

	human(d, sizeof(d), (double)done);
	human(tot, sizeof(tot), (double)p.total);
	human(rate, sizeof(rate), bps);
	if (bps > 0 && done < p.total) {
		unsigned long left = (unsigned long)((p.total - done) / bps);

		snprintf(eta, sizeof(eta), "%lu:%02lu:%02lu", left / 3600,
			 left / 60 % 60, left % 60);
	} else if (done >= p.total) {
		snprintf(eta, sizeof(eta), "done");
	}
	if (bar) {
		char b[31];
		unsigned int fill = p.total ? (unsigned int)(30.0 * done / p.total) : 30;

		memset(b, '#', fill);
		memset(b + fill, '.', 30 - fill);
		b[30] = 0;
		fprintf(stderr, "\r[%s] %3.0f%% %s / %s  %s/s  ETA %s \033[K", b,
			p.total ? 100.0 * done / p.total : 100.0, d, tot, rate, eta);
	} else {
		fprintf(stderr, "%s: %s / %s (%.0f%%) in %.1f s, %s/s, ETA %s\n", PROG,
			d, tot, p.total ? 100.0 * done / p.total : 100.0, secs, rate, eta);
	}
}

void progress_update(uint64_t done_bytes, bool final)
{
	double t = now_seconds();

	if (!final && !p.on) {
		/* Only a SIGUSR1 request gets here without --progress. */
		if (!status_request)
			return;
	}
	if (status_request) {
		status_request = 0;
		line(done_bytes, t, false);
		return;
	}
	if (!p.on || p.quiet)
		return;
	if (!final && t - p.last < (p.tty ? 0.25 : 2.0))
		return;
	p.last = t;
	line(done_bytes, t, p.tty);
	if (final && p.tty)
		fputc('\n', stderr);
}
