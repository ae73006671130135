// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Opening the regions' devices, each with its backend (a file or block
 * device, an NBD export); for the job, each device once, whatever
 * number of regions name it (one fd, claimed once), devices that are only
 * read first, so that a refusal leaves nothing open for writing.  A device
 * that is written is claimed (a block device with O_EXCL, a file with
 * flock) unless --force, and refused when it is read-only.  --dry-run makes
 * the same checks without opening anything for writing.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "base/base.h"
#include "regions/regions.h"

#define BUSY_WAIT 3.0		/* seconds an unclaimed, busy device is waited for */
#define BUSY_STEP 100000000L	/* nanoseconds between tries */

bool region_writes(const struct opts *o, const struct region *r)
{
	return r->role == ROLE_DEST && o->shape.writes;
}

/* The backend of the device r's spec names. */
static const struct backend_ops *backend_of(const struct region *r)
{
	if (r->spec.argv)
		return &captive_backend;
	if (r->spec.nbd)
		return &nbd_backend;
	if (r->spec.stdio)
		return &stream_backend;
	return r->spec.discard ? &null_backend : &file_backend;
}

int region_open(const struct opts *o, struct region *r, unsigned int how)
{
	if (o->dirty_bitmap && r->role == ROLE_SOURCE && o->shape.source)
		how |= OPEN_CHANGES;
	/* The spec has a URI as given, password and all; the path shown
	 * hides it. */
	return backend_of(r)->open(&r->dev, &r->spec, r->path, o, how);
}

/* Whether r's path says more than its spec (a tag, a URI's :START+COUNT;
 * not a server's command, which the spec shows): then messages name both. */
static bool path_says_more(const struct region *r)
{
	return r->path && strcmp(r->text, r->path) && !r->spec.argv;
}

#define NAMED(r) (r)->text, path_says_more(r) ? ": " : "", path_says_more(r) ? (r)->path : ""

void region_open_failed(const struct region *r, int err, bool write)
{
	const struct backend_ops *b = backend_of(r);

	warnmsg("%s%s%s: cannot %s%s: %s", NAMED(r), b->opening, write ? " for writing" : "",
		b->open_error(r->path, err));
}

static bool same_dev(const struct dev *a, const struct dev *b)
{
	return a->ops == b->ops && a->ops->same(a, b);
}

/* The first region on r[i]'s device. */
static unsigned int leader(const struct region *r, unsigned int i)
{
	for (unsigned int j = 0; j < i; j++)
		if (same_dev(&r[j].dev, &r[i].dev))
			return j;
	return i;
}

/* Whether r[i]'s device is a partition of a disk that a region names too:
 * the disk is claimed, and that covers the partition (the kernel lets no
 * one else claim it, and would not let us claim both). */
static bool disk_named(const struct region *r, unsigned int n, unsigned int i)
{
	for (unsigned int k = 0; k < n; k++)
		if (dev_partition_of(&r[i].dev, &r[k].dev))
			return true;
	return false;
}

/* Whether any region on r[i]'s device is written; all of them aligned for
 * O_DIRECT. */
static void device_needs(const struct opts *o, const struct region *r, unsigned int n,
			 unsigned int i, bool *written, bool *direct)
{
	*written = false;
	*direct = true;
	for (unsigned int k = i; k < n; k++)
		if (same_dev(&r[k].dev, &r[i].dev)) {
			*written |= region_writes(o, &r[k]);
			*direct &= r[k].dev.direct;
		}
}

/*
 * A device that its claim finds busy though nothing keeps it was most
 * likely let go a moment ago: a killed writer's requests still finishing
 * (the kernel holds the file, and with it a file's flock, until they
 * end; io_uring's may end after the process).  A block device mounted or
 * held is refused at once; otherwise try again for a while.
 */
static int open_busy(const struct opts *o, struct region *r, unsigned int how,
		     enum claim claim)
{
	char who[4096];
	double until = now_seconds() + BUSY_WAIT;
	const char *what = claim == CLAIM_EXCL ? "held open exclusively" : "locked by another writer";
	int err = -EBUSY;

