// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The captive backend: "[ CMD ARGS... ]", an NBD server that dmio runs
 * for the job (server.c), then the NBD backend whole on its socket: the
 * device is an export like any other, what it can do is what the server
 * says.  Only the opening and the closing are its own: the server starts
 * before the connect and has until the connect ends to answer; it is
 * stopped after the disconnect.
 *
 * What the server serves is its own business: dmio cannot see that two
 * servers, or a server and a local region, share a file, and checks no
 * overlap with a captive region (the image's own lock, as qemu-nbd takes
 * it, refuses a second writer).  To a --map, a captive region is its
 * command and its size: its socket is new each run.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "regions/regions.h"

static __thread char why[512];

static int captive_open(struct dev *dev, const struct spec *spec, const char *path,
			const struct opts *o, unsigned int how)
{
	struct spec nbd = { .nbd = true };
	struct server *s;
	int err = server_start(spec->argv, path, o, &s, why, sizeof(why)), e;

	if (err)
		return err;
	nbd.device = (char *)server_uri(s);
	err = nbd_backend.open(dev, &nbd, path, o, how);
	server_answered(s);
	if (!err) {
		dev->ops = &captive_backend;
		dev->server = s;
		dev->ext.command = path;
		return 0;
	}
	/* A stop signal (which ends a connect); the server's fault, if it
	 * is; else what the connect says (an export without the dirty bitmap
	 * asked for, which its server may leave once dmio does). */
	e = err == -EINTR || signal_stop() ? -EINTR
	    : err == -ENOENT ? 0 : server_why(s, why, sizeof(why));
	if (!e)
		snprintf(why, sizeof(why), "%s", nbd_backend.open_error(path, err));
	server_stop(s);
	if (e == -EINTR)
		warnmsg("interrupted by %s while starting %s", strsignal(signal_stop()), path);
	return e ? e : err;
}

static const char *captive_open_error(const char *path, int err)
{
	(void)path, (void)err;
	return why;
}

/* Each server is a device of its own. */
static bool captive_same(const struct dev *a, const struct dev *b)
{
	return a->server == b->server;
}

static int captive_extent(const struct dev *dev, uint64_t pos, uint64_t *end, bool *hole)
{
	return nbd_backend.extent(dev, pos, end, hole);
}

static int captive_changed(const struct dev *dev, uint64_t pos, uint64_t *end, bool *changed)
{
	return nbd_backend.changed(dev, pos, end, changed);
}

static int captive_flush(struct dev *dev, struct dmio_client *c)
{
	return nbd_backend.flush(dev, c);
}

static void captive_describe(const struct dev *dev, const char *path, struct ident *id)
{
	nbd_backend.describe(dev, path, id);
}

/* Disconnect, then stop the server. */
static void captive_close(struct dev *dev)
{
	server_check(dev->server);
	nbd_backend.close(dev);
	server_stop(dev->server);
	dev->server = NULL;
}

const struct backend_ops captive_backend = {
	.name = "captive",
	.open = captive_open,
	.opening = "start",
	.open_error = captive_open_error,
	.same = captive_same,
	.extent = captive_extent,
	.changed = captive_changed,
	.flush = captive_flush,
	.describe = captive_describe,
	.close = captive_close,
};
