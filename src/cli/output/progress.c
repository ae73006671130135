// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Progress: --progress shows a bar on a terminal and plain lines otherwise,
 * always on stderr; a SIGUSR1 asks for one plain line.  --progress=fd:N
 * (progress-fd.c) writes JSON lines for programs beside them.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "output/output.h"

#define TTY_INTERVAL 0.25	/* seconds between redraws of the bar */
#define LINE_INTERVAL 2.0	/* between plain lines */

static struct {
	bool on, tty, quiet;
	uint64_t total;
	double start, last;
} p;

void progress_init(const struct opts *o, uint64_t total_bytes, uint64_t done_bytes,
		   const struct region *r, unsigned int n)
{
	p.on = o->progress;
	p.tty = isatty(2);
	p.quiet = o->quiet;
	p.total = total_bytes;
	p.start = p.last = now_seconds();
	progress_fd_init(o, total_bytes, done_bytes, r, n, p.start);
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

/* What went where: "read R, written W, zeroed Z, skipped S". */
static void counts(char *buf, size_t len, const struct job_result *res)
{
	char r[32], w[32], z[32], s[32];

	human(r, sizeof(r), (double)res->bytes_read);
	human(w, sizeof(w), (double)res->bytes_written);
	human(z, sizeof(z), (double)res->bytes_zeroed);
	human(s, sizeof(s), (double)res->bytes_skipped);
	snprintf(buf, len, "read %s, written %s, zeroed %s, skipped %s", r, w, z, s);
}

static void line(const struct job_result *res, uint64_t done, double t, bool bar)
{
	char d[32], tot[32], rate[32], eta[32] = "--:--", c[160];
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
	counts(c, sizeof(c), res);
	if (bar) {
		char b[31];
		unsigned int fill = p.total ? (unsigned int)(30.0 * done / p.total) : 30;

		memset(b, '#', fill);
		memset(b + fill, '.', 30 - fill);
		b[30] = 0;
		/* The counts only where something was zeroed or skipped. */
		fprintf(stderr, "\r[%s] %3.0f%% %s / %s  %s/s  ETA %s%s%s \033[K", b,
			p.total ? 100.0 * done / p.total : 100.0, d, tot, rate, eta,
			res->bytes_zeroed || res->bytes_skipped ? "  " : "",
			res->bytes_zeroed || res->bytes_skipped ? c : "");
	} else {
		fprintf(stderr, "%s: %s / %s (%.0f%%) in %.1f s, %s/s, ETA %s; %s\n", PROG,
			d, tot, p.total ? 100.0 * done / p.total : 100.0, secs, rate, eta, c);
	}
}

static double interval(void)
{
	return p.tty ? TTY_INTERVAL : LINE_INTERVAL;
}

double progress_due(void)
{
	double left, fd = progress_fd_due();

	if (!p.on || p.quiet)
		return fd;
	left = p.last + interval() - now_seconds();
	if (left < 0)
		left = 0;
	return fd >= 0 && fd < left ? fd : left;
}

void progress_update(const struct job_result *res, uint64_t done_bytes, bool final)
{
	double t;

	progress_fd_update(done_bytes, false);
	if (signal_status_taken()) {
		line(res, done_bytes, now_seconds(), false);
		return;
	}
	if (!p.on || p.quiet)
		return;
	t = now_seconds();
	if (!final && t - p.last < interval())
		return;
	p.last = t;
	line(res, done_bytes, t, p.tty);
	if (final && p.tty)
		fputc('\n', stderr);
}

void progress_end(uint64_t done_bytes)
{
	progress_fd_update(done_bytes, true);
}
