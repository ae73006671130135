// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * NBD regions' pieces, on the client's completion thread: sent round
 * robin over the connections it owns, with the block status requests that
 * wait for one (nbd-status.c); nbd_wait() sleeps in poll() on their
 * sockets beside the wake-up eventfd and the engine's completions.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nbd-internal.h"

int nbd_check(struct dmio_nbd *t, int rw, uint64_t pos, uint64_t end)
{
	int op = DMIO_OP(rw);

	if (op == DMIO_FLUSH)
		return 0;
	if (op != DMIO_READ && t->info.flags & DMIO_NBD_READ_ONLY)
		return -EROFS;
	if (end > t->info.size || pos % t->info.min_block || end % t->info.min_block)
		return -EINVAL;
	return 0;
}

uint64_t nbd_max_piece(struct dmio_nbd *t, int rw, uint64_t max_io)
{
	if (dmio_zeroing(rw))
		return ZERO_PIECE_MAX / t->info.min_block * t->info.min_block;
	return max_io < t->info.max_block ? max_io : t->info.max_block;
}

/* libnbd's completion callback, on the owner's completion thread. */
static int nbd_done(void *user_data, int *error)
{
	struct dmio_piece *p = user_data;
	struct nbd_conn *conn = p->conn;
	struct dmio_client *c = __atomic_load_n(&conn->owner, __ATOMIC_RELAXED);

	p->res = *error ? -*error : (long)p->len;
	__atomic_sub_fetch(&conn->inflight, 1, __ATOMIC_RELAXED);
	p->next = c->nbd_done;
	c->nbd_done = p;
	return 1; /* the command is retired */
}

/* Send the queries that wait on conn's export on conn, which c owns. */
static void queries_send(struct dmio_client *c, struct nbd_conn *conn)
{
	struct dmio_nbd *t = conn->t;
	struct nbd_query *q, *next;

	pthread_mutex_lock(&t->query_lock);
	q = t->queries;
	t->queries = NULL;
	__atomic_store_n(&t->npending, 0, __ATOMIC_RELAXED);
	for (next = q; next; next = next->next)
		next->taken = true;
	pthread_mutex_unlock(&t->query_lock);
	for (; q; q = next) {
		next = q->next; /* q may be done, and gone, once it is sent */
		q->conn = conn;
		__atomic_add_fetch(&conn->inflight, 1, __ATOMIC_RELAXED);
		if (nbd_aio_block_status(conn->h, q->len, q->w.at,
					 (nbd_extent_callback){ .callback = nbd_gather,
								.user_data = &q->w },
					 (nbd_completion_callback){ .callback = nbd_query_done,
								    .user_data = q },
					 0) == -1) {
			int e = nbd_get_errno();

			/* Refused: no callback comes. */
			__atomic_sub_fetch(&conn->inflight, 1, __ATOMIC_RELAXED);
			q->err = e ? -e : -EIO;
			q->next = c->nbd_replied;
			c->nbd_replied = q;
		}
	}
}

void nbd_tidy(struct dmio_client *c)
{
	struct nbd_query *q, *next;
	unsigned int k = 0;

	for (unsigned int i = 0; i < c->nbd_nconns; i++) {
		struct nbd_conn *conn = c->nbd_conns[i];

		if (__atomic_load_n(&conn->t->npending, __ATOMIC_RELAXED))
			queries_send(c, conn);
		if (__atomic_load_n(&conn->inflight, __ATOMIC_RELAXED)) {
			c->nbd_conns[k++] = conn;
			continue;
		}
		/* Let it go, with what its commands did.  A query that came
		 * since waits for an owner to send it: say there is none. */
		__atomic_store_n(&conn->owner, NULL, __ATOMIC_SEQ_CST);
		if (__atomic_load_n(&conn->t->npending, __ATOMIC_SEQ_CST)) {
			pthread_mutex_lock(&conn->t->query_lock);
			pthread_cond_broadcast(&conn->t->query_cond);
			pthread_mutex_unlock(&conn->t->query_lock);
		}
	}
	c->nbd_nconns = k;
	/* Last, as a piece's callback comes after this: once woken, a
	 * caller may close the export. */
	for (q = c->nbd_replied, c->nbd_replied = NULL; q; q = next) {
		struct dmio_nbd *t = q->conn->t;

		next = q->next;
		pthread_mutex_lock(&t->query_lock);
		q->done = true; /* q may be gone once this is unlocked */
		pthread_cond_broadcast(&t->query_cond);
		pthread_mutex_unlock(&t->query_lock);
	}
}

