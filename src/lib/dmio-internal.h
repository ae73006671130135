/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The internal contract of libdmio: the buffer walker, the request ("piece"),
 * the page pool, the engine ops table, and the client that ties them
 * together.  Everything here runs on the client's completion thread unless
 * it says otherwise.
 */
#ifndef DMIO_INTERNAL_H
#define DMIO_INTERNAL_H

#include <libaio.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>

#include "dmio.h"

#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

/* ---- dpages.c: the three buffer types behind one walker (dm-io's dpages) ---- */

struct dpages {
	/* The current contiguous piece of memory: *len bytes at *addr. */
	void (*get_page)(struct dpages *dp, char **addr, size_t *len);
	/* Move on by n bytes, n <= the len get_page gave. */
	void (*next_page)(struct dpages *dp, size_t n);
	union {
		struct dmio_page_list *pl;
		struct dmio_bvec *bvec;
		char *vma;
	} ptr;
	unsigned int offset; /* into the current page or bvec */
};

/* Set dp up for req's memory; -EINVAL if it cannot cover len bytes. */
int dp_init(struct dpages *dp, const struct dmio_request *req, uint64_t len);
/* Move dp on by n bytes: only, copying them to or from buf, or zeroing them. */
void dp_advance(struct dpages *dp, size_t n);
void dp_copy_out(struct dpages *dp, char *buf, size_t n); /* memory -> buf */
void dp_copy_in(struct dpages *dp, const char *buf, size_t n); /* buf -> memory */
void dp_zero(struct dpages *dp, size_t n);

/* ---- core.c: one I/O call, split into pieces ---- */

struct dmio_nbd;
struct nbd_conn;
struct nbd_query;

struct dmio_engine_ops;

struct region_state {
	int fd;
	const struct dmio_engine_ops *ops; /* what issues its pieces */
	struct dmio_nbd *nbd; /* an NBD export's region (nbd.c), else NULL */
	bool blk;            /* a block device */
	uint64_t pos, end;   /* bytes still to split: [pos, end) */
	unsigned int align;  /* O_DIRECT: offsets, lengths, addresses; else 0 */
	struct dpages dp;    /* the walker where pos is */
};

#define DMIO_OP(rw) ((rw) & 0xff)

/* Write-zeroes and discard: no buffer, one piece a region, done by the
 * completion thread itself (fallocate, ioctl). */
static inline bool dmio_zeroing(int rw)
{
	return DMIO_OP(rw) == DMIO_WRITE_ZEROES || DMIO_OP(rw) == DMIO_DISCARD;
}

/* Calls with no buffer: zeroing, and flushes (one piece a region, of no
 * bytes). */
static inline bool dmio_bufferless(int rw)
{
	return dmio_zeroing(rw) || DMIO_OP(rw) == DMIO_FLUSH;
}

/* One call: its regions, split round robin, and what is left of each. */
struct dmio_io {
	struct dmio_io *next;
	struct dmio_client *client;
	int rw;
	unsigned int num_regions;
	unsigned int next_region; /* round robin over regions left to split */
	unsigned int regions_left;
	unsigned long count;
	unsigned long error_bits;
	dmio_notify_fn fn;
	void *context;
	struct dmio_result *results;
	struct region_state r[];
};


/* One engine request: a contiguous byte range of one region. */
struct dmio_piece {
	struct iocb iocb; /* aio: the engine finds the piece by container_of */
	struct dmio_io *io;
	const struct dmio_engine_ops *ops; /* its region's */
	struct dmio_piece *next;
	unsigned int region;
	int fd;
	bool blk;          /* zeroing: on a block device */
	struct dmio_nbd *nbd;  /* an NBD region's piece (nbd.c) */
	struct nbd_conn *conn; /* and its connection */
	int rw;
	uint64_t start;    /* byte offset on the fd where the piece begins */
	size_t total;      /* its length */
	uint64_t pos;      /* what is left: len bytes at pos, from iov */
	size_t len;
	struct iovec *iov; /* the part of iovs still to transfer */
	int iovcnt;
	struct iovec *iovs; /* max_iov entries, allocated with the piece */
	long res;          /* engine result: bytes done, or -errno */
	struct dpages dp;  /* the caller's memory at the piece's start */
	/* Bounce: the data goes through pool pages, copied from or to the
	 * caller's memory, for an O_DIRECT fd that cannot take it as it is. */
	unsigned int nbounce;
	char **bounce_pages; /* max_iov entries */
};

/* ---- pool.c: pieces and bounce pages, sized by get/put ---- */

struct dmio_pool {
	pthread_mutex_t lock;
	struct dmio_piece *free_pieces; /* completion thread only */
	unsigned int npieces, max_iov;
	char **pages;          /* free pages, a stack */
	unsigned int nfree, npages, cap;
	unsigned int base, reserved;
	unsigned long long page_allocs;
};

int pool_init(struct dmio_pool *pool, unsigned int npieces,
	      unsigned int max_iov, unsigned int base_pages);
void pool_exit(struct dmio_pool *pool);
int pool_get(struct dmio_pool *pool, unsigned int n);
void pool_put(struct dmio_pool *pool, unsigned int n);
struct dmio_piece *pool_piece(struct dmio_pool *pool);
void pool_piece_free(struct dmio_pool *pool, struct dmio_piece *p);
/* Take up to n free pages into pages[]; returns how many were taken. */
unsigned int pool_take_pages(struct dmio_pool *pool, char **pages,
			     unsigned int n);
void pool_give_pages(struct dmio_pool *pool, char **pages, unsigned int n);

/* ---- engines: one ops table each (engine-sync.c, engine-aio.c,
 * engine-uring.c; nbd-io.c for NBD regions) ---- */

