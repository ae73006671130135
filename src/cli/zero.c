// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * zero: every chunk writes the same zeroes to every destination still
 * healthy; the buffers are fresh anonymous memory, never written.
 */
#include "job.h"

const struct job_ops zero_ops = {
	.start = job_write,
	.advance = job_writes_done,
	.retire = job_retire_writes,
};
