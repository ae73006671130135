/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * NBD exports (nbd.c, nbd-status.c, nbd-io.c): the export, its
 * connections, and the block status requests that go on them.
 */
#ifndef DMIO_NBD_INTERNAL_H
#define DMIO_NBD_INTERNAL_H

#include <libnbd.h>

#include "dmio-internal.h"

#define ZERO_PIECE_MAX (1u << 30) /* a zero or trim request, at most (32-bit lengths) */

/*
 * One connection is driven by one completion thread at a time, its
 * owner's: two threads that poll and notify one libnbd handle can leave a
 * command unsent.  A client owns a connection while it has commands in
 * flight on it, and lets it go (nbd_tidy()) when it has none.  A client
 * takes a connection under its claim lock, which dmio_nbd_extent() holds
 * while it drives a connection that nobody owns (query_run()).
 */
struct nbd_conn {
	struct dmio_nbd *t;
	struct nbd_handle *h;
	int fd;
	struct dmio_client *owner;	/* atomic; NULL: none */
	unsigned int inflight;		/* commands in flight; atomic */
	pthread_mutex_t claim;
};

/* The runs one block status reply gave of one meta context, from start:
 * run i ends at end[i] with flags[i].  Kept for the calls that ask next
 * (the reply covers many runs: each would be a round trip of its own). */
#define RUNS_KEPT 64
enum { CTX_BASE, CTX_DIRTY, CTX_COUNT };

struct runs {
	uint64_t start;
	unsigned int n;
	unsigned int writes;		/* the export's count of writes when asked */
	uint64_t end[RUNS_KEPT];
	uint32_t flags[RUNS_KEPT];
};

/* What a block status request gathers, for each context it asked. */
struct extent_walk {
	uint64_t at;
	const char *dirty_ctx;		/* the dirty bitmap's context, or NULL */
	struct runs r[CTX_COUNT];
};

/* A dmio_nbd_extent() call's block status request, on its stack. */
struct nbd_query {
	struct nbd_query *next;
	struct extent_walk w;
	uint64_t len;
	struct nbd_conn *conn;		/* where a completion thread sent it */
	int err;
	bool taken, done;		/* under the export's query_lock */
};

struct dmio_nbd {
	struct dmio_nbd *next;		/* the registry */
	int handle;
	struct dmio_nbd_info info;
	pthread_mutex_t query_lock;	/* protects queries and each one's taken and done */
	pthread_cond_t query_cond;	/* a query done, or a connection let go */
	struct nbd_query *queries;	/* waiting for a completion thread to send them */
	unsigned int npending;		/* how many; atomic */
	int query_fd;			/* eventfd: a query waits; the owners poll it */
	char *dirty_ctx;		/* "qemu:dirty-bitmap:NAME", or NULL */
	char *contexts;			/* what the server offers, ","-separated */
	pthread_mutex_t runs_lock;	/* protects runs */
	struct runs runs[CTX_COUNT];	/* the last reply's */
	unsigned int writes;		/* writes, zeroes and trims sent; atomic */
	unsigned int rr;		/* the next connection to try; atomic */
	struct nbd_conn conn[];
};

/* Why the last dmio_nbd_* call of this thread failed (nbd.c). */
extern __thread char nbd_error_text[512];
/* Say why libnbd failed; its errno, negated. */
int nbd_failed(void);
/* libnbd's callbacks of a block status request q (nbd-status.c): the runs
 * of its reply, and its completion, on the completion thread that sent it
 * (nbd-io.c). */
int nbd_gather(void *user_data, const char *context, uint64_t offset, uint32_t *entries,
	       size_t nr, int *error);
int nbd_query_done(void *user_data, int *error);

#endif
