// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The io_uring engine (liburing; fio's io_uring): queue() fills a
 * submission entry for the piece, commit() hands the batch to
 * io_uring_submit(), reap() takes what the completion ring holds.  wait()
 * sleeps in the ring itself, io_uring_submit_and_wait(), with a read of the
 * client's eventfd in flight as one more request, so that new work wakes it
 * too: a block device's completions are task work that this thread runs,
 * and sleeping elsewhere (in read(2) of the eventfd) costs a wake-up for the
 * task work and another for the eventfd, per completion.  A request's own
 * failure comes back in its completion; io_uring_submit() fails only for
 * the whole ring (-EAGAIN, -EBUSY: out of kernel memory or completion room),
 * and what it did not take stays in the submission ring, to be submitted
 * again.
 *
 * Why a third engine: here a libaio context costs 35-60 ms to set up and
 * destroy (io_destroy() and exit wait for an RCU grace period), a ring
 * 2 ms; see bench/README.md.
 */
#include <errno.h>
#include <liburing.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "dmio-internal.h"

#define SUBMIT_WAIT_NS 1000000L

/*
 * The submission ring is a FIFO the kernel takes from its head: a submit
 * that returns r took the first r entries not yet submitted.  The eventfd
 * read may sit before or between pieces there (a wait() whose submit
 * failed leaves it, and commit() queues pieces behind it): wake_ahead says
 * where, so that each entry is counted once, as a piece or as the read.
 */
struct uring_engine {
	struct io_uring ring;
	unsigned int queued;    /* pieces filled, not yet submitted */
	unsigned int in_kernel; /* pieces submitted, not yet reaped */
	unsigned int wake_ahead; /* wake_queued: pieces before the read */
	bool wake_queued;       /* the eventfd read is filled, not yet submitted */
	bool wake_armed;        /* the eventfd read is in the ring, its
				 * completion not yet taken */
	bool disabled;          /* until the completion thread, its one issuer,
				 * enables it */
	uint64_t wake_count;    /* where it reads to */
};

