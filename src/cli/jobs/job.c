// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A job from start to end: which kind, over which regions (as o->shape
 * says), with which features on (each a stage of the pipeline), with what
 * input, output and map; the pipeline run, and the rescue's passes; then
 * every destination flushed before its success is reported, and each
 * region's status.
 */
#include <errno.h>
#include <string.h>

#include "features/digestfile.h"
#include "features/features.h"
#include "output/output.h"

static const struct job_ops *const kinds[] = {
	[OP_COPY] = &copy_ops, [OP_VERIFY] = &verify_ops, [OP_READ] = &read_ops,
	[OP_WRITE] = &write_ops, [OP_ZERO] = &zero_ops,
};

/* The job kind o asks for. */
static const struct job_ops *job_kind(const struct opts *o)
{
	if (o->write_changed)
		return &resync_ops;
	/* A copy from "-" is a write from stdin that reports its source. */
	if (o->op == OP_COPY && o->shape.input)
		return &write_ops;
	return o->digest_file ? &readback_ops : kinds[o->op];
}

/* The features a job may have on: each is a stage when it is. */
struct features {
	struct dirty dirty;
	struct changed changed;
	struct rescue rescue;
	struct map_state map;
	struct hashing hashing;
	struct rate rate;
	struct stage progress;
};

/* The source and destinations among r[0..n), and how far the job goes. */
static void job_regions(struct job *j, struct region *r, unsigned int n)
{
	unsigned int d = j->o->shape.source;

	j->src = d ? &r[0] : NULL;
	j->dst = &r[d];
	j->ndst = n - d;
	/* Write and zero destinations may run to the ends of devices of
	 * different sizes; an input is read to its end, as far as they go. */
	if (j->src && !j->o->shape.input)
		j->total = j->src->count;
	else
		for (unsigned int i = 0; i < j->ndst; i++)
			if (j->dst[i].count > j->total)
				j->total = j->dst[i].count;
	j->limit = j->total;
	j->chunk = rate_chunk(j->o->rate, j->o->chunk) >> DMIO_SECTOR_SHIFT;
	/* --changed-since: a chunk is a window of the log, decided alone; the
	 * source's holes are read as the zeroes they are, not cut out. */
	if (j->o->changed_since && j->src->check) {
		j->chunk = j->src->check->e->wlen >> DMIO_SECTOR_SHIFT;
		j->whole_chunks = true;
	}
}

/* Start from where the destination that has least done stops. */
static void job_resume(struct job *j)
{
	j->next = j->total;
	for (unsigned int i = 0; i < j->ndst; i++)
		if (j->dst[i].resume < j->next)
			j->next = j->dst[i].resume;
	j->progress = j->src->done = j->next;
}

/* ---- progress, as a stage ---- */

/* The work done, in bytes: what is retired, or of an incremental copy,
 * the dirty sectors retired. */
static uint64_t work_done(const struct job *j, const struct features *f)
{
	return (j->o->dirty_bitmap ? f->dirty.before + f->dirty.done : j->progress)
	       << DMIO_SECTOR_SHIFT;
}

static void progress_tick(struct stage *st)
{
	const struct features *f = container_of(st, struct features, progress);

	progress_update(st->job->res, work_done(st->job, f), false);
}

static double progress_wait(struct stage *st)
{
	(void)st;
	return progress_due();
}

static const struct stage_ops progress_ops = {
	.name = "progress",
	.due = progress_wait,
	.tick = progress_tick,
};

/* The features that are on, as stages, in the order the planner asks
 * them (the rate last: what a chunk costs depends on where it ends): 0
 * or -errno. */
static int features_start(struct job *j, struct features *f)
{
	int err;

	if (j->o->dirty_bitmap)
		dirty_start(&f->dirty, j);
	err = rescue_init(&f->rescue, j);
	if (!err && j->o->map)
		err = map_start(&f->map, j);
	if (!err && j->o->changed_since) {
		err = changed_init(&f->changed, j);
		f->hashing.changed = &f->changed;
	}
	if (!err)
		err = hashing_init(&f->hashing, j);
	if (!err)
		rate_init(&f->rate, j);
	job_add_stage(j, &f->progress, &progress_ops);
	return err;
}

static void features_free(struct features *f)
{
	rescue_free(&f->rescue);
	map_close(&f->map);
	hashing_free(&f->hashing);
	changed_free(&f->changed);
}

/* Success is reported only for what is on the device. */
static void job_flush(struct job *j)
{
	for (unsigned int i = 0; i < j->ndst && j->o->shape.writes; i++) {
		struct region *d = &j->dst[i];
		int err;

		if (j->o->no_flush || d->status == ST_ERROR || !d->done || !d->dev.caps.flush)
			continue;
		err = d->dev.ops->flush(&d->dev, j->client);
		if (err) {
			d->done = 0;
			region_fail(d, d->sector, -err, "flush");
		}
	}
}

static void finish_status(struct job *j, struct region *r)
{
	if (r->status != ST_PENDING)
		return;
	/* Write destinations larger than the input are done at its end. */
	if (r->done == r->count || (j->o->shape.input && j->res->stop == STOP_NONE))
		r->status = ST_OK;
	else
		r->status = j->res->stop == STOP_SIGNAL ? ST_INTERRUPTED : ST_STOPPED;
	/* A full verify's destination that differs and was compared to its
	 * end; one cut short keeps its status, and what differed in r->diffs. */
	if (r->status == ST_OK && r->diffs.sectors) {
		r->status = ST_MISMATCH;
		r->bad_sector = r->diffs.first;
	}
}

