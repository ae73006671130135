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

#include "base/base.h"
#include "output/output.h"
#include "features/digestfile.h"

enum {
	COL_INDEX, COL_REGION, COL_ROLE, COL_DEVICE, COL_SECTOR, COL_COUNT,
	COL_DONE, COL_STATUS, COL_ERROR, COL_BYTES, COL_LOGSEC, COL_PHYSEC,
	COL_RO, COL_TYPE, COL_UUID, COL_LABEL, COL_PTUUID, COL_PARTUUID,
	COL_PARTLABEL, COL_MOUNT, COL_HOLDER, COL_MINIO, COL_OPTIO, COL_MAXIO,
	COL_FEATURES, COL_CONTEXTS, COL_BAD, COL_BADRANGES,
};

enum kind { TEXT, NUMBER, BOOL, LIST, RANGES };

struct colinfo {
	const char *name;	/* the table's header */
	const char *key;	/* the JSON key */
	double whint;		/* libsmartcols width hint */
	int flags;		/* SCOLS_FL_* */
	enum kind kind;		/* JSON: a string, a number ("1"), a boolean ("1", "0"),
				 * an array of strings ("a,b"), of [sector, count]
				 * pairs ("8+2,100+1") */
	bool optional;		/* JSON: left out when empty, not null */
};

#define R SCOLS_FL_RIGHT
static const struct colinfo infos[] = {
	[COL_INDEX] = { "INDEX", "index", 0, R, NUMBER, false },
	[COL_REGION] = { "REGION", "region", 0.3, SCOLS_FL_WRAP, TEXT, false },
	[COL_ROLE] = { "ROLE", "role", 0, 0, TEXT, false },
	[COL_DEVICE] = { "DEVICE", "device", 0.2, SCOLS_FL_WRAP, TEXT, false },
	[COL_SECTOR] = { "SECTOR", "sector", 0, R, NUMBER, false },
	[COL_COUNT] = { "COUNT", "count", 0, R, NUMBER, false },
	[COL_DONE] = { "DONE", "sectors_done", 0, R, NUMBER, false },
	[COL_STATUS] = { "STATUS", "status", 0.3, 0, TEXT, false },
	[COL_ERROR] = { "ERROR", "error", 0.3, 0, TEXT, true },
	[COL_BYTES] = { "BYTES", "bytes", 0, R, NUMBER, false },
	[COL_LOGSEC] = { "LOG-SEC", "logical_sector_size", 0, R, NUMBER, false },
	[COL_PHYSEC] = { "PHY-SEC", "physical_sector_size", 0, R, NUMBER, false },
	[COL_RO] = { "RO", "read_only", 0, R, BOOL, false },
	[COL_TYPE] = { "TYPE", "type", 0, 0, TEXT, false },
	[COL_UUID] = { "UUID", "uuid", 0, 0, TEXT, false },
	[COL_LABEL] = { "LABEL", "label", 0, 0, TEXT, false },
	[COL_PTUUID] = { "PTUUID", "ptuuid", 0, 0, TEXT, false },
	[COL_PARTUUID] = { "PARTUUID", "partuuid", 0, 0, TEXT, false },
	[COL_PARTLABEL] = { "PARTLABEL", "partlabel", 0, 0, TEXT, false },
	[COL_MOUNT] = { "MOUNTPOINT", "mountpoint", 0, 0, TEXT, false },
	[COL_HOLDER] = { "HOLDER", "holder", 0, 0, TEXT, false },
	[COL_MINIO] = { "MIN-IO", "min_io", 0, R, NUMBER, true },
	[COL_OPTIO] = { "OPT-IO", "optimal_io", 0, R, NUMBER, true },
	[COL_MAXIO] = { "MAX-IO", "max_io", 0, R, NUMBER, true },
	[COL_FEATURES] = { "FEATURES", "features", 0, 0, LIST, true },
	[COL_CONTEXTS] = { "CONTEXTS", "meta_contexts", 0, 0, LIST, true },
	[COL_BAD] = { "BAD", "bad_sectors", 0, R, NUMBER, true },
	[COL_BADRANGES] = { "BAD-RANGES", "bad_ranges", 0, 0, RANGES, true },
};
#undef R

/* What each output shows, in its order. */
static const int status_table[] = {
	COL_REGION, COL_ROLE, COL_DEVICE, COL_SECTOR, COL_COUNT, COL_DONE, COL_STATUS,
};

