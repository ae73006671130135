// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * From specs to regions: parse, resolve (libblkid for tags), look at each
 * device read-only, place each region on it, and check every refusal of
 * the contract that the regions themselves decide (sizes, overlaps on
 * what the devices really are); then claim.c opens them.  A refusal names
 * the spec and the reason; nothing has been opened for writing when it
 * happens.
 */
#include <blkid.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "regions/regions.h"

#define TAG_MATCHES_SHOWN 4

static const char *const tags[] = { "UUID", "LABEL", "PARTUUID", "PARTLABEL" };

/* A tag is NAME=value with NAME in capitals; anything else is a path. */
static bool is_tag(const char *dev, size_t *namelen)
{
	size_t i = 0;

	while (dev[i] >= 'A' && dev[i] <= 'Z')
		i++;
	*namelen = i;
	return i && dev[i] == '=';
}

/* How many devices have tag=value, as a probe of every device finds them
 * now (no cache, which may remember devices as they were): the first in
 * *first (allocated), the first few, separated by ", ", in names. */
static unsigned int tag_matches(const char *tag, const char *value, char **first,
				char *names, size_t len)
{
	blkid_cache cache;
	blkid_dev_iterate it;
	blkid_dev dev;
	unsigned int n = 0;
	size_t used = 0;

	*names = 0;
	/* No cache file: what is there now, not what was. */
	if (blkid_get_cache(&cache, "/dev/null") < 0)
		return 0;
	blkid_probe_all(cache);
	it = blkid_dev_iterate_begin(cache);
	blkid_dev_set_search(it, tag, value);
	while (!blkid_dev_next(it, &dev)) {
		if (!blkid_dev_has_tag(dev, tag, value))
			continue;
		if (!n)
			*first = strdup(blkid_dev_devname(dev));
		if (n++ < TAG_MATCHES_SHOWN && used < len)
			used += (size_t)snprintf(names + used, len - used, "%s%s", n > 1 ? ", " : "",
						 blkid_dev_devname(dev));
	}
	blkid_dev_iterate_end(it);
	blkid_put_cache(cache);
	return n;
}

/* The path r names, in r->path: 0 or -errno, said why.  A tag that several
 * devices have is refused where it would be written, and read only with
 * --force. */
static int resolve(const struct opts *o, struct region *r)
{
	const char *dev = r->spec.device;
	char names[512];
	size_t n;
	unsigned int m;

	/* A server's command as shown, without its :START+COUNT. */
	if (r->spec.argv)
		r->path = strndup(r->text, strlen(r->text) - (r->arg->range
							    ? strlen(r->arg->range) + 1 : 0));
	else if (r->spec.stdio)
		r->path = strdup(r->role == ROLE_SOURCE ? "stdin" : "stdout");
	if (r->spec.argv || r->spec.stdio)
		return r->path ? 0 : -ENOMEM;
	if (!is_tag(dev, &n)) {
		r->path = r->spec.nbd ? spec_redact(dev) : strdup(dev);
		return r->path ? 0 : -ENOMEM;
	}
	for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
		if (strlen(tags[i]) != n || strncmp(dev, tags[i], n))
			continue;
		if (!dev[n + 1]) {
			warnmsg("%s: %s has no value", r->text, tags[i]);
			return -EINVAL;
		}
		m = tag_matches(tags[i], dev + n + 1, &r->path, names, sizeof(names));
		if (!m) {
			warnmsg("%s: no device has %s", r->text, dev);
			return -ENOENT;
		}
		if (!r->path)
			return -ENOMEM;
		if (m > 1 && (region_writes(o, r) || !o->force)) {
			warnmsg("%s: %u devices have %s (%s%s): name one by its path%s", r->text,
				m, dev, names, m > TAG_MATCHES_SHOWN ? ", ..." : "",
				region_writes(o, r) ? "" : " (or --force to read the first)");
			return -EINVAL;
		}
		return 0;
	}
	warnmsg("%s: unknown tag '%.*s' (use UUID, LABEL, PARTUUID or PARTLABEL)",
		r->text, (int)n, dev);
	return -EINVAL;
}

