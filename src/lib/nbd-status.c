// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Block status of an NBD export (dmio_nbd_extent(), dmio_nbd_dirty()):
 * base:allocation, and the dirty bitmap the export was opened with, asked
 * together on the export's own connections, never on one more (a server
 * may take one client only); the runs of the last reply are kept for the
 * calls that ask next, until something is written to the export.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nbd-internal.h"

/* libnbd's callback of a block status reply: the runs of each context
 * asked for, from w->at, into w->r. */
int nbd_gather(void *user_data, const char *context, uint64_t offset, uint32_t *entries,
		  size_t nr, int *error)
{
	struct extent_walk *w = user_data;
	struct runs *r = !strcmp(context, LIBNBD_CONTEXT_BASE_ALLOCATION) ? &w->r[CTX_BASE]
		       : w->dirty_ctx && !strcmp(context, w->dirty_ctx) ? &w->r[CTX_DIRTY] : NULL;
	uint64_t end = offset;

	(void)error;
	if (!r || r->n)
		return 0;
	r->start = offset;
	for (size_t i = 0; i + 1 < nr && r->n < RUNS_KEPT && entries[i]; i += 2) {
		end += entries[i];
		r->end[r->n] = end;
		r->flags[r->n++] = entries[i + 1];
	}
	return 0;
}

/* libnbd's completion callback of a query, on its owner's completion
 * thread: nbd_tidy() wakes its caller. */
int nbd_query_done(void *user_data, int *error)
{
	struct nbd_query *q = user_data;
	struct nbd_conn *conn = q->conn;
	struct dmio_client *c = __atomic_load_n(&conn->owner, __ATOMIC_RELAXED);

	q->err = *error ? -*error : 0;
	__atomic_sub_fetch(&conn->inflight, 1, __ATOMIC_RELAXED);
	q->next = c->nbd_replied;
	c->nbd_replied = q;
	return 1;
}

/* A connection of t that no client owns, with its claim lock held so that
 * none takes it; NULL when each is owned (or being taken).  Under
 * t->query_lock. */
static struct nbd_conn *conn_idle(struct dmio_nbd *t)
{
	for (unsigned int i = 0; i < t->info.connections; i++) {
		struct nbd_conn *x = &t->conn[i];

		if (__atomic_load_n(&x->owner, __ATOMIC_SEQ_CST) ||
		    pthread_mutex_trylock(&x->claim))
			continue;
		if (!__atomic_load_n(&x->owner, __ATOMIC_ACQUIRE))
			return x;
		pthread_mutex_unlock(&x->claim);
	}
	return NULL;
}

/* Block status of q on x, in this thread, which drives x. */
static void query_sync(struct nbd_conn *x, struct nbd_query *q)
{
	nbd_extent_callback cb = { .callback = nbd_gather, .user_data = &q->w };

	if (nbd_block_status(x->h, q->len, q->w.at, cb, 0))
		q->err = nbd_failed();
}

/*
 * Run q on t's connections, never on a connection of its own (the server
 * may take no more clients, and queue it forever).  A connection nobody
 * owns is driven here, under its claim lock; one a client owns is its
 * completion thread's to drive: it sends q there (queries_send()), woken
 * through query_fd, and wakes this thread when the answer came, or when it
 * let its connection go first (nbd_tidy()): q is run here then.
 */
static void query_run(struct dmio_nbd *t, struct nbd_query *q)
{
	struct dmio_client *self = client_self();
	uint64_t one = 1;
	struct nbd_conn *x;

	/* A completion callback: this thread drives its client's
	 * connections, and would wait for itself.  libnbd's synchronous call
	 * there also reads the other replies, which its callbacks put on the
	 * client's lists. */
	for (unsigned int i = 0; self && i < t->info.connections; i++)
		if (__atomic_load_n(&t->conn[i].owner, __ATOMIC_RELAXED) == self) {
			query_sync(&t->conn[i], q);
			return;
		}
	pthread_mutex_lock(&t->query_lock);
	q->next = t->queries;
	t->queries = q;
	/* Before the owners are looked at: an owner that lets its connection
	 * go looks at npending after, so one of the two sees the other. */
	__atomic_add_fetch(&t->npending, 1, __ATOMIC_SEQ_CST);
	while (!q->done) {
		if (!q->taken && (x = conn_idle(t))) {
			struct nbd_query **pp = &t->queries;

			while (*pp != q)
				pp = &(*pp)->next;
			*pp = q->next;
			__atomic_sub_fetch(&t->npending, 1, __ATOMIC_RELAXED);
			q->taken = true;
			pthread_mutex_unlock(&t->query_lock);
			query_sync(x, q);
			pthread_mutex_unlock(&x->claim);
			pthread_mutex_lock(&t->query_lock);
			/* Others that found no connection free look again. */
			if (t->queries)
				pthread_cond_broadcast(&t->query_cond);
			break;
		}
		if (!q->taken && write(t->query_fd, &one, sizeof(one)) < 0) {
			/* Only a full counter fails: readable, then. */
		}
		pthread_cond_wait(&t->query_cond, &t->query_lock);
	}
	pthread_mutex_unlock(&t->query_lock);
}

