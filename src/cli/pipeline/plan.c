// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The chunk planner: the one place a chunk's extent is set.  The next chunk
 * starts at j->next, moved past what the stages skip (a pass over bad
 * ranges only; what is already done); it ends at the least of:
 *
 * - the job's limit;
 * - the end of the source's run of data or of hole, where the source says
 *   where its holes are (a hole is a chunk of zeroes, not read), unless
 *   the job wants whole chunks (j->whole_chunks);
 * - a chunk of the job (--chunk, or what --rate allows), or, for zeroes
 *   that need no buffer, ZERO_CHUNK_MAX;
 * - what each stage says (a resume point, a bad range's edge, the rate's
 *   budget).
 *
 * A stop (a source error, the input's end, the output, a signal) later
 * moves the limit back: plan_trim() cuts a chunk to it, and that is all
 * that changes a chunk's extent once planned.
 */
#include "pipeline/pipeline.h"

/* Where the source's run of data or of hole that sector off (from the
 * start) is in ends, in j->run_end, and which it is. */
static void source_run(struct job *j, uint64_t off)
{
	const struct region *src = j->src;
	uint64_t first = src->sector + off, at, end;
	bool hole;

	if (off < j->run_end)
		return;
	if (src->dev.ops->extent(&src->dev, first << DMIO_SECTOR_SHIFT, &at, &hole) ||
	    at >> DMIO_SECTOR_SHIFT <= first) {
		/* No answer, or less than a sector: data, chunk by chunk. */
		j->run_hole = false;
		j->run_end = off + j->chunk;
		return;
	}
	/* Sectors that data only starts in are data. */
	j->run_hole = hole;
	end = hole ? at >> DMIO_SECTOR_SHIFT
		   : (at + DMIO_SECTOR_SIZE - 1) >> DMIO_SECTOR_SHIFT;
	j->run_end = end - src->sector;
}

/* The first sector at or after j->next that every stage wants done. */
static uint64_t plan_start(struct job *j)
{
	uint64_t off = j->next, was;

	do {
		was = off;
		for_each_stage(j, st)
			if (st->ops->next && off < j->limit)
				off = st->ops->next(st, off);
	} while (off != was);
	return j->next = off;
}

bool plan_chunk(struct job *j, struct slot *s)
{
	uint64_t off = plan_start(j), end = j->limit, most = j->chunk;

	if (off >= j->limit)
		return false;
	s->off = off;
	s->zero = s->unread = s->rewrite = false;
	if (j->src && j->src->dev.caps.extents && !j->whole_chunks) {
		source_run(j, off);
		s->zero = s->unread = j->run_hole;
		if (j->run_end < end)
			end = j->run_end;
	}
	if (j->ops->large_zeroes && (s->zero || !j->src))
		most = ZERO_CHUNK_MAX >> DMIO_SECTOR_SHIFT;
	if (end - off > most)
		end = off + most;
	s->len = end - off;
	for_each_stage(j, st)
		if (st->ops->limit) {
			end = st->ops->limit(st, s);
			if (end < s->off + s->len)
				s->len = end - s->off;
		}
	return true;
}

bool plan_trim(struct job *j, struct slot *s)
{
	if (s->off + s->len > j->limit)
		s->len = s->off < j->limit ? j->limit - s->off : 0;
	return s->len > 0;
}