/* How long r is when no COUNT says: to the end of its device, or the
 * source's; 0 and said why when that is nothing. */
static uint64_t default_count(const struct region *r, const struct region *src)
{
	uint64_t sectors = r->dev.size >> DMIO_SECTOR_SHIFT;

	/* A stream source is as long as the destinations it fills. */
	if (r->role == ROLE_DEST && src && !src->dev.caps.stream)
		return src->count;
	if (r->sector < sectors)
		return sectors - r->sector;
	if (!sectors)
		warnmsg("%s: %s holds %llu bytes, less than a sector", r->text, r->path,
			(unsigned long long)r->dev.size);
	else
		warnmsg("%s: starts %s the end of %s (%llu sectors)", r->text,
			r->sector == sectors ? "at" : "past", r->path, (unsigned long long)sectors);
	return 0;
}

/* Where the region lies on its device, and whether it fits: 0 or -EINVAL. */
static int place(const struct opts *o, struct region *r, const struct region *src)
{
	uint64_t sectors = r->dev.size >> DMIO_SECTOR_SHIFT, a = r->dev.dio_align;
	uint64_t tail = r->dev.size & (DMIO_SECTOR_SIZE - 1);
	bool aligned;

	r->sector = r->spec.start;
	r->count = r->spec.has_count ? r->spec.count : default_count(r, src);
	if (!r->count) {
		if (r->spec.has_count)
			warnmsg("%s: empty region", r->text);
		return -EINVAL;
	}
	if (r->sector > sectors || r->count > sectors - r->sector) {
		warnmsg("%s: region ends past the end of %s (%llu sectors)", r->text,
			r->path, (unsigned long long)sectors);
		return -EINVAL;
	}
	if (src && r->role == ROLE_DEST && r->count != src->count && !src->dev.caps.stream) {
		warnmsg("%s: %llu sectors, but the source has %llu", r->text,
			(unsigned long long)r->count, (unsigned long long)src->count);
		return -EINVAL;
	}
	if (tail && r->sector + r->count == sectors && o->op != OP_INFO)
		warnmsg("%s: the last %llu bytes of %s are less than a sector and left out",
			r->text, (unsigned long long)tail, r->path);
	/* O_DIRECT: where the region (and every chunk) is aligned, or never;
	 * a device that cannot do without aligned requests always is. */
	if (!r->dev.caps.direct)
		a = r->dev.caps.min_io;
	aligned = !((r->sector << 9) % a) && !((r->count << 9) % a) && !(o->chunk % a);
	if (!r->dev.caps.direct && !aligned) {
		warnmsg("%s: not aligned to the %llu-byte minimum block of %s", r->text,
			(unsigned long long)a, r->path);
		return -EINVAL;
	}
	if (!r->dev.caps.direct)
		return 0;
	if (o->direct == DIRECT_ON && !aligned) {
		warnmsg("%s: not aligned to the %llu-byte blocks that --direct needs on %s",
			r->text, (unsigned long long)a, r->path);
		return -EINVAL;
	}
	r->dev.direct = o->direct != DIRECT_OFF && aligned;
	return 0;
}

/* Whether r is an image file whose bytes are not the disk it holds, and
 * that is not what is meant: said so. */
static bool image_file(const struct opts *o, const struct region *r)
{
	if (!r->dev.format || o->raw)
		return false;
	warnmsg("%s: a %s image file: its bytes are not the disk it holds (that is "
		"[ qemu-nbd -f %s %s ]; --raw if the bytes are meant)", r->text, r->dev.format,
		r->dev.format, r->path);
	return true;
}