/* The run of context ctx that byte offset is in, from the runs kept:
 * false when they do not say. */
static bool kept(struct dmio_nbd *t, unsigned int ctx, uint64_t offset, uint64_t *end,
		 uint32_t *flags)
{
	const struct runs *r = &t->runs[ctx];
	bool found = false;

	pthread_mutex_lock(&t->runs_lock);
	/* A write since may have changed what they said. */
	if (r->n && r->writes == __atomic_load_n(&t->writes, __ATOMIC_RELAXED) &&
	    offset >= r->start)
		for (unsigned int i = 0; i < r->n && !found; i++)
			if (offset < r->end[i]) {
				*end = r->end[i];
				*flags = r->flags[i];
				found = true;
			}
	pthread_mutex_unlock(&t->runs_lock);
	return found;
}

/* The run of context ctx that byte offset is in, as t says: its end and
 * flags.  0 or -errno. */
static int status(struct dmio_nbd *t, unsigned int ctx, uint64_t offset, uint64_t *end,
		  uint32_t *flags)
{
	struct nbd_query q = { .w = { .at = offset, .dirty_ctx = t->dirty_ctx } };
	unsigned int writes = __atomic_load_n(&t->writes, __ATOMIC_RELAXED);

	if (kept(t, ctx, offset, end, flags))
		return 0;
	q.len = t->info.size - offset < ZERO_PIECE_MAX ? t->info.size - offset : ZERO_PIECE_MAX;
	query_run(t, &q);
	if (q.err)
		return q.err;
	pthread_mutex_lock(&t->runs_lock);
	for (unsigned int c = 0; c < CTX_COUNT; c++)
		if (q.w.r[c].n) {
			t->runs[c] = q.w.r[c];
			t->runs[c].writes = writes;
		}
	pthread_mutex_unlock(&t->runs_lock);
	if (!q.w.r[ctx].n || q.w.r[ctx].start != offset)
		return -ENODATA; /* the server said nothing of it */
	*end = q.w.r[ctx].end[0];
	*flags = q.w.r[ctx].flags[0];
	return 0;
}

int dmio_nbd_extent(int handle, uint64_t offset, uint64_t *end, int *hole)
{
	struct dmio_nbd *t = nbd_find(handle);
	uint32_t flags;
	int err;

	nbd_error_text[0] = 0;
	if (!t || !end || !hole || offset >= t->info.size)
		return -EINVAL;
	*end = t->info.size;
	*hole = 0;
	if (!(t->info.flags & DMIO_NBD_EXTENTS))
		return 0;
	err = status(t, CTX_BASE, offset, end, &flags);
	if (err == -ENODATA)
		return 0; /* no answer: all data */
	if (!err) {
		*end = *end < t->info.size ? *end : t->info.size;
		*hole = !!(flags & LIBNBD_STATE_ZERO);
	}
	return err;
}

int dmio_nbd_dirty(int handle, uint64_t offset, uint64_t *end, int *dirty)
{
	struct dmio_nbd *t = nbd_find(handle);
	uint32_t flags;
	int err;

	nbd_error_text[0] = 0;
	if (!t || !end || !dirty || offset >= t->info.size)
		return -EINVAL;
	if (!(t->info.flags & DMIO_NBD_DIRTY))
		return -EOPNOTSUPP;
	err = status(t, CTX_DIRTY, offset, end, &flags);
	if (err == -ENODATA)
		err = -EIO;
	if (!err) {
		*end = *end < t->info.size ? *end : t->info.size;
		*dirty = flags & 1; /* qemu's dirty bit */
	}
	return err;
}
