/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Digest files: --hash-log writes one (hashlog.c), verify --digest-file
 * reads one back (digestfile.c), or one that sha256sum, md5sum, b2sum or
 * xxhsum wrote.
 *
 *   # dmio VERSION OPERATION
 *   # size BYTES NAME
 *   SHA256 (NAME) = HEX
 *   # window OFFSET LENGTH ALG HEX NAME
 *
 * Digest lines are BSD-tagged, one per algorithm (what sha256sum -c and
 * cksum -c read); the comments, which those tools skip, give each
 * region's length and its --hash-window digests (a line per window and
 * algorithm, in order).  Read back, untagged
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

/* What a file says of one region (NAME).  Its windows stay in the file
 * (there may be millions): how many, which algorithms, how long. */
struct digest_entry {
	char *name;
	uint64_t size;			/* bytes, or UINT64_MAX: not said */
	unsigned int mask;		/* the algorithms it has a digest of */
	unsigned int either;		/* of which, untagged, any one may match */
	char hex[HASH_COUNT][HASH_HEX_MAX];
	uint64_t nwindows;		/* of every algorithm */
	unsigned int walgs;		/* the algorithms that have windows */
	uint64_t wlen;			/* the first window's length */
	uint64_t wnext[HASH_COUNT];	/* reading: where each one's next may start */
};

struct window_run {
	uint64_t offset, length;	/* bytes from the region's start */
};

/* verify --digest-file: a destination's windows against its entry's, as
 * the stream's complete: the file is read on, in order, to the window at
 * the same place (of one algorithm: the first that has windows). */
struct window_check {
	FILE *f;
	const struct digest_entry *e;
	enum hash_alg alg;
	struct digest_window next;	/* the file's next one, when have */
	bool have, end;
	char *line;
	size_t cap;
	/* The outcome, after the hasher has finished: where the first window
	 * that differs starts (UINT64_MAX: none), how many differ, and the
	 * first max of them. */
	uint64_t first, total;
	struct window_run *listed;
	unsigned int nlisted, max, listed_cap;
};

/* verify --digest-file: read o->digest_file and give each destination its
 * entry (r[i].expected; its length from the entry's size unless its spec
 * gives one), and where the entry has windows, its check (r[i].check): 0,
 * or -EINVAL once said why. */
int digests_prepare(const struct opts *o, struct region *r, unsigned int n);
/* Free what digests_prepare() read and made. */
void digests_release(void);
/* Window w of a destination's stream in h has completed (the hasher's
 * thread): hold it against the file's at the same place, if any. */
void window_check(struct window_check *c, const struct hasher *h, const struct hash_window *w);

/* ---- --hash-log (hashlog.c) ---- */

/* The log's place: none of the job's files, nor standard output while
 * that carries read's data or the report; one that can be written (a
 * temporary file made beside it, but for --dry-run): 0, or -EINVAL once
 * said why. */
int hash_log_prepare(const struct opts *o, const struct region *r, unsigned int n);
/* The job hashes nstreams streams: 0 or -ENOMEM. */
int hash_log_start(unsigned int nstreams);
/* Window w of stream i has completed (the hasher's thread): spooled. */
void hash_log_window(const struct hasher *h, unsigned int i, const struct hash_window *w);
/* The digests of every region of r[0..n) that has one, each of the bytes
 * of its stream, with its windows; nothing when no region has one (an
 * earlier log stays): 0 or -errno, said. */
int hash_log_write(const struct opts *o, const struct region *r, unsigned int n,
		   const struct hasher *h);
/* Remove what is left: the spools, a temporary file not renamed. */
void hash_log_release(void);

#endif
