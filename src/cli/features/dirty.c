// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * --dirty-bitmap=NAME: an incremental copy (or verify) of what qemu's
 * persistent dirty bitmap NAME marks changed on the source since its
 * checkpoint, read through NBD block status (qemu:dirty-bitmap:NAME).  As
 * a stage, it skips the clean extents (next) and ends a chunk where a
 * dirty extent ends (limit); the planner turns what base:allocation says
 * reads as zeroes into zeroes written, not read.  What it skips is done on
 * every destination: it holds what the last copy left there.
 *
 * Before the job, a walk over the whole bitmap counts its dirty extents
 * and sectors (the progress total, --dry-run, the report) and makes an
 * identity of it for a --map: a map made under another bitmap's marks is
 * refused, as a copy resumed from it could miss what changed.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "features/features.h"

static struct dirty *of(struct stage *st)
{
	return container_of(st, struct dirty, stage);
}

/* The run of dirty or of clean sectors that sector off (from the start of
 * the source region) is in, in d->run_*: 0 or -errno.  A dirty run is
 * widened to whole sectors, a clean one narrowed; a clean run of less than
 * a sector is dirty. */
static int run_at(struct dirty *d, uint64_t off)
{
	const struct region *src = d->src;
	uint64_t first = src->sector + off, end;
	bool changed;
	int err;

	if (off >= d->run_start && off < d->run_end)
		return 0;
	err = src->dev.ops->changed(&src->dev, first << DMIO_SECTOR_SHIFT, &end, &changed);
	if (err)
		return err;
	if (!changed && end >> DMIO_SECTOR_SHIFT <= first) {
		changed = true;
		end = (first + 1) << DMIO_SECTOR_SHIFT;
	}
	end = changed ? (end + DMIO_SECTOR_SIZE - 1) >> DMIO_SECTOR_SHIFT : end >> DMIO_SECTOR_SHIFT;
	d->run_start = off;
	d->run_end = end - src->sector < src->count ? end - src->sector : src->count;
	d->run_dirty = changed;
	return 0;
}

/* FNV-1a over v's bytes, after h. */
static uint64_t fnv(uint64_t h, uint64_t v)
{
	for (unsigned int i = 0; i < 8; i++, v >>= 8)
		h = (h ^ (v & 0xff)) * 0x100000001b3ULL;
	return h;
}

int dirty_scan(struct dirty *d, const struct opts *o, const struct region *src)
{
	uint64_t off = 0, hash = 0xcbf29ce484222325ULL;
	bool was_dirty = false;
	int err = 0;

	*d = (struct dirty){ .src = src, .name = o->dirty_bitmap };
	while (off < src->count && !(err = run_at(d, off))) {
		if (d->run_dirty) {
			d->sectors += d->run_end - off;
			d->extents += !was_dirty;
			hash = fnv(fnv(hash, off), d->run_end);
		}
		was_dirty = d->run_dirty;
		off = d->run_end;
	}
	if (err) {
		warnmsg("%s: cannot read its dirty bitmap %s: %s", src->text, d->name, strerror(-err));
		return err;
	}
	snprintf(d->id, sizeof(d->id), "%" PRIu64 ":%" PRIu64 ":%016" PRIx64, d->extents,
		 d->sectors, hash);
	return 0;
}

/* The bitmap cannot be read mid-job (the server went): the source failed
 * there. */
static uint64_t lost(struct dirty *d, uint64_t off, int err)
{
	struct job *j = d->stage.job;

	region_fail(j->src, j->src->sector + off, -err, "block status");
	j->res->read_error = true;
	job_stop_at(j, off, STOP_SOURCE);
	return j->limit;
}

/* Past the clean extents. */
static uint64_t dirty_next(struct stage *st, uint64_t off)
{
	struct dirty *d = of(st);
	int err;

	while (off < d->src->count) {
		err = run_at(d, off);
		if (err)
			return lost(d, off, err);
		if (d->run_dirty)
			return off;
		off = d->run_end;
	}
	return off;
}

/* A chunk ends where its dirty extent does. */
static uint64_t dirty_limit(struct stage *st, struct slot *s)
{
	struct dirty *d = of(st);
	int err = run_at(d, s->off);

	return err ? lost(d, s->off, err) : d->run_end;
}

static void dirty_retire(struct stage *st, struct slot *s, bool done)
{
	if (done)
		of(st)->done += s->len;
}

static const struct stage_ops dirty_ops = {
	.name = "dirty",
	.next = dirty_next,
	.limit = dirty_limit,
	.retire = dirty_retire,
};

int dirty_resume(struct dirty *d, uint64_t next)
{
	uint64_t off = 0;
	int err = 0;

	while (off < next && !(err = run_at(d, off))) {
		if (d->run_dirty)
			d->before += (d->run_end < next ? d->run_end : next) - off;
		off = d->run_end;
	}
	if (err)
		warnmsg("%s: cannot read its dirty bitmap %s: %s", d->src->text, d->name,
			strerror(-err));
	return err;
}

void dirty_start(struct dirty *d, struct job *j)
{
	job_add_stage(j, &d->stage, &dirty_ops);
}
