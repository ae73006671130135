// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A job from start to end: which kind, over which regions, with what input,
 * output and map; the pipeline run (pipeline.c); then every destination
 * flushed before its success is reported, and each region's status.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "job.h"
#include "map.h"

static const struct job_ops *const kinds[] = {
	[OP_COPY] = &copy_ops, [OP_VERIFY] = &verify_ops, [OP_READ] = &read_ops,
	[OP_WRITE] = &write_ops, [OP_ZERO] = &zero_ops,
};

/* The job kind o asks for. */
static const struct job_ops *job_kind(const struct opts *o)
{
	if (o->write_changed)
		return &resync_ops;
	return o->digest_file ? &readback_ops : kinds[o->op];
}

/* The source and destinations among r[0..n), and how far the job goes. */
static void job_regions(struct job *j, struct region *r, unsigned int n)
{
	if ((j->o->op == OP_COPY || j->o->op == OP_VERIFY || j->o->op == OP_READ) &&
	    !j->o->digest_file) {
		j->src = &r[0];
		j->dst = &r[1];
		j->ndst = n - 1;
		j->total = j->src->count;
	} else {
		j->dst = r;
		j->ndst = n;
		/* Write and zero destinations may run to the ends of devices
		 * of different sizes. */
		for (unsigned int i = 0; i < n; i++)
			if (r[i].count > j->total)
				j->total = r[i].count;
	}
	j->limit = j->total;
	j->chunk = rate_chunk(j->o->rate, j->o->chunk) >> DMIO_SECTOR_SHIFT;
}

/* Start from where the destination that has least done stops. */
static int job_resume(struct job *j, struct region *r, unsigned int n,
		      struct map *map)
{
	int err = map_open(j->o, r, n, map);

	if (err)
		return err;
	j->resume_map = map;
	j->map_last = now_seconds();
	j->next = j->total;
	for (unsigned int i = 0; i < j->ndst; i++)
		if (j->dst[i].resume < j->next)
			j->next = j->dst[i].resume;
	j->progress = j->src->done = j->next;
	/* And the bad ranges of the source before that. */
	return rescue_plan(j);
}

/* Success is reported only for what is on the device. */
static void job_flush(struct job *j)
{
	for (unsigned int i = 0; i < j->ndst && j->o->op != OP_VERIFY; i++) {
		struct region *d = &j->dst[i];
		int err;

		if (j->o->no_flush || d->status == ST_ERROR || !d->done)
			continue;
		err = d->dev.ops->flush(&d->dev, j->client);
		if (err) {
			d->done = 0;
			job_dest_failed(j, i, d->sector, -err, "flush");
		}
	}
}

static void finish_status(struct job *j, struct region *r)
{
	if (r->status != ST_PENDING)
		return;
	/* Write destinations larger than the input are done at its end. */
	if (r->done == r->count || (j->o->op == OP_WRITE && j->res->stop == STOP_NONE))
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

/* The pipeline's run, with progress, and the destinations flushed. */
static void job_go(struct job *j)
{
	pipeline_run(j);
	if (j->o->keep_going)
		rescue_passes(j);
	progress_update(j->res, j->progress << DMIO_SECTOR_SHIFT, true);
	job_flush(j);
	if (j->o->op == OP_WRITE && j->res->stop == STOP_NONE) {
		/* Destinations shorter than the input got only its start. */
		for (unsigned int i = 0; i < j->ndst; i++)
			if (j->dst[i].count < j->progress && dest_active(&j->dst[i])) {
				warnmsg("%s: the input is longer: its last %llu bytes were not "
					"written here", j->dst[i].text,
					(unsigned long long)(j->progress - j->dst[i].count)
						<< DMIO_SECTOR_SHIFT);
				j->res->stream_error = true;
			}
		stream_input_left(j);
	}
	stream_close(j);
	if (j->resume_map)
		job_checkpoint(j, true);
	j->res->bytes = j->retired << DMIO_SECTOR_SHIFT;
	j->res->chunks = j->nslots;
	j->res->chunk = j->chunk << DMIO_SECTOR_SHIFT;
	dmio_client_stats(j->client, &j->res->stats);
}

int job_check(const struct opts *o, struct region *r, unsigned int n)
{
	struct job_result res = { 0 };
	struct job j = { .o = o, .res = &res, .infd = -1, .outfd = -1 };
	struct map map;
	int err;

	job_regions(&j, r, n);
	err = o->map ? map_open(o, r, n, &map) : 0;
	if (!err && o->map)
		map_free(&map);
	return err ? err : stream_check(&j);
}

int job_run(const struct opts *o, struct region *r, unsigned int n,
	    struct job_result *res)
{
	return job_run_with(o, r, n, res, dmio_submit);
}

int job_run_with(const struct opts *o, struct region *r, unsigned int n,
		 struct job_result *res, submit_fn *submit)
{
	struct job j = { .o = o, .ops = job_kind(o),
			 .res = res, .submit = submit,
			 .infd = -1, .outfd = -1, .wake_fd = -1 };
	struct map map;
	double t0 = now_seconds();
	int err;

	job_regions(&j, r, n);
	err = o->map ? job_resume(&j, r, n, &map) : 0;
	if (!err && o->hash_mask && j.next) {
		warnmsg("%s: --hash needs every byte in one pass, but the map says %llu "
			"sectors were copied before", o->map, (unsigned long long)j.next);
		err = -EINVAL;
	}
	if (!err) {
		progress_init(o, j.total << DMIO_SECTOR_SHIFT, j.progress << DMIO_SECTOR_SHIFT, r, n);
		err = stream_open(&j);
	}
	if (err == -EINTR) {
		/* A signal while it waited for its input or output. */
		res->stop = STOP_SIGNAL;
		res->signal = signal_stop();
		err = 0;
	} else if (!err) {
		err = pipeline_init(&j);
		if (!err)
			err = job_hash_init(&j);
		if (err)
			warnmsg("cannot set up the I/O: %s", strerror(-err));
		else
			job_go(&j);
	}
	if (err)
		goto out;
	rescue_status(&j);
	if (j.src)
		finish_status(&j, j.src);
	for (unsigned int i = 0; i < j.ndst; i++)
		finish_status(&j, &j.dst[i]);
	if (job_hash_end(&j))
		res->stream_error = true;
	res->seconds = now_seconds() - t0;
	progress_end(j.progress << DMIO_SECTOR_SHIFT);
out:
	stream_close(&j);
	pipeline_free(&j);
	if (j.resume_map)
		map_free(j.resume_map);
	return err;
}
