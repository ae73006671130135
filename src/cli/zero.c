// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * zero: every chunk writes the same zeroes to every destination still
 * healthy; the buffers are fresh anonymous memory, never written.
 */
#include "job.h"

static void zero_start(struct job *j, struct slot *s)
{
	job_write(j, s);
}

static void zero_advance(struct job *j, struct slot *s)
{
	(void)j;
	slot_finish(s);
}

const struct job_ops zero_ops = {
	.start = zero_start,
	.advance = zero_advance,
	.retire = job_retire_writes,
};