/* Parse, resolve, look at (read-only) and place region r: 0 or -errno. */
static int look(const struct opts *o, struct region *r, const struct region *src)
{
	const char *given = r->text, *err;
	int e;

	/* Hide a URI's password before any message could show it. */
	if (spec_nbd_scheme(given)) {
		r->text = r->shown = spec_redact(given);
		if (!r->shown)
			return -ENOMEM;
	}
	if (r->arg && r->arg->argv)
		err = spec_captive(r->arg->argv, r->arg->range, &r->spec);
	else
		err = spec_parse(given, &r->spec);
	if (err) {
		const struct spec *sp = &r->spec;

		if (sp->bad_part)
			warnmsg("%s: invalid %s '%.*s': %s", r->text, sp->bad_part,
				(int)sp->bad_len, sp->bad, err);
		else
			warnmsg("%s: invalid region: %s", r->text, err);
		return -EINVAL;
	}
	e = resolve(o, r);
	if (e)
		return e;
	e = region_open(o, r, 0);
	if (e && e != -EINTR) /* a stop signal: said */
		region_open_failed(r, e, false);
	if (e)
		return e;
	if (image_file(o, r)) {
		r->dev.ops->close(&r->dev);
		return -EINVAL;
	}
	/* An export stays connected (a server may serve one client only, as
	 * qemu-nbd does, and stop when it leaves); a file or device is
	 * opened again when every region was looked at. */
	if (!r->dev.caps.remote)
		r->dev.ops->close(&r->dev);
	return place(o, r, src);
}

/* Destinations that a write (or a copy from "-") fills from one input
 * must have one length, unless each says its own; the input is as long as
 * they are, at most. */
static int check_lengths(const struct opts *o, struct region *r, unsigned int n)
{
	unsigned int d = o->shape.source; /* the first destination */

	if (!o->shape.input)
		return 0;
	for (unsigned int i = d + 1; i < n; i++)
		if (r[i].count != r[d].count && !(r[i].spec.has_count && r[d].spec.has_count)) {
			warnmsg("%s: %llu sectors, but %s has %llu: the mirrors would differ "
				"(give each a COUNT to write them anyway)", r[i].text,
				(unsigned long long)r[i].count, r[d].text,
				(unsigned long long)r[d].count);
			return -EINVAL;
		}
	if (!d)
		return 0;
	r[0].count = 0; /* the longest destination */
	for (unsigned int i = d; i < n; i++)
		if (r[i].count > r[0].count)
			r[0].count = r[i].count;
	return 0;
}

/* zero --discard: only where what is discarded reads back as zeroes (a
 * file, a loop device over one), or with --force. */
static int check_discard(const struct opts *o, struct region *r, unsigned int n)
{
	for (unsigned int i = 0; o->discard && !o->force && i < n; i++)
		if (!r[i].dev.caps.discard_zeroes) {
			warnmsg("%s: what a discard leaves on %s need not read as zeroes "
				"(--force discards anyway; without --discard, zero writes zeroes)",
				r[i].text, r[i].path);
			return -EINVAL;
		}
	return 0;
}

/* No region that is written may overlap another region, on what their
 * devices really are (a partition and its disk, a loop device and its
 * file). */
static int check_overlaps(const struct opts *o, struct region *r, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		for (unsigned int j = 0; j < i; j++) {
			const struct region *a = &r[i], *b = &r[j];

			if ((!region_writes(o, a) && !region_writes(o, b)) ||
			    !extents_overlap(&a->dev.ext, a->sector << 9, a->count << 9,
					     &b->dev.ext, b->sector << 9, b->count << 9))
				continue;
			if (!strcmp(a->path, b->path) && a->sector == b->sector &&
			    a->count == b->count)
				warnmsg("%s: the same region as %s", a->text, b->text);
			else
				warnmsg("%s: overlaps %s (%s and %s share sectors)", a->text,
					b->text, a->path, b->path);
			return -EINVAL;
		}
	return 0;
}

/* TLS options are for nbds:// and nbds+unix:// regions. */
static int check_tls(const struct opts *o, const struct region *r, unsigned int n)
{
	if (!o->tls_psk && !o->tls_certificates)
		return 0;
	for (unsigned int i = 0; i < n; i++)
		if (r[i].spec.nbd && !strncmp(r[i].spec.device, "nbds", 4))
			return 0;
	warnmsg("%s: no region is an nbds:// or nbds+unix:// URI",
		o->tls_psk ? "--tls-psk" : "--tls-certificates");
	return -EINVAL;
}

