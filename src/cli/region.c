// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * From specs to open regions: parse, resolve (libblkid for tags), look at
 * each device read-only, check every refusal of the contract, and only then
 * open for writing.  A refusal names the spec and the reason; nothing has
 * been opened for writing when it happens.
 */
#include <blkid.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

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

/* The path r names, in r->path: 0 or -errno, said why. */
static int resolve(struct region *r)
{
	const char *dev = r->spec.device;
	size_t n;

	if (!is_tag(dev, &n)) {
		r->path = strdup(dev);
		return r->path ? 0 : -ENOMEM;
	}
	for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++)
		if (strlen(tags[i]) == n && !strncmp(dev, tags[i], n)) {
			if (!dev[n + 1]) {
				warnmsg("%s: %s has no value", r->text, tags[i]);
				return -EINVAL;
			}
			r->path = blkid_evaluate_spec(dev, NULL);
			if (!r->path) {
				warnmsg("%s: no device has %s", r->text, dev);
				return -ENOENT;
			}
			return 0;
		}
	warnmsg("%s: unknown tag '%.*s' (use UUID, LABEL, PARTUUID or PARTLABEL)",
		r->text, (int)n, dev);
	return -EINVAL;
}

static const char *open_error(int err)
{
	if (err == -ENOTBLK)
		return "not a block device or regular file";
	if (err == -EBUSY)
		return "device is in use (mounted or held open exclusively); --force overrides";
	return strerror(-err);
}

static bool same_dev(const struct dev *a, const struct dev *b)
{
	return a->is_blk == b->is_blk && a->id_dev == b->id_dev &&
	       a->id_ino == b->id_ino;
}

static bool overlaps(const struct region *a, const struct region *b)
{
	return same_dev(&a->dev, &b->dev) && a->sector < b->sector + b->count &&
	       b->sector < a->sector + a->count;
}

/* Where the region lies on its device, and whether it fits: 0 or -EINVAL. */
static int place(const struct opts *o, struct region *r, const struct region *src)
{
	uint64_t sectors = r->dev.size >> DMIO_SECTOR_SHIFT;

	r->sector = r->spec.start;
	if (r->spec.has_count)
		r->count = r->spec.count;
	else if (r->role == ROLE_DEST && src)
		r->count = src->count;
	else if (r->sector < sectors)
		r->count = sectors - r->sector;
	else
		r->count = 0;
	if (!r->count) {
		warnmsg("%s: empty region: the device has %llu sectors", r->text,
			(unsigned long long)sectors);
		return -EINVAL;
	}
	if (r->sector > sectors || r->count > sectors - r->sector) {
		warnmsg("%s: region ends past the end of %s (%llu sectors)", r->text,
			r->path, (unsigned long long)sectors);
		return -EINVAL;
	}
	if (src && r->role == ROLE_DEST && r->count != src->count) {
		warnmsg("%s: %llu sectors, but the source has %llu", r->text,
			(unsigned long long)r->count, (unsigned long long)src->count);
		return -EINVAL;
	}
	/* O_DIRECT: where the region (and every chunk) is aligned, or never. */
	{
		uint64_t a = r->dev.dio_align;
		bool aligned = !((r->sector << 9) % a) && !((r->count << 9) % a) &&
			       !(o->chunk % a);

		if (o->direct == DIRECT_ON && !aligned) {
			warnmsg("%s: not aligned to the %llu-byte blocks that --direct needs on %s",
				r->text, (unsigned long long)a, r->path);
			return -EINVAL;
		}
		r->dev.direct = o->direct != DIRECT_OFF && aligned;
	}
	return 0;
}

static bool writes(const struct opts *o, const struct region *r)
{
	return r->role == ROLE_DEST && o->op != OP_VERIFY;
}

/* Open for the job; identity must not have changed since the lookup:
 * 0 or -errno. */
static int reopen(const struct opts *o, struct region *r)
{
	struct dev probe = r->dev;
	bool write = writes(o, r) && !o->dry_run;
	bool excl = writes(o, r) && !o->force;
	int err;

	err = file_backend.open(&r->dev, r->path, write, excl, probe.direct);
	if (err == -EINVAL && probe.direct && o->direct == DIRECT_AUTO)
		err = file_backend.open(&r->dev, r->path, write, excl, false);
	if (err) {
		r->dev = probe;
		r->dev.fd = -1;
		warnmsg("%s: %s: cannot open%s: %s", r->text, r->path,
			write ? " for writing" : "", open_error(err));
		return err;
	}
	if (!same_dev(&probe, &r->dev) || probe.size != r->dev.size) {
		warnmsg("%s: %s changed between lookup and open", r->text, r->path);
		return -EINVAL;
	}
	return 0;
}

/* Parse, resolve, look at (read-only) and place region r: 0 or -errno. */
static int look(const struct opts *o, struct region *r, const struct region *src)
{
	const char *err = spec_parse(r->text, &r->spec);
	int e;

	if (err) {
		const struct spec *sp = &r->spec;

		if (sp->bad_part)
			warnmsg("%s: invalid %s '%.*s': %s", r->text, sp->bad_part,
				(int)sp->bad_len, sp->bad, err);
		else
			warnmsg("%s: invalid region: %s", r->text, err);
		return -EINVAL;
	}
	e = resolve(r);
	if (e)
		return e;
	e = file_backend.open(&r->dev, r->path, false, false, false);
	if (e) {
		warnmsg("%s: %s: cannot open: %s", r->text, r->path, open_error(e));
		return e;
	}
	file_backend.close(&r->dev);
	return place(o, r, src);
}

int regions_prepare(const struct opts *o, struct region *r, unsigned int n)
{
	bool has_src = o->op == OP_COPY || o->op == OP_VERIFY;
	int e;

	for (unsigned int i = 0; i < n; i++)
		r[i].dev.fd = -1;
	for (unsigned int i = 0; i < n; i++) {
		e = look(o, &r[i], i && has_src ? &r[0] : NULL);
		if (e)
			return e;
	}
	if (o->op == OP_COPY || o->op == OP_WRITE || o->op == OP_ZERO)
		for (unsigned int i = 0; i < n; i++)
			for (unsigned int j = 0; j < i; j++)
				if (overlaps(&r[i], &r[j])) {
					warnmsg("%s: overlaps %s on %s", r[i].text, r[j].text,
						r[i].path);
					return -EINVAL;
				}
	/* Read-only opens first, so that a refusal leaves no write open. */
	for (int pass = 0; pass < 2; pass++)
		for (unsigned int i = 0; i < n; i++) {
			if (writes(o, &r[i]) != pass)
				continue;
			e = reopen(o, &r[i]);
			if (e) {
				regions_close(r, n);
				return e;
			}
		}
	return 0;
}

void regions_close(struct region *r, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		if (r[i].dev.fd >= 0)
			file_backend.close(&r[i].dev);
}

void region_fail(struct region *r, uint64_t sector, int err, const char *what)
{
	char buf[256];

	if (r->status == ST_ERROR)
		return;
	r->status = ST_ERROR;
	r->bad_sector = sector;
	snprintf(buf, sizeof(buf), "%s%s%s", what ? what : "", what ? ": " : "",
		 strerror(err));
	free(r->error);
	r->error = strdup(buf);
}
