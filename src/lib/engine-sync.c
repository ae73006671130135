// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The sync engine (fio's sync): each piece done in queue(), with
 * preadv/pwritev.  It also does, for every engine, the ops that have no
 * asynchronous form here: a flush (fdatasync), write-zeroes and discard
 * (fallocate, BLKZEROOUT, BLKDISCARD).  The core issues whatever is left
 * after a short transfer.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "dmio-internal.h"

/* Write-zeroes or discard p: its byte count or -errno (EOPNOTSUPP where
 * the file or device cannot). */
static long zero_piece(const struct dmio_piece *p)
{
	uint64_t range[2] = { p->pos, p->len };
	int keep = FALLOC_FL_KEEP_SIZE, r;

	if (p->blk && DMIO_OP(p->rw) == DMIO_DISCARD)
		r = ioctl(p->fd, BLKDISCARD, range);
	else if (p->blk && p->rw & DMIO_NOUNMAP)
		r = ioctl(p->fd, BLKZEROOUT, range);
	else if (p->rw & DMIO_NOUNMAP)
		r = fallocate(p->fd, FALLOC_FL_ZERO_RANGE | keep, (off_t)p->pos, (off_t)p->len);
	else /* a hole; on a block device, zeroes that may unmap, no fallback */
		r = fallocate(p->fd, FALLOC_FL_PUNCH_HOLE | keep, (off_t)p->pos, (off_t)p->len);
	if (!r)
		return (long)p->len;
	return errno == ENOTTY || errno == ENOSYS ? -EOPNOTSUPP : -errno;
}

static int sync_queue(struct dmio_client *c, struct dmio_piece *p)
{
	ssize_t r;

	(void)c;
	switch (DMIO_OP(p->rw)) {
	case DMIO_READ:
	case DMIO_WRITE:
		do {
			if (p->rw == DMIO_READ)
				r = preadv(p->fd, p->iov, p->iovcnt, (off_t)p->pos);
			else
				r = pwritev(p->fd, p->iov, p->iovcnt, (off_t)p->pos);
		} while (r < 0 && errno == EINTR);
		p->res = r < 0 ? -errno : r;
		break;
	case DMIO_FLUSH:
		p->res = fdatasync(p->fd) ? -errno : 0;
		break;
	default:
		p->res = zero_piece(p);
	}
	return DMIO_Q_COMPLETED;
}

const struct dmio_engine_ops dmio_sync_engine = {
	.name = "sync",
	.default_depth = 1,
	.queue = sync_queue,
	.wait = client_wait, /* only ever idle: woken for new work */
};
