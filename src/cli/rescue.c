// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * copy --keep-going, as ddrescue: a source read error does not stop the
 * copy.  The failed chunk is narrowed to every bad block, the bad blocks
 * are zeroes in the buffer the destinations are written from, and the
 * source's list of bad ranges says where (the JSON report, the --map).
 *
 * A pass has a plan: the source's bad ranges (from the map, or left by the
 * pass before) are retried, and everything from j->from on is copied.  A
 * chunk in a bad range is written to every destination that holds zeroes
 * there (its done prefix covers it) as well as to those it extends.  The
 * list changes only as chunks retire, in order, once their writes have
 * completed, and a range leaves it only when every destination that held
 * zeroes for it has the data; the map flushes such destinations before it
 * says so (map_checkpoint).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"
#include "map.h"

/* ---- the list ---- */

static int bad_room(struct bad_list *l, unsigned int more)
{
	struct bad_range *v;
	unsigned int cap = l->cap ? l->cap : 16;

	if (l->n + more <= l->cap)
		return 0;
	while (cap < l->n + more)
		cap *= 2;
	v = realloc(l->v, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	l->v = v;
	l->cap = cap;
	return 0;
}

int bad_add(struct bad_list *l, uint64_t start, uint64_t count)
{
	uint64_t end = start + count;
	unsigned int i = l->n, k;

	if (!count)
		return 0;
	/* The first range that ends at or after start: it and those that
	 * start at or before end merge with [start, end). */
	while (i && l->v[i - 1].start + l->v[i - 1].count >= start)
		i--;
	for (k = i; k < l->n && l->v[k].start <= end; k++) {
		if (l->v[k].start < start)
			start = l->v[k].start;
		if (l->v[k].start + l->v[k].count > end)
			end = l->v[k].start + l->v[k].count;
	}
	if (k == i) {
		if (bad_room(l, 1))
			return -ENOMEM;
		memmove(&l->v[i + 1], &l->v[i], (l->n - i) * sizeof(*l->v));
		l->n++;
	} else {
		memmove(&l->v[i + 1], &l->v[k], (l->n - k) * sizeof(*l->v));
		l->n -= k - i - 1;
	}
	l->v[i] = (struct bad_range){ start, end - start };
	return 0;
}

int bad_remove(struct bad_list *l, uint64_t start, uint64_t count)
{
	uint64_t end = start + count;

	for (unsigned int i = 0; i < l->n; i++) {
		uint64_t a = l->v[i].start, b = a + l->v[i].count;

		if (b <= start || a >= end)
			continue;
		if (a < start && b > end) {
			if (bad_room(l, 1))
				return -ENOMEM;
			memmove(&l->v[i + 2], &l->v[i + 1], (l->n - i - 1) * sizeof(*l->v));
			l->n++;
			l->v[i].count = start - a;
			l->v[i + 1] = (struct bad_range){ end, b - end };
			return 0;
		}
		if (a < start) {
			l->v[i].count = start - a;
		} else if (b > end) {
			l->v[i] = (struct bad_range){ end, b - end };
		} else {
			memmove(&l->v[i], &l->v[i + 1], (l->n - i - 1) * sizeof(*l->v));
			l->n--;
			i--;
		}
	}
	return 0;
}

uint64_t bad_sectors(const struct bad_list *l, uint64_t end)
{
	uint64_t n = 0;

	for (unsigned int i = 0; i < l->n && l->v[i].start < end; i++)
		n += l->v[i].start + l->v[i].count <= end ? l->v[i].count : end - l->v[i].start;
	return n;
}

void bad_free(struct bad_list *l)
{
	free(l->v);
	*l = (struct bad_list){ 0 };
}

/* ---- reading around bad blocks ---- */

/* Note the bad block [at, +n) (absolute) of s, zeroes in its buffer: false
 * when the list would grow past what a map holds. */
static bool found(struct job *j, struct slot *s, uint64_t at, uint64_t n, int err)
{
	struct region *src = j->src;
	uint64_t first = src->sector + s->off;

	if (src->bad.n + j->found_pending >= MAP_MAX_BAD) {
		warnmsg("%s: more than %u bad ranges: the copy stops at sector %llu", src->text,
			MAP_MAX_BAD, (unsigned long long)at);
		return false;
	}
	j->found_pending -= s->found.n;
	if (bad_add(&s->found, at - src->sector, n)) {
		warnmsg("out of memory");
		j->found_pending += s->found.n;
		return false;
	}
	j->found_pending += s->found.n;
	if (!s->found.err)
		s->found.err = err;
	memset(s->buf[0].mem + ((at - first) << DMIO_SECTOR_SHIFT), 0, n << DMIO_SECTOR_SHIFT);
	return true;
}

uint64_t rescue_read(struct job *j, struct slot *s, int *err)
{
	struct region *src = j->src;
	uint64_t first = src->sector + s->off, end = first + s->len, step = region_block(src);
	struct dmio_result res = s->res[0];
	char *mem = s->buf[0].mem;

	/* A read of one block known to be bad is not tried again at once:
	 * a pass reads it once (a block first found bad is read alone at
	 * least once more, as a device may fail a good block merged with a
	 * bad one). */
	bool once = s->bad && end - res.error_sector <= step;

	for (;;) {
		uint64_t at = once ? res.error_sector
				   : job_failed_at(j, src, DMIO_READ, mem, first, end, &res, err);

		if (once)
			*err = res.error ? res.error : EIO;
		once = false;
		if (at == UINT64_MAX)
			return UINT64_MAX;
		/* Bad blocks come in runs: each block after a bad one alone,
		 * until one reads; then the rest of the chunk, by halves. */
		do {
			uint64_t n = end - at < step ? end - at : step;

			if (!found(j, s, at, n, *err))
				return at;
			at += n;
		} while (at < end &&
			 job_failed_at(j, src, DMIO_READ, mem, first, at + step < end ? at + step : end,
				       &(struct dmio_result){ 0, at }, err) != UINT64_MAX);
		if (at + step >= end)
			return UINT64_MAX;
		res = (struct dmio_result){ 0, at + step };
	}
}

/* ---- the plan of a pass ---- */

int rescue_plan(struct job *j)
{
	const struct bad_list *bad = &j->src->bad;

	free(j->retry);
	j->retry = NULL;
	j->nretry = j->iretry = 0;
	j->from = j->next;
	j->run_end = 0;
	if (!bad->n)
		return 0;
	j->retry = malloc(bad->n * sizeof(*bad->v));
	if (!j->retry) {
		warnmsg("out of memory");
		return -ENOMEM;
	}
	memcpy(j->retry, bad->v, bad->n * sizeof(*bad->v));
	j->nretry = bad->n;
	if (j->retry[0].start < j->next)
		j->next = j->retry[0].start;
	return 0;
}

/* The first bad range of the plan that ends after sector off, or NULL. */
static const struct bad_range *retry_at(struct job *j, uint64_t off)
{
	while (j->iretry < j->nretry &&
	       j->retry[j->iretry].start + j->retry[j->iretry].count <= off)
		j->iretry++;
	return j->iretry < j->nretry ? &j->retry[j->iretry] : NULL;
}

uint64_t rescue_skip(struct job *j)
{
	if (j->next < j->from) {
		const struct bad_range *r = retry_at(j, j->next);

		if (!r || r->start >= j->from)
			j->next = j->from;
		else if (r->start > j->next)
			j->next = r->start;
	}
	return j->next;
}

void rescue_cut(struct job *j, struct slot *s)
{
	const struct bad_range *r = retry_at(j, s->off);

	s->bad = r && r->start <= s->off;
	s->legs_ok = 0;
	s->found.n = 0;
	s->found.err = 0;
	if (r && s->bad && r->start + r->count - s->off < s->len)
		s->len = r->start + r->count - s->off;
	else if (r && !s->bad && r->start - s->off < s->len)
		s->len = r->start - s->off;
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

void rescue_retire(struct job *j, struct slot *s, bool done)
{
	struct bad_list *bad = j->src ? &j->src->bad : NULL;
	uint64_t end = s->off + s->len;
	int e = 0;

	if (!bad)
		return;
	j->found_pending -= s->found.n;
	if (!done) {
		s->found.n = 0;
		return;
	}
	if (s->bad && all_written(j, s))
		e = bad_remove(bad, s->off, s->len);
	for (unsigned int i = 0; !e && i < s->found.n && s->found.v[i].start < end; i++) {
		const struct bad_range *f = &s->found.v[i];

		e = bad_add(bad, f->start, f->start + f->count > end ? end - f->start : f->count);
	}
	if (!bad->err)
		bad->err = s->found.err;
	s->found.n = 0;
	if (e && !j->res->stream_error) {
		warnmsg("out of memory: the bad ranges are not all recorded");
		j->res->stream_error = true;
	}
}

void rescue_refill(struct region *d, uint64_t off, bool ok, uint64_t bad)
{
	if (!ok) {
		/* What it reports done stays a prefix, of what is on it. */
		if (bad - d->sector < d->done)
			d->done = bad - d->sector;
		if (d->durable > d->done)
			d->durable = d->done;
	}
	if (!d->refilled || off < d->refill_from)
		d->refill_from = off;
	d->refilled = true;
}

/* ---- passes, and the outcome ---- */

void rescue_passes(struct job *j)
{
	for (unsigned int k = 0; k < j->o->retries; k++) {
		if (!j->src->bad.n || j->res->stop != STOP_NONE || !active_dests(j))
			return;
		if (j->o->verbose)
			warnmsg("%s: pass %u of %u over %u bad ranges (%llu sectors)", j->src->text,
				k + 1, j->o->retries, j->src->bad.n,
				(unsigned long long)bad_sectors(&j->src->bad, UINT64_MAX));
		/* Every destination holds what it has done: only bad ranges. */
		for (unsigned int i = 0; i < j->ndst; i++)
			j->dst[i].resume = j->dst[i].done;
		j->next = j->total;
		if (rescue_plan(j))
			return;
		pipeline_run(j);
	}
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
