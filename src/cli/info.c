// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * dmio info: what each spec resolves to.  Sizes come from the open device;
 * TYPE, UUID and LABEL from a libblkid probe of it, where it finds them.
 */
#include <blkid.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void probe(const char *path, struct ident *id)
{
	blkid_probe pr = blkid_new_probe_from_filename(path);
	const char *v;

	*id = (struct ident){ 0 };
	if (!pr)
		return;
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_UUID |
						      BLKID_SUBLKS_LABEL);
	blkid_probe_enable_partitions(pr, 1);
	if (!blkid_do_safeprobe(pr)) {
		if (!blkid_probe_lookup_value(pr, "TYPE", &v, NULL) ||
		    !blkid_probe_lookup_value(pr, "PTTYPE", &v, NULL))
			id->type = strdup(v);
		if (!blkid_probe_lookup_value(pr, "UUID", &v, NULL) ||
		    !blkid_probe_lookup_value(pr, "PTUUID", &v, NULL))
			id->uuid = strdup(v);
		if (!blkid_probe_lookup_value(pr, "LABEL", &v, NULL))
			id->label = strdup(v);
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
		probe(r[i].path, &ids[i]);
	err = report_info(o, r, n, ids);
	for (unsigned int i = 0; i < n; i++)
		free(ids[i].type), free(ids[i].uuid), free(ids[i].label);
	free(ids);
	return err;
}
