// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * copy --changed-since=LOG: a delta from the last run's digests, for a
 * mirror dmio wrote itself.  The source is read and hashed as --hash
 * hashes it (hashing.c, with LOG's algorithm and window size), each window
 * is held against LOG's window at the same place as it completes (on the
 * hasher's thread), and a chunk is written only where a window it covers
 * differs; the destinations are never read.  The new digests make the new
 * log (--hash-log, LOG itself unless told otherwise).
 *
 * As a stage: a chunk ends on a window's edge (a window is decided whole;
 * a chunk of several windows is written whole when one of them differs);
 * it is held from its first phase until every window it touches was held
 * against the log (slot_hold(); the hasher's thread lets it go); then it
 * is written to every destination, or to none.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "features/digestfile.h"
#include "features/features.h"

static struct changed *of(struct stage *st)
{
	return container_of(st, struct changed, stage);
}

/* Where the windows that s touches end, in bytes. */
static uint64_t windows_end(const struct changed *c, const struct slot *s)
{
	uint64_t end = (s->off + s->len) << DMIO_SECTOR_SHIFT;

	end = (end + c->window - 1) / c->window * c->window;
	return end < c->bytes ? end : c->bytes;
}

/* A chunk ends on a window's edge, after a whole window at least. */
static uint64_t changed_limit(struct stage *st, struct slot *s)
{
	const struct changed *c = of(st);
	uint64_t w = c->window >> DMIO_SECTOR_SHIFT, end = s->off + s->len;
	uint64_t edge = end / w * w;

	return edge > s->off ? edge : end;
}

/* Whether every window s touches was held against the log; if not, s
 * waits for the last of them. */
static bool changed_hold(struct stage *st, struct slot *s)
{
	struct changed *c = of(st);
	unsigned int k = (unsigned int)(s - st->job->slots);
	bool wait;

	pthread_mutex_lock(&c->lock);
	wait = c->decided < windows_end(c, s);
	if (wait) {
		c->need[k] = windows_end(c, s);
		slot_hold(s);
	}
	pthread_mutex_unlock(&c->lock);
	return wait;
}

/* Every destination, or none: whether a window s touches differs. */
static unsigned long changed_only(struct stage *st, struct slot *s)
{
	struct changed *c = of(st);
	uint64_t off = s->off << DMIO_SECTOR_SHIFT, end = windows_end(c, s);
	bool differs = false;

	pthread_mutex_lock(&c->lock);
	differs = end > c->all_from;
	for (unsigned int i = 0; i < c->ndiffers && !differs; i++)
		differs = c->differs[i] < end && c->differs[i] + c->window > off;
	pthread_mutex_unlock(&c->lock);
	c->wrote |= differs;
	return differs ? ~0UL : 0;
}

/* What differs before s's end is decided: forgotten. */
static void changed_retire(struct stage *st, struct slot *s, bool done)
{
	struct changed *c = of(st);
	uint64_t end = (s->off + s->len) << DMIO_SECTOR_SHIFT;
	unsigned int k = 0;

	(void)done;
	pthread_mutex_lock(&c->lock);
	for (unsigned int i = 0; i < c->ndiffers; i++)
		if (c->differs[i] + c->window > end)
			c->differs[k++] = c->differs[i];
	c->ndiffers = k;
	pthread_mutex_unlock(&c->lock);
}

void changed_window(struct changed *c, const struct hasher *h, const struct hash_window *w)
{
	struct job *j = c->stage.job;
	bool same = window_same(c->check, h, w);

	pthread_mutex_lock(&c->lock);
	if (!same && c->ndiffers == c->cap) {
		unsigned int cap = c->cap ? 2 * c->cap : 16;
		uint64_t *v = realloc(c->differs, cap * sizeof(*v));

		if (v) {
			c->differs = v;
			c->cap = cap;
		}
	}
	/* Out of memory: every window from this one on is taken to differ. */
	if (!same && c->ndiffers == c->cap && w->offset < c->all_from)
		c->all_from = w->offset;
	else if (!same)
		c->differs[c->ndiffers++] = w->offset;
	c->decided = w->offset + w->length;
	for (unsigned int k = 0; k < j->nslots; k++)
		if (c->need[k] && c->need[k] <= c->decided) {
			c->need[k] = 0;
			slot_release(&j->slots[k]);
		}
	pthread_mutex_unlock(&c->lock);
}

static const struct stage_ops changed_ops = {
	.name = "changed",
	.limit = changed_limit,
	.hold = changed_hold,
	.only = changed_only,
	.retire = changed_retire,
};

int changed_init(struct changed *c, struct job *j)
{
	*c = (struct changed){ .check = j->src->check, .window = j->src->check->e->wlen,
			       .bytes = j->src->count << DMIO_SECTOR_SHIFT, .all_from = UINT64_MAX };
	c->need = calloc(j->nslots, sizeof(*c->need));
	if (!c->need)
		return -ENOMEM;
	pthread_mutex_init(&c->lock, NULL);
	c->locked = true;
	job_add_stage(j, &c->stage, &changed_ops);
	return 0;
}

int changed_end(struct changed *c)
{
	const struct job *j = c->stage.job;
	char *stale = NULL;
	bool failed = false;

	if (!j || j->src->digest)
		return 0; /* the new log was written */
	for (unsigned int i = 0; i < j->ndst; i++)
		failed |= j->dst[i].status == ST_ERROR;
	if (!c->wrote && !failed)
		return 0; /* the old one still says what the destinations hold */
	if (asprintf(&stale, "%s.stale", j->o->changed_since) < 0)
		return -ENOMEM;
	if (rename(j->o->changed_since, stale)) {
		warnmsg("%s: cannot move it aside: %s: the destinations no longer match it; "
			"remove it", j->o->changed_since, strerror(errno));
		free(stale);
		return -errno;
	}
	warnmsg("%s: moved to %s: the copy did not end, and the destinations no longer match "
		"it; a full copy with --hash-log makes a new one", j->o->changed_since, stale);
	free(stale);
	return 0;
}

void changed_free(struct changed *c)
{
	if (c->locked)
		pthread_mutex_destroy(&c->lock);
	free(c->need);
	free(c->differs);
	*c = (struct changed){ 0 };
}
