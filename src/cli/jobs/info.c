// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * dmio info: what each spec resolves to.  Sizes and read-only come from the
 * open device; the rest from its backend (a libblkid probe and the system
 * for a file or block device, the server for an NBD export).
 */
#include <errno.h>
#include <stdlib.h>

#include "jobs/jobs.h"
#include "output/output.h"

int info_run(const struct opts *o, struct region *r, unsigned int n)
{
	struct ident *ids = calloc(n, sizeof(*ids));
	int err;

	if (!ids)
		return -ENOMEM;
	for (unsigned int i = 0; i < n; i++)
		r[i].dev.ops->describe(&r[i].dev, r[i].path, &ids[i]);
	err = report_info(o, r, n, ids);
	for (unsigned int i = 0; i < n; i++)
		ident_free(&ids[i]);
	free(ids);
	return err;
}