static const int status_json[] = {
	COL_INDEX, COL_ROLE, COL_REGION, COL_DEVICE, COL_SECTOR, COL_COUNT,
	COL_STATUS, COL_DONE, COL_ERROR, COL_BAD, COL_BADRANGES,
};

/* info's table: the columns of every region, then an NBD export's where
 * one is, then a local device's where one is. */
static const int info_table[] = {
	COL_REGION, COL_DEVICE, COL_SECTOR, COL_COUNT, COL_BYTES, COL_LOGSEC,
	COL_PHYSEC, COL_RO,
};

static const int info_table_nbd[] = {
	COL_MINIO, COL_OPTIO, COL_MAXIO, COL_FEATURES, COL_CONTEXTS,
};

static const int info_table_local[] = {
	COL_TYPE, COL_UUID, COL_LABEL, COL_PTUUID, COL_PARTUUID, COL_PARTLABEL,
	COL_MOUNT, COL_HOLDER,
};

static const int info_json[] = {
	COL_INDEX, COL_REGION, COL_DEVICE, COL_SECTOR, COL_COUNT, COL_BYTES,
	COL_LOGSEC, COL_PHYSEC, COL_RO, COL_TYPE, COL_UUID, COL_LABEL, COL_PTUUID,
	COL_PARTUUID, COL_PARTLABEL, COL_MOUNT, COL_HOLDER, COL_MINIO, COL_OPTIO,
	COL_MAXIO, COL_FEATURES, COL_CONTEXTS,
};

#define NCOLS(a) (sizeof(a) / sizeof((a)[0]))

static const char *const role_names[] = { "source", "destination" };
const char *const status_names[] = {
	[ST_PENDING] = "pending", [ST_OK] = "ok", [ST_ERROR] = "error",
	[ST_MISMATCH] = "mismatch", [ST_INTERRUPTED] = "interrupted",
	[ST_STOPPED] = "stopped", [ST_PLANNED] = "planned",
};

/* One region's line: the region, and what else its columns show. */
struct row {
	const struct region *r;
	unsigned int index;
	const struct job_result *res; /* a job's status */
	const struct region *src;     /* and its source (it failed: where) */
	bool verify;
	bool bad;		      /* and its bad sectors (copy --keep-going, --map) */
	const struct ident *id;       /* info */
};

/* Why a job stopped before r's end. */
static int stop_message(char **m, const struct region *src, const struct job_result *res,
			bool verify)
{
	switch (res->stop) {
	case STOP_SOURCE:
		return asprintf(m, "the source failed at sector %llu",
				(unsigned long long)src->bad_sector);
	case STOP_DESTS:
		return asprintf(m, verify ? "every destination differs or failed"
					  : "every destination failed");
	case STOP_INPUT:
		return asprintf(m, "the input failed");
	case STOP_OUTPUT:
		return asprintf(m, "the output failed");
	default:
		return asprintf(m, "stopped early");
	}
}

/* The message for a region that is not ok, or NULL. */
static char *region_message(const struct row *rw)
{
	const struct region *r = rw->r;
	const struct job_result *res = rw->res;
	char *m = NULL;
	int n = -1;

	switch (r->status) {
	case ST_ERROR:
		n = asprintf(&m, "%s at sector %llu", r->error,
			     (unsigned long long)r->bad_sector);
		break;
	case ST_MISMATCH:
		if (!r->expected)
			n = asprintf(&m, "differs from the source at sector %llu",
				     (unsigned long long)r->bad_sector);
		else if (r->bad_sector == UINT64_MAX)
			n = asprintf(&m, "its digest differs");
		else
			n = asprintf(&m, "its digest differs; the first window that differs "
				     "starts at sector %llu", (unsigned long long)r->bad_sector);
		break;
	case ST_INTERRUPTED:
		n = asprintf(&m, "interrupted by %s", strsignal(res->signal));
		break;
	case ST_STOPPED:
		n = stop_message(&m, rw->src, res, rw->verify);
		break;
	default:
		break;
	}
	return n < 0 ? NULL : m;
}

/* The source's bad sectors that rw's region has: all of them for
 * the source, those in its done prefix (zeroes) for a destination. */
static uint64_t bad_end(const struct row *rw)
{
	return rw->r->role == ROLE_SOURCE ? UINT64_MAX : rw->r->done;
}

