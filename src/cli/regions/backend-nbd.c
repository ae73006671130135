// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The NBD backend: exports named by URI (nbd://, nbds://, nbd+unix://,
 * nbds+unix://), opened with dmio_nbd_open() into a handle that libdmio
 * regions name beside local ones.  Nothing claims an export: the server
 * decides who may write it.  Its minimum block is the region's smallest
 * I/O; holes are the server's base:allocation block status (what reads as
 * zeroes), and what changed since a checkpoint the qemu:dirty-bitmap:NAME
 * context's (--dirty-bitmap); what it can do (zero, trim, flush) is what
 * the server said at the handshake.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "regions/regions.h"

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

static int nbd_open(struct dev *dev, const struct spec *spec, const char *path,
		    const struct opts *o, unsigned int how)
{
	const char *uri = spec->device; /* as given, password and all */
	struct dmio_nbd_params p = {
		.size = sizeof(p),
		.connections = o->connections,
		.tls_psk_file = o->tls_psk,
		.tls_certificates = o->tls_certificates,
		.cancel_fd = signals_stop_fd(), /* a stop signal ends a connect: -EINTR */
		.dirty_bitmap = how & OPEN_CHANGES ? o->dirty_bitmap : NULL,
		.list_contexts = o->op == OP_INFO, /* what info shows */
	};
	struct dmio_nbd_info info;
	int h = dmio_nbd_open(uri, &p), err;

	(void)path; /* nothing to claim, no O_DIRECT */
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
	*dev = (struct dev){ .ops = &nbd_backend, .fd = h, .size = info.size, .kind = "export",
			     .read_only = info.flags & DMIO_NBD_READ_ONLY };
	/* Sectors of 512 bytes, or the export's larger minimum block. */
	dev->lbs = dev->dio_align = info.min_block > DMIO_SECTOR_SIZE ? info.min_block
								       : DMIO_SECTOR_SIZE;
	dev->pbs = info.preferred_block > dev->lbs ? info.preferred_block : dev->lbs;
	dev->caps = (struct caps){
		.zero = info.flags & DMIO_NBD_CAN_ZERO, .trim = info.flags & DMIO_NBD_CAN_TRIM,
		.zero_block = dev->lbs,
		.extents = info.flags & DMIO_NBD_EXTENTS, .remote = true,
		.changes = info.flags & DMIO_NBD_DIRTY,
		.flush = info.flags & DMIO_NBD_CAN_FLUSH, .min_io = dev->lbs,
		.claim = CLAIM_NONE,
	};
	dev->ext.uri = uri;
	return 0;
}

static const char *nbd_open_error(const char *uri, int err)
{
	(void)uri;
	return *why ? why : strerror(-err);
}

static bool nbd_same(const struct dev *a, const struct dev *b)
{
	return !strcmp(a->ext.uri, b->ext.uri);
}

static int nbd_extent(const struct dev *dev, uint64_t pos, uint64_t *end, bool *hole)
{
	int h = 0, err = dmio_nbd_extent(dev->fd, pos, end, &h);

	*hole = h;
	return err;
}

/* The dirty bitmap's qemu:dirty-bitmap:NAME block status. */
static int nbd_changed(const struct dev *dev, uint64_t pos, uint64_t *end, bool *changed)
{
	int c = 0, err = dmio_nbd_dirty(dev->fd, pos, end, &c);

	*changed = c;
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

/* What the server says of the export and can do with it. */
static void nbd_describe(const struct dev *dev, const char *path, struct ident *id)
{
	static const struct {
		unsigned int flag;
		const char *name;
	} features[] = {
		{ DMIO_NBD_CAN_FLUSH, "flush" },	 { DMIO_NBD_CAN_ZERO, "zero" },
		{ DMIO_NBD_CAN_TRIM, "trim" },		 { DMIO_NBD_CAN_MULTI_CONN, "multi-conn" },
		{ DMIO_NBD_EXTENTS, "extents" },	 { DMIO_NBD_READ_ONLY, "read-only" },
	};
	struct dmio_nbd_info info;
	char buf[128] = "";
	size_t used = 0;

	(void)path;
	if (dmio_nbd_info(dev->fd, &info))
		return;
	for (size_t i = 0; i < sizeof(features) / sizeof(features[0]); i++)
		if (info.flags & features[i].flag)
			used += (size_t)snprintf(buf + used, sizeof(buf) - used, "%s%s",
						 used ? "," : "", features[i].name);
	id->features = strdup(buf);
	id->contexts = *dmio_nbd_contexts(dev->fd) ? strdup(dmio_nbd_contexts(dev->fd)) : NULL;
	id->min_io = info.min_block;
	id->opt_io = info.preferred_block;
	id->max_io = info.max_block;
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
	.opening = "connect",
	.open_error = nbd_open_error,
	.same = nbd_same,
	.extent = nbd_extent,
	.changed = nbd_changed,
	.flush = nbd_flush,
	.describe = nbd_describe,
	.close = nbd_close,
};
