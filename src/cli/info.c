// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * dmio info: what each spec resolves to.  Sizes and read-only come from the
 * open device; TYPE, UUID and LABEL (a filesystem's), PTUUID (a disk's
 * partition table), PARTUUID and PARTLABEL (a partition's entry) from a
 * libblkid probe of it, where it finds them; mounts and holders from the
 * system (sysdev.c); an NBD export's block sizes and features from its
 * server.
 */
#include <blkid.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static char *value(blkid_probe pr, const char *name)
{
	const char *v;

	return blkid_probe_lookup_value(pr, name, &v, NULL) ? NULL : strdup(v);
}

/* What the server says of an export and can do with it. */
static void describe_nbd(const struct region *r, struct ident *id)
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

	if (dmio_nbd_info(r->dev.fd, &info))
		return;
	for (size_t i = 0; i < sizeof(features) / sizeof(features[0]); i++)
		if (info.flags & features[i].flag)
			used += (size_t)snprintf(buf + used, sizeof(buf) - used, "%s%s",
						 used ? "," : "", features[i].name);
	id->features = strdup(buf);
	id->min_io = info.min_block;
	id->opt_io = info.preferred_block;
	id->max_io = info.max_block;
}

static void probe(const struct region *r, struct ident *id)
{
	blkid_probe pr;
	char buf[4096];

	*id = (struct ident){ 0 };
	if (r->dev.is_nbd) {
		describe_nbd(r, id);
		return;
	}
	pr = blkid_new_probe_from_filename(r->path);
	if (r->dev.is_blk && dev_mounted(r->dev.id_dev, buf, sizeof(buf)))
		id->mountpoint = strdup(buf);
	if (r->dev.is_blk && dev_held(r->dev.id_dev, buf, sizeof(buf)))
		id->holder = strdup(buf);
	if (!pr)
		return;
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_UUID |
						      BLKID_SUBLKS_LABEL);
	blkid_probe_enable_partitions(pr, 1);
	blkid_probe_set_partitions_flags(pr, BLKID_PARTS_ENTRY_DETAILS);
	if (!blkid_do_safeprobe(pr)) {
		id->type = value(pr, "TYPE");
		if (!id->type)
			id->type = value(pr, "PTTYPE");
		id->uuid = value(pr, "UUID");
		id->label = value(pr, "LABEL");
		id->ptuuid = value(pr, "PTUUID");
		id->partuuid = value(pr, "PART_ENTRY_UUID");
		id->partlabel = value(pr, "PART_ENTRY_NAME");
	}
	blkid_free_probe(pr);
}

int info_run(const struct opts *o, struct region *r, unsigned int n)
{
	struct ident *ids = calloc(n, sizeof(*ids));
	int err;

	if (!ids)
		return -ENOMEM;
	for (unsigned int i = 0; i < n; i++)
		probe(&r[i], &ids[i]);
	err = report_info(o, r, n, ids);
	for (unsigned int i = 0; i < n; i++) {
		struct ident *id = &ids[i];

		free(id->type), free(id->uuid), free(id->label), free(id->ptuuid);
		free(id->partuuid), free(id->partlabel), free(id->mountpoint), free(id->holder);
		free(id->features);
	}
	free(ids);
	return err;
}