enum { DMIO_Q_COMPLETED, DMIO_Q_QUEUED, DMIO_Q_BUSY };

struct dmio_client;

/*
 * An engine issues pieces and hands them back completed.  Each region's
 * pieces, of whatever op, go to one table, chosen when the call is checked
 * (region_ops() in core.c): NBD's for an export, the sync engine's for a
 * local flush or zeroing (done now, whatever the client's engine), else the
 * client's engine.  name, queue and wait are required (dmio_nbd_engine, which
 * no client runs, has no wait: client_sleep() calls nbd_wait()); any other
 * member may be NULL: the engine has nothing to do there.  init and exit run
 * on the thread that creates or destroys the client, the rest on its
 * completion thread.
 */
struct dmio_engine_ops {
	const char *name;		/* as dmio_client_create() takes it */
	unsigned int default_depth;	/* the queue depth when the client asks 0 */
	/* Set up c->engine: 0 or -errno. */
	int (*init)(struct dmio_client *c);
	/* Free c->engine; nothing is in flight. */
	void (*exit)(struct dmio_client *c);
	/* Take p: do it now (p->res set, DMIO_Q_COMPLETED), hold it for commit
	 * (DMIO_Q_QUEUED), or give it back until something completes
	 * (DMIO_Q_BUSY). */
	int (*queue)(struct dmio_client *c, struct dmio_piece *p);
	/* Submit the pieces queue held. */
	void (*commit)(struct dmio_client *c);
	/* Put up to max held pieces that completed, res set, in done[]: how
	 * many; never waits.  Called only while c->inflight is not 0. */
	unsigned int (*reap)(struct dmio_client *c, struct dmio_piece **done,
			     unsigned int max);
	/* Sleep until a held piece completes or c->wake_fd is written (reap may
	 * still find nothing); client_wait() where completions write wake_fd. */
	void (*wait)(struct dmio_client *c);
	/* For nbd_wait()'s poll() beside NBD sockets: an fd readable when
	 * completions wait, and what to run before reap then. */
	int (*event_fd)(struct dmio_client *c);
	void (*events)(struct dmio_client *c);
	/* Both or neither, for an engine that reads wake_fd itself: whether
	 * that read is in flight (nbd_wait() then leaves wake_fd alone), and
	 * take its completion if it is the next one: whether it was. */
	bool (*wake_armed)(struct dmio_client *c);
	bool (*wake_take)(struct dmio_client *c);
};

extern const struct dmio_engine_ops dmio_sync_engine;
extern const struct dmio_engine_ops dmio_aio_engine;
extern const struct dmio_engine_ops dmio_uring_engine;
extern const struct dmio_engine_ops dmio_nbd_engine;

/* ---- client.c: the client and its completion thread ---- */

struct dmio_client {
	const struct dmio_engine_ops *ops;
	void *engine;
	unsigned int depth, max_io;
	struct dmio_pool pool;

	pthread_t thread;
	int wake_fd;          /* eventfd: new work, stopping, aio completions */
	pthread_mutex_t lock; /* protects what follows up to the thread-only part */
	pthread_cond_t idle;  /* outstanding reached 0 */
	struct dmio_io *incoming, **incoming_tail;
	unsigned long outstanding; /* calls accepted and not completed */
	bool stopping;
	bool asleep;          /* the thread is in (or on its way to) wait() */
	unsigned long long requests, bounced; /* atomic */

	/* Completion-thread only. */
	struct dmio_io *active, **active_tail; /* calls being split */
	unsigned int inflight;
	struct nbd_conn **nbd_conns; /* connections with commands in flight */
	unsigned int nbd_nconns;
	struct dmio_piece *nbd_done; /* NBD pieces completed, to finish */
	struct nbd_query *nbd_replied; /* NBD block status answered, to finish */
};

bool client_on_thread(struct dmio_client *c);
/* The client whose completion thread this is, or NULL. */
struct dmio_client *client_self(void);
/* Completion thread: sleep until wake_fd is written. */
void client_wait(struct dmio_client *c);
/* Completion thread: the engine's wait(), unless work came in; enqueue()
 * wakes it from there. */
void client_sleep(struct dmio_client *c);
/* Hand a validated call to the completion thread. */
void client_enqueue(struct dmio_client *c, struct dmio_io *io);
/* Completion thread: split calls into pieces and run them; returns when
 * nothing is in flight and no work is queued. */
void core_run(struct dmio_client *c);
/* Completion thread: the call is finished; release it. */
void client_io_done(struct dmio_client *c);

/* ---- nbd.c, nbd-status.c, nbd-io.c: NBD exports (libnbd), driven by the
 * completion thread ---- */

#define NBD_CONNS_MAX 64 /* connections a client owns at once */

/* The export that handle fd names, or NULL. */
struct dmio_nbd *nbd_find(int fd);
/* Check a region of rw on t, bytes [pos, end): 0 or -errno. */
int nbd_check(struct dmio_nbd *t, int rw, uint64_t pos, uint64_t end);
/* The largest piece of rw on t. */
uint64_t nbd_max_piece(struct dmio_nbd *t, int rw, uint64_t max_io);
/* Sleep until the wake-up eventfd, the engine's completions, a busy
 * connection's socket or a block status query on its export needs it; let
 * libnbd read and write; what it completed is on c->nbd_done and
 * c->nbd_replied. */
void nbd_wait(struct dmio_client *c);
/* Send the block status queries waiting for c's connections; let go of
 * the connections with nothing in flight; then wake the callers of the
 * queries answered. */
void nbd_tidy(struct dmio_client *c);
void nbd_client_exit(struct dmio_client *c);

#endif
