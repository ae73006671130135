// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * zero: every chunk is zeroes, written to every destination still healthy
 * as suits it (job_write): write-zeroes (a file keeps its holes, a device
 * gets BLKZEROOUT), a discard with --discard, or data with --no-sparse and
 * where write-zeroes cannot be done.
 */
#include "jobs/jobs.h"

static void zero_start(struct job *j, struct slot *s)
{
	s->zero = s->unread = true;
	job_write(j, s, ~0UL);
}

const struct job_ops zero_ops = {
	.large_zeroes = true,
	.start = zero_start,
	.advance = job_writes_done,
	.retire = job_retire_writes,
};
