/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The pipeline (pipeline.c) and the job kinds that drive it (copy.c,
 * verify.c, stream.c, zero.c), in dm-kcopyd's shape:
 *
 * - The regions are cut into chunks; each chunk in flight has a slot: a
 *   buffer, its results, and a state.
 * - Only the main thread submits I/O and changes a slot.  A library
 *   callback (on the client's completion thread) only records its error
 *   bits, and the last one of a slot puts the slot on the done list and
 *   wakes the main thread through an eventfd, which the signal handlers
 *   write too.
 * - The main thread advances completed slots in chunk order as far as
 *   their first phase goes (a copy writes chunk k only once chunks 0..k
 *   were read, so a source read error stops it there), and retires them
 *   strictly in order, so that what each region reports done is always a
 *   prefix of it.
 * - A failed piece is redone synchronously by halves down to one block, to
 *   name the exact failing sector.
 */
#ifndef DMIO_JOB_H
#define DMIO_JOB_H

#include <pthread.h>

#include "cli.h"
#include "hash.h"

struct map;

/* A chunk-sized buffer, seen as each of the three dm-io buffer types. */
struct cbuf {
	char *mem;
	struct dmio_page_list *pl;
	struct dmio_bvec *bv;
};

enum slot_state {
	SLOT_FREE,	/* not in use */
	SLOT_FILL,	/* being filled from the input (write) */
	SLOT_IO,	/* calls in flight: on the done list after the last one */
	SLOT_READY,	/* its calls have completed: to be advanced */
	SLOT_DONE,	/* finished: to be retired, in chunk order */
};

struct slot;

/* One dm-io call of a slot (its context): call k's results start at the
 * slot's res[k]. */
struct slot_call {
	struct slot *slot;
	unsigned long bits;		/* the error bits it completed with; atomic */
	int rw;				/* what it did (the main thread's) */
};

#define CALL_NONE 0xff			/* a destination skipped: no call */

struct slot {
	struct job *job;
	struct slot *next_done;		/* the done list (job.done_lock) */
	int refs;			/* slot_get()/slot_put(); atomic */
	/* The main thread's alone, as every field below. */
	enum slot_state state;
	bool holding;			/* the submitter's reference is held */
	bool wrote;			/* past the first phase: its writes are submitted */
	bool zero;			/* the chunk is zeroes (a hole, or read as zeroes) */
	bool unread;			/* a hole of the source, not read: buf[0] holds nothing */
	uint64_t off, len;		/* sectors, from the start of the regions */
	size_t filled;			/* write: bytes of input in buf[0] */
	struct cbuf *buf;		/* [0] the chunk's; verify: [1 + k] dest[k]'s */
	struct dmio_result *res;	/* per result index */
	struct slot_call *calls;	/* [k]: the call whose results start at res[k] */
	unsigned int *dest;		/* result i (verify: 1 + i) is of destination dest[i] */
	unsigned char *dest_call;	/* writes: dest[i]'s call, or CALL_NONE */
	bool *dest_hole;		/* reads of destinations: dest[i]'s part is a hole */
	unsigned int ndest;
	uint64_t hash_ticket;		/* its buffers are the hasher's until it is done */
	/* copy: s is in a bad range of the source, retried (rescue.c); the
	 * bad blocks its read found (--keep-going); bit i: destination i's
	 * write of it succeeded. */
	bool bad;
	struct bad_list found;
	unsigned long legs_ok;
};

struct job;

/* --rate (rate.c): a token bucket, in bytes. */
struct rate {
	double bps;		/* the rate; 0: no limit */
	double cap;		/* what the bucket holds at most */
	double tokens;		/* what it holds; below 0: owed by a chunk larger than it */
	double last;		/* when tokens was last filled */
	double due;		/* when the chunk refused last may start; 0: none waits */
};

/* A job kind.  Each op runs on the main thread and submits through
 * job_read() and job_write(). */
struct job_ops {
	/* A slot holds a buffer per destination as well (verify). */
	bool buffer_per_dest;
	/* Its chunks of zeroes (a hole of a file source; zero's) may be as
	 * large as ZERO_CHUNK_MAX: nothing is read into a buffer for them. */
	bool large_zeroes;
	/* --hash feeds the data stream when a chunk's first phase ends (its
	 * source's buffer is final then), not when it retires. */
	bool hash_at_advance;
	/* A new chunk s (off and len set; zero and unread when it is a hole
	 * of a file source): submit its first calls, or put it in SLOT_FILL
	 * to be filled from j->infd; with neither, it is advanced as is. */
	void (*start)(struct job *j, struct slot *s);
	/* Optional: s is in SLOT_FILL and j->infd is readable. */
	void (*fill)(struct job *j, struct slot *s);
	/* s's calls have completed: submit what comes next, or finish it with
	 * slot_finish().  While s has not written, called in chunk order. */
	void (*advance)(struct job *j, struct slot *s);
	/* s is the oldest chunk, finished, and starts before the limit (its
	 * len cut to it): account for it.  Optional. */
	void (*retire)(struct job *j, struct slot *s);
};

extern const struct job_ops copy_ops, resync_ops, verify_ops, read_ops, write_ops, zero_ops;
extern const struct job_ops readback_ops;

typedef int submit_fn(const struct dmio_request *req, unsigned int num_regions,
		      const struct dmio_region *where, unsigned long *error_bits);

struct job {
	const struct opts *o;
	const struct job_ops *ops;
	struct region *src;		/* copy, verify, read */
	struct region *dst;		/* copy, verify, write, zero */
	unsigned int ndst;
	uint64_t total, next, limit, chunk; /* sectors */
	uint64_t progress;		/* sectors retired */
	struct dmio_client *client;
	submit_fn *submit;		/* dmio_submit; the unit tests' fake */
	struct slot *slots;
	unsigned int nslots, head, used;
	struct cbuf *bufs;
	unsigned int nbufs;
	struct cbuf *zeroes;		/* ZERO_CHUNK_MAX of zeroes, never written */
	uint64_t run_end;		/* a file source: where its run of data or hole ends */
	bool run_hole;
	char *area, *zero_area;
	size_t area_len;
	int wake_fd;			/* eventfd: completions and signals */
	pthread_mutex_t done_lock;
	struct slot *done;		/* slots whose calls completed */
	int infd, outfd;		/* write's input, read's output */
	bool input_ended;		/* write: the input reached its end */
	struct job_result *res;
	struct map *resume_map;		/* copy --map */
	double map_last;		/* when it was last written */
	bool map_failed;
	struct hasher *hasher;		/* --hash, --digest-file (digests.c) */
	struct rate rate;		/* --rate */
	uint64_t retired;		/* sectors retired, over every pass */
	/* copy: the pass's plan (rescue.c): the bad ranges to retry, in
	 * order, and everything from sector from on. */
	struct bad_range *retry;
	unsigned int nretry, iretry;
	uint64_t from;
	unsigned int found_pending;	/* ranges in slots' found, not yet retired */
};

/* ---- for the job kinds (pipeline.c; narrow.c, writes.c) ---- */

/* Submit s's call k of rw over where[0..n) with buffer b, results from
 * s->res[k]; a call the library refuses counts as failed on every region. */
void slot_submit(struct job *j, struct slot *s, unsigned int k, int rw,
		 struct cbuf *b, unsigned int n, const struct dmio_region *where);
/* Read region r's part of s into s->buf[k], its result in s->res[k]. */
void job_read(struct job *j, struct slot *s, struct region *r, unsigned int k);
/* Read each destination s->dest[k]'s part of s into s->buf[1 + k], or
 * note it a hole of its file (s->dest_hole[k]), not read. */
void job_read_dests(struct job *j, struct slot *s);
/* Write s to every destination still healthy that s falls in, of those in
 * the mask only: its data from s->buf[0], or, for a zero chunk, zeroes as
 * suits each (write-zeroes, a discard, or data where it cannot), or
 * nothing (--target-is-zero); the others are skipped.  Finish s when
 * nothing is to be written. */
void job_write(struct job *j, struct slot *s, unsigned long only);
/* Whether len bytes at p (a chunk buffer: 64-byte multiple) are zeroes. */
bool is_zero(const void *p, size_t len);
/* Whether sectors [first, first + len) of file region r are a hole
 * (never for a block device). */
bool region_hole(const struct region *r, uint64_t first, uint64_t len);
/* After the source's read of s: narrow a failure to its sector and stop
 * the job there; cut s to the limit.  False when nothing of s is left. */
bool job_source_ok(struct job *j, struct slot *s);
/* An advance op: s's writes have completed, so it is done. */
void job_writes_done(struct job *j, struct slot *s);
/* A retire op: account for s's writes on each destination, narrowing
 * failures. */
void job_retire_writes(struct job *j, struct slot *s);
/* Whether s's call k failed on its where[i]. */
bool slot_call_failed(const struct slot *s, unsigned int k, unsigned int i);
/* Region r's call over sectors [first, end) (absolute; mem is the buffer
 * of sector first) failed with result res: redo it from the sector the
 * library named, by halves down to one block, and return the first sector
 * that fails again, with its errno in *err; UINT64_MAX when all of it
 * works this time (a block device fails every request merged with a
 * failing one).  Everything before the returned sector is done. */
uint64_t job_failed_at(struct job *j, struct region *r, int rw, char *mem,
		       uint64_t first, uint64_t end, const struct dmio_result *res,
		       int *err);
/* Nothing at or past sector off (from the start) is done any more, for
 * reason (the first one stays). */
void job_stop_at(struct job *j, uint64_t off, enum stop reason);
/* Destination i failed at sector (absolute): its status and error bit. */
void job_dest_failed(struct job *j, unsigned int i, uint64_t sector, int err,
		     const char *what);
/* Record the --map: the destinations flushed, then the file written. */
void job_checkpoint(struct job *j, bool final);
static inline void slot_finish(struct slot *s)
{
	s->state = SLOT_DONE;
}

bool dest_active(const struct region *d);
unsigned int active_dests(const struct job *j);
/* The part of s that falls in d (write and zero destinations may differ
 * in size), in sectors. */
uint64_t dest_len(const struct region *d, const struct slot *s);

/* ---- digests (digests.c) ---- */

/* Start the hasher the options and the expected digests ask for: 0 or
 * -errno. */
int job_hash_init(struct job *j);
/* Feed the retired slot s to the hasher. */
void job_hash(struct job *j, struct slot *s);
/* Whether s's buffers are still being hashed. */
bool job_hash_busy(const struct job *j, const struct slot *s);
/* Finish the digests: which region has one, verify --digest-file's
 * verdicts, the --hash-log: 0 or -errno (said). */
int job_hash_end(struct job *j);
/* Whether zero chunk s is I/O of its own on destination d: zeroes written
 * as data, or by a block device or an NBD server (not a file's hole, not
 * skipped). */
bool zeroes_cost(const struct job *j, const struct region *d, const struct slot *s);

/* ---- --rate (rate.c) ---- */

/* The chunk size (bytes) under a rate of bps: no more than the bucket
 * holds (a tenth of a second of it, in 4 KiB), at least 4 KiB. */
uint64_t rate_chunk(uint64_t bps, uint64_t chunk);
/* A bucket of bps bytes per second (0: no limit), full. */
void rate_init(struct rate *b, uint64_t bps);
/* Whether a chunk that costs cost bytes may start now; if so, they are
 * taken, else b->due says when it may. */
bool rate_take(struct rate *b, uint64_t cost);
/* Seconds until the chunk refused last may start: -1 for none. */
double rate_due(const struct rate *b);
/* What the new chunk s costs, in bytes; a chunk of zeroes that costs is
 * cut to what the bucket holds, so that it is paced as data is. */
uint64_t rate_cost(struct job *j, struct slot *s);

/* ---- copy --keep-going and the bad ranges of the source (rescue.c) ---- */

/* --keep-going: s's read failed.  Narrow every failure to its block, zero
 * the bad blocks in the buffer and note them in s->found; the rest is
 * read.  UINT64_MAX, or the sector (absolute) where too many bad ranges
 * stop the copy, its errno in *err. */
uint64_t rescue_read(struct job *j, struct slot *s, int *err);
/* The pass starts at j->next: from then on everything is done, and
 * before that, the source's bad ranges only.  0 or -ENOMEM. */
int rescue_plan(struct job *j);
/* Move j->next past what the plan skips; returns it. */
uint64_t rescue_skip(struct job *j);
/* Cut the new chunk s at the bad ranges' edges; is it in one? */
void rescue_cut(struct job *j, struct slot *s);
/* s is leaving (retired, when done): update the source's bad ranges. */
void rescue_retire(struct job *j, struct slot *s, bool done);
/* Destination d's write over a bad range it held zeroes for (at sector
 * off, relative) failed at sector bad (absolute) (ok: it did not fail). */
void rescue_refill(struct region *d, uint64_t off, bool ok, uint64_t bad);
/* --retries: passes over the bad ranges that are left. */
void rescue_passes(struct job *j);
/* The source's status and read_error, from its bad ranges. */
void rescue_status(struct job *j);

/* ---- read's output, write's input (stream.c) ---- */

/* Open j->infd or j->outfd as the options say ("-" or none: stdin,
 * stdout): 0; -EINVAL, said why, when it is refused (a region's own file
 * or device, a directory, a block device in use); -EINTR when a signal
 * came while it waited (a FIFO). */
int stream_open(struct job *j);
/* Close them; a failed close of the output is a write error. */
void stream_close(struct job *j);
/* --dry-run: whether stream_open() would refuse them, opening nothing
 * that waits or writes: 0, or -EINVAL once said why. */
int stream_check(struct job *j);
/* write filled every destination: is there input left?  An error, said
 * with how much (a file) or at least how much (anything else). */
void stream_input_left(struct job *j);

/* ---- the chunk buffers (buffer.c) ---- */

/* j->nbufs buffers of j->chunk sectors, in j->bufs: 0 or -errno. */
int bufs_init(struct job *j);
void bufs_free(struct job *j);

/* ---- the pipeline itself ---- */

/* Run o->op over r[0..n) as job_run() does, submitting through submit. */
int job_run_with(const struct opts *o, struct region *r, unsigned int n,
		 struct job_result *res, submit_fn *submit);

/* Set up j (regions, ops, o, res and submit filled in) for its chunks in
 * flight: 0 or -errno. */
int pipeline_init(struct job *j);
/* Run every chunk from j->next to j->limit through j->ops. */
void pipeline_run(struct job *j);
void pipeline_free(struct job *j);

#endif
