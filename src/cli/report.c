// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * What dmio prints about regions: a job's status and info's description,
 * each as a table for people (libsmartcols, as lsblk) or one JSON document
 * for programs (json-c).  One column table (lsblk's infos[]) gives every
 * column its header, its JSON key and its kind, for both outputs.
 */
#include <errno.h>
#include <json-c/json.h>
#include <libsmartcols.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum {
	COL_INDEX, COL_REGION, COL_ROLE, COL_DEVICE, COL_SECTOR, COL_COUNT,
	COL_DONE, COL_STATUS, COL_ERROR, COL_BYTES, COL_LOGSEC, COL_PHYSEC,
	COL_TYPE, COL_UUID, COL_LABEL,
};

struct colinfo {
	const char *name;	/* the table's header */
	const char *key;	/* the JSON key */
	double whint;		/* libsmartcols width hint */
	int flags;		/* SCOLS_FL_* */
	bool number;		/* JSON: a number, not a string */
	bool optional;		/* JSON: left out when empty, not null */
};

static const struct colinfo infos[] = {
	[COL_INDEX] = { "INDEX", "index", 0, SCOLS_FL_RIGHT, true, false },
	[COL_REGION] = { "REGION", "region", 0.3, SCOLS_FL_WRAP, false, false },
	[COL_ROLE] = { "ROLE", "role", 0, 0, false, false },
	[COL_DEVICE] = { "DEVICE", "device", 0.2, SCOLS_FL_WRAP, false, false },
	[COL_SECTOR] = { "SECTOR", "sector", 0, SCOLS_FL_RIGHT, true, false },
	[COL_COUNT] = { "COUNT", "count", 0, SCOLS_FL_RIGHT, true, false },
	[COL_DONE] = { "DONE", "sectors_done", 0, SCOLS_FL_RIGHT, true, false },
	[COL_STATUS] = { "STATUS", "status", 0.3, 0, false, false },
	[COL_ERROR] = { "ERROR", "error", 0.3, 0, false, true },
	[COL_BYTES] = { "BYTES", "bytes", 0, SCOLS_FL_RIGHT, true, false },
	[COL_LOGSEC] = { "LOG-SEC", "logical_sector_size", 0, SCOLS_FL_RIGHT, true, false },
	[COL_PHYSEC] = { "PHY-SEC", "physical_sector_size", 0, SCOLS_FL_RIGHT, true, false },
	[COL_TYPE] = { "TYPE", "type", 0, 0, false, false },
	[COL_UUID] = { "UUID", "uuid", 0, 0, false, false },
	[COL_LABEL] = { "LABEL", "label", 0, 0, false, false },
};

/* What each output shows, in its order. */
static const int status_table[] = {
	COL_REGION, COL_ROLE, COL_DEVICE, COL_SECTOR, COL_COUNT, COL_DONE, COL_STATUS,
};

static const int status_json[] = {
	COL_INDEX, COL_ROLE, COL_REGION, COL_DEVICE, COL_SECTOR, COL_COUNT,
	COL_STATUS, COL_DONE, COL_ERROR,
};

static const int info_table[] = {
	COL_REGION, COL_DEVICE, COL_SECTOR, COL_COUNT, COL_BYTES, COL_LOGSEC,
	COL_PHYSEC, COL_TYPE, COL_UUID, COL_LABEL,
};

static const int info_json[] = {
	COL_INDEX, COL_REGION, COL_DEVICE, COL_SECTOR, COL_COUNT, COL_BYTES,
	COL_LOGSEC, COL_PHYSEC, COL_TYPE, COL_UUID, COL_LABEL,
};

#define NCOLS(a) (sizeof(a) / sizeof((a)[0]))

const char *const op_names[OP_COUNT] = { "copy", "verify", "read", "write", "zero", "info" };
static const char *const role_names[] = { "source", "destination" };
static const char *const status_names[] = {
	[ST_PENDING] = "interrupted", [ST_OK] = "ok", [ST_ERROR] = "error",
	[ST_MISMATCH] = "mismatch", [ST_INTERRUPTED] = "interrupted",
	[ST_PLANNED] = "planned",
};

