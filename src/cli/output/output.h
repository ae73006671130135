/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What dmio shows: the report of a job or of info, as a table or JSON
 * (report.c, report-digest.c), and its progress (progress.c, and
 * --progress=fd:N's JSON lines in progress-fd.c).
 */
#ifndef DMIO_OUTPUT_H
#define DMIO_OUTPUT_H

#include <stdio.h>

#include "jobs/jobs.h"

struct json_object;

/* The version of the JSON documents (doc/dmio-report.schema.json), their
 * "schema" key: it changes when a key is renamed, removed or changes
 * meaning, not when one is added. */
#define REPORT_SCHEMA 1
/* The words of the status of a region, as the report writes them. */
extern const char *const status_names[];

/* The status of every region, as a table or JSON: 0 or -errno. */
int report(const struct opts *o, const struct region *r, unsigned int n,
	   const struct job_result *res);
/* info's description of every region: 0 or -errno. */
int report_info(const struct opts *o, const struct region *r, unsigned int n,
		const struct ident *ids);

/* The report's digests (report-digest.c): in each region's JSON object
 * of the array regions, and as a table. */
void report_digests_json(struct json_object *regions, const struct opts *o,
			 const struct region *r, unsigned int n, const struct job_result *res);
void report_digests_table(FILE *f, const struct region *r, unsigned int n,
			  const struct job_result *res);

/* ---- progress ---- */

/* A job over regions r[0..n) of total_bytes starts, with done_bytes of
 * them done already (a --map). */
void progress_init(const struct opts *o, uint64_t total_bytes, uint64_t done_bytes,
		   const struct region *r, unsigned int n);
/* Called from the job now and then, and with final true at the end. */
void progress_update(const struct job_result *res, uint64_t done_bytes, bool final);
/* Seconds until progress_update() has something to draw: -1 for never. */
double progress_due(void);
/* The job is over and every region has its status: the last word. */
void progress_end(uint64_t done_bytes);

/* --progress=fd:N is none of the job's files (a region's, the input,
 * output, map or digest log; stdout under --json): 0, or -EINVAL once
 * said which it is. */
int progress_fd_apart(const struct opts *o, const struct region *r, unsigned int n);
void progress_fd_init(const struct opts *o, uint64_t total_bytes, uint64_t done_bytes,
		      const struct region *r, unsigned int n, double start);
/* A line when one is due (final: the last, whatever the time). */
void progress_fd_update(uint64_t done_bytes, bool final);
double progress_fd_due(void);

#endif
