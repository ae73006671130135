/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Digest files (digestfile.c): --hash-log writes one, verify --digest-file
 * reads one back, or one that sha256sum, md5sum, b2sum or xxhsum wrote.
 *
 *   # dmio VERSION OPERATION
 *   # size BYTES NAME
 *   SHA256 (NAME) = HEX
 *   # window OFFSET LENGTH ALG HEX NAME
 *
 * Digest lines are BSD-tagged, one per algorithm (what sha256sum -c and
 * cksum -c read); the comments, which those tools skip, give each
 * region's length and its --hash-window digests.  Read back, untagged
 * lines ("HEX  NAME") are taken too, their algorithm from --hash or from
 * the length of HEX: where two algorithms have digests that long, it is
 * held against both, and matches when either does.
 */
#ifndef DMIO_DIGESTFILE_H
#define DMIO_DIGESTFILE_H

#include <stdio.h>

#include "features/hash.h"
#include "regions/regions.h"

struct digest_window {
	uint64_t offset, length;	/* bytes */
	enum hash_alg alg;
	char hex[HASH_HEX_MAX];
};

/* What a file says of one region (NAME). */
struct digest_entry {
	char *name;
	uint64_t size;			/* bytes, or UINT64_MAX: not said */
	unsigned int mask;		/* the algorithms it has a digest of */
	unsigned int either;		/* of which, untagged, any one may match */
	char hex[HASH_COUNT][HASH_HEX_MAX];
	struct digest_window *windows;
	unsigned int nwindows;
};

/* verify --digest-file: read o->digest_file and give each destination its
 * entry (r[i].expected; its length from the entry's size unless its spec
 * gives one): 0, or -EINVAL once said why. */
int digests_prepare(const struct opts *o, struct region *r, unsigned int n);
/* Free what digests_prepare() read. */
void digests_release(void);
/* Whether the file's window x of e differs from stream i's digest of the
 * same bytes (false where h has no such window). */
bool digest_window_differs(const struct digest_entry *e, const struct hasher *h,
			   unsigned int i, unsigned int x);
/* The first window of e (an offset in bytes) whose digest stream i of h
 * does not match, or UINT64_MAX. */
uint64_t digest_first_bad_window(const struct digest_entry *e, const struct hasher *h,
				 unsigned int i);
/* --hash-log: the digests of every region of r[0..n) that has one, each
 * of the bytes of its stream: 0 or -errno, said. */
int hash_log_write(const struct opts *o, const struct region *r, unsigned int n,
		   const struct hasher *h);

#endif
