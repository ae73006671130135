/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The pipeline, in dm-kcopyd's shape, and the contract of the job kinds
 * (jobs/) and the features (features/) that use it:
 *
 * - The regions are cut into chunks by one planner (plan.c); each chunk in
 *   flight has a slot: a buffer, its results, and a state.
 * - Only the main thread submits I/O and changes a slot.  A library
 *   callback (on the client's completion thread) only records its error
 *   bits, and the last one of a slot puts the slot on the done list and
 *   wakes the main thread through an eventfd, which the signal handlers
 *   write too (loop.c).
 * - The main thread advances completed slots in chunk order as far as
 *   their first phase goes (a copy writes chunk k only once chunks 0..k
 *   were read, so a source read error stops it there), and retires them
 *   strictly in order, so that what each region reports done is always a
 *   prefix of it.
 * - A failed piece is redone synchronously by halves down to one block, to
 *   name the exact failing sector (narrow.c).
 * - A job kind is an ops table (struct job_ops) that submits through io.c;
 *   a feature that is on is a stage (struct stage) whose hooks the planner
 *   and the loop call; one that is off is not on the list, and costs
 *   nothing.
 */
#ifndef DMIO_PIPELINE_H
#define DMIO_PIPELINE_H

#include <pthread.h>

#include "base/base.h"
#include "regions/regions.h"

#define REQUEST_MAX DMIO_DEFAULT_MAX_IO	/* bytes per engine request the CLI asks for */
#define ENGINE_DEPTH_MAX 1024u		/* engine requests in flight, at most */
#define ZERO_CHUNK_MAX (256u << 20)	/* a chunk of zeroes that needs no buffer */
#define STAGES_MAX 8			/* features on at once */

/* Why a job ended before the end of its regions. */
enum stop {
	STOP_NONE,	/* it did not (write: the input ended) */
	STOP_SIGNAL,	/* interrupted by job_result.signal */
	STOP_SOURCE,	/* the source failed */
	STOP_DESTS,	/* every destination failed or differs */
	STOP_INPUT,	/* write's input failed */
	STOP_OUTPUT,	/* read's output failed */
};

/* What the job did; each region's outcome is in the region. */
struct job_result {
	enum stop stop;		/* the first reason */
	bool read_error;	/* the source failed */
	bool stream_error;	/* the input, the output or the map failed */
	int map_err;		/* --map: why it could not be written (an errno), or 0 */
	int signal;		/* a stop signal came */
	uint64_t bytes;
	/* Over every region: read (source, and destinations compared), written
	 * as data, zeroed (write-zeroes, discard), skipped (zeroes onto
	 * --target-is-zero, unchanged with --write-changed). */
	uint64_t bytes_read, bytes_written, bytes_zeroed, bytes_skipped;
	double seconds;
	unsigned int chunks;	/* in flight at most, of chunk bytes */
	uint64_t chunk;
	struct dmio_stats stats; /* the engine's, for --verbose */
	struct hasher *hasher;	/* --hash, --digest-file: the regions' digests */
};

typedef int submit_fn(const struct dmio_request *req, unsigned int num_regions,
		      const struct dmio_region *where, unsigned long *error_bits);

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
	/* Where the chunk is, and what: the planner's (plan.c). */
	uint64_t off, len;		/* sectors, from the start of the regions */
	bool zero;			/* the chunk is zeroes (a hole, or read as zeroes) */
	bool unread;			/* a hole of the source, not read: buf[0] holds nothing */
	bool rewrite;			/* written below the destinations' resume points
					 * too (a bad range of the source, retried) */
	size_t filled;			/* write: bytes of input in buf[0] */
	struct cbuf *buf;		/* [0] the chunk's; per dest: [1 + k] dest[k]'s */
	struct dmio_result *res;	/* per result index */
	struct slot_call *calls;	/* [k]: the call whose results start at res[k] */
	unsigned int *dest;		/* result i (verify: 1 + i) is of destination dest[i] */
	unsigned char *dest_call;	/* writes: dest[i]'s call, or CALL_NONE */
	bool *dest_hole;		/* reads of destinations: dest[i]'s part is a hole */
	unsigned int ndest;
	unsigned long legs_ok;		/* bit i: destination i's write of it succeeded */
};

struct job;

/* A job kind (jobs/).  Each op runs on the main thread and submits through
 * io.c. */
