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

static bool resolve(struct region *r)
{
	const char *dev = r->spec.device;
	size_t n;

	if (!is_tag(dev, &n)) {
		r->path = strdup(dev);
		return true;
	}
	for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++)
		if (strlen(tags[i]) == n && !strncmp(dev, tags[i], n)) {
			if (!dev[n + 1]) {
				warnx("%s: %s has no value", r->text, tags[i]);
				return false;
			}
			r->path = blkid_evaluate_spec(dev, NULL);
			if (!r->path)
				warnx("%s: no device has %s", r->text, dev);
			return r->path != NULL;
		}
	warnx("%s: unknown tag '%.*s' (use UUID, LABEL, PARTUUID or PARTLABEL)",
	      r->text, (int)n, dev);
	return false;
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

/* Where the region lies on its device, and whether it fits. */
static bool place(const struct opts *o, struct region *r, const struct region *src)
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
		warnx("%s: empty region: the device has %llu sectors", r->text,
		      (unsigned long long)sectors);
		return false;
	}
	if (r->sector > sectors || r->count > sectors - r->sector) {
		warnx("%s: region ends past the end of %s (%llu sectors)", r->text,
		      r->path, (unsigned long long)sectors);
		return false;
	}
	if (src && r->role == ROLE_DEST && r->count != src->count) {
		warnx("%s: %llu sectors, but the source has %llu", r->text,
		      (unsigned long long)r->count, (unsigned long long)src->count);
		return false;
	}
	/* O_DIRECT: where the region (and every chunk) is aligned, or never. */
	{
		uint64_t a = r->dev.dio_align;
		bool aligned = !((r->sector << 9) % a) && !((r->count << 9) % a) &&
			       !(o->chunk % a);

		if (o->direct == DIRECT_ON && !aligned) {
			warnx("%s: not aligned to the %llu-byte blocks that --direct needs on %s",
			      r->text, (unsigned long long)a, r->path);
			return false;
		}
		r->dev.direct = o->direct != DIRECT_OFF && aligned;
	}
	return true;
}

static bool writes(const struct opts *o, const struct region *r)
{
	return r->role == ROLE_DEST && o->op != OP_VERIFY;
}

/* Open for the job; identity must not have changed since the lookup. */
static bool reopen(const struct opts *o, struct region *r)
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
		warnx("%s: %s: cannot open%s: %s", r->text, r->path,
		      write ? " for writing" : "", open_error(err));
		return false;
	}
	if (!same_dev(&probe, &r->dev) || probe.size != r->dev.size) {
		warnx("%s: %s changed between lookup and open", r->text, r->path);
		return false;
	}
	return true;
}

bool regions_prepare(const struct opts *o, struct region *r, unsigned int n)
{
	bool has_src = o->op == OP_COPY || o->op == OP_VERIFY;
	struct region *src = has_src ? &r[0] : NULL;
	unsigned int opened = 0;

	for (unsigned int i = 0; i < n; i++)
		r[i].dev.fd = -1;
	for (unsigned int i = 0; i < n; i++) {
		const char *err = spec_parse(r[i].text, &r[i].spec);
		int e;

		if (err) {
			const struct spec *sp = &r[i].spec;

			if (sp->bad_part)
				warnx("%s: invalid %s '%.*s': %s", r[i].text, sp->bad_part,
				      (int)sp->bad_len, sp->bad, err);
			else
				warnx("%s: invalid region: %s", r[i].text, err);
			return false;
		}
		if (!resolve(&r[i]))
			return false;
		/* A first look, read-only. */
		e = file_backend.open(&r[i].dev, r[i].path, false, false, false);
		if (e) {
			warnx("%s: %s: cannot open: %s", r[i].text, r[i].path, open_error(e));
			return false;
		}
		file_backend.close(&r[i].dev);
		if (!place(o, &r[i], i ? src : NULL))
			return false;
	}
	if (o->op == OP_COPY || o->op == OP_WRITE || o->op == OP_ZERO)
		for (unsigned int i = 0; i < n; i++)
			for (unsigned int j = 0; j < i; j++)
				if (overlaps(&r[i], &r[j])) {
					warnx("%s: overlaps %s on %s", r[i].text, r[j].text,
					      r[i].path);
					return false;
				}
	/* Read-only opens first, so that a refusal leaves no write open. */
	for (int pass = 0; pass < 2; pass++)
		for (unsigned int i = 0; i < n; i++) {
			if (writes(o, &r[i]) != pass)
				continue;
			if (!reopen(o, &r[i])) {
				regions_close(r, n);
				return false;
			}
			opened++;
		}
	return opened == n;
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
