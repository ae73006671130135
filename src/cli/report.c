// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The status of every region: a table for people (libsmartcols, as lsblk)
 * or one JSON document for programs (json-c), built from the same fields.
 */
#include <json-c/json.h>
#include <libsmartcols.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char *const role_names[] = { "source", "destination" };
static const char *const status_names[] = {
	[ST_PENDING] = "interrupted", [ST_OK] = "ok", [ST_ERROR] = "error",
	[ST_MISMATCH] = "mismatch", [ST_INTERRUPTED] = "interrupted",
	[ST_PLANNED] = "planned",
};

/* The message for a region that is not ok, or NULL. */
static char *region_message(const struct region *r, const struct job_result *res)
{
	char *m = NULL;
	int n = -1;

	switch (r->status) {
	case ST_ERROR:
		n = asprintf(&m, "%s at sector %llu", r->error,
			     (unsigned long long)r->bad_sector);
		break;
	case ST_MISMATCH:
		n = asprintf(&m, "differs from the source at sector %llu",
			     (unsigned long long)r->bad_sector);
		break;
	case ST_PENDING:
	case ST_INTERRUPTED:
		if (res->interrupted)
			n = asprintf(&m, "interrupted by %s", strsignal(res->signal));
		else if (res->read_error)
			n = asprintf(&m, "stopped by the source's read error");
		else
			n = asprintf(&m, "stopped early");
		break;
	default:
		break;
	}
	return n < 0 ? NULL : m;
}

static void report_json(FILE *f, const struct opts *o, const struct region *r,
			unsigned int n, const struct job_result *res,
			unsigned long error_bits)
{
	json_object *doc = json_object_new_object(), *regions = json_object_new_array();
	char secs[32];

	json_object_object_add(doc, "operation", json_object_new_string(op_names[o->op]));
	json_object_object_add(doc, "read_error", json_object_new_boolean(res->read_error));
	json_object_object_add(doc, "error_bits", json_object_new_uint64(error_bits));
	json_object_object_add(doc, "bytes", json_object_new_uint64(res->bytes));
	/* Microseconds are all the clock is worth; print no more digits. */
	snprintf(secs, sizeof(secs), "%.6f", res->seconds);
	json_object_object_add(doc, "seconds", json_object_new_double_s(res->seconds, secs));
	for (unsigned int i = 0; i < n; i++) {
		json_object *e = json_object_new_object();
		char *msg = region_message(&r[i], res);

		json_object_object_add(e, "index", json_object_new_int((int)i));
		json_object_object_add(e, "role", json_object_new_string(role_names[r[i].role]));
		json_object_object_add(e, "region", json_object_new_string(r[i].text));
		json_object_object_add(e, "device", json_object_new_string(r[i].path));
		json_object_object_add(e, "sector", json_object_new_uint64(r[i].sector));
		json_object_object_add(e, "count", json_object_new_uint64(r[i].count));
		json_object_object_add(e, "status",
				       json_object_new_string(status_names[r[i].status]));
		json_object_object_add(e, "sectors_done", json_object_new_uint64(r[i].done));
		if (msg)
			json_object_object_add(e, "error", json_object_new_string(msg));
		free(msg);
		json_object_array_add(regions, e);
	}
	json_object_object_add(doc, "regions", regions);
	fprintf(f, "%s\n", json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY |
								 JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(doc);
}

static void set_u64(struct libscols_line *ln, int col, uint64_t v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
	scols_line_set_data(ln, col, buf);
}

static void report_table(FILE *f, const struct opts *o, const struct region *r,
			 unsigned int n, const struct job_result *res,
			 unsigned long error_bits)
{
	struct libscols_table *tb = scols_new_table();
	enum { C_REGION, C_ROLE, C_DEVICE, C_SECTOR, C_COUNT, C_DONE, C_STATUS };

	scols_table_new_column(tb, "REGION", 0.3, SCOLS_FL_WRAP);
	scols_table_new_column(tb, "ROLE", 0, 0);
	scols_table_new_column(tb, "DEVICE", 0.2, SCOLS_FL_WRAP);
	scols_table_new_column(tb, "SECTOR", 0, SCOLS_FL_RIGHT);
	scols_table_new_column(tb, "COUNT", 0, SCOLS_FL_RIGHT);
	scols_table_new_column(tb, "DONE", 0, SCOLS_FL_RIGHT);
	scols_table_new_column(tb, "STATUS", 0.3, 0);
	for (unsigned int i = 0; i < n; i++) {
		struct libscols_line *ln = scols_table_new_line(tb, NULL);
		char *msg = region_message(&r[i], res), *status = NULL;

		scols_line_set_data(ln, C_REGION, r[i].text);
		scols_line_set_data(ln, C_ROLE, role_names[r[i].role]);
		scols_line_set_data(ln, C_DEVICE, r[i].path);
		set_u64(ln, C_SECTOR, r[i].sector);
		set_u64(ln, C_COUNT, r[i].count);
		set_u64(ln, C_DONE, r[i].done);
		if (r[i].status == ST_ERROR && msg &&
		    asprintf(&status, "error: %s", msg) > 0)
			scols_line_refer_data(ln, C_STATUS, status);
		else if (r[i].status == ST_MISMATCH &&
			 asprintf(&status, "mismatch at sector %llu",
				  (unsigned long long)r[i].bad_sector) > 0)
			scols_line_refer_data(ln, C_STATUS, status);
		else
			scols_line_set_data(ln, C_STATUS, status_names[r[i].status]);
		free(msg);
	}
	scols_table_set_stream(tb, f);
	scols_print_table(tb);
	scols_unref_table(tb);
	if (o->op != OP_READ && !o->dry_run)
		fprintf(f, "error bits: 0x%lx\n", error_bits);
	if (o->verbose && !o->dry_run && res->stats.engine)
		fprintf(f, "%llu bytes in %.3f s; %s engine, %u requests in flight "
			"at most, %llu issued, %llu through bounce pages\n",
			(unsigned long long)res->bytes, res->seconds,
			res->stats.engine, res->stats.queue_depth,
			res->stats.requests, res->stats.bounced);
}

void report(const struct opts *o, const struct region *r, unsigned int n,
	    const struct job_result *res, unsigned long error_bits)
{
	/* A read to stdout keeps stdout for the data. */
	FILE *f = o->op == OP_READ && !o->output ? stderr : stdout;

	if (o->json)
		report_json(f, o, r, n, res, error_bits);
	else
		report_table(f, o, r, n, res, error_bits);
	fflush(f);
}