static int uring_init(struct dmio_client *c)
{
	struct uring_engine *e = calloc(1, sizeof(*e));
	int r;

	if (!e)
		return -ENOMEM;
	/*
	 * The completion ring gets twice the entries: the pieces and the
	 * eventfd read cannot overflow it.  Only the completion thread submits
	 * and waits, so completions can wait for it to ask (DEFER_TASKRUN,
	 * Linux 6.1) rather than interrupt it; the ring is enabled from that
	 * thread.  Older kernels refuse the flags: a plain ring then.
	 */
	r = io_uring_queue_init(c->depth, &e->ring, IORING_SETUP_SINGLE_ISSUER |
				IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED);
	e->disabled = !r;
	if (r == -EINVAL)
		r = io_uring_queue_init(c->depth, &e->ring, 0);
	if (r) {
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

/* On the completion thread, before its first use of the ring.  (liburing
 * 2.3 declares io_uring_enable_rings() but does not export it.) */
static void enable(struct uring_engine *e)
{
	if (e->disabled)
		syscall(__NR_io_uring_register, e->ring.ring_fd,
			IORING_REGISTER_ENABLE_RINGS, NULL, 0);
	e->disabled = false;
}

static int uring_queue(struct dmio_client *c, struct dmio_piece *p)
{
	struct uring_engine *e = c->engine;
	struct io_uring_sqe *sqe;

	enable(e);
	sqe = io_uring_get_sqe(&e->ring);
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

/* Count a submit that took r entries: the first r not yet submitted. */
static void submitted(struct uring_engine *e, unsigned int r)
{
	if (e->wake_queued && r > e->wake_ahead) {
		e->wake_queued = false;
		r--;
	} else if (e->wake_queued) {
		e->wake_ahead -= r;
	}
	e->queued -= r;
	e->in_kernel += r;
}

/* Submit the pieces queue() took, and an eventfd read that a failed
 * wait() left behind (nbd_wait() counts on it being in the kernel). */
static void uring_commit(struct dmio_client *c)
{
	struct uring_engine *e = c->engine;

	while (e->queued || e->wake_queued) {
		int r = io_uring_submit(&e->ring);

		if (r > 0) {
			submitted(e, (unsigned int)r);
		} else if (r != -EINTR) {
			/* Entries in the ring cannot be taken back: try again,
			 * after a reap when one can make room. */
			if (e->in_kernel)
				return;
			nanosleep(&(struct timespec){ 0, SUBMIT_WAIT_NS }, NULL);
		}
	}
}

/* What has completed, without waiting; the eventfd read (no data) is
 * taken too, and only disarmed. */
static unsigned int uring_reap(struct dmio_client *c, struct dmio_piece **done,
			       unsigned int max)
{
	struct uring_engine *e = c->engine;
	struct io_uring_cqe *cqes[64];
	unsigned int n, got = 0;

	if (max > 64)
		max = 64;
	n = io_uring_peek_batch_cqe(&e->ring, cqes, max);
	for (unsigned int i = 0; i < n; i++) {
		struct dmio_piece *p = io_uring_cqe_get_data(cqes[i]);

		if (!p) {
			e->wake_armed = false;
			continue;
		}
		p->res = cqes[i]->res;
		done[got++] = p;
	}
	io_uring_cq_advance(&e->ring, n);
	e->in_kernel -= got;
	return got;
}

/* Take the eventfd read's completion if it is the next one: whether it
 * was.  Only the read's: a piece's is reap()'s. */
static bool uring_wake_take(struct dmio_client *c)
{
	struct uring_engine *e = c->engine;
	struct io_uring_cqe *cqe;

	if (!e->wake_armed || io_uring_peek_cqe(&e->ring, &cqe) ||
	    io_uring_cqe_get_data(cqe))
		return false;
	io_uring_cqe_seen(&e->ring, cqe);
	e->wake_armed = false;
	return true;
}

static void uring_wait(struct dmio_client *c)
{
	struct uring_engine *e = c->engine;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	int r;

	enable(e);
	/* A read that completed took a wake-up, which may be new work's:
	 * the caller looks again before it sleeps. */
	if (uring_wake_take(c) || io_uring_peek_cqe(&e->ring, &cqe) == 0)
		return;
	/* A ring full of pieces that commit() could not submit has no room
	 * for the read: it waits for them instead. */
	if (!e->wake_armed && (sqe = io_uring_get_sqe(&e->ring))) {
		io_uring_prep_read(sqe, c->wake_fd, &e->wake_count,
				   sizeof(e->wake_count), 0);
		io_uring_sqe_set_data(sqe, NULL);
		e->wake_armed = e->wake_queued = true;
		e->wake_ahead = e->queued;
	}
	/* This submits what commit() could not, too. */
	r = io_uring_submit_and_wait(&e->ring, 1);
	if (r > 0)
		submitted(e, (unsigned int)r);
	else if (r < 0 && r != -EINTR && r != -ETIME)
		nanosleep(&(struct timespec){ 0, SUBMIT_WAIT_NS }, NULL);
}

static int uring_event_fd(struct dmio_client *c)
{
	return ((struct uring_engine *)c->engine)->ring.ring_fd;
}

/* Run the completions that DEFER_TASKRUN keeps back until asked. */
static void uring_events(struct dmio_client *c)
{
	struct uring_engine *e = c->engine;

	enable(e);
	io_uring_get_events(&e->ring);
}

static bool uring_wake_armed(struct dmio_client *c)
{
	return ((struct uring_engine *)c->engine)->wake_armed;
}

const struct dmio_engine_ops dmio_uring_engine = {
	.name = "uring",
	.default_depth = 32,
	.init = uring_init,
	.exit = uring_exit,
	.queue = uring_queue,
	.commit = uring_commit,
	.reap = uring_reap,
	.wait = uring_wait,
	.event_fd = uring_event_fd,
	.events = uring_events,
	.wake_armed = uring_wake_armed,
	.wake_take = uring_wake_take,
};
