// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The aio engine (fio's libaio): queue() prepares the piece's embedded iocb,
 * commit() hands the batch to io_submit(), reap() takes what io_getevents()
 * has and finds each piece from its iocb; every iocb names the client's
 * eventfd, so wait() sleeps on that.  io_submit() may take only part of a
 * batch: the rest waits for the next commit.  -EAGAIN means the kernel is
 * out of room: reap first, then submit again.  A piece that io_submit()
 * refuses outright completes with that error.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dmio-internal.h"

/* With nothing in the kernel, how long -EAGAIN is retried before the
 * pieces fail with it. */
#define EAGAIN_RETRIES 1000
#define EAGAIN_WAIT_NS 1000000L

struct aio_engine {
	io_context_t ctx;
	struct iocb **batch;   /* queued, not yet submitted */
	unsigned int nbatch;
	unsigned int in_kernel;
	unsigned int eagain;
	struct dmio_piece **refused; /* refused by io_submit, to be reaped */
	unsigned int nrefused;
	struct io_event *events;
};

static void aio_exit(struct dmio_client *c)
{
	struct aio_engine *e = c->engine;

	if (!e)
		return;
	if (e->ctx)
		io_destroy(e->ctx);
	free(e->batch);
	free(e->refused);
	free(e->events);
	free(e);
	c->engine = NULL;
}

static int aio_init(struct dmio_client *c)
{
	struct aio_engine *e = calloc(1, sizeof(*e));
	int r;

	if (!e)
		return -ENOMEM;
	c->engine = e;
	e->batch = calloc(c->depth, sizeof(*e->batch));
	e->refused = calloc(c->depth, sizeof(*e->refused));
	e->events = calloc(c->depth, sizeof(*e->events));
	if (!e->batch || !e->refused || !e->events) {
		aio_exit(c);
		return -ENOMEM;
	}
	r = io_setup((int)c->depth, &e->ctx);
	if (r) {
		e->ctx = 0;
		aio_exit(c);
		return r;
	}
	return 0;
}

static int aio_queue(struct dmio_client *c, struct dmio_piece *p)
{
	struct aio_engine *e = c->engine;

	if (e->nbatch == c->depth)
		return DMIO_Q_BUSY;
	if (p->rw == DMIO_READ)
		io_prep_preadv(&p->iocb, p->fd, p->iov, p->iovcnt, (long long)p->pos);
	else
		io_prep_pwritev(&p->iocb, p->fd, p->iov, p->iovcnt, (long long)p->pos);
	io_set_eventfd(&p->iocb, c->wake_fd);
	p->iocb.data = p; /* not used here (container_of is); names it in traces */
	e->batch[e->nbatch++] = &p->iocb;
	return DMIO_Q_QUEUED;
}

static void batch_drop(struct aio_engine *e, unsigned int n)
{
	e->nbatch -= n;
	memmove(e->batch, e->batch + n, e->nbatch * sizeof(*e->batch));
}

static void refuse(struct aio_engine *e, unsigned int n, int err)
{
	for (unsigned int i = 0; i < n; i++) {
		struct dmio_piece *p = container_of(e->batch[i], struct dmio_piece, iocb);

		p->res = err;
		e->refused[e->nrefused++] = p;
	}
	batch_drop(e, n);
}

static void aio_commit(struct dmio_client *c)
{
	struct aio_engine *e = c->engine;

	while (e->nbatch) {
		int r = io_submit(e->ctx, (long)e->nbatch, e->batch);

		if (r > 0) {
			e->in_kernel += (unsigned int)r;
			e->eagain = 0;
			batch_drop(e, (unsigned int)r);
		} else if (r == -EAGAIN) {
			if (e->in_kernel)
				return; /* reap makes room */
			if (++e->eagain > EAGAIN_RETRIES) {
				refuse(e, e->nbatch, -EAGAIN);
				e->eagain = 0;
				return;
			}
			nanosleep(&(struct timespec){ 0, EAGAIN_WAIT_NS }, NULL);
		} else if (r != -EINTR) {
			refuse(e, 1, r < 0 ? r : -EIO);
		}
	}
}

static unsigned int aio_reap(struct dmio_client *c, struct dmio_piece **done,
			     unsigned int max)
{
	struct aio_engine *e = c->engine;
	unsigned int n = 0;
	int r;

	while (e->nrefused && n < max)
		done[n++] = e->refused[--e->nrefused];
	if (n || !e->in_kernel)
		return n;
	if (max > c->depth)
		max = c->depth;
	/* What has completed, without waiting. */
	do
		r = io_getevents(e->ctx, 0, (long)max, e->events, &(struct timespec){ 0, 0 });
	while (r == -EINTR);
	for (int i = 0; i < r; i++) {
		struct dmio_piece *p = container_of(e->events[i].obj, struct dmio_piece, iocb);

		p->res = (long)e->events[i].res;
		done[n++] = p;
	}
	e->in_kernel -= n;
	return n;
}

const struct dmio_engine_ops dmio_aio_engine = {
	.name = "aio",
	.default_depth = 32,
	.init = aio_init,
	.exit = aio_exit,
	.queue = aio_queue,
	.commit = aio_commit,
	.reap = aio_reap,
	.wait = client_wait, /* every completion writes wake_fd */
};
