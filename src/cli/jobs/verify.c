// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * verify: each chunk reads the source and every destination still in
 * agreement at once, each into its own buffer; at retirement, in order, a
 * destination's part is compared with the source's.  Every differing sector
 * is recorded, in runs (diffs.c), and the destination is compared to its
 * end; with --first, the first differing sector ends it (mismatch).  A read
 * error is narrowed to its sector as a write error is, and ends it.
 */
#include <string.h>

#include "jobs/jobs.h"

/* Holes are not read: a source's hole is zeroes, and so is a file
 * destination's, which is compared with the source's part without reading
 * it (both holes: equal). */
static void verify_start(struct job *j, struct slot *s)
{
	s->ndest = 0;
	for (unsigned int i = 0; i < j->ndst; i++)
		if (dest_active(&j->dst[i]))
			s->dest[s->ndest++] = i;
	job_read_dests(j, s);
	if (!s->unread)
		job_read(j, s, j->src, 0);
}

static void verify_advance(struct job *j, struct slot *s)
{
	job_source_ok(j, s);
	slot_finish(s);
}

/* The first differing sector of two buffers of len sectors (b NULL:
 * zeroes), or len. */
static uint64_t first_difference(const char *a, const char *b, uint64_t len)
{
	uint64_t lo = 0;

	if (!a || !b) {
		a = a ? a : b;
		for (lo = 0; a && lo < len; lo++)
			if (!is_zero(a + (lo << DMIO_SECTOR_SHIFT), DMIO_SECTOR_SIZE))
				return lo;
		return len;
	}
	if (!memcmp(a, b, len << DMIO_SECTOR_SHIFT))
		return len;
	/* Halve the range that holds the first difference. */
	while (len - lo > 1) {
		uint64_t mid = lo + (len - lo) / 2;

		if (memcmp(a + (lo << DMIO_SECTOR_SHIFT), b + (lo << DMIO_SECTOR_SHIFT),
			   (mid - lo) << DMIO_SECTOR_SHIFT))
			len = mid;
		else
			lo = mid;
	}
	return lo;
}

/* Whether sector i of a and b (NULL: zeroes) differs. */
static bool sector_differs(const char *a, const char *b, uint64_t i)
{
	size_t at = i << DMIO_SECTOR_SHIFT;

	if (!a || !b)
		return !is_zero((a ? a : b) + at, DMIO_SECTOR_SIZE);
	return memcmp(a + at, b + at, DMIO_SECTOR_SIZE) != 0;
}

/* Record in d every run of differing sectors of a and b (NULL: zeroes)
 * over len sectors from sector first (absolute).  The whole is compared
 * first: only a part that differs is walked sector by sector. */
static void record_differences(struct job *j, struct region *d, const char *a,
			       const char *b, uint64_t first, uint64_t len)
{
	size_t bytes = len << DMIO_SECTOR_SHIFT;
	uint64_t i = 0, run;

	if ((!a && !b) || (a && b ? !memcmp(a, b, bytes) : is_zero(a ? a : b, bytes)))
		return;
	while (i < len) {
		if (!sector_differs(a, b, i)) {
			i++;
			continue;
		}
		for (run = i++; i < len && sector_differs(a, b, i); i++)
			;
		diffs_add(&d->diffs, first + run, i - run, j->o->max_ranges);
	}
}

static void verify_retire(struct job *j, struct slot *s)
{
	const char *src = s->unread ? NULL : s->buf[0].mem;

	for (unsigned int k = 0; k < s->ndest; k++) {
		struct region *d = &j->dst[s->dest[k]];
		const char *dst = s->dest_hole[k] ? NULL : s->buf[1 + k].mem;
		uint64_t first = d->sector + s->off, len = s->len, same;
		uint64_t bad = UINT64_MAX;
		int err = 0;

		if (!dest_active(d))
			continue;
		if (dst && slot_call_failed(s, 1 + k, 0)) {
			bad = job_failed_at(j, d, DMIO_READ, s->buf[1 + k].mem, first,
					    first + s->len, &s->res[1 + k], &err);
			if (bad != UINT64_MAX)
				len = bad - first;
		}
		if (dst)
			j->res->bytes_read += len << DMIO_SECTOR_SHIFT;
		if (!j->o->first) {
			record_differences(j, d, src, dst, first, len);
			d->done = s->off + len;
			if (bad != UINT64_MAX)
				region_fail(d, bad, err, "read");
			continue;
		}
		same = src || dst ? first_difference(src, dst, len) : len;
		d->done = s->off + same;
		if (same < len) {
			d->status = ST_MISMATCH;
			d->bad_sector = first + same;
		} else if (bad != UINT64_MAX) {
			region_fail(d, bad, err, "read");
		}
	}
}

const struct job_ops verify_ops = {
	.buffer_per_dest = true,
	.start = verify_start,
	.advance = verify_advance,
	.retire = verify_retire,
};