/* --dirty-bitmap: the source must say what changed. */
static int check_changes(const struct opts *o, const struct region *r)
{
	if (!o->dirty_bitmap || r->dev.caps.changes)
		return 0;
	warnmsg("%s: --dirty-bitmap needs an NBD export as the source (serve the image "
		"with qemu-nbd -B %s)", r->text, o->dirty_bitmap);
	return -EINVAL;
}

/* A source that is mounted read-write may change while it is read. */
static void warn_mounted(const struct opts *o, const struct region *r, unsigned int n)
{
	char where[4096];

	for (unsigned int i = 0; i < n; i++)
		if (r[i].role == ROLE_SOURCE && o->op != OP_INFO &&
		    dev_mounted(&r[i].dev, where, sizeof(where)) == 2)
			warnmsg("%s: %s is mounted read-write on %s: what is read may change "
				"as it is read (see CONSISTENT COPIES in dmio(1))", r[i].text,
				r[i].path, where);
}

int regions_prepare(const struct opts *o, struct region *r, unsigned int n)
{
	int e;

	for (unsigned int i = 0; i < n; i++)
		r[i].dev.fd = -1;
	/* A destination's count is the source's, where there is one. */
	for (unsigned int i = 0; i < n; i++) {
		e = look(o, &r[i], i && o->shape.source ? &r[0] : NULL);
		if (e)
			return e;
	}
	e = check_tls(o, r, n);
	if (!e)
		e = check_changes(o, &r[0]);
	if (!e)
		e = check_lengths(o, r, n);
	if (!e)
		e = check_discard(o, r, n);
	if (!e)
		e = check_overlaps(o, r, n);
	if (!e)
		e = regions_open(o, r, n);
	if (!e)
		warn_mounted(o, r, n);
	return e;
}

void region_fail(struct region *r, uint64_t sector, int err, const char *what)
{
	char buf[256];

	if (r->status == ST_ERROR)
		return;
	r->status = ST_ERROR;
	r->bad_sector = sector;
	if (err == ENODATA)
		snprintf(buf, sizeof(buf), "%s%sthe %s ends", what ? what : "", what ? ": " : "",
			 r->dev.kind);
	else
		snprintf(buf, sizeof(buf), "%s%s%s", what ? what : "", what ? ": " : "",
			 strerror(err));
	free(r->error);
	r->error = strdup(buf);
}

unsigned long error_bits(const struct region *d, unsigned int n)
{
	unsigned long bits = 0;

	for (unsigned int i = 0; i < n; i++)
		if (d[i].status == ST_ERROR)
			bits |= 1UL << i;
	return bits;
}

bool region_hole(struct region *r, uint64_t first, uint64_t len)
{
	uint64_t end;
	bool hole;

	if (!r->dev.caps.extents)
		return false;
	/* A run of data is asked for once (a tmpfs file's SEEK_HOLE walks its
	 * pages to the hole, which made a verify of 1 GiB files quadratic).
	 * Calling it data stays safe: data the job writes stays data, and a
	 * hole it punches in the run reads as the zeroes it is.  A hole is
	 * asked for each time, as a write may have filled it. */
	if (first >= r->data_first && first + len <= r->data_end)
		return false;
	if (r->dev.ops->extent(&r->dev, first << DMIO_SECTOR_SHIFT, &end, &hole))
		return false;
	if (!hole) {
		r->data_first = first;
		r->data_end = end >> DMIO_SECTOR_SHIFT;
		return false;
	}
	return end >= (first + len) << DMIO_SECTOR_SHIFT;
}

void ident_free(struct ident *id)
{
	free(id->type), free(id->uuid), free(id->label), free(id->ptuuid);
	free(id->partuuid), free(id->partlabel), free(id->mountpoint), free(id->holder);
	free(id->features);
	free(id->contexts);
}
