// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * verify --digest-file: no source.  Each chunk reads every destination
 * still healthy into a buffer of its own; at retirement, in order, the
 * hasher takes each (features/hashing.c), and at the end each destination's
 * digests are held against the file's.  A read error is narrowed to its
 * sector as a verify's is.
 */
#include "jobs/jobs.h"

static void readback_start(struct job *j, struct slot *s)
{
	s->ndest = 0;
	for (unsigned int i = 0; i < j->ndst; i++)
		if (dest_active(&j->dst[i]) && dest_len(&j->dst[i], s))
			s->dest[s->ndest++] = i;
	job_read_dests(j, s);
}

static void readback_advance(struct job *j, struct slot *s)
{
	(void)j;
	slot_finish(s);
}

static void readback_retire(struct job *j, struct slot *s)
{
	for (unsigned int k = 0; k < s->ndest; k++) {
		struct region *d = &j->dst[s->dest[k]];
		uint64_t first = d->sector + s->off, len = dest_len(d, s), bad = UINT64_MAX;
		int err = 0;

		if (!s->dest_hole[k] && slot_call_failed(s, 1 + k, 0))
			bad = job_failed_at(j, d, DMIO_READ, s->buf[1 + k].mem, first, first + len,
					    &s->res[1 + k], &err);
		if (!s->dest_hole[k])
			j->res->bytes_read += (bad == UINT64_MAX ? len : bad - first)
					      << DMIO_SECTOR_SHIFT;
		if (bad == UINT64_MAX) {
			d->done = s->off + len;
		} else {
			d->done = bad - d->sector;
			region_fail(d, bad, err, "read");
		}
	}
}

const struct job_ops readback_ops = {
	.buffer_per_dest = true,
	.start = readback_start,
	.advance = readback_advance,
	.retire = readback_retire,
};
