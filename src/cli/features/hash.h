/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Digests while the data goes by (hash.c): md5, sha1, sha256, sha512,
 * sha3-256 and blake2b-512 through OpenSSL's EVP, xxh128 through libxxhash,
 * each over a whole stream of bytes and, with a window size, over each
 * window of it (dcfldd's hashwindow).  The pipeline feeds a stream in
 * chunk order from its main thread; a thread of the hasher's own does the
 * hashing, so that a slow algorithm does not hold the I/O back: a chunk's
 * buffer is the hasher's until its ticket is done.
 */
#ifndef DMIO_HASH_H
#define DMIO_HASH_H

#include <stdbool.h>
#include <stdint.h>

enum hash_alg {
	HASH_MD5, HASH_SHA1, HASH_SHA256, HASH_SHA512, HASH_SHA3_256, HASH_BLAKE2B_512,
	HASH_XXH128, HASH_COUNT
};
#define HASH_HEX_MAX 129	/* sha512's 128 hex digits, and a NUL */

/* The algorithm's name in --hash and in JSON ("sha256"), and its tag in a
 * BSD-style digest line ("SHA256"). */
const char *hash_name(enum hash_alg a);
const char *hash_tag(enum hash_alg a);
/* The algorithm named name (or tagged so), or HASH_COUNT. */
enum hash_alg hash_lookup(const char *name);
/* Hex digits of a's digest. */
unsigned int hash_hex_len(enum hash_alg a);
/* "ALG[,ALG...]" as a mask of (1 << alg): NULL, or the name that is not
 * an algorithm (in bad, of size len). */
const char *hash_parse(const char *list, unsigned int *mask, char *bad, size_t len);

/* One window of a stream: where (bytes from its start), how long, and the
 * hex digest of each algorithm of the mask, in algorithm order. */
struct hash_window {
	uint64_t offset, length;
	char (*hex)[HASH_HEX_MAX];
};

struct hasher;

/* A hasher's windows (dcfldd's hashwindow), which it never keeps all of:
 * each is given to done as it completes, and the first keep of each
 * stream are kept for the report.  Memory is the same for any number. */
struct hash_windowing {
	uint64_t size;		/* bytes; 0: no windows */
	unsigned int keep;	/* of each stream, the first kept */
	/* Window w of stream i, in order, on the hasher's thread (a last,
	 * short one in hasher_finish(), on its caller's); w is the hasher's
	 * again after.  NULL: none. */
	void (*done)(void *ctx, const struct hasher *h, unsigned int i,
		     const struct hash_window *w);
	void *ctx;
};

/* A hasher of nstreams streams with the algorithms of mask and the
 * windows win says (NULL: none); it writes wake_fd (an eventfd) when the
 * ticket hasher_want() named is done.  NULL, errno set, when it cannot
 * start. */
struct hasher *hasher_new(unsigned int mask, const struct hash_windowing *win,
			  unsigned int nstreams, int wake_fd);
/* Feed len bytes at buf (NULL: zeroes) to stream i, after what was fed
 * before: the ticket, done once hashed (buf is free again). */
uint64_t hasher_push(struct hasher *h, unsigned int i, const void *buf, uint64_t len);
/* Tickets done so far: every ticket up to it. */
uint64_t hasher_done(struct hasher *h);
/* The main thread is about to wait for ticket: the hasher writes wake_fd
 * once it is done (and only then: no wake-up for every chunk).  Look at
 * hasher_done() again after it, before sleeping. */
void hasher_want(struct hasher *h, uint64_t ticket);
/* Wait until everything pushed is hashed, and finish every stream. */
void hasher_finish(struct hasher *h);
/* After hasher_finish(): bytes fed to stream i; its hex digest of a; the
 * windows of it that were kept (the first ones), and how many it had. */
uint64_t hasher_bytes(const struct hasher *h, unsigned int i);
const char *hasher_hex(const struct hasher *h, unsigned int i, enum hash_alg a);
const struct hash_window *hasher_windows(const struct hasher *h, unsigned int i,
					 unsigned int *n);
uint64_t hasher_windows_total(const struct hasher *h, unsigned int i);
/* Window w's hex digest of a, or NULL when h does not compute a. */
const char *hash_window_hex(const struct hasher *h, const struct hash_window *w,
			    enum hash_alg a);
void hasher_free(struct hasher *h);

#endif
