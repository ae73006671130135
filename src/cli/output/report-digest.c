// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The digests in a job's report: a table of each region's digests under
 * the status table, and in JSON each region's "digests" (and "windows",
 * and verify --digest-file's "expected_digests").
 */
#include <json-c/json.h>
#include <libsmartcols.h>
#include <stdio.h>
#include <stdlib.h>

#include "features/digestfile.h"
#include "output/output.h"

static json_object *digest_object(const struct hasher *h, unsigned int stream,
				  const struct hash_window *w)
{
	json_object *o = json_object_new_object();

	for (unsigned int a = 0; a < HASH_COUNT; a++) {
		const char *hex = w ? hash_window_hex(h, w, a) : hasher_hex(h, stream, a);

		if (hex)
			json_object_object_add(o, hash_name(a), json_object_new_string(hex));
	}
	return o;
}

static json_object *windows_array(const struct hasher *h, unsigned int stream)
{
	unsigned int nw;
	const struct hash_window *w = hasher_windows(h, stream, &nw);
	json_object *arr = json_object_new_array();

	for (unsigned int x = 0; x < nw; x++) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "offset", json_object_new_uint64(w[x].offset));
		json_object_object_add(o, "length", json_object_new_uint64(w[x].length));
		json_object_object_add(o, "digests", digest_object(h, stream, &w[x]));
		json_object_array_add(arr, o);
	}
	return arr;
}

static json_object *expected_object(const struct digest_entry *e)
{
	json_object *o = json_object_new_object();

	for (unsigned int a = 0; a < HASH_COUNT; a++)
		if (e->mask & 1u << a)
			json_object_object_add(o, hash_name(a), json_object_new_string(e->hex[a]));
	return o;
}

/* verify --digest-file: the file's windows that differ, as [sector,
 * count] absolute on r's device, up to --max-ranges. */
static json_object *bad_windows(const struct opts *o, const struct region *r,
				const struct hasher *h)
{
	const struct digest_entry *e = r->expected;
	json_object *arr = json_object_new_array();
	unsigned int n = 0;

	for (unsigned int x = 0; x < e->nwindows && n < o->max_ranges; x++) {
		json_object *run;

		/* Each algorithm has the same windows: the first one's. */
		if (e->windows[x].alg != e->windows[0].alg ||
		    !digest_window_differs(e, h, r->digest - 1, x))
			continue;
		run = json_object_new_array();
		json_object_array_add(run, json_object_new_uint64(r->sector + (e->windows[x].offset >>
									  DMIO_SECTOR_SHIFT)));
		json_object_array_add(run, json_object_new_uint64((e->windows[x].length +
								   DMIO_SECTOR_SIZE - 1) >>
								  DMIO_SECTOR_SHIFT));
		json_object_array_add(arr, run);
		n++;
	}
	return arr;
}

void report_digests_json(json_object *regions, const struct opts *o, const struct region *r,
			 unsigned int n, const struct job_result *res)
{
	for (unsigned int i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(regions, i);

		if (r[i].expected)
			json_object_object_add(e, "expected_digests", expected_object(r[i].expected));
		if (!res->hasher || !r[i].digest)
			continue;
		json_object_object_add(e, "digests", digest_object(res->hasher, r[i].digest - 1, NULL));
		if (r[i].expected && r[i].expected->nwindows)
			json_object_object_add(e, "differing_windows", bad_windows(o, &r[i], res->hasher));
		if (o->hash_window)
			json_object_object_add(e, "windows", windows_array(res->hasher, r[i].digest - 1));
	}
}

void report_digests_table(FILE *f, const struct region *r, unsigned int n,
			  const struct job_result *res)
{
	struct libscols_table *tb;
	unsigned int rows = 0;

	for (unsigned int i = 0; i < n; i++)
		rows += res->hasher && r[i].digest;
	if (!rows)
		return;
	tb = scols_new_table();
	scols_table_new_column(tb, "REGION", 0.3, SCOLS_FL_WRAP);
	for (unsigned int a = 0; a < HASH_COUNT; a++)
		if (hasher_hex(res->hasher, 0, a))
			scols_table_new_column(tb, hash_tag(a), 0, 0);
	for (unsigned int i = 0; i < n; i++) {
		struct libscols_line *ln;
		size_t c = 1;

		if (!r[i].digest)
			continue;
		ln = scols_table_new_line(tb, NULL);
		scols_line_set_data(ln, 0, r[i].text);
		for (unsigned int a = 0; a < HASH_COUNT; a++)
			if (hasher_hex(res->hasher, 0, a))
				scols_line_set_data(ln, c++, hasher_hex(res->hasher, r[i].digest - 1, a));
	}
	scols_table_set_stream(tb, f);
	scols_print_table(tb);
	scols_unref_table(tb);
}