struct job_ops {
	/* A slot holds a buffer per destination as well (verify). */
	bool buffer_per_dest;
	/* Its chunks of zeroes (a hole of a file source; zero's) may be as
	 * large as ZERO_CHUNK_MAX: nothing is read into a buffer for them. */
	bool large_zeroes;
	/* The data stream is final when a chunk's first phase ends (its
	 * source's buffer), not when it retires: a stage's advanced hook runs
	 * then. */
	bool final_at_advance;
	/* A new chunk s (off and len set; zero and unread when it is a hole
	 * of the source): submit its first calls, or put it in SLOT_FILL
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

/*
 * A feature that is on (features/): the planner and the loop call its
 * hooks, each optional (NULL), in the order the stages were added.
 */
struct stage;
struct stage_ops {
	const char *name;
	/* Plan: the first sector at or after off that is still to be done,
	 * as far as this stage knows (it skips the rest). */
	uint64_t (*next)(struct stage *st, uint64_t off);
	/* Plan: where chunk s (off set; zero and unread; len the most so far)
	 * must end at the latest, in sectors from the start; it may mark s
	 * (rewrite). */
	uint64_t (*limit)(struct stage *st, struct slot *s);
	/* Whether the planned chunk s may start now; if not, due() says when
	 * to ask again.  A stage that says yes has taken what s costs. */
	bool (*admit)(struct stage *st, struct slot *s);
	/* s's read of the source failed (s->res[0]): the first sector
	 * (absolute) that stops the job, its errno in *err, or UINT64_MAX
	 * when the stage took care of it.  The first stage with the hook
	 * decides; without one, narrow_read() does. */
	uint64_t (*read_failed)(struct stage *st, struct slot *s, int *err);
	/* s's first phase has ended, in chunk order (job_ops.final_at_advance). */
	void (*advanced)(struct stage *st, struct slot *s);
	/* Destination i's write of s, below its resume point (s->rewrite),
	 * failed at sector bad (absolute), or did not (UINT64_MAX). */
	void (*rewritten)(struct stage *st, struct slot *s, unsigned int i, uint64_t bad);
	/* s retires, in chunk order; done: below the limit, it counts. */
	void (*retire)(struct stage *st, struct slot *s, bool done);
	/* Seconds until it has something to do (tick, admit): -1, never. */
	double (*due)(struct stage *st);
	/* Every turn of the loop: do what is due. */
	void (*tick)(struct stage *st);
};

struct stage {
	const struct stage_ops *ops;
	struct job *job;
};

struct job {
	const struct opts *o;
	const struct job_ops *ops;
	struct region *src;		/* copy, verify, read; else NULL */
	struct region *dst;		/* copy, verify, write, zero */
	unsigned int ndst;
	uint64_t total, next, limit, chunk; /* sectors */
	uint64_t progress;		/* sectors retired, a prefix */
	uint64_t retired;		/* sectors retired, over every pass */
	struct dmio_client *client;
	submit_fn *submit;		/* dmio_submit; the unit tests' fake */
	struct slot *slots;
	unsigned int nslots, head, used;
	struct cbuf *bufs;
	unsigned int nbufs;
	struct cbuf *zeroes;		/* ZERO_CHUNK_MAX of zeroes, never written */
	uint64_t run_end;		/* the planner's: where the source's run of data
					 * or of hole ends */
	bool run_hole;
	char *area, *zero_area;
	size_t area_len;
	int wake_fd;			/* eventfd: completions and signals */
	pthread_mutex_t done_lock;
	struct slot *done;		/* slots whose calls completed */
	int infd, outfd;		/* write's input, read's output */
	bool input_ended;		/* write: the input reached its end */
	struct job_result *res;
	struct stage *stages[STAGES_MAX]; /* the features that are on */
	unsigned int nstages;
};

#define for_each_stage(j, st)                                                   \
	for (struct stage **st##_p = (j)->stages, *st;                          \
	     st##_p < (j)->stages + (j)->nstages && (st = *st##_p, true); st##_p++)

/* Put feature st on j's list (job.c, when it is on). */
static inline void job_add_stage(struct job *j, struct stage *st, const struct stage_ops *ops)
{
	st->ops = ops;
	st->job = j;
	j->stages[j->nstages++] = st;
}

/* ---- the destinations, as a chunk sees them ---- */

/* Still taking part: not failed, not found to differ. */
static inline bool dest_active(const struct region *d)
{
	return d->status != ST_ERROR && d->status != ST_MISMATCH;
}

static inline unsigned int active_dests(const struct job *j)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < j->ndst; i++)
		n += dest_active(&j->dst[i]);
	return n;
}

