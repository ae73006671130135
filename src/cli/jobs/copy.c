// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * copy: each chunk is read from the source once, then that same buffer is
 * written to every destination still healthy in one dm-io call (a mirror,
 * dm-kcopyd's run_io_job).  A chunk writes only after every chunk before it
 * was read (pipeline/pipeline.h), so a source read error stops the copy at its sector.
 * A chunk that is a hole of the source is not read; one that reads as
 * zeroes is written as zeroes (job_write).  A destination "-" (stdout)
 * gets each chunk as it retires, in order (stream.c).
 *
 * copy --write-changed (resync): the destinations are read beside the
 * source, and a chunk is written only to those that differ.
 */
#include <string.h>

#include "jobs/jobs.h"

/* Whether zero chunks are told apart from data. */
static bool detect_zeroes(const struct job *j)
{
	return !j->o->no_sparse || j->o->target_is_zero;
}

/* The source's part of s is read, whole: is it zeroes? */
static void look_at(struct job *j, struct slot *s)
{
	if (!s->unread && detect_zeroes(j))
		s->zero = is_zero(s->buf[0].mem, s->len << DMIO_SECTOR_SHIFT);
}

static void copy_start(struct job *j, struct slot *s)
{
	if (!s->unread)
		job_read(j, s, j->src, 0);
}

/* Whether s is to be written now: its source's read checked, its data
 * final and looked at.  Not when it is done (nothing of it is left, or it
 * wrote) or a stage holds it (it is advanced again). */
static bool to_write(struct job *j, struct slot *s)
{
	if (s->wrote || !job_source_ok(j, s)) {
		slot_finish(s);
		return false;
	}
	if (!job_data_final(j, s))
		return false;
	look_at(j, s);
	return true;
}

static void copy_advance(struct job *j, struct slot *s)
{
	if (to_write(j, s))
		job_write(j, s, job_write_mask(j, s));
}

static void copy_retire(struct job *j, struct slot *s)
{
	job_retire_writes(j, s);
	if (j->outfd >= 0)
		stream_put(j, s);
}

const struct job_ops copy_ops = {
	.final_at_advance = true,
	.large_zeroes = true,
	.start = copy_start,
	.advance = copy_advance,
	.retire = copy_retire,
};

/* ---- copy --write-changed ---- */

static void resync_start(struct job *j, struct slot *s)
{
	s->ndest = 0;
	for (unsigned int i = 0; i < j->ndst; i++)
		if (dest_active(&j->dst[i]) && (s->off >= j->dst[i].resume || s->rewrite))
			s->dest[s->ndest++] = i;
	job_read_dests(j, s);
	copy_start(j, s);
}

/* Whether destination dest[k]'s part of s differs from the source's (a
 * part that could not be read does). */
static bool differs(const struct job *j, const struct slot *s, unsigned int k)
{
	size_t len = s->len << DMIO_SECTOR_SHIFT;
	const char *src = s->buf[0].mem, *dst = s->buf[1 + k].mem;

	if (!s->dest_hole[k] && slot_call_failed(s, 1 + k, 0))
		return true;
	if (s->dest_hole[k])
		return !(s->zero || (!s->unread && !detect_zeroes(j) && is_zero(src, len)));
	if (s->zero)
		return !is_zero(dst, len);
	return memcmp(src, dst, len) != 0;
}

static void resync_advance(struct job *j, struct slot *s)
{
	unsigned long only = 0;

	if (!to_write(j, s))
		return;
	for (unsigned int k = 0; k < s->ndest; k++) {
		if (differs(j, s, k))
			only |= 1UL << s->dest[k];
		if (!s->dest_hole[k])
			j->res->bytes_read += s->len << DMIO_SECTOR_SHIFT;
	}
	job_write(j, s, only & job_write_mask(j, s));
}

const struct job_ops resync_ops = {
	.final_at_advance = true,
	.buffer_per_dest = true,
	.start = resync_start,
	.advance = resync_advance,
	.retire = job_retire_writes,
};