	if (claim == CLAIM_EXCL && dev_mounted(&r->dev, who, sizeof(who))) {
		warnmsg("%s%s%s: in use: mounted on %s; --force overrides", NAMED(r), who);
		return -EBUSY;
	}
	if (claim == CLAIM_EXCL && dev_held(&r->dev, who, sizeof(who))) {
		warnmsg("%s%s%s: in use: held by %s; --force overrides", NAMED(r), who);
		return -EBUSY;
	}
	if (o->verbose)
		warnmsg("%s%s%s: %s: trying again for %.0f s", NAMED(r),
			claim == CLAIM_EXCL ? "busy, but neither mounted nor held"
					    : "locked, perhaps by a killed writer's last requests",
			BUSY_WAIT);
	while (err == -EBUSY && now_seconds() < until && !signal_stop()) {
		nanosleep(&(struct timespec){ 0, BUSY_STEP }, NULL);
		err = region_open(o, r, how);
	}
	if (err == -EBUSY && signal_stop()) {
		warnmsg("interrupted by %s while waiting for %s", strsignal(signal_stop()), r->path);
		return -EINTR;
	}
	if (err == -EBUSY)
		warnmsg("%s%s%s: in use (%s); --force overrides", NAMED(r), what);
	return err;
}

static int read_only(const struct region *r, bool written)
{
	if (!written || !r->dev.read_only)
		return 0;
	warnmsg("%s: %s is read-only", r->text, r->path);
	return -EROFS;
}

/* Open the device of r, which the regions after it may share: 0 or -errno,
 * said why.  Its identity must not have changed since the lookup. */
static int open_device(const struct opts *o, struct region *r, bool written, bool direct,
		       bool claim)
{
	struct dev probe = r->dev;
	bool write = written && !o->dry_run, excl = written && !o->force && claim;
	unsigned int how = (write ? OPEN_WRITE : 0) | (excl ? OPEN_EXCL : 0);
	int err;

	if (r->dev.caps.remote) /* connected when looked at; claimed by nobody */
		return read_only(r, written);
	err = region_open(o, r, how | (direct ? OPEN_DIRECT : 0));
	if (err == -EINVAL && direct && o->direct == DIRECT_AUTO)
		err = region_open(o, r, how);
	else
		how |= direct ? OPEN_DIRECT : 0;
	if (err == -EBUSY && excl)
		err = open_busy(o, r, how, probe.caps.claim);
	else if (err)
		region_open_failed(r, err, write);
	if (err) {
		r->dev = probe;
		r->dev.fd = -1;
		return err;
	}
	if (!same_dev(&probe, &r->dev) || probe.size != r->dev.size) {
		warnmsg("%s: %s changed between lookup and open", r->text, r->path);
		return -EINVAL;
	}
	return read_only(r, written);
}

int regions_open(const struct opts *o, struct region *r, unsigned int n)
{
	/* Devices that are only read first. */
	for (int pass = 0; pass < 2; pass++)
		for (unsigned int i = 0; i < n; i++) {
			bool written, direct;
			unsigned int l = leader(r, i);
			int err;

			device_needs(o, r, n, l, &written, &direct);
			if (written != pass)
				continue;
			if (l == i) {
				err = open_device(o, &r[i], written, direct,
						  !disk_named(r, n, i));
				if (err) {
					regions_close(r, n);
					return err;
				}
			} else {
				if (r[i].dev.caps.remote) /* connected to once is enough */
					r[i].dev.ops->close(&r[i].dev);
				r[i].dev = r[l].dev;
				r[i].dev.shared = true;
			}
		}
	return 0;
}

void regions_close(struct region *r, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		if (r[i].dev.fd >= 0 && !r[i].dev.shared)
			r[i].dev.ops->close(&r[i].dev);
		r[i].dev.fd = -1;
	}
}