/* The part of s that falls in d (write and zero destinations may differ
 * in size), in sectors. */
static inline uint64_t dest_len(const struct region *d, const struct slot *s)
{
	if (s->off >= d->count)
		return 0;
	return d->count - s->off < s->len ? d->count - s->off : s->len;
}

static inline void slot_finish(struct slot *s)
{
	s->state = SLOT_DONE;
}

/* ---- the loop, the slots and their calls (loop.c) ---- */

/* Set up j (regions, ops, o, res and submit filled in) for its chunks in
 * flight: 0 or -errno. */
int pipeline_init(struct job *j);
/* Run every chunk from j->next to j->limit through j->ops. */
void pipeline_run(struct job *j);
void pipeline_free(struct job *j);
/* Submit s's call k of rw over where[0..n) with buffer b, results from
 * s->res[k]; a call the library refuses counts as failed on every region. */
void slot_submit(struct job *j, struct slot *s, unsigned int k, int rw,
		 struct cbuf *b, unsigned int n, const struct dmio_region *where);
/* Whether s's call k failed on its where[i]. */
bool slot_call_failed(const struct slot *s, unsigned int k, unsigned int i);
/* Nothing at or past sector off (from the start) is done any more, for
 * reason (the first one stays). */
void job_stop_at(struct job *j, uint64_t off, enum stop reason);

/* ---- the chunk planner (plan.c): the one place a chunk's extent is set ---- */

/* Plan the next chunk into s, from j->next: false when none is left
 * before j->limit. */
bool plan_chunk(struct job *j, struct slot *s);
/* s ends at j->limit at most, which a stop has moved (a source error, the
 * input's end, the output, a signal); false when nothing of s is left. */
bool plan_trim(struct job *j, struct slot *s);

/* ---- what the job kinds submit with (io.c) ---- */

/* Read region r's part of s into s->buf[k], its result in s->res[k]. */
void job_read(struct job *j, struct slot *s, struct region *r, unsigned int k);
/* Read each destination s->dest[k]'s part of s into s->buf[1 + k], or
 * note it a hole of its device (s->dest_hole[k]), not read. */
void job_read_dests(struct job *j, struct slot *s);
/* Write s to every destination still healthy that s falls in, of those in
 * the mask only: its data from s->buf[0], or, for a zero chunk, zeroes as
 * suits each (write-zeroes, a discard, or data where it cannot), or
 * nothing (--target-is-zero); the others are skipped.  Finish s when
 * nothing is to be written. */
void job_write(struct job *j, struct slot *s, unsigned long only);
/* Whether zero chunk s costs destination d I/O of its own: zeroes written
 * as data, or by a device that does not make them holes (not skipped). */
bool zeroes_cost(const struct job *j, const struct region *d, const struct slot *s);
/* An advance op: s's writes have completed, so it is done. */
void job_writes_done(struct job *j, struct slot *s);
/* A retire op: account for s's writes on each destination, narrowing
 * failures. */
void job_retire_writes(struct job *j, struct slot *s);
/* Whether len bytes at p (a chunk buffer: 64-byte multiple) are zeroes. */
bool is_zero(const void *p, size_t len);

/* ---- failures narrowed to their sector (narrow.c) ---- */

/* Region r's call over sectors [first, end) (absolute; mem is the buffer
 * of sector first) failed with result res: redo it from the sector the
 * library named, by halves down to one block, and return the first sector
 * that fails again, with its errno in *err; UINT64_MAX when all of it
 * works this time (a block device fails every request merged with a
 * failing one).  Everything before the returned sector is done. */
uint64_t job_failed_at(struct job *j, struct region *r, int rw, char *mem,
		       uint64_t first, uint64_t end, const struct dmio_result *res,
		       int *err);
/* After the source's read of s: narrow a failure to its sector (or let a
 * stage take it) and stop the job there; trim s to the limit.  False when
 * nothing of s is left. */
bool job_source_ok(struct job *j, struct slot *s);

/* ---- the chunk buffers (buffer.c) ---- */

/* j->nbufs buffers of j->chunk sectors, in j->bufs: 0 or -errno. */
int bufs_init(struct job *j);
void bufs_free(struct job *j);

#endif
