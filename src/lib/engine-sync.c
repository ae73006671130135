// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The sync engine (fio's sync): preadv/pwritev, each piece completed in
 * queue().  The core issues whatever is left after a short transfer.
 */
#include <errno.h>
#include <sys/uio.h>

#include "dmio-internal.h"

static int sync_init(struct dmio_client *c)
{
	(void)c;
	return 0;
}

static void sync_exit(struct dmio_client *c)
{
	(void)c;
}

static int sync_queue(struct dmio_client *c, struct dmio_piece *p)
{
	ssize_t r;

	(void)c;
	do {
		if (p->rw == DMIO_READ)
			r = preadv(p->fd, p->iov, p->iovcnt, (off_t)p->pos);
		else
			r = pwritev(p->fd, p->iov, p->iovcnt, (off_t)p->pos);
	} while (r < 0 && errno == EINTR);
	p->res = r < 0 ? -errno : r;
	return DMIO_Q_COMPLETED;
}

static unsigned int sync_reap(struct dmio_client *c, struct dmio_piece **done,
			      unsigned int max)
{
	(void)c, (void)done, (void)max;
	return 0; /* nothing is ever left in flight */
}

const struct dmio_engine_ops dmio_sync_engine = {
	.name = "sync",
	.default_depth = 1,
	.init = sync_init,
	.exit = sync_exit,
	.queue = sync_queue,
	.reap = sync_reap,
	.wait = client_wait, /* only ever idle: woken for new work */
};
