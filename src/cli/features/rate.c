// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * --rate: a token bucket over chunks.  The main loop starts a chunk only
 * once the bucket holds what it costs, and chunks are no larger than the
 * bucket (rate_chunk()), so that no chunk goes unpaid: a short job is paced
 * too.  (Under a rate below 40 KiB/s, a chunk of 4 KiB, the least, is
 * larger than the bucket: it takes all of it and leaves a debt that the
 * next one waits out.)  The loop sleeps in its poll() until then, where signals and
 * completions still wake it.  The bucket holds a
 * tenth of a second of the rate: after a stall (a slow device) the job
 * catches up by that much at most, so the rate is smooth within a second
 * and exact on average.
 *
 * What a chunk costs is the bytes of the regions it moves on by, once,
 * whatever the number of destinations: a copy's or a verify's source
 * bytes, read's output, write's input, zero's zeroes.  A chunk of zeroes
 * that nothing reads (a hole of a file or NBD source; zero's chunks) costs
 * nothing when no region does I/O for it: every destination is a file
 * that gets a hole, or skips it (--target-is-zero), and verify or
 * --write-changed find holes there too.  It costs its bytes where a
 * destination is a block device or an NBD export (BLKZEROOUT and
 * NBD_CMD_WRITE_ZEROES may write every zero, on a disk that cannot do
 * better), gets the zeroes as data (--no-sparse), or is read.
 */
#include "features/features.h"

#define RATE_BURST 0.1 /* seconds of the rate that the bucket holds */

uint64_t rate_chunk(uint64_t bps, uint64_t chunk)
{
	uint64_t cap = (uint64_t)((double)bps * RATE_BURST) / 4096 * 4096;

	if (!bps)
		return chunk;
	if (cap < 4096)
		cap = 4096;
	return chunk < cap ? chunk : cap;
}

static struct rate *of(struct stage *st)
{
	return container_of(st, struct rate, stage);
}

/* Whether any region does I/O for s, a chunk of zeroes that nothing reads
 * from the source. */
static bool zeroes_moved(const struct job *j, const struct slot *s)
{
	for (unsigned int i = 0; i < j->ndst; i++) {
		struct region *d = &j->dst[i];

		if (!dest_active(d) || !dest_len(d, s) || s->off < d->resume)
			continue;
		/* verify and --write-changed read it, unless it is a hole
		 * (and then nothing is written: both are zeroes). */
		if (j->o->shape.reads_back) {
			if (!region_hole(d, d->sector + s->off, s->len))
				return true;
		} else if (zeroes_cost(j, d, s)) {
			return true;
		}
	}
	return false;
}

/* Whether s moves nothing: zeroes that no region reads or writes. */
static bool free_chunk(const struct job *j, const struct slot *s)
{
	return (j->o->op == OP_ZERO || (s->unread && j->o->op != OP_READ)) && !zeroes_moved(j, s);
}

/* A chunk of zeroes that costs (up to ZERO_CHUNK_MAX) is cut to whole
 * chunks that the bucket holds, at least one, so that it is paced as data
 * is. */
static uint64_t rate_limit(struct stage *st, struct slot *s)
{
	struct rate *b = of(st);
	const struct job *j = st->job;
	uint64_t most;

	if (!(j->o->op == OP_ZERO || (s->unread && j->o->op != OP_READ)) || free_chunk(j, s))
		return UINT64_MAX;
	most = ((uint64_t)b->cap >> DMIO_SECTOR_SHIFT) / j->chunk * j->chunk;
	if (most < j->chunk)
		most = j->chunk;
	return s->off + most;
}

/* Whether s may start now; if so, what it costs is taken, else b->due
 * says when it may. */
static bool rate_admit(struct stage *st, struct slot *s)
{
	struct rate *b = of(st);
	uint64_t cost = free_chunk(st->job, s) ? 0 : s->len << DMIO_SECTOR_SHIFT;
	double now, need;

	b->due = 0;
	if (!cost)
		return true;
	now = now_seconds();
	if (now > b->last) {
		b->tokens += (now - b->last) * b->bps;
		if (b->tokens > b->cap)
			b->tokens = b->cap;
		b->last = now;
	}
	need = (double)cost < b->cap ? (double)cost : b->cap;
	if (b->tokens < need) {
		b->due = now + (need - b->tokens) / b->bps;
		return false;
	}
	b->tokens -= (double)cost;
	return true;
}

/* Seconds until the chunk refused last may start: -1 for none. */
static double rate_due(struct stage *st)
{
	const struct rate *b = of(st);
	double left;

	/* A refusal is stale once nothing is left to start. */
	if (!b->due || st->job->next >= st->job->limit)
		return -1;
	left = b->due - now_seconds();
	return left > 0 ? left : 0;
}

static const struct stage_ops rate_ops = {
	.name = "rate",
	.limit = rate_limit,
	.admit = rate_admit,
	.due = rate_due,
};

void rate_init(struct rate *b, struct job *j)
{
	*b = (struct rate){ .bps = (double)j->o->rate, .cap = (double)j->o->rate * RATE_BURST };
	if (!j->o->rate)
		return;
	b->tokens = b->cap;
	b->last = now_seconds();
	job_add_stage(j, &b->stage, &rate_ops);
}
