// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A failed chunk narrowed to its first failing sector: the failed part is
 * redone synchronously by halves down to one block (a block device fails
 * every request merged with a failing one; the redo gets past those), and
 * a source's read error stops the job there (unless a stage takes it:
 * --keep-going's rescue).
 */
#include <errno.h>

#include "pipeline/pipeline.h"

/* Do sectors [from, end) of r in one synchronous call, with the memory of
 * the chunk that starts at sector first: 0 or a positive errno. */
static int redo(struct job *j, struct region *r, int rw, char *mem,
		uint64_t first, uint64_t from, uint64_t end)
{
	struct dmio_region where = { r->dev.fd, from, end - from };
	struct dmio_request req = {
		.rw = rw, .mem_type = DMIO_MEM_VM, .client = j->client,
		.mem.vma = mem + ((from - first) << DMIO_SECTOR_SHIFT),
	};
	struct dmio_result res = { 0 };
	int e;

	req.results = &res;
	e = j->submit(&req, 1, &where, NULL);
	if (e && e != -EIO)
		return -e; /* refused: an argument, never an I/O error */
	return e ? res.error : 0;
}

/* Redo sectors [from, end) of r by halves down to one block: the first
 * sector that still fails (its errno in *err), or UINT64_MAX when all of it
 * worked.  Everything before that sector is done once it returns. */
static uint64_t narrow(struct job *j, struct region *r, int rw, char *mem,
		    uint64_t first, uint64_t from, uint64_t end, int *err)
{
	uint64_t step = region_block(r);
	uint64_t mid, bad;
	int e = redo(j, r, rw, mem, first, from, end);

	if (!e)
		return UINT64_MAX;
	if (end - from <= step) {
		*err = e;
		return from;
	}
	mid = from + (end - from) / 2 / step * step;
	if (mid == from)
		mid += step;
	bad = narrow(j, r, rw, mem, first, from, mid, err);
	return bad != UINT64_MAX ? bad : narrow(j, r, rw, mem, first, mid, end, err);
}

uint64_t job_failed_at(struct job *j, struct region *r, int rw, char *mem,
		       uint64_t first, uint64_t end, const struct dmio_result *res,
		       int *err)
{
	*err = res->error ? res->error : EIO;
	return narrow(j, r, rw, mem, first, res->error_sector, end, err);
}

bool job_source_ok(struct job *j, struct slot *s)
{
	struct region *src = j->src;
	uint64_t first = src->sector + s->off;
	int err;

	if (!s->checked && s->off < j->limit && slot_call_failed(s, 0, 0)) {
		struct stage *taker = NULL;
		uint64_t bad;

		for_each_stage(j, st)
			if (!taker && st->ops->read_failed)
				taker = st;
		bad = taker ? taker->ops->read_failed(taker, s, &err)
			    : job_failed_at(j, src, DMIO_READ, s->buf[0].mem, first, first + s->len,
					    &s->res[0], &err);
		/* The source is read again, so a read that works the second
		 * time leaves the buffer whole, and nothing was written yet. */
		if (bad != UINT64_MAX) {
			region_fail(src, bad, err, "read");
			j->res->read_error = true;
			job_stop_at(j, bad - src->sector, STOP_SOURCE);
		}
	}
	s->checked = true;
	return plan_trim(j, s);
}