static uint64_t bad_count(const struct row *rw)
{
	return bad_sectors(&rw->src->bad, bad_end(rw));
}

/* Where they are, in the region's own sectors: "sector+count,...". */
static char *bad_ranges(const struct row *rw)
{
	const struct bad_list *l = &rw->src->bad;
	uint64_t end = bad_end(rw);
	char *s = NULL;
	size_t len;
	FILE *f = open_memstream(&s, &len);

	if (!f)
		return NULL;
	for (unsigned int i = 0; i < l->n && l->v[i].start < end; i++)
		fprintf(f, "%s%llu+%llu", i ? "," : "",
			(unsigned long long)(rw->r->sector + l->v[i].start),
			(unsigned long long)(l->v[i].start + l->v[i].count <= end
						     ? l->v[i].count : end - l->v[i].start));
	if (fclose(f)) {
		free(s);
		return NULL;
	}
	return s;
}

/* Status s, and the bad sectors rw's region has, if any. */
static char *bad_status(const struct row *rw, char *s)
{
	uint64_t bad = rw->bad && s ? bad_count(rw) : 0;
	char *t;

	if (!bad)
		return s;
	if (asprintf(&t, rw->r->role == ROLE_SOURCE ? "%s; %llu sectors unreadable"
						    : "%s; %llu sectors of zeroes, unreadable on the source",
		     s, (unsigned long long)bad) < 0)
		t = NULL;
	free(s);
	return t;
}

/* The table's STATUS: the status, with the reason where it is not ok. */
static char *table_status(const struct row *rw)
{
	const struct region *r = rw->r;
	char *s = NULL, *msg = NULL;

	if (r->status == ST_MISMATCH && r->expected) {
		msg = region_message(rw);
		if (!msg || asprintf(&s, "mismatch: %s", msg) < 0)
			s = NULL;
	} else if (r->status == ST_MISMATCH) {
		if (asprintf(&s, "mismatch at sector %llu", (unsigned long long)r->bad_sector) < 0)
			s = NULL;
	} else if ((r->status == ST_ERROR || r->status == ST_STOPPED) &&
		   (msg = region_message(rw))) {
		if (asprintf(&s, "%s: %s", status_names[r->status], msg) < 0)
			s = NULL;
	}
	free(msg);
	return bad_status(rw, s ? s : strdup(status_names[r->status]));
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
	case COL_ERROR: return region_message(rw);
	case COL_BYTES: return number(r->count << DMIO_SECTOR_SHIFT);
	case COL_LOGSEC: return number(r->dev.lbs);
	case COL_PHYSEC: return number(r->dev.pbs);
	case COL_TYPE: return dup_or_null(rw->id->type);
	case COL_UUID: return dup_or_null(rw->id->uuid);
	case COL_LABEL: return dup_or_null(rw->id->label);
	case COL_RO: return strdup(r->dev.read_only ? "1" : "0");
	case COL_PTUUID: return dup_or_null(rw->id->ptuuid);
	case COL_PARTUUID: return dup_or_null(rw->id->partuuid);
	case COL_PARTLABEL: return dup_or_null(rw->id->partlabel);
	case COL_MOUNT: return dup_or_null(rw->id->mountpoint);
	case COL_HOLDER: return dup_or_null(rw->id->holder);
	case COL_MINIO: return rw->id->min_io ? number(rw->id->min_io) : NULL;
	case COL_OPTIO: return rw->id->opt_io ? number(rw->id->opt_io) : NULL;
	case COL_MAXIO: return rw->id->max_io ? number(rw->id->max_io) : NULL;
	case COL_FEATURES: return dup_or_null(rw->id->features);
	case COL_CONTEXTS: return dup_or_null(rw->id->contexts);
	case COL_BAD: return rw->bad ? number(bad_count(rw)) : NULL;
	case COL_BADRANGES: return rw->bad ? bad_ranges(rw) : NULL;
	}
	return NULL;
}