/* A connection of t for c: one c owns with room for a command, else one
 * nobody owns (c takes it).  NULL, and *full when c's own are full. */
static struct nbd_conn *conn_get(struct dmio_client *c, struct dmio_nbd *t, bool *full)
{
	unsigned int n = t->info.connections;
	unsigned int rr = __atomic_fetch_add(&t->rr, 1, __ATOMIC_RELAXED);

	*full = false;
	for (unsigned int k = 0; k < n; k++) {
		struct nbd_conn *x = &t->conn[(rr + k) % n];
		struct dmio_client *owner = __atomic_load_n(&x->owner, __ATOMIC_ACQUIRE);

		if (owner == c && __atomic_load_n(&x->inflight, __ATOMIC_RELAXED) < c->depth)
			return x;
		*full |= owner == c || (!owner && c->nbd_nconns == NBD_CONNS_MAX);
		if (owner || c->nbd_nconns == NBD_CONNS_MAX)
			continue;
		/* Waits while dmio_nbd_extent() drives it: a round trip. */
		pthread_mutex_lock(&x->claim);
		owner = __atomic_load_n(&x->owner, __ATOMIC_ACQUIRE);
		if (!owner)
			__atomic_store_n(&x->owner, c, __ATOMIC_RELAXED);
		pthread_mutex_unlock(&x->claim);
		if (!owner) {
			c->nbd_conns[c->nbd_nconns++] = x;
			return x;
		}
	}
	return NULL;
}

/* Send p on conn: libnbd's cookie, or -1. */
static int64_t conn_send(struct nbd_conn *conn, struct dmio_piece *p)
{
	nbd_completion_callback cb = { .callback = nbd_done, .user_data = p };

	switch (DMIO_OP(p->rw)) {
	case DMIO_READ:
		return nbd_aio_pread(conn->h, p->iov[0].iov_base, p->len, p->pos, cb, 0);
	case DMIO_WRITE:
		return nbd_aio_pwrite(conn->h, p->iov[0].iov_base, p->len, p->pos, cb, 0);
	case DMIO_WRITE_ZEROES:
		return nbd_aio_zero(conn->h, p->len, p->pos, cb,
				    p->rw & DMIO_NOUNMAP ? LIBNBD_CMD_FLAG_NO_HOLE : 0);
	case DMIO_DISCARD:
		return nbd_aio_trim(conn->h, p->len, p->pos, cb, 0);
	default:
		/* With multi-conn, a flush on any connection covers what
		 * every connection completed; without, there is one. */
		return nbd_aio_flush(conn->h, cb, 0);
	}
}

/* Send p: DMIO_Q_QUEUED, DMIO_Q_BUSY (every connection is full), or
 * DMIO_Q_COMPLETED (refused: p->res). */
static int nbd_queue(struct dmio_client *c, struct dmio_piece *p)
{
	struct dmio_nbd *t = p->nbd;
	struct nbd_conn *conn;
	int op = DMIO_OP(p->rw);
	bool full;

	if ((op == DMIO_WRITE_ZEROES && !(t->info.flags & DMIO_NBD_CAN_ZERO)) ||
	    (op == DMIO_DISCARD && !(t->info.flags & DMIO_NBD_CAN_TRIM))) {
		p->res = -EOPNOTSUPP;
		return DMIO_Q_COMPLETED;
	}
	if (op == DMIO_FLUSH && !(t->info.flags & DMIO_NBD_CAN_FLUSH)) {
		p->res = 0; /* nothing to make durable: the server writes through */
		return DMIO_Q_COMPLETED;
	}
	if (!c->nbd_conns) {
		c->nbd_conns = calloc(NBD_CONNS_MAX, sizeof(*c->nbd_conns));
		if (!c->nbd_conns) {
			p->res = -ENOMEM;
			return DMIO_Q_COMPLETED;
		}
	}
	conn = conn_get(c, t, &full);
	if (!conn && full)
		return DMIO_Q_BUSY; /* until one of c's commands completes */
	if (!conn) {
		p->res = -EBUSY; /* another client drives every connection */
		return DMIO_Q_COMPLETED;
	}
	p->conn = conn;
	/* What block status said before may no longer be so. */
	if (op != DMIO_READ && op != DMIO_FLUSH)
		__atomic_add_fetch(&t->writes, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&conn->inflight, 1, __ATOMIC_RELAXED);
	if (conn_send(conn, p) == -1) {
		/* Refused: no callback comes. */
		p->res = nbd_failed();
		__atomic_sub_fetch(&conn->inflight, 1, __ATOMIC_RELAXED);
		nbd_tidy(c);
		return DMIO_Q_COMPLETED;
	}
	__atomic_add_fetch(&c->requests, 1, __ATOMIC_RELAXED);
	return DMIO_Q_QUEUED;
}

