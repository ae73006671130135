// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * dmio info: what each spec resolves to.  Sizes come from the open device;
 * TYPE, UUID and LABEL from a libblkid probe of it, where it finds them.
 */
#include <blkid.h>
#include <json-c/json.h>
#include <libsmartcols.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

struct ident {
	char *type, *uuid, *label;
};

static void probe(const char *path, struct ident *id)
{
	blkid_probe pr = blkid_new_probe_from_filename(path);
	const char *v;

	*id = (struct ident){ 0 };
	if (!pr)
		return;
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_UUID |
						      BLKID_SUBLKS_LABEL);
	blkid_probe_enable_partitions(pr, 1);
	if (!blkid_do_safeprobe(pr)) {
		if (!blkid_probe_lookup_value(pr, "TYPE", &v, NULL) ||
		    !blkid_probe_lookup_value(pr, "PTTYPE", &v, NULL))
			id->type = strdup(v);
		if (!blkid_probe_lookup_value(pr, "UUID", &v, NULL) ||
		    !blkid_probe_lookup_value(pr, "PTUUID", &v, NULL))
			id->uuid = strdup(v);
		if (!blkid_probe_lookup_value(pr, "LABEL", &v, NULL))
			id->label = strdup(v);
	}
	blkid_free_probe(pr);
}

static json_object *string_or_null(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

int info_run(const struct opts *o, struct region *r, unsigned int n)
{
	struct libscols_table *tb = NULL;
	json_object *doc = NULL, *arr = NULL;

	if (o->json) {
		doc = json_object_new_object();
		arr = json_object_new_array();
		json_object_object_add(doc, "operation", json_object_new_string("info"));
	} else {
		tb = scols_new_table();
		scols_table_new_column(tb, "REGION", 0.3, SCOLS_FL_WRAP);
		scols_table_new_column(tb, "DEVICE", 0.2, SCOLS_FL_WRAP);
		scols_table_new_column(tb, "SECTOR", 0, SCOLS_FL_RIGHT);
		scols_table_new_column(tb, "COUNT", 0, SCOLS_FL_RIGHT);
		scols_table_new_column(tb, "BYTES", 0, SCOLS_FL_RIGHT);
		scols_table_new_column(tb, "LOG-SEC", 0, SCOLS_FL_RIGHT);
		scols_table_new_column(tb, "PHY-SEC", 0, SCOLS_FL_RIGHT);
		scols_table_new_column(tb, "TYPE", 0, 0);
		scols_table_new_column(tb, "UUID", 0, 0);
		scols_table_new_column(tb, "LABEL", 0, 0);
	}
	for (unsigned int i = 0; i < n; i++) {
		struct ident id;
		uint64_t bytes = r[i].count << DMIO_SECTOR_SHIFT;

		probe(r[i].path, &id);
		if (o->json) {
			json_object *e = json_object_new_object();

			json_object_object_add(e, "index", json_object_new_int((int)i));
			json_object_object_add(e, "region", json_object_new_string(r[i].text));
			json_object_object_add(e, "device", json_object_new_string(r[i].path));
			json_object_object_add(e, "sector", json_object_new_uint64(r[i].sector));
			json_object_object_add(e, "count", json_object_new_uint64(r[i].count));
			json_object_object_add(e, "bytes", json_object_new_uint64(bytes));
			json_object_object_add(e, "logical_sector_size",
					       json_object_new_int((int)r[i].dev.lbs));
			json_object_object_add(e, "physical_sector_size",
					       json_object_new_int((int)r[i].dev.pbs));
			json_object_object_add(e, "type", string_or_null(id.type));
			json_object_object_add(e, "uuid", string_or_null(id.uuid));
			json_object_object_add(e, "label", string_or_null(id.label));
			json_object_array_add(arr, e);
		} else {
			struct libscols_line *ln = scols_table_new_line(tb, NULL);
			char buf[5][32];

			snprintf(buf[0], 32, "%llu", (unsigned long long)r[i].sector);
			snprintf(buf[1], 32, "%llu", (unsigned long long)r[i].count);
			snprintf(buf[2], 32, "%llu", (unsigned long long)bytes);
			snprintf(buf[3], 32, "%u", r[i].dev.lbs);
			snprintf(buf[4], 32, "%u", r[i].dev.pbs);
			scols_line_set_data(ln, 0, r[i].text);
			scols_line_set_data(ln, 1, r[i].path);
			for (int c = 0; c < 5; c++)
				scols_line_set_data(ln, 2 + c, buf[c]);
			scols_line_set_data(ln, 7, id.type);
			scols_line_set_data(ln, 8, id.uuid);
			scols_line_set_data(ln, 9, id.label);
		}
		free(id.type), free(id.uuid), free(id.label);
	}
	if (o->json) {
		json_object_object_add(doc, "regions", arr);
		printf("%s\n", json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY |
								 JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(doc);
	} else {
		scols_print_table(tb);
		scols_unref_table(tb);
	}
	return fflush(stdout) ? EXIT_IOERR : EXIT_OK;
}