static json_object *json_value(enum kind kind, const char *v)
{
	if (!v)
		return NULL;
	if (kind == NUMBER)
		return json_object_new_uint64(strtoull(v, NULL, 10));
	if (kind == BOOL)
		return json_object_new_boolean(!strcmp(v, "1"));
	if (kind == LIST) {
		json_object *a = json_object_new_array();

		for (const char *p = v; *p; p += strcspn(p, ","), p += *p == ',')
			json_object_array_add(a, json_object_new_string_len(p, (int)strcspn(p, ",")));
		return a;
	}
	if (kind == RANGES) {
		json_object *a = json_object_new_array();

		for (const char *p = v; *p; p += strcspn(p, ","), p += *p == ',') {
			json_object *pair = json_object_new_array();
			char *plus;

			json_object_array_add(pair, json_object_new_uint64(strtoull(p, &plus, 10)));
			json_object_array_add(pair, json_object_new_uint64(strtoull(plus + 1, NULL, 10)));
			json_object_array_add(a, pair);
		}
		return a;
	}
	return json_object_new_string(v);
}

static json_object *json_rows(const struct row *rows, unsigned int n,
			      const int *cols, size_t ncols)
{
	json_object *arr = json_object_new_array();

	for (unsigned int i = 0; i < n; i++) {
		json_object *e = json_object_new_object();

		for (size_t c = 0; c < ncols; c++) {
			const struct colinfo *ci = &infos[cols[c]];
			char *v = cell(&rows[i], cols[c], true), *u = utf8_safe(v);

			if (v || !ci->optional)
				json_object_object_add(e, ci->key, json_value(ci->kind, u));
			free(v);
			free(u);
		}
		json_object_array_add(arr, e);
	}
	return arr;
}

/* The destinations whose bit is set, as an array of indexes: exact in
 * every language, where a 64-bit error_bits may not be. */
static json_object *failed_indexes(unsigned long bits)
{
	json_object *a = json_object_new_array();

	for (unsigned int i = 0; i < DMIO_MAX_REGIONS; i++)
		if (bits >> i & 1)
			json_object_array_add(a, json_object_new_int((int)i));
	return a;
}

/* A full verify: each destination's differences, added to its object in
 * regions (source first). */
static void json_diffs(json_object *regions, const struct region *r, unsigned int n)
{
	for (unsigned int i = 1; i < n; i++) {
		const struct diffs *d = &r[i].diffs;
		json_object *e = json_object_array_get_idx(regions, i);
		json_object *list = json_object_new_array();

		for (size_t k = 0; k < d->nstored; k++) {
			json_object *run = json_object_new_array();

			json_object_array_add(run, json_object_new_uint64(d->range[k].sector));
			json_object_array_add(run, json_object_new_uint64(d->range[k].count));
			json_object_array_add(list, run);
		}
		json_object_object_add(e, "differing_sectors", json_object_new_uint64(d->sectors));
		json_object_object_add(e, "differing_ranges", list);
		json_object_object_add(e, "differing_ranges_total",
				       json_object_new_uint64(d->nranges));
		json_object_object_add(e, "differing_ranges_truncated",
				       json_object_new_boolean(d->nstored < d->nranges));
	}
}

/* A full verify: a line for each destination that differs. */
static void table_diffs(FILE *f, const struct region *r, unsigned int n)
{
	for (unsigned int i = 1; i < n; i++) {
		char *t = diffs_text(&r[i].diffs);

		if (t)
			fprintf(f, "%s: %s\n", r[i].text, t);
		free(t);
	}
}

