// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The streams: read (the source to the output) and write (the input to
 * every destination).  Read writes each chunk to the output as it retires,
 * in order; write fills each chunk from the input as the loop finds the
 * input readable, one chunk at a time, then writes it like a copy.  A stop
 * signal ends either at once: what is reported done is on the output or
 * on the destinations, whole sectors of it.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "job.h"

/* ---- read ---- */

static void read_start(struct job *j, struct slot *s)
{
	job_read(j, s, j->src, 0);
}

static void read_advance(struct job *j, struct slot *s)
{
	job_source_ok(j, s);
	slot_finish(s);
}

static void read_retire(struct job *j, struct slot *s)
{
	const char *p = s->buf[0].mem;
	size_t len = s->len << DMIO_SECTOR_SHIFT, done = 0;

	while (done < len) {
		ssize_t n = write(j->outfd, p + done, len - done);

		if (n >= 0)
			done += (size_t)n;
		else if (errno != EINTR) {
			warnmsg("%s: write error: %s", j->o->output ? j->o->output : "stdout",
				strerror(errno));
			j->res->stream_error = true;
			break;
		}
		if (done < len && signal_stop())
			break;
	}
	if (done < len) {
		/* Count only the whole sectors that reached the output. */
		s->len = done >> DMIO_SECTOR_SHIFT;
		job_stop_at(j, s->off + s->len);
	}
}

const struct job_ops read_ops = {
	.start = read_start,
	.advance = read_advance,
	.retire = read_retire,
};

/* ---- write ---- */

static void write_start(struct job *j, struct slot *s)
{
	(void)j;
	s->state = SLOT_FILL;
}

/* The input is readable: take what it has; write the chunk once full, or
 * at the input's end. */
static void write_fill(struct job *j, struct slot *s)
{
	size_t want = s->len << DMIO_SECTOR_SHIFT, pad;
	ssize_t n = read(j->infd, s->buf[0].mem + s->filled, want - s->filled);

	if (n < 0) {
		if (errno == EINTR || errno == EAGAIN)
			return; /* the loop looks at signals first */
		warnmsg("%s: read error: %s", j->o->input ? j->o->input : "stdin",
			strerror(errno));
		j->res->stream_error = true;
		job_stop_at(j, s->off);
		slot_finish(s);
		return;
	}
	s->filled += (size_t)n;
	if (n && s->filled < want)
		return;
	if (s->filled < want) {
		/* The input ended: a last partial sector is padded with zeroes. */
		pad = -s->filled & (DMIO_SECTOR_SIZE - 1);
		memset(s->buf[0].mem + s->filled, 0, pad);
		s->len = (s->filled + pad) >> DMIO_SECTOR_SHIFT;
		job_stop_at(j, s->off + s->len);
	}
	if (s->len)
		job_write(j, s);
	else
		slot_finish(s);
}

const struct job_ops write_ops = {
	.start = write_start,
	.fill = write_fill,
	.advance = job_writes_done,
	.retire = job_retire_writes,
};
