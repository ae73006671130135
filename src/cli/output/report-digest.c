// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The digests in a job's report: a table of each region's digests under
 * the status table, and in JSON each region's "digests" (and "windows",
 * and verify --digest-file's "expected_digests" and "differing_windows").
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

/* The windows of stream kept (the first --max-ranges of them). */
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
 * count] absolute on r's device (the first --max-ranges of them), how many
 * there are, and whether the list is cut. */
static void bad_windows(json_object *e, const struct region *r)
{
	const struct window_check *c = r->check;
	json_object *arr = json_object_new_array();

	for (unsigned int x = 0; x < c->nlisted; x++) {
		json_object *run = json_object_new_array();

		json_object_array_add(run, json_object_new_uint64(r->sector + (c->listed[x].offset >>
									  DMIO_SECTOR_SHIFT)));
		json_object_array_add(run, json_object_new_uint64((c->listed[x].length +
								   DMIO_SECTOR_SIZE - 1) >>
								  DMIO_SECTOR_SHIFT));
		json_object_array_add(arr, run);
	}
	json_object_object_add(e, "differing_windows", arr);
	json_object_object_add(e, "differing_windows_total", json_object_new_uint64(c->total));
	json_object_object_add(e, "differing_windows_truncated",
			       json_object_new_boolean(c->nlisted < c->total));
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
		if (r[i].check)
			bad_windows(e, &r[i]);
		if (o->hash_window) {
			uint64_t total = hasher_windows_total(res->hasher, r[i].digest - 1);
			unsigned int kept;

			hasher_windows(res->hasher, r[i].digest - 1, &kept);
			json_object_object_add(e, "windows", windows_array(res->hasher, r[i].digest - 1));
			json_object_object_add(e, "windows_total", json_object_new_uint64(total));
			json_object_object_add(e, "windows_truncated", json_object_new_boolean(kept < total));
		}
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