/* --map failed mid-run: what stderr said, "MAP: cannot write the map: WHY". */
static json_object *json_map_error(const struct opts *o, const struct job_result *res)
{
	char *m = NULL, *u;
	json_object *v;

	if (asprintf(&m, "%s: cannot write the map: %s", o->map, strerror(res->map_err)) < 0)
		return json_object_new_string("cannot write the map");
	u = utf8_safe(m);
	v = json_object_new_string(u ? u : "cannot write the map");
	free(u);
	free(m);
	return v;
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
	FILE *f = o->shape.output && stream_is_std(o) ? stderr : stdout;
	bool full_verify = o->op == OP_VERIFY && !o->first && !o->dry_run && !o->digest_file;
	unsigned long bits = error_bits(r + o->shape.source, n - o->shape.source);
	struct row *rows = calloc(n, sizeof(*rows));

	if (!rows)
		return -ENOMEM;
	for (unsigned int i = 0; i < n; i++)
		rows[i] = (struct row){ .r = &r[i], .index = i, .res = res,
					.src = o->shape.source ? &r[0] : NULL,
					.verify = o->op == OP_VERIFY,
					.bad = o->op == OP_COPY && (o->keep_going || o->map) };
	if (o->json) {
		json_object *doc = json_object_new_object(), *regions;
		char secs[32];
		json_object_object_add(doc, "schema", json_object_new_int(REPORT_SCHEMA));

		json_object_object_add(doc, "operation", json_object_new_string(op_names[o->op]));
		json_object_object_add(doc, "read_error", json_object_new_boolean(res->read_error));
		json_object_object_add(doc, "error_bits", json_object_new_uint64(bits));
		json_object_object_add(doc, "failed", failed_indexes(bits));
		json_object_object_add(doc, "bytes", json_object_new_uint64(res->bytes));
		json_object_object_add(doc, "bytes_read", json_object_new_uint64(res->bytes_read));
		json_object_object_add(doc, "bytes_written", json_object_new_uint64(res->bytes_written));
		json_object_object_add(doc, "bytes_zeroed", json_object_new_uint64(res->bytes_zeroed));
		json_object_object_add(doc, "bytes_skipped", json_object_new_uint64(res->bytes_skipped));
		if (res->dirty) {
			json_object_object_add(doc, "dirty_extents",
					       json_object_new_uint64(res->dirty_extents));
			json_object_object_add(doc, "dirty_bytes",
					       json_object_new_uint64(res->dirty_bytes));
		}
		/* Microseconds are all the clock is worth; print no more digits. */
		snprintf(secs, sizeof(secs), "%.6f", res->seconds);
		json_object_object_add(doc, "seconds", json_object_new_double_s(res->seconds, secs));
		if (res->map_err)
			json_object_object_add(doc, "map_error", json_map_error(o, res));
		regions = json_rows(rows, n, status_json, NCOLS(status_json));
		report_digests_json(regions, o, r, n, res);
		if (full_verify)
			json_diffs(regions, r, n);
		json_object_object_add(doc, "regions", regions);
		json_print(f, doc);
	} else {
		table_print(f, rows, n, status_table, NCOLS(status_table));
		report_digests_table(f, r, n, res);
		if (res->dirty)
			fprintf(f, "dirty bitmap %s: %llu extents, %llu bytes\n", o->dirty_bitmap,
				(unsigned long long)res->dirty_extents,
				(unsigned long long)res->dirty_bytes);
		if (o->op != OP_READ && !o->dry_run)
			fprintf(f, "error bits: 0x%lx\n", bits);
		if (res->map_err) {
			put_safe(f, o->map);
			fprintf(f, ": cannot write the map: %s\n", strerror(res->map_err));
		}
		if (full_verify)
			table_diffs(f, r, n);
		if (o->verbose && !o->dry_run && res->stats.engine)
			fprintf(f, "%llu bytes in %.3f s; %s engine, %u chunk%s of %llu KiB in "
				"flight at most, %llu request%s issued, %llu through bounce pages\n",
				(unsigned long long)res->bytes, res->seconds, res->stats.engine,
				res->chunks, res->chunks == 1 ? "" : "s",
				(unsigned long long)res->chunk >> 10, res->stats.requests,
				res->stats.requests == 1 ? "" : "s", res->stats.bounced);
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

		json_object_object_add(doc, "schema", json_object_new_int(REPORT_SCHEMA));
		json_object_object_add(doc, "operation", json_object_new_string("info"));
		json_object_object_add(doc, "regions",
				       json_rows(rows, n, info_json, NCOLS(info_json)));
		json_print(stdout, doc);
	} else {
		int cols[NCOLS(info_table) + NCOLS(info_table_nbd) + NCOLS(info_table_local)];
		size_t nc = 0;
		bool nbd = false, local = false;

		for (unsigned int i = 0; i < n; i++) {
			nbd |= r[i].dev.caps.remote;
			local |= !r[i].dev.caps.remote;
		}
		for (size_t c = 0; c < NCOLS(info_table); c++)
			cols[nc++] = info_table[c];
		for (size_t c = 0; nbd && c < NCOLS(info_table_nbd); c++)
			cols[nc++] = info_table_nbd[c];
		for (size_t c = 0; local && c < NCOLS(info_table_local); c++)
			cols[nc++] = info_table_local[c];
		table_print(stdout, rows, n, cols, nc);
	}
	free(rows);
	return fflush(stdout) ? -errno : 0;
}
