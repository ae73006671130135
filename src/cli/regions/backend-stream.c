// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Two devices that are not devices.  "-", a stream: a copy's source read
 * from stdin, or a destination written to stdout, once and in order, as
 * the job's input or output (jobs/stream.c does it, never the library);
 * it has no size of its own: a source is as long as its input, a
 * destination as its source.  "null:", the sink: a destination that keeps
 * nothing (its writes go to /dev/null, which costs no copy), for timing a
 * source or taking its digests.  Neither overlaps anything, nor is flushed
 * or claimed.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "regions/regions.h"

/* As large as a region can be: what it holds is not known in advance. */
#define UNBOUNDED ((uint64_t)SPEC_MAX_SECTORS << DMIO_SECTOR_SHIFT)

static void unbounded(struct dev *dev, const struct backend_ops *ops, int fd, const char *kind)
{
	*dev = (struct dev){ .ops = ops, .fd = fd, .kind = kind, .size = UNBOUNDED,
			     .lbs = DMIO_SECTOR_SIZE, .pbs = DMIO_SECTOR_SIZE,
			     .dio_align = DMIO_SECTOR_SIZE };
	dev->caps = (struct caps){ .zero_block = DMIO_SECTOR_SIZE, .min_io = DMIO_SECTOR_SIZE,
				   .claim = CLAIM_NONE };
	dev->ext.nowhere = true;
}

/* The job opens the stream itself (jobs/stream.c): here it is only
 * described. */
static int stream_open(struct dev *dev, const struct spec *spec, const char *path,
		       const struct opts *o, unsigned int how)
{
	(void)spec, (void)path, (void)o, (void)how;
	unbounded(dev, &stream_backend, -1, "stream");
	dev->caps.stream = true;
	return 0;
}

static int null_open(struct dev *dev, const struct spec *spec, const char *path,
		     const struct opts *o, unsigned int how)
{
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);

	(void)spec, (void)path, (void)o, (void)how;
	if (fd < 0)
		return -errno;
	unbounded(dev, &null_backend, fd, "sink");
	/* Zeroes are written as data: to /dev/null that is free. */
	dev->caps.sparse = true;
	return 0;
}

static const char *unbounded_open_error(const char *path, int err)
{
	(void)path;
	return strerror(-err);
}

/* There is one stdin, one stdout, one sink. */
static bool unbounded_same(const struct dev *a, const struct dev *b)
{
	(void)a, (void)b;
	return true;
}

/* All data: never asked (no caps.extents). */
static int unbounded_extent(const struct dev *dev, uint64_t pos, uint64_t *end, bool *hole)
{
	(void)pos;
	*end = dev->size;
	*hole = false;
	return 0;
}

/* Never asked (no caps.flush). */
static int unbounded_flush(struct dev *dev, struct dmio_client *c)
{
	(void)dev, (void)c;
	return 0;
}

static void unbounded_describe(const struct dev *dev, const char *path, struct ident *id)
{
	(void)dev, (void)path, (void)id;
}

static void unbounded_close(struct dev *dev)
{
	if (dev->fd >= 0)
		close(dev->fd);
	dev->fd = -1;
}

const struct backend_ops stream_backend = {
	.name = "stream",
	.open = stream_open,
	.opening = "open",
	.open_error = unbounded_open_error,
	.same = unbounded_same,
	.extent = unbounded_extent,
	.flush = unbounded_flush,
	.describe = unbounded_describe,
	.close = unbounded_close,
};

const struct backend_ops null_backend = {
	.name = "null",
	.open = null_open,
	.opening = "open",
	.open_error = unbounded_open_error,
	.same = unbounded_same,
	.extent = unbounded_extent,
	.flush = unbounded_flush,
	.describe = unbounded_describe,
	.close = unbounded_close,
};
