// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * copy --keep-going, as ddrescue: a source read error does not stop the
 * copy.  The failed chunk is narrowed to every bad block, the bad blocks
 * are zeroes in the buffer the destinations are written from, and the
 * source's list of bad ranges (regions/bad.c) says where (the JSON
 * report, the --map).
 *
 * A pass has a plan: the source's bad ranges (from the map, or left by the
 * pass before) are retried, and everything from x->from on is copied.  A
 * chunk in a bad range is written to every destination that holds zeroes
 * there (its done prefix covers it) as well as to those it extends
 * (s->rewrite).  The list changes only as chunks retire, in order, once
 * their writes have completed, and a range leaves it only when every
 * destination that held zeroes for it has the data; the map flushes such
 * destinations before it says so (resume.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "features/features.h"
#include "features/map.h"

static struct rescue *of(struct stage *st)
{
	return container_of(st, struct rescue, stage);
}

static struct bad_list *found_of(struct rescue *x, const struct slot *s)
{
	return &x->found[s - x->stage.job->slots];
}

/* ---- reading around bad blocks ---- */

/* Whether err says the medium could not give a block back (a bad
 * sector), not that the way to it failed (a lost connection, no memory):
 * only those are read around. */
static bool media_error(int err)
{
	return err == EIO || err == EILSEQ || err == ENODATA || err == EBADMSG ||
	       err == EREMOTEIO;
}

/* Note the bad block [at, +n) (absolute) of s, zeroes in its buffer: false
 * when the list would grow past what a map holds. */
static bool found(struct rescue *x, struct slot *s, uint64_t at, uint64_t n, int err)
{
	struct region *src = x->stage.job->src;
	struct bad_list *f = found_of(x, s);
	uint64_t first = src->sector + s->off;

	if (src->bad.n + x->found_pending >= MAP_MAX_BAD) {
		warnmsg("%s: more than %u bad ranges: the copy stops at sector %llu", src->text,
			MAP_MAX_BAD, (unsigned long long)at);
		return false;
	}
	x->found_pending -= f->n;
	if (bad_add(f, at - src->sector, n)) {
		warnmsg("out of memory");
		x->found_pending += f->n;
		return false;
	}
	x->found_pending += f->n;
	if (!f->err)
		f->err = err;
	memset(s->buf[0].mem + ((at - first) << DMIO_SECTOR_SHIFT), 0, n << DMIO_SECTOR_SHIFT);
	return true;
}

/* s's read failed: narrow every failure to its block, zero the bad blocks
 * in the buffer and note them; the rest is read.  UINT64_MAX, or the
 * sector (absolute) that stops the copy: too many bad ranges, or an error
 * that is not the medium's (*err). */
static uint64_t rescue_read(struct stage *st, struct slot *s, int *err)
{
	struct rescue *x = of(st);
	struct job *j = st->job;
	struct region *src = j->src;
	uint64_t first = src->sector + s->off, end = first + s->len, step = region_block(src);
	struct dmio_result res = s->res[0];
	char *mem = s->buf[0].mem;

	/* A read of one block known to be bad is not tried again at once:
	 * a pass reads it once (a block first found bad is read alone at
	 * least once more, as a device may fail a good block merged with a
	 * bad one). */
	bool once = s->rewrite && end - res.error_sector <= step;

	for (;;) {
		uint64_t at = once ? res.error_sector
				   : job_failed_at(j, src, DMIO_READ, mem, first, end, &res, err);

		if (once)
			*err = res.error ? res.error : EIO;
		once = false;
		/* Bad blocks come in runs: each block after a bad one alone,
		 * until one reads; then the rest of the chunk, by halves. */
		while (at != UINT64_MAX) {
			uint64_t n = end - at < step ? end - at : step;

			if (!media_error(*err) || !found(x, s, at, n, *err))
				return at;
			at += n;
			if (at >= end)
				return UINT64_MAX;
			if (job_failed_at(j, src, DMIO_READ, mem, first, at + step < end ? at + step : end,
					  &(struct dmio_result){ 0, at }, err) == UINT64_MAX)
				break;
		}
		if (at == UINT64_MAX || at + step >= end)
			return UINT64_MAX;
		res = (struct dmio_result){ 0, at + step };
	}
}

/* ---- the plan of a pass ---- */

int rescue_plan(struct rescue *x)
{
	struct job *j = x->stage.job;
	const struct bad_list *bad = &j->src->bad;

	free(x->retry);
	x->retry = NULL;
	x->nretry = x->iretry = 0;
	x->from = j->next;
	j->run_end = 0;
	if (!bad->n)
		return 0;
	x->retry = malloc(bad->n * sizeof(*bad->v));
	if (!x->retry) {
		warnmsg("out of memory");
		return -ENOMEM;
	}
	memcpy(x->retry, bad->v, bad->n * sizeof(*bad->v));
	x->nretry = bad->n;
	if (x->retry[0].start < j->next)
		j->next = x->retry[0].start;
	return 0;
}

/* The first bad range of the plan that ends after sector off, or NULL. */
static const struct bad_range *retry_at(struct rescue *x, uint64_t off)
{
	while (x->iretry < x->nretry &&
	       x->retry[x->iretry].start + x->retry[x->iretry].count <= off)
		x->iretry++;
	return x->iretry < x->nretry ? &x->retry[x->iretry] : NULL;
}

/* Before x->from, only the bad ranges. */
static uint64_t rescue_next(struct stage *st, uint64_t off)
{
	struct rescue *x = of(st);
	const struct bad_range *r;

	if (off >= x->from)
		return off;
	r = retry_at(x, off);
	if (!r || r->start >= x->from)
		return x->from;
	return r->start > off ? r->start : off;
}

/* A chunk ends at a bad range's edge; one in a range is a rewrite. */
static uint64_t rescue_limit(struct stage *st, struct slot *s)
{
	struct rescue *x = of(st);
	const struct bad_range *r = retry_at(x, s->off);
	struct bad_list *f = found_of(x, s);

	f->n = 0;
	f->err = 0;
	if (!r)
		return UINT64_MAX;
	s->rewrite = r->start <= s->off;
	return s->rewrite ? r->start + r->count : r->start;
}

/* ---- the list as chunks retire ---- */

/* Whether every destination that holds s's sectors (as zeroes, or as the
 * data) got them from s. */
static bool all_written(const struct job *j, const struct slot *s)
{
	for (unsigned int i = 0; i < j->ndst; i++)
		if (j->dst[i].done > s->off && !(s->legs_ok >> i & 1))
			return false;
	return true;
}

static void rescue_retire(struct stage *st, struct slot *s, bool done)
{
	struct rescue *x = of(st);
	struct job *j = st->job;
	struct bad_list *bad = &j->src->bad, *f = found_of(x, s);
	uint64_t end = s->off + s->len;
	int e = 0;

	x->found_pending -= f->n;
	if (!done) {
		f->n = 0;
		return;
	}
	if (s->rewrite && all_written(j, s))
		e = bad_remove(bad, s->off, s->len);
	for (unsigned int i = 0; !e && i < f->n && f->v[i].start < end; i++) {
		const struct bad_range *r = &f->v[i];

		e = bad_add(bad, r->start, r->start + r->count > end ? end - r->start : r->count);
	}
	if (!bad->err)
		bad->err = f->err;
	f->n = 0;
	if (e && !j->res->stream_error) {
		warnmsg("out of memory: the bad ranges are not all recorded");
		j->res->stream_error = true;
	}
}

static const struct stage_ops retry_ops = {
	.name = "rescue",
	.next = rescue_next,
	.limit = rescue_limit,
	.retire = rescue_retire,
};

static const struct stage_ops keep_going_ops = {
	.name = "rescue",
	.next = rescue_next,
	.limit = rescue_limit,
	.read_failed = rescue_read,
	.retire = rescue_retire,
};

int rescue_init(struct rescue *x, struct job *j)
{
	*x = (struct rescue){ .keep_going = j->o->keep_going };
	if (!j->src || (!x->keep_going && !j->src->bad.n))
		return 0;
	x->found = calloc(j->nslots, sizeof(*x->found));
	if (!x->found)
		return -ENOMEM;
	job_add_stage(j, &x->stage, x->keep_going ? &keep_going_ops : &retry_ops);
	return rescue_plan(x);
}

/* ---- passes, and the outcome ---- */

bool rescue_pass(struct rescue *x, unsigned int k)
{
	struct job *j = x->stage.job;

	if (!j || k >= j->o->retries || !j->src->bad.n || j->res->stop != STOP_NONE ||
	    !active_dests(j))
		return false;
	if (j->o->verbose)
		warnmsg("%s: pass %u of %u over %u bad ranges (%llu sectors)", j->src->text, k + 1,
			j->o->retries, j->src->bad.n,
			(unsigned long long)bad_sectors(&j->src->bad, UINT64_MAX));
	/* Every destination holds what it has done: only bad ranges. */
	for (unsigned int i = 0; i < j->ndst; i++)
		j->dst[i].resume = j->dst[i].done;
	j->next = j->total;
	return !rescue_plan(x);
}

void rescue_status(struct job *j)
{
	struct region *src = j->src;

	if (!src || !src->bad.n)
		return;
	j->res->read_error = true;
	if (src->status != ST_PENDING)
		return;
	if (j->res->stop == STOP_SIGNAL)
		src->status = ST_INTERRUPTED;
	else
		region_fail(src, src->sector + src->bad.v[0].start, src->bad.err ? src->bad.err : EIO,
			    "read");
}

void rescue_free(struct rescue *x)
{
	const struct job *j = x->stage.job;

	for (unsigned int i = 0; j && x->found && i < j->nslots; i++)
		bad_free(&x->found[i]);
	free(x->found);
	free(x->retry);
}
