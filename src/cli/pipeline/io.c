// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * What the job kinds read and write with.  The reads: the source's part of
 * a chunk, or each destination's (a hole of its device is not read).  What
 * each destination gets of a chunk, and the account of it: its data;
 * for a chunk of zeroes, what suits the destination (a hole in a file,
 * BLKZEROOUT on a device, a discard with --discard, data where it cannot
 * or with --no-sparse); or nothing, skipped (--target-is-zero, or a
 * destination that --write-changed found equal).  A destination that
 * cannot write zeroes is written data from then on.
 */
#include <errno.h>
#include <unistd.h>

#include "pipeline/pipeline.h"

#define LEG_NONE -1	/* the chunk is not for this destination */
#define LEG_SKIP -2	/* it is, but nothing is written */

bool is_zero(const void *p, size_t len)
{
	const uint64_t *w = p;

	/* Eight words at a time, which the compiler makes vector loads; the
	 * first that is not zero ends it, so data costs next to nothing. */
	for (size_t i = 0; i < len / sizeof(*w); i += 8)
		if (w[i] | w[i + 1] | w[i + 2] | w[i + 3] | w[i + 4] | w[i + 5] | w[i + 6] | w[i + 7])
			return false;
	return true;
}

void job_read(struct job *j, struct slot *s, struct region *r, unsigned int k)
{
	struct dmio_region where = { r->dev.fd, r->sector + s->off, s->len };

	slot_submit(j, s, k, DMIO_READ, &s->buf[k], 1, &where);
}

void job_read_dests(struct job *j, struct slot *s)
{
	for (unsigned int k = 0; k < s->ndest; k++) {
		struct region *d = &j->dst[s->dest[k]];
		struct dmio_region where = { d->dev.fd, d->sector + s->off, dest_len(d, s) };

		s->dest_hole[k] = region_hole(d, where.sector, where.count);
		if (!s->dest_hole[k])
			slot_submit(j, s, 1 + k, DMIO_READ, &s->buf[1 + k], 1, &where);
	}
}

/* What the zero chunk s becomes on destination d. */
static int zero_op(const struct job *j, const struct region *d, const struct slot *s)
{
	uint64_t block = d->dev.caps.zero_block >> DMIO_SECTOR_SHIFT;

	/* Zeroes and discards take whole blocks only. */
	if (j->o->no_sparse || (d->sector + s->off) % block || dest_len(d, s) % block)
		return DMIO_WRITE;
	if (j->o->discard)
		return d->dev.caps.trim ? DMIO_DISCARD : DMIO_WRITE;
	if (!d->dev.caps.zero)
		return DMIO_WRITE;
	return d->dev.caps.keeps_blocks ? DMIO_WRITE_ZEROES | DMIO_NOUNMAP : DMIO_WRITE_ZEROES;
}

bool zeroes_cost(const struct job *j, const struct region *d, const struct slot *s)
{
	if (j->o->target_is_zero)
		return false;
	return !d->dev.caps.sparse || zero_op(j, d, s) == DMIO_WRITE;
}

/* What s writes to destination i, of those in only: an op, or LEG_*. */
static int leg_op(const struct job *j, const struct slot *s, unsigned int i,
		  unsigned long only)
{
	const struct region *d = &j->dst[i];

	/* Below its resume point, only a bad range it holds zeroes for; a
	 * stream is the job's output, written as the chunk retires. */
	if (!dest_active(d) || !dest_len(d, s) || (s->off < d->resume && !s->rewrite) ||
	    d->dev.caps.stream)
		return LEG_NONE;
	if (!(only >> i & 1) || (s->zero && j->o->target_is_zero))
		return LEG_SKIP;
	return s->zero ? zero_op(j, d, s) : DMIO_WRITE;
}

