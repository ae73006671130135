// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The NBD backend: exports named by URI (nbd://, nbds://, nbd+unix://,
 * nbds+unix://), opened with dmio_nbd_open() into a handle that libdmio
 * regions name beside local ones.  Nothing claims an export: the server
 * decides who may write it.  Its minimum block is the region's smallest
 * I/O; holes are the server's base:allocation block status.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static __thread char why[512];

/* What may have gone wrong, before libnbd's words: "" when nothing. */
static const char *hint(const char *uri, const char *msg)
{
	const char *q = strchr(uri, '?'), *c = q ? strrchr(q, ':') : NULL;

	if (!strncmp(uri, "nbds", 4) && msg && strstr(msg, "handshake"))
		return "the TLS handshake failed (a wrong key or certificate, or a user the server "
		       "does not know?): ";
	/* nbd+unix:///?socket=S:8: START is not in the query. */
	if (c && c[1] >= '0' && c[1] <= '9')
		return "(if ':' starts a START, write it before the '?') ";
	return "";
}

static int nbd_open(struct dev *dev, const char *uri, const struct opts *o, unsigned int how)
{
	struct dmio_nbd_params p = {
		.size = sizeof(p),
		.connections = o->connections,
		.tls_psk_file = o->tls_psk,
		.tls_certificates = o->tls_certificates,
		.cancel_fd = signals_stop_fd(), /* a stop signal ends a connect: -EINTR */
	};
	struct dmio_nbd_info info;
	int h = dmio_nbd_open(uri, &p), err;

	(void)how; /* nothing to claim, no O_DIRECT */
	if (h < 0) {
		char *msg = spec_redact_in(dmio_nbd_error(), uri);

		snprintf(why, sizeof(why), "%s%s", hint(uri, msg), msg && *msg ? msg : strerror(-h));
		free(msg);
		return h;
	}
	err = dmio_nbd_info(h, &info);
	if (err) {
		dmio_nbd_close(h);
		return err;
	}
	*dev = (struct dev){ .ops = &nbd_backend, .fd = h, .is_nbd = true, .size = info.size,
			     .read_only = info.flags & DMIO_NBD_READ_ONLY };
	/* Sectors of 512 bytes, or the export's larger minimum block. */
	dev->lbs = dev->dio_align = info.min_block > DMIO_SECTOR_SIZE ? info.min_block
								       : DMIO_SECTOR_SIZE;
	dev->pbs = info.preferred_block > dev->lbs ? info.preferred_block : dev->lbs;
	dev->ext.uri = uri;
	return 0;
}

static const char *nbd_open_error(const char *uri, int err)
{
	(void)uri;
	return *why ? why : strerror(-err);
}

static int nbd_extent(const struct dev *dev, uint64_t pos, uint64_t *end, bool *hole)
{
	int h = 0, err = dmio_nbd_extent(dev->fd, pos, end, &h);

	*hole = h;
	return err;
}

/* NBD_CMD_FLUSH, from the completion thread of the client that drives
 * the export's connections. */
static int nbd_flush(struct dev *dev, struct dmio_client *c)
{
	struct dmio_request req = { .rw = DMIO_FLUSH, .client = c };
	struct dmio_result res;
	struct dmio_region where = { dev->fd, 0, 0 };
	int err;

	req.results = &res;
	err = dmio_submit(&req, 1, &where, NULL);
	return err == -EIO ? -res.error : err;
}

static void nbd_close(struct dev *dev)
{
	if (dev->fd >= 0)
		dmio_nbd_close(dev->fd);
	dev->fd = -1;
}

const struct backend_ops nbd_backend = {
	.name = "nbd",
	.open = nbd_open,
	.open_error = nbd_open_error,
	.extent = nbd_extent,
	.flush = nbd_flush,
	.close = nbd_close,
};
