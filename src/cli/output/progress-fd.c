// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * --progress=fd:N: progress for programs, as nbdcopy's --progress=FD, in
 * JSON, one object per line on file descriptor N: the bytes done and in
 * all, the rate and the ETA, the time taken, and each region's bytes done
 * and status.  At most one line every half second while the job runs, and
 * always a last one, "final": true, once every region has its status.
 *
 * A reader must not hold the job up: a line that the fd cannot take now (a
 * full pipe) is left out, the next one says more; only the last line waits
 * for room.  A write error (EPIPE: the reader went away; SIGPIPE is
 * ignored) ends the stream with one warning, and the job goes on: its exit
 * status is its own.  A signal that comes while a line is not yet begun
 * drops that line.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "output/output.h"

#define FD_INTERVAL 0.5	/* seconds between two lines, at least */

static struct {
	bool on, failed;
	int fd;
	const struct region *r;
	unsigned int n;
	uint64_t total, first;	/* bytes: in all, done when the job started */
	double start, last;	/* when it started, when the last line was written */
	char *buf;
	size_t size, len;
} s;

/* Whether the file at path, or on fd (path NULL), is the one at e. */
static bool is(const struct extent *e, const char *path, int fd)
{
	struct extent x;

	return !(path ? path_extent(path, &x) : fd_extent(fd, &x)) && extents_same(&x, e);
}

/* What the progress fd is of the job's files, or NULL: a region's file or
 * device, read's output, write's input, the map, the digest log, or
 * standard output while it carries the JSON document. */
static const char *fd_is(const struct opts *o, const struct extent *e)
{
	bool std = stream_is_std(o);

	if (o->shape.output && is(e, std ? NULL : o->output, 1))
		return std ? "standard output, which carries read's data" : "the output";
	if (o->shape.input && is(e, std ? NULL : o->input, 0))
		return "the input";
	if (o->map && is(e, o->map, -1))
		return "the map";
	if (o->hash_log && is(e, o->hash_log, -1))
		return "the digest log";
	if (o->json && !(o->shape.output && std) && is(e, NULL, 1))
		return "standard output, which carries the JSON document";
	return NULL;
}

int progress_fd_apart(const struct opts *o, const struct region *r, unsigned int n)
{
	struct extent e;
	const char *what;

	if (!o->progress_json || fd_extent(o->progress_fd, &e) || extent_discards(&e))
		return 0;
	for (unsigned int i = 0; i < n; i++)
		if (extents_same(&r[i].dev.ext, &e)) {
			warnmsg("--progress: fd %d is %s's %s", o->progress_fd, r[i].text,
				extent_kind(&e));
			return -EINVAL;
		}
	what = fd_is(o, &e);
	if (what)
		warnmsg("--progress: fd %d is %s", o->progress_fd, what);
	return what ? -EINVAL : 0;
}

void progress_fd_init(const struct opts *o, uint64_t total_bytes, uint64_t done_bytes,
		      const struct region *r, unsigned int n, double start)
{
	free(s.buf);
	memset(&s, 0, sizeof(s));
	if (!o->progress_json)
		return;
	/* The fixed part, and a region's object at its longest, with room. */
	s.size = 256 + (size_t)n * 96;
	s.buf = malloc(s.size);
	if (!s.buf) {
		warnmsg("progress fd %d: out of memory: no progress lines", o->progress_fd);
		return;
	}
	s.on = true;
	s.fd = o->progress_fd;
	s.r = r;
	s.n = n;
	s.total = total_bytes;
	s.first = done_bytes;
	s.start = start;
	s.last = start - FD_INTERVAL; /* the first line at once */
}

static void add(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void add(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(s.buf + s.len, s.size - s.len, fmt, ap);
	va_end(ap);
	if (n > 0)
		s.len = s.len + (size_t)n < s.size ? s.len + (size_t)n : s.size - 1;
}

/* A region's status, in the report's words; "running" while it runs. */
static const char *status_word(const struct region *r)
{
	return r->status == ST_PENDING ? "running" : status_names[r->status];
}

/* The line, in s.buf and s.len. */
static void build(uint64_t done, double t, bool final)
{
	double secs = t - s.start;
	double bps = secs > 0 && done > s.first ? (double)(done - s.first) / secs : 0;

	s.len = 0;
	add("{\"bytes_done\":%llu,\"bytes_total\":%llu,\"rate\":%.0f,\"eta\":",
	    (unsigned long long)done, (unsigned long long)s.total, bps);
	if (done >= s.total)
		add("0");
	else if (final || bps <= 0)
		add("null");
	else
		add("%.1f", (double)(s.total - done) / bps);
	add(",\"elapsed\":%.3f,\"final\":%s,\"regions\":[", secs, final ? "true" : "false");
	for (unsigned int i = 0; i < s.n; i++)
		add("%s{\"index\":%u,\"bytes_done\":%llu,\"status\":\"%s\"}", i ? "," : "", i,
		    (unsigned long long)s.r[i].done << DMIO_SECTOR_SHIFT, status_word(&s.r[i]));
	add("]}\n");
}

/* Write the line: all of it once begun; the last waits for room. */
static void put(bool final)
{
	struct pollfd p = { s.fd, POLLOUT, 0 };
	size_t done = 0;

	if (!final && !poll(&p, 1, 0))
		return; /* no room now: the next line */
	while (done < s.len) {
		ssize_t n = write(s.fd, s.buf + done, s.len - done);

		if (n >= 0) {
			done += (size_t)n;
		} else if (errno == EAGAIN && (done || final)) {
			poll(&p, 1, -1); /* an fd left non-blocking: wait for room */
		} else if (errno == EINTR && done) {
			continue;
		} else if (errno == EINTR || errno == EAGAIN) {
			if (final)
				warnmsg("progress fd %d: a signal came: the last line was not written",
					s.fd);
			return; /* left out */
		} else {
			warnmsg("progress fd %d: write error: %s; no more progress lines, "
				"the job goes on", s.fd, strerror(errno));
			s.failed = true;
			return;
		}
	}
}

double progress_fd_due(void)
{
	double left;

	if (!s.on || s.failed)
		return -1;
	left = s.last + FD_INTERVAL - now_seconds();
	return left > 0 ? left : 0;
}

void progress_fd_update(uint64_t done_bytes, bool final)
{
	double t;

	if (!s.on || s.failed)
		return;
	t = now_seconds();
	if (!final && t - s.last < FD_INTERVAL)
		return;
	s.last = t;
	build(done_bytes, t, final);
	put(final);
	if (final) {
		free(s.buf);
		s.buf = NULL;
		s.on = false;
	}
}
