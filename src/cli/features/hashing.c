// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A job's digests (--hash, verify --digest-file): which bytes feed which
 * stream of the hasher, and, at the end, which region may claim a digest.
 *
 * Stream 0 is the data: what was read from the source (copy, read,
 * verify) or written (write).  Stream 1 + i is destination i as read back
 * (verify), or, for write, what destination i got when it is shorter than
 * the longest (the input may end past it).  Chunks are fed as they
 * retire, in order, so a stream is its region's bytes from its start; a
 * region gets a digest only when every byte of it went in and nothing
 * failed in it.  As a stage, it feeds each chunk when its data is final,
 * and holds a slot until the hasher is done with its buffers.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "features/digestfile.h"
#include "features/features.h"

static struct hashing *of(struct stage *st)
{
	return container_of(st, struct hashing, stage);
}

/* Feed the chunk s to the hasher. */
static void feed(struct hashing *d, struct slot *s)
{
	struct job *j = d->stage.job;
	uint64_t len = s->len << DMIO_SECTOR_SHIFT, *ticket = &d->ticket[s - j->slots];

	if (j->src || j->o->op == OP_WRITE)
		*ticket = hasher_push(d->h, 0, s->unread ? NULL : s->buf[0].mem, len);
	/* The source's last window ends with it, not with the job. */
	if (j->src && s->off + s->len == j->src->count)
		hasher_close_window(d->h, 0);
	/* write: a destination shorter than the longest, its part. */
	for (unsigned int i = 0; j->o->op == OP_WRITE && i < j->ndst; i++) {
		uint64_t dlen = dest_len(&j->dst[i], s) << DMIO_SECTOR_SHIFT;

		if (j->dst[i].count < j->total && dlen && dest_active(&j->dst[i]))
			*ticket = hasher_push(d->h, 1 + i, s->buf[0].mem, dlen);
	}
	if (j->o->op != OP_VERIFY)
		return;
	for (unsigned int k = 0; k < s->ndest; k++) {
		uint64_t dlen = dest_len(&j->dst[s->dest[k]], s) << DMIO_SECTOR_SHIFT;

		if (dlen)
			*ticket = hasher_push(d->h, 1 + s->dest[k],
					      s->dest_hole[k] ? NULL : s->buf[1 + k].mem, dlen);
	}
}

static void hashing_advanced(struct stage *st, struct slot *s)
{
	feed(of(st), s);
}

static void hashing_retire(struct stage *st, struct slot *s, bool done)
{
	if (done && s->len && !st->job->ops->final_at_advance)
		feed(of(st), s);
}

/* A slot is taken again only once the hasher is done with its buffers. */
static bool hashing_admit(struct stage *st, struct slot *s)
{
	struct hashing *d = of(st);
	uint64_t ticket = d->ticket[s - st->job->slots];

	if (ticket <= hasher_done(d->h))
		return true;
	hasher_want(d->h, ticket);
	return ticket <= hasher_done(d->h);
}

/* Window w of stream i has completed (the hasher's thread): to the log,
 * and held against verify --digest-file's. */
static void window_done(void *ctx, const struct hasher *h, unsigned int i,
			const struct hash_window *w)
{
	const struct job *j = ((struct hashing *)ctx)->stage.job;

	if (j->o->hash_log)
		hash_log_window(h, i, w);
	if (!i && ((struct hashing *)ctx)->changed)
		changed_window(((struct hashing *)ctx)->changed, h, w);
	if (i && j->dst[i - 1].check)
		window_check(j->dst[i - 1].check, h, w);
}

static const struct stage_ops hashing_ops = {
	.name = "hashing",
	.admit = hashing_admit,
	.advanced = hashing_advanced,
	.retire = hashing_retire,
};

