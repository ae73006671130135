/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The features of a job, each a type of its own and, when it is on, a
 * stage of the pipeline (pipeline.h) that job.c puts on the job's list:
 *
 *   rescue (rescue.c)    retries the source's bad ranges; with --keep-going,
 *                        reads around new ones
 *   map_state (resume.c) --map: where each destination resumes; checkpoints
 *   rate (rate.c)        --rate: a token bucket over chunks
 *   hashing (hashing.c)  --hash, --digest-file: feeds the hasher (hash.c)
 *   dirty (dirty.c)      --dirty-bitmap: only what a dirty bitmap marks
 *
 * Each answers the planner's questions (what to skip, where a chunk must
 * end) and takes the chunks it needs to see; none is called when it is off.
 */
#ifndef DMIO_FEATURES_H
#define DMIO_FEATURES_H

#include "features/hash.h"
#include "pipeline/pipeline.h"

struct window_check;

/* ---- copy --keep-going and the bad ranges of the source (rescue.c) ---- */

struct rescue {
	struct stage stage;
	bool keep_going;		/* read around new bad blocks */
	/* The pass's plan: the bad ranges to retry, in order, and
	 * everything from sector from on. */
	struct bad_range *retry;
	unsigned int nretry, iretry;
	uint64_t from;
	struct bad_list *found;		/* [slot]: the bad blocks its read found */
	unsigned int found_pending;	/* ranges in found, not yet retired */
};

/* The stage, on when the source has bad ranges to retry (a --map's) or
 * --keep-going: 0 (on or not) or -errno. */
int rescue_init(struct rescue *x, struct job *j);
/* A pass starts at j->next: from then on everything is done, and before
 * that, the source's bad ranges only.  0 or -ENOMEM. */
int rescue_plan(struct rescue *x);
/* --retries: set up pass k (from 0) over the bad ranges that are left;
 * false when there is none to make. */
bool rescue_pass(struct rescue *x, unsigned int k);
/* The source's status and read_error, from its bad ranges. */
void rescue_status(struct job *j);
void rescue_free(struct rescue *x);

/* ---- copy --map (resume.c) ---- */

struct map;

struct map_state {
	struct stage stage;
	struct map *m;			/* as it is on disk, but for what changed */
	double last;			/* when it was last written */
	bool failed;			/* it could not be: said once */
	/* [i]: destination i's sectors flushed and in the map; what it
	 * rewrote below them since the last flush, from sector refill_from
	 * (relative) on. */
	uint64_t *durable;
	bool *refilled;
	uint64_t *refill_from;
};

/* Load o->map (or start a new map when there is none), check it is for
 * regions r[0..n) and for the same kind of copy (a full one, or one of the
 * dirty bitmap whose dirty_scan() identity is dirty_id), and set each
 * destination's resume point (done, resume) and the source's bad ranges:
 * 0, or -errno once it said why (-EINVAL: the map does not match). */
int map_open(const struct opts *o, struct region *r, unsigned int n, struct map_state *ms,
	     const char *dirty_id);
/* The stage, on j (after map_open()): 0 or -ENOMEM. */
int map_start(struct map_state *ms, struct job *j);
/* Record the map: the destinations that progressed flushed first, unless
 * final (the job has flushed them). */
void map_checkpoint(struct map_state *ms, bool final);
void map_close(struct map_state *ms);

/* ---- --rate (rate.c) ---- */

struct rate {
	struct stage stage;
	double bps;		/* the rate */
	double cap;		/* what the bucket holds at most */
	double tokens;		/* what it holds; below 0: owed by a chunk larger than it */
	double last;		/* when tokens was last filled */
	double due;		/* when the chunk refused last may start; 0: none waits */
};

/* The chunk size (bytes) under a rate of bps (0: none): no more than the
 * bucket holds (a tenth of a second of it, in 4 KiB), at least 4 KiB. */
uint64_t rate_chunk(uint64_t bps, uint64_t chunk);
/* The stage, with a full bucket, on j when o->rate says. */
void rate_init(struct rate *b, struct job *j);

/* ---- --dirty-bitmap (dirty.c) ---- */

struct dirty {
	struct stage stage;
	const struct region *src;
	const char *name;		/* the bitmap's */
	uint64_t extents, sectors;	/* what it marks of the source region */
	char id[64];			/* that, in a word, for a --map */
	uint64_t before;		/* of the sectors, those before the job's start */
	uint64_t done;			/* and those retired since */
	uint64_t run_start, run_end;	/* the run asked of last (sectors, relative) */
	bool run_dirty;
};

/* Walk the source's dirty bitmap o->dirty_bitmap: its extents, sectors and
 * identity into *d: 0, or -errno once said why. */
int dirty_scan(struct dirty *d, const struct opts *o, const struct region *src);
/* A --map resumes the job at sector next: the dirty sectors before it are
 * done (d->before): 0, or -errno once said why. */
int dirty_resume(struct dirty *d, uint64_t next);
/* The stage, on j. */
void dirty_start(struct dirty *d, struct job *j);

/* ---- copy --changed-since (changed.c) ---- */

struct changed {
	struct stage stage;
	struct window_check *check;	/* the log's windows of the source, in order */
	uint64_t window, bytes;		/* its windows' size; the source's */
	pthread_mutex_t lock;		/* the hasher's thread and the main one's: */
	bool locked;			/* (lock is made) */
	uint64_t decided;		/* bytes held against the log so far */
	uint64_t *differs;		/* where each window that differs starts, of
					 * those not yet retired */
	unsigned int ndiffers, cap;
	uint64_t all_from;		/* out of memory: from here on, all differ */
	uint64_t *need;			/* [slot]: held until decided reaches it; 0: not */
	bool wrote;			/* a chunk was written (the main thread's) */
};

/* The stage, on j, whose source's check changed_prepare() made: 0 or
 * -ENOMEM. */
int changed_init(struct changed *c, struct job *j);
/* Window w of the source's stream has completed (the hasher's thread). */
void changed_window(struct changed *c, const struct hasher *h, const struct hash_window *w);
/* The job is over, its log written or not (hashing_end()): a log that no
 * longer says what the destinations hold (the copy wrote some of them and
 * did not end) is moved aside, LOG.stale, so that no later run trusts it:
 * 0 or -errno (said). */
int changed_end(struct changed *c);
void changed_free(struct changed *c);

/* ---- digests (hashing.c) ---- */

struct hashing {
	struct stage stage;
	struct changed *changed;	/* --changed-since: to hear of the source's windows */
	struct hasher *h;
	uint64_t *ticket;		/* [slot]: its buffers are the hasher's until done */
};

/* The hasher the options and the expected digests ask for, and its stage
 * on j: 0 (on or not) or -errno. */
int hashing_init(struct hashing *d, struct job *j);
/* Finish the digests: which region has one, verify --digest-file's
 * verdicts, the --hash-log: 0 or -errno (said). */
int hashing_end(struct hashing *d);
void hashing_free(struct hashing *d);

#endif