void job_write(struct job *j, struct slot *s, unsigned long only)
{
	/* A call for each kind of write, to the legs that take it; the
	 * skipped legs last, with no call. */
	static const int kinds[] = {
		DMIO_WRITE, DMIO_WRITE_ZEROES, DMIO_WRITE_ZEROES | DMIO_NOUNMAP, DMIO_DISCARD,
		LEG_SKIP,
	};
	struct dmio_region where[DMIO_MAX_REGIONS];
	int op[DMIO_MAX_REGIONS];
	unsigned int calls = 0;

	s->wrote = true;
	s->ndest = 0;
	for (unsigned int i = 0; i < j->ndst; i++)
		op[i] = leg_op(j, s, i, only);
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		unsigned int first = s->ndest;

		for (unsigned int i = 0; i < j->ndst; i++) {
			struct region *d = &j->dst[i];

			if (op[i] != kinds[k])
				continue;
			where[s->ndest - first] = (struct dmio_region){ d->dev.fd, d->sector + s->off,
									dest_len(d, s) };
			s->dest_call[s->ndest] = kinds[k] == LEG_SKIP ? CALL_NONE : (unsigned char)first;
			s->dest[s->ndest++] = i;
		}
		if (kinds[k] != LEG_SKIP && s->ndest > first) {
			slot_submit(j, s, first, kinds[k], s->zero ? j->zeroes : &s->buf[0],
				    s->ndest - first, where);
			calls++;
		}
	}
	if (!calls)
		slot_finish(s);
}

void job_writes_done(struct job *j, struct slot *s)
{
	(void)j;
	slot_finish(s);
}

/* Count n sectors that destination calls of rw did (-1: skipped). */
static void count(struct job *j, int rw, uint64_t n)
{
	uint64_t bytes = n << DMIO_SECTOR_SHIFT;

	if (rw < 0)
		j->res->bytes_skipped += bytes;
	else if (rw == DMIO_WRITE)
		j->res->bytes_written += bytes;
	else
		j->res->bytes_zeroed += bytes;
}

/* Destination i's rewrite of s below its done prefix failed at sector bad
 * (absolute), or did not (UINT64_MAX): what it reports done stays a prefix
 * of what is on it, and the stages hear of it. */
static void rewritten(struct job *j, struct slot *s, unsigned int i, uint64_t bad)
{
	struct region *d = &j->dst[i];

	if (bad != UINT64_MAX && bad - d->sector < d->done)
		d->done = bad - d->sector;
	for_each_stage(j, st)
		if (st->ops->rewritten)
			st->ops->rewritten(st, s, i, bad);
}

void job_retire_writes(struct job *j, struct slot *s)
{
	for (unsigned int i = 0; i < s->ndest; i++) {
		struct region *d = &j->dst[s->dest[i]];
		uint64_t first = d->sector + s->off, len = dest_len(d, s), bad = UINT64_MAX;
		unsigned int k = s->dest_call[i];
		int rw = k == CALL_NONE ? -1 : s->calls[k].rw, err;
		char *mem = s->zero ? j->zeroes->mem : s->buf[0].mem;
		bool rewrite = s->off < d->resume; /* within what it has done */

		if (!dest_active(d))
			continue;
		if (rw >= 0 && slot_call_failed(s, k, i - k)) {
			struct dmio_result res = s->res[i];

			if (rw != DMIO_WRITE && (res.error == EOPNOTSUPP || res.error == EBUSY)) {
				/* It cannot write zeroes or discard (or not while
				 * another holds it, with --force): as data, from
				 * now on. */
				if (rw == DMIO_DISCARD)
					d->dev.caps.trim = false;
				else
					d->dev.caps.zero = false;
				rw = DMIO_WRITE;
				res.error_sector = first;
			}
			bad = job_failed_at(j, d, rw, mem, first, first + len, &res, &err);
		}
		if (rewrite)
			rewritten(j, s, s->dest[i], bad);
		if (bad == UINT64_MAX) {
			if (!rewrite)
				d->done = s->off + len;
			count(j, rw, len);
			s->legs_ok |= 1UL << s->dest[i];
		} else {
			if (!rewrite)
				d->done = bad - d->sector;
			count(j, rw, bad - first);
			region_fail(d, bad, err, rw == DMIO_WRITE ? "write"
						 : rw == DMIO_DISCARD ? "discard" : "write zeroes");
		}
	}
}