int hashing_init(struct hashing *d, struct job *j)
{
	unsigned int mask = j->o->hash_mask;
	/* The report lists the first windows, as verify its ranges. */
	struct hash_windowing win = { .size = j->o->hash_window, .done = window_done, .ctx = d,
				      .keep = j->o->json ? j->o->max_ranges : 0 };

	/* copy --changed-since: the log's algorithms and windows. */
	if (j->src && j->src->check) {
		mask |= j->src->check->e->walgs;
		win.size = j->src->check->e->wlen;
	}
	/* verify --digest-file: the file's algorithms, and its windows. */
	for (unsigned int i = 0; i < j->ndst; i++) {
		const struct window_check *c = j->dst[i].check;

		if (j->dst[i].expected)
			mask |= j->dst[i].expected->mask;
		if (c)
			mask |= 1u << c->alg;
		if (c && !win.size)
			win.size = c->e->wlen;
	}
	if (!mask)
		return 0;
	if (j->o->hash_log && hash_log_start(1 + j->ndst))
		return -ENOMEM;
	d->ticket = calloc(j->nslots, sizeof(*d->ticket));
	d->h = d->ticket ? hasher_new(mask, &win, 1 + j->ndst, j->wake_fd) : NULL;
	if (!d->h)
		return d->ticket ? -errno : -ENOMEM;
	j->res->hasher = d->h;
	job_add_stage(j, &d->stage, &hashing_ops);
	return 0;
}

void hashing_free(struct hashing *d)
{
	free(d->ticket);
	d->ticket = NULL;
}

/* Whether stream i holds every byte of r, which did not fail. */
static bool whole(const struct hasher *h, unsigned int i, const struct region *r,
		  uint64_t sectors)
{
	return r->status != ST_ERROR && r->status != ST_INTERRUPTED && r->status != ST_STOPPED &&
	       hasher_bytes(h, i) == sectors << DMIO_SECTOR_SHIFT;
}

/* verify --digest-file: r, read back whole as stream i, against what the
 * file says. */
static void check_expected(const struct hasher *h, struct region *r, unsigned int i)
{
	const struct digest_entry *e = r->expected;
	uint64_t bad = UINT64_MAX;
	bool differs = false, either = !e->either;

	for (unsigned int a = 0; a < HASH_COUNT; a++) {
		bool same;

		if (!(e->mask & 1u << a))
			continue;
		same = !strcmp(e->hex[a], hasher_hex(h, i, a));
		if (e->either & 1u << a)
			either |= same; /* an untagged digest: one of them */
		else
			differs |= !same;
	}
	if (!differs && either)
		return;
	/* The first window that differs, where the file has windows. */
	if (r->check)
		bad = r->check->first;
	r->status = ST_MISMATCH;
	/* No window: where it differs is not known (UINT64_MAX). */
	r->bad_sector = bad == UINT64_MAX ? UINT64_MAX : r->sector + (bad >> DMIO_SECTOR_SHIFT);
}

int hashing_end(struct hashing *d)
{
	struct job *j = d->stage.job;
	struct hasher *h = d->h;

	if (!h)
		return 0;
	hasher_finish(h);
	/* A stream source holds what was read of it. */
	if (j->src && whole(h, 0, j->src, j->o->shape.input ? j->progress : j->src->count))
		j->src->digest = 1;
	for (unsigned int i = 0; i < j->ndst; i++) {
		struct region *r = &j->dst[i];

		if (j->o->op == OP_WRITE && r->status == ST_OK) {
			/* All of the input, or as much as it holds. */
			if (r->count >= j->progress)
				r->digest = 1;
			else if (whole(h, 1 + i, r, r->count))
				r->digest = 2 + i;
		} else if (j->o->op == OP_VERIFY && whole(h, 1 + i, r, r->count)) {
			r->digest = 2 + i;
			if (r->expected)
				check_expected(h, r, 1 + i);
		}
	}
	if (!j->o->hash_log)
		return 0;
	return hash_log_write(j->o, j->src ? j->src : j->dst, j->src ? 1 + j->ndst : j->ndst, h);
}
