// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The io_uring engine (liburing; fio's io_uring): queue() fills a
 * submission entry for the piece, commit() hands the batch to
 * io_uring_submit(), reap() takes what the completion ring holds, sleeping
 * on the client's eventfd (registered with the ring, so every completion
 * writes it) when it holds nothing.  A request's own failure comes back in
 * its completion; io_uring_submit() fails only for the whole ring (-EAGAIN,
 * -EBUSY: out of kernel memory or completion room), and what it did not
 * take stays in the submission ring, to be submitted again.
 *
 * Why a third engine: here a libaio context costs 35-60 ms to set up and
 * destroy (io_destroy() and exit wait for an RCU grace period), a ring
 * 2 ms; see bench/README.md.
 */
#include <errno.h>
#include <liburing.h>
#include <stdlib.h>
#include <time.h>

#include "dmio-internal.h"

#define SUBMIT_WAIT_NS 1000000L

struct uring_engine {
	struct io_uring ring;
	unsigned int queued;    /* entries filled, not yet submitted */
	unsigned int in_kernel; /* submitted, not yet reaped */
};

static int uring_init(struct dmio_client *c)
{
	struct uring_engine *e = calloc(1, sizeof(*e));
	int r;

	if (!e)
		return -ENOMEM;
	/* The completion ring gets twice the entries: it cannot overflow. */
	r = io_uring_queue_init(c->depth, &e->ring, 0);
	if (r) {
		free(e);
		return r;
	}
	r = io_uring_register_eventfd(&e->ring, c->wake_fd);
	if (r) {
		io_uring_queue_exit(&e->ring);
		free(e);
		return r;
	}
	c->engine = e;
	return 0;
}

static void uring_exit(struct dmio_client *c)
{
	struct uring_engine *e = c->engine;

	if (!e)
		return;
	io_uring_queue_exit(&e->ring);
	free(e);
	c->engine = NULL;
}

static int uring_queue(struct dmio_client *c, struct dmio_piece *p)
{
	struct uring_engine *e = c->engine;
	struct io_uring_sqe *sqe = io_uring_get_sqe(&e->ring);

	if (!sqe)
		return DMIO_Q_BUSY;
	if (p->rw == DMIO_READ)
		io_uring_prep_readv(sqe, p->fd, p->iov, (unsigned int)p->iovcnt, p->pos);
	else
		io_uring_prep_writev(sqe, p->fd, p->iov, (unsigned int)p->iovcnt, p->pos);
	io_uring_sqe_set_data(sqe, p);
	e->queued++;
	return DMIO_Q_QUEUED;
}

static void uring_commit(struct dmio_client *c)
{
	struct uring_engine *e = c->engine;

	while (e->queued) {
		int r = io_uring_submit(&e->ring);

		if (r > 0) {
			e->queued -= (unsigned int)r;
			e->in_kernel += (unsigned int)r;
		} else if (r != -EINTR) {
			/* Entries in the ring cannot be taken back: try again,
			 * after a reap when one can make room. */
			if (e->in_kernel)
				return;
			nanosleep(&(struct timespec){ 0, SUBMIT_WAIT_NS }, NULL);
		}
	}
}

/* What has completed, without waiting. */
static unsigned int peek(struct uring_engine *e, struct dmio_piece **done,
			 unsigned int max)
{
	struct io_uring_cqe *cqes[64];
	unsigned int n;

	if (max > 64)
		max = 64;
	n = io_uring_peek_batch_cqe(&e->ring, cqes, max);
	for (unsigned int i = 0; i < n; i++) {
		struct dmio_piece *p = io_uring_cqe_get_data(cqes[i]);

		p->res = cqes[i]->res;
		done[i] = p;
	}
	io_uring_cq_advance(&e->ring, n);
	e->in_kernel -= n;
	return n;
}

static unsigned int uring_reap(struct dmio_client *c, struct dmio_piece **done,
			       unsigned int max)
{
	struct uring_engine *e = c->engine;
	unsigned int n;

	if (!e->in_kernel)
		return 0;
	n = peek(e, done, max);
	if (!n) {
		client_wait(c);
		n = peek(e, done, max);
	}
	return n;
}

const struct dmio_engine_ops dmio_uring_engine = {
	.name = "uring",
	.default_depth = 32,
	.init = uring_init,
	.exit = uring_exit,
	.queue = uring_queue,
	.commit = uring_commit,
	.reap = uring_reap,
};
