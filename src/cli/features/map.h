/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Resumable copy maps (--map): which sectors each destination of a copy has
 * durably completed, and where it failed.  Text, versioned:
 *
 *   dmio-map 2
 *   source PATH SECTOR COUNT ID
 *   destination PATH SECTOR COUNT ID     one per destination, in order
 *   done I START COUNT                   sectors [START, START+COUNT) of
 *   failed I START COUNT                 destination I's region
 *   bad START COUNT                      of the source's, unreadable
 *                                        (version 3 and later)
 *   dirty NAME ID                        a copy of what the dirty bitmap
 *                                        NAME marks, as ID says it did
 *                                        (version 4)
 *
 * PATH has backslash, whitespace and control bytes written as \ooo (octal),
 * as /proc/self/mounts does; ID is what the device or file was (see
 * dev_identity()).  A map is written as version 2, 3 when it has bad
 * lines, or 4 when it has a dirty line; version 1 maps, without ID, are
 * read too.  The parser is pure,
 * for tests and fuzzing.
 */
#ifndef DMIO_MAP_H
#define DMIO_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MAP_MAGIC "dmio-map 2"
#define MAP_MAGIC_1 "dmio-map 1"
#define MAP_MAGIC_3 "dmio-map 3"
#define MAP_MAGIC_4 "dmio-map 4"
#define MAP_MAX_RANGES 4096	/* per destination and kind */
#define MAP_MAX_BAD 65536	/* bad ranges of the source */
#define MAP_MAX_DESTS 64

struct map_range {
	uint64_t start, count;
};

struct map_region {
	char *path;
	char *id;		/* NULL in a version 1 map */
	uint64_t sector, count;
	struct map_range *done, *failed;
	unsigned int ndone, nfailed;
};

struct map {
	unsigned int version;
	struct map_region src;
	struct map_region dst[MAP_MAX_DESTS];
	unsigned int ndst;
	struct map_range *bad;	/* of the source, relative to its start */
	unsigned int nbad;
	char *dirty_name, *dirty_id; /* --dirty-bitmap: the bitmap, and what it said */
};

/* Parse len bytes of text into *m.  Returns NULL, or a message naming the
 * line that is wrong; either way map_free(m) frees what was allocated. */
const char *map_parse(const char *text, size_t len, struct map *m, unsigned int *line);
void map_free(struct map *m);

/* Append a range: NULL or a message. */
const char *map_range_add(struct map_range **v, unsigned int *n,
			  uint64_t start, uint64_t count);

/* Append a bad range of the source: NULL or a message. */
const char *map_bad_add(struct map *m, uint64_t start, uint64_t count);

/* Where destination d's completed prefix ends: sectors [0, resume) are on it. */
uint64_t map_resume(const struct map_region *d);

/* Write m to path durably: a new temp file next to it (mkostemp), fsync,
 * rename, fsync of the directory.  Returns 0 or -errno. */
int map_write(const char *path, const struct map *m);

#endif