void nbd_wait(struct dmio_client *c)
{
	struct pollfd fds[2 + 2 * NBD_CONNS_MAX];
	int efd = c->ops->event_fd ? c->ops->event_fd(c) : -1;
	bool read_wake = !c->ops->wake_armed || !c->ops->wake_armed(c);
	unsigned int n = 0, first, queries;
	uint64_t count;

	/* The engine's read of wake_fd (uring's) may have completed (taking a
	 * wake-up) with no piece of the engine in flight, so that nobody
	 * reaps it: take it here, or the engine would go on thinking it
	 * armed, nobody would read wake_fd, and every later wake-up would
	 * leave it readable and end every poll at once (the thread spun).
	 * The wake-up it took may be new work's: the caller looks again. */
	if (!read_wake && !c->inflight) {
		if (c->ops->events)
			c->ops->events(c);
		if (c->ops->wake_take(c))
			return;
	}

	fds[n++] = (struct pollfd){ c->wake_fd, POLLIN, 0 };
	if (efd >= 0 && c->inflight)
		fds[n++] = (struct pollfd){ efd, POLLIN, 0 };
	first = n;
	for (unsigned int i = 0; i < c->nbd_nconns; i++) {
		unsigned int dir = nbd_aio_get_direction(c->nbd_conns[i]->h);

		fds[n++] = (struct pollfd){ c->nbd_conns[i]->fd,
					    (short)((dir & LIBNBD_AIO_DIRECTION_READ ? POLLIN : 0) |
						    (dir & LIBNBD_AIO_DIRECTION_WRITE ? POLLOUT : 0)),
					    0 };
	}
	/* A query on the export of a connection c owns: nbd_tidy() sends
	 * it.  The same eventfd may be there more than once. */
	queries = n;
	for (unsigned int i = 0; i < c->nbd_nconns; i++)
		fds[n++] = (struct pollfd){ c->nbd_conns[i]->t->query_fd, POLLIN, 0 };
	if (poll(fds, n, -1) <= 0)
		return;
	/* The uring engine may have a read of the eventfd in its ring: it
	 * takes the count then, and a read here would block. */
	if (fds[0].revents & POLLIN && read_wake)
		while (read(c->wake_fd, &count, sizeof(count)) < 0 && errno == EINTR)
			;
	for (unsigned int i = first; i < queries; i++) {
		struct nbd_handle *h = c->nbd_conns[i - first]->h;

		if (fds[i].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL))
			nbd_aio_notify_read(h);
		if (fds[i].revents & POLLOUT)
			nbd_aio_notify_write(h);
	}
	/* Non-blocking: an earlier read of the same eventfd took its count. */
	for (unsigned int i = queries; i < n; i++)
		if (fds[i].revents & POLLIN && read(fds[i].fd, &count, sizeof(count)) < 0) {
			/* EAGAIN: taken already */
		}
	if (c->ops->events)
		c->ops->events(c);
}

/* NBD regions' pieces, beside any engine: libnbd's callbacks put them on
 * c->nbd_done, which core_run() finishes, and nbd_wait() sleeps for them. */
const struct dmio_engine_ops dmio_nbd_engine = {
	.name = "nbd",
	.queue = nbd_queue,
};

void nbd_client_exit(struct dmio_client *c)
{
	free(c->nbd_conns);
	c->nbd_conns = NULL;
	c->nbd_nconns = 0;
}