/* One region's line: the region, and what else its columns show. */
struct row {
	const struct region *r;
	unsigned int index;
	const struct job_result *res; /* a job's status */
	const struct ident *id;       /* info */
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

/* The table's STATUS: the status, with the reason where it is not ok. */
static char *table_status(const struct row *rw)
{
	const struct region *r = rw->r;
	char *s = NULL, *msg;

	if (r->status == ST_ERROR && (msg = region_message(r, rw->res))) {
		if (asprintf(&s, "error: %s", msg) < 0)
			s = NULL;
		free(msg);
	} else if (r->status == ST_MISMATCH &&
		   asprintf(&s, "mismatch at sector %llu",
			    (unsigned long long)r->bad_sector) < 0) {
		s = NULL;
	}
	return s ? s : strdup(status_names[r->status]);
}

static char *number(uint64_t v)
{
	char *s;

	return asprintf(&s, "%llu", (unsigned long long)v) < 0 ? NULL : s;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* Column col of rw, allocated; NULL when it has no value. */
static char *cell(const struct row *rw, int col, bool json)
{
	const struct region *r = rw->r;

	switch (col) {
	case COL_INDEX: return number(rw->index);
	case COL_REGION: return strdup(r->text);
	case COL_ROLE: return strdup(role_names[r->role]);
	case COL_DEVICE: return strdup(r->path);
	case COL_SECTOR: return number(r->sector);
	case COL_COUNT: return number(r->count);
	case COL_DONE: return number(r->done);
	case COL_STATUS: return json ? strdup(status_names[r->status]) : table_status(rw);
	case COL_ERROR: return region_message(r, rw->res);
	case COL_BYTES: return number(r->count << DMIO_SECTOR_SHIFT);
	case COL_LOGSEC: return number(r->dev.lbs);
	case COL_PHYSEC: return number(r->dev.pbs);
	case COL_TYPE: return dup_or_null(rw->id->type);
	case COL_UUID: return dup_or_null(rw->id->uuid);
	case COL_LABEL: return dup_or_null(rw->id->label);
	}
	return NULL;
}

static json_object *json_rows(const struct row *rows, unsigned int n,
			      const int *cols, size_t ncols)
{
	json_object *arr = json_object_new_array();

	for (unsigned int i = 0; i < n; i++) {
		json_object *e = json_object_new_object();

		for (size_t c = 0; c < ncols; c++) {
			const struct colinfo *ci = &infos[cols[c]];
			char *v = cell(&rows[i], cols[c], true);

			if (v || !ci->optional)
				json_object_object_add(e, ci->key,
						       !v ? NULL
						       : ci->number ? json_object_new_uint64(strtoull(v, NULL, 10))
								    : json_object_new_string(v));
			free(v);
		}
		json_object_array_add(arr, e);
	}
	return arr;
}

static void json_print(FILE *f, json_object *doc)
{
	fprintf(f, "%s\n", json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY |
								 JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(doc);
}

static void table_print(FILE *f, const struct row *rows, unsigned int n,
			const int *cols, size_t ncols)
{
	struct libscols_table *tb = scols_new_table();

	for (size_t c = 0; c < ncols; c++)
		scols_table_new_column(tb, infos[cols[c]].name, infos[cols[c]].whint,
				       infos[cols[c]].flags);
	for (unsigned int i = 0; i < n; i++) {
		struct libscols_line *ln = scols_table_new_line(tb, NULL);

		for (size_t c = 0; c < ncols; c++) {
			char *v = cell(&rows[i], cols[c], false);

			if (v)
				scols_line_refer_data(ln, c, v);
		}
	}
	scols_table_set_stream(tb, f);
	scols_print_table(tb);
	scols_unref_table(tb);
}

int report(const struct opts *o, const struct region *r, unsigned int n,
	   const struct job_result *res)
{
	/* A read to stdout keeps stdout for the data. */
	FILE *f = o->op == OP_READ && !o->output ? stderr : stdout;
	struct row *rows = calloc(n, sizeof(*rows));

	if (!rows)
		return -ENOMEM;
	for (unsigned int i = 0; i < n; i++)
		rows[i] = (struct row){ .r = &r[i], .index = i, .res = res };
	if (o->json) {
		json_object *doc = json_object_new_object();
		char secs[32];

		json_object_object_add(doc, "operation", json_object_new_string(op_names[o->op]));
		json_object_object_add(doc, "read_error", json_object_new_boolean(res->read_error));
		json_object_object_add(doc, "error_bits", json_object_new_uint64(res->error_bits));
		json_object_object_add(doc, "bytes", json_object_new_uint64(res->bytes));
		/* Microseconds are all the clock is worth; print no more digits. */
		snprintf(secs, sizeof(secs), "%.6f", res->seconds);
		json_object_object_add(doc, "seconds", json_object_new_double_s(res->seconds, secs));
		json_object_object_add(doc, "regions",
				       json_rows(rows, n, status_json, NCOLS(status_json)));
		json_print(f, doc);
	} else {
		table_print(f, rows, n, status_table, NCOLS(status_table));
		if (o->op != OP_READ && !o->dry_run)
			fprintf(f, "error bits: 0x%lx\n", res->error_bits);
		if (o->verbose && !o->dry_run && res->stats.engine)
			fprintf(f, "%llu bytes in %.3f s; %s engine, %u requests in flight "
				"at most, %llu issued, %llu through bounce pages\n",
				(unsigned long long)res->bytes, res->seconds,
				res->stats.engine, res->stats.queue_depth,
				res->stats.requests, res->stats.bounced);
	}
	free(rows);
	return fflush(f) ? -errno : 0;
}

int report_info(const struct opts *o, const struct region *r, unsigned int n,
		const struct ident *ids)
{
	struct row *rows = calloc(n, sizeof(*rows));

	if (!rows)
		return -ENOMEM;
	for (unsigned int i = 0; i < n; i++)
		rows[i] = (struct row){ .r = &r[i], .index = i, .id = &ids[i] };
	if (o->json) {
		json_object *doc = json_object_new_object();

		json_object_object_add(doc, "operation", json_object_new_string("info"));
		json_object_object_add(doc, "regions",
				       json_rows(rows, n, info_json, NCOLS(info_json)));
		json_print(stdout, doc);
	} else {
		table_print(stdout, rows, n, info_table, NCOLS(info_table));
	}
	free(rows);
	return fflush(stdout) ? -errno : 0;
}
