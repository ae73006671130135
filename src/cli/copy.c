// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * copy: each chunk is read from the source once, then that same buffer is
 * written to every destination still healthy in one dm-io call (a mirror,
 * dm-kcopyd's run_io_job).  A chunk writes only after every chunk before it
 * was read (job.h), so a source read error stops the copy at its sector.
 */
#include "job.h"

static void copy_start(struct job *j, struct slot *s)
{
	job_read(j, s, j->src, 0);
}

static void copy_advance(struct job *j, struct slot *s)
{
	if (!s->wrote && job_source_ok(j, s))
		job_write(j, s);
	else
		slot_finish(s);
}

const struct job_ops copy_ops = {
	.start = copy_start,
	.advance = copy_advance,
	.retire = job_retire_writes,
};