/* write: what the input did not fit, and what was left of it. */
static void input_end(struct job *j)
{
	if (!j->o->shape.input || j->res->stop != STOP_NONE)
		return;
	/* Destinations shorter than the input got only its start. */
	for (unsigned int i = 0; i < j->ndst; i++)
		if (j->dst[i].count < j->progress && dest_active(&j->dst[i])) {
			warnmsg("%s: the input is longer: its last %llu bytes were not written here",
				j->dst[i].text,
				(unsigned long long)(j->progress - j->dst[i].count) << DMIO_SECTOR_SHIFT);
			j->res->stream_error = true;
		}
	stream_input_left(j);
}

/* The pipeline's run, its passes, with progress, and the destinations
 * flushed. */
static void job_go(struct job *j, struct features *f)
{
	pipeline_run(j);
	for (unsigned int k = 0; rescue_pass(&f->rescue, k); k++)
		pipeline_run(j);
	progress_update(j->res, work_done(j, f), true);
	job_flush(j);
	input_end(j);
	stream_close(j);
	if (j->o->map)
		map_checkpoint(&f->map, true);
	j->res->bytes = j->retired << DMIO_SECTOR_SHIFT;
	j->res->chunks = j->nslots;
	j->res->chunk = j->chunk << DMIO_SECTOR_SHIFT;
	dmio_client_stats(j->client, &j->res->stats);
}

/* --dirty-bitmap: what the bitmap marks, in the result too: 0 or -errno
 * (said). */
static int dirty_look(const struct opts *o, struct region *src, struct dirty *d,
		      struct job_result *res)
{
	int err = o->dirty_bitmap ? dirty_scan(d, o, src) : 0;

	if (o->dirty_bitmap && !err) {
		res->dirty = true;
		res->dirty_extents = d->extents;
		res->dirty_bytes = d->sectors << DMIO_SECTOR_SHIFT;
	}
	return err;
}

int job_check(const struct opts *o, struct region *r, unsigned int n, struct job_result *res)
{
	struct job j = { .o = o, .res = res, .infd = -1, .outfd = -1 };
	struct map_state ms;
	struct dirty d;
	int err;

	job_regions(&j, r, n);
	err = dirty_look(o, j.src, &d, res);
	if (!err && o->map)
		err = map_open(o, r, n, &ms, o->dirty_bitmap ? d.id : NULL);
	if (!err && o->map)
		map_close(&ms);
	if (!err)
		err = stream_open(&j);
	stream_close(&j);
	return err;
}

int job_run(const struct opts *o, struct region *r, unsigned int n,
	    struct job_result *res)
{
	return job_run_with(o, r, n, res, dmio_submit);
}

/* Set the job up and run it: 0, or -errno when it could not start. */
static int job_start(struct job *j, struct region *r, unsigned int n, struct features *f)
{
	const struct opts *o = j->o;
	uint64_t total = j->total;
	int err = dirty_look(o, j->src, &f->dirty, j->res);

	if (!err && o->map)
		err = map_open(o, r, n, &f->map, o->dirty_bitmap ? f->dirty.id : NULL);
	if (err)
		return err;
	if (o->map)
		job_resume(j);
	if (o->dirty_bitmap && j->next && (err = dirty_resume(&f->dirty, j->next)))
		return err;
	/* The pass reads the source from the least resume point: what every
	 * destination has is all it skips (one further on is no matter). */
	if (o->hash_mask && j->next) {
		warnmsg("%s: --hash needs every byte in one pass, but the map says the first %llu "
			"sectors were copied to every destination before", o->map,
			(unsigned long long)j->next);
		return -EINVAL;
	}
	if (o->dirty_bitmap)
		total = f->dirty.sectors;
	progress_init(o, total << DMIO_SECTOR_SHIFT, work_done(j, f), r, n);
	err = stream_open(j);
	if (err == -EINTR) {
		/* A signal while it waited for its input or output. */
		j->res->stop = STOP_SIGNAL;
		j->res->signal = signal_stop();
		return 0;
	}
	if (err)
		return err;
	err = pipeline_init(j);
	if (!err)
		err = features_start(j, f);
	if (err)
		warnmsg("cannot set up the I/O: %s", strerror(-err));
	else
		job_go(j, f);
	return err;
}

int job_run_with(const struct opts *o, struct region *r, unsigned int n,
		 struct job_result *res, submit_fn *submit)
{
	struct job j = { .o = o, .ops = job_kind(o), .res = res, .submit = submit,
			 .infd = -1, .outfd = -1, .wake_fd = -1 };
	struct features f = { 0 };
	double t0 = now_seconds();
	int err;

	job_regions(&j, r, n);
	err = job_start(&j, r, n, &f);
	if (!err) {
		rescue_status(&j);
		if (j.src)
			finish_status(&j, j.src);
		for (unsigned int i = 0; i < j.ndst; i++)
			finish_status(&j, &j.dst[i]);
		if (hashing_end(&f.hashing) || changed_end(&f.changed))
			res->stream_error = true;
		res->seconds = now_seconds() - t0;
		progress_end(work_done(&j, &f));
	}
	stream_close(&j);
	features_free(&f);
	pipeline_free(&j);
	return err;
}
