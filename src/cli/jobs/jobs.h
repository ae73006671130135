/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Jobs: a command run over its regions, from start to end (job.c), by a
 * job kind (copy.c, verify.c, readback.c, stream.c, zero.c) on the
 * pipeline (pipeline/), with the features that are on (features/); and
 * info (info.c), which runs no job.
 */
#ifndef DMIO_JOBS_H
#define DMIO_JOBS_H

#include "pipeline/pipeline.h"

/* --dry-run: what job_run() would refuse before any I/O (the map, the
 * input or output), with the same code, and what the plan is (a dirty
 * bitmap's extents in *res): 0, or -errno once said why. */
int job_check(const struct opts *o, struct region *r, unsigned int n, struct job_result *res);
/* Run o->op over r[0..n) (r[0] is the source where o->shape says there is
 * one); the outcome is in r[] and *res.  0, or -errno when the job could
 * not start (-EINVAL: refused, said why). */
int job_run(const struct opts *o, struct region *r, unsigned int n,
	    struct job_result *res);

/* job_run(), submitting through submit (the unit tests' fake engine). */
int job_run_with(const struct opts *o, struct region *r, unsigned int n,
		 struct job_result *res, submit_fn *submit);

/* info: probe and describe every region: 0 or -errno. */
int info_run(const struct opts *o, struct region *r, unsigned int n);

/* ---- the job's input and output (stream.c): read's, write's, a copy's "-" ---- */

/* Open j->infd or j->outfd as the options say ("-" or none: stdin,
 * stdout): 0; -EINVAL, said why, when it is refused (a region's own file
 * or device, a directory, a block device in use); -EINTR when a signal
 * came while it waited (a FIFO).  With --dry-run, the same checks, with
 * nothing opened that waits or writes. */
int stream_open(struct job *j);
/* Close them; a failed close of the output is a write error. */
void stream_close(struct job *j);
/* A copy's destination "-": chunk s written to j->outfd as it retires;
 * only its whole sectors count as done.  A write error fails that
 * destination alone; a stop signal in the middle ends the job there. */
void stream_put(struct job *j, struct slot *s);
/* write filled every destination: is there input left?  An error, said
 * with how much (a file) or at least how much (anything else). */
void stream_input_left(struct job *j);

#endif
