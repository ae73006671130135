// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The pipeline (see job.h): slots and the done list, the calls the job
 * kinds submit with (writes.c has the writes; narrow.c narrows failed
 * chunks), checkpoints of the --map, and the main loop.  Only the library's
 * callback runs off the main thread: call_done() and what it calls.
 */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "job.h"

#define MAP_INTERVAL 1.0 /* seconds between map checkpoints */
#define DUE_MAX 60.0 /* seconds the loop sleeps at most with something due */

/* ---- slots: the reference count and the done list ---- */

static void wake(int fd)
{
	uint64_t one = 1;

	/* Fails only by overflowing a 64-bit counter. */
	while (write(fd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}

static void slot_get(struct slot *s)
{
	__atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
}

/* Drop a reference: a call's, as it completes, or the submitter's.  The
 * last one puts s on the done list for the main thread. */
static void slot_put(struct slot *s)
{
	struct job *j = s->job;
	bool was_empty;

	if (__atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL))
		return;
	pthread_mutex_lock(&j->done_lock);
	was_empty = !j->done;
	s->next_done = j->done;
	j->done = s;
	pthread_mutex_unlock(&j->done_lock);
	if (was_empty)
		wake(j->wake_fd);
}

/* The library's callback, on its completion thread: record, hand over. */
static void call_done(unsigned long error, void *context)
{
	struct slot_call *c = context;

	__atomic_store_n(&c->bits, error, __ATOMIC_RELAXED);
	slot_put(c->slot);
}

/* The error bits of s's call k, by the index of its where[]. */
static unsigned long call_bits(const struct slot *s, unsigned int k)
{
	return __atomic_load_n(&s->calls[k].bits, __ATOMIC_RELAXED);
}

bool slot_call_failed(const struct slot *s, unsigned int k, unsigned int i)
{
	return call_bits(s, k) >> i & 1;
}

/* Drop the submitter's reference once the op that submitted is done, so
 * that s cannot reach the done list with its calls half submitted. */
static void slot_settle(struct slot *s)
{
	if (s->holding) {
		s->holding = false;
		slot_put(s);
	}
}

static struct dmio_request request(struct job *j, struct cbuf *b, int rw)
{
	struct dmio_request req = { .rw = rw, .client = j->client };

	switch (j->o->buffer) {
	case BUFFER_VM:
		req.mem_type = DMIO_MEM_VM;
		req.mem.vma = b->mem;
		break;
	case BUFFER_PAGES:
		req.mem_type = DMIO_MEM_PAGE_LIST;
		req.mem.pl = b->pl;
		break;
	case BUFFER_BVEC:
		req.mem_type = DMIO_MEM_BVEC;
		req.mem.bvec = b->bv;
		break;
	}
	return req;
}

void slot_submit(struct job *j, struct slot *s, unsigned int k, int rw,
			struct cbuf *b, unsigned int n, const struct dmio_region *where)
{
	struct slot_call *c = &s->calls[k];
	struct dmio_request req = request(j, b, rw);
	int r;

	if (!s->holding) {
		slot_get(s); /* the submitter's: see slot_settle() */
		s->holding = true;
		s->state = SLOT_IO;
	}
	__atomic_store_n(&c->bits, 0, __ATOMIC_RELAXED);
	c->rw = rw;
	req.fn = call_done;
	req.context = c;
	req.results = &s->res[k];
	slot_get(s);
	r = j->submit(&req, n, where, NULL);
	if (r) {
		for (unsigned int i = 0; i < n; i++)
			s->res[k + i] = (struct dmio_result){ -r, where[i].sector };
		__atomic_store_n(&c->bits, n < DMIO_MAX_REGIONS ? (1UL << n) - 1 : ~0UL,
				 __ATOMIC_RELAXED);
		slot_put(s); /* never the last: the submitter holds one */
	}
}

/* ---- what the job kinds submit with ---- */

void job_read(struct job *j, struct slot *s, struct region *r, unsigned int k)
{
	struct dmio_region where = { r->dev.fd, r->sector + s->off, s->len };

	slot_submit(j, s, k, DMIO_READ, &s->buf[k], 1, &where);
}

void job_read_dests(struct job *j, struct slot *s)
{
	for (unsigned int k = 0; k < s->ndest; k++) {
		struct region *d = &j->dst[s->dest[k]];
		struct dmio_region where = { d->dev.fd, d->sector + s->off, dest_len(d, s) };

		s->dest_hole[k] = region_hole(d, where.sector, where.count);
		if (!s->dest_hole[k])
			slot_submit(j, s, 1 + k, DMIO_READ, &s->buf[1 + k], 1, &where);
	}
}

bool dest_active(const struct region *d)
{
	return d->status != ST_ERROR && d->status != ST_MISMATCH;
}

unsigned int active_dests(const struct job *j)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < j->ndst; i++)
		n += dest_active(&j->dst[i]);
	return n;
}

uint64_t dest_len(const struct region *d, const struct slot *s)
{
	if (s->off >= d->count)
		return 0;
	return d->count - s->off < s->len ? d->count - s->off : s->len;
}

void job_stop_at(struct job *j, uint64_t off, enum stop reason)
{
	if (off < j->limit)
		j->limit = off;
	if (j->res->stop == STOP_NONE)
		j->res->stop = reason;
	if (reason == STOP_SIGNAL && !j->res->signal)
		j->res->signal = signal_stop();
}

void job_dest_failed(struct job *j, unsigned int i, uint64_t sector, int err,
		     const char *what)
{
	region_fail(&j->dst[i], sector, err, what);
	j->res->error_bits |= 1UL << i;
}

/* ---- the map ---- */

void job_checkpoint(struct job *j, bool final)
{
	int e = map_checkpoint(j->o, j->src, 1 + j->ndst, j->resume_map, final, j->client);

	j->map_last = now_seconds();
	if (e && !j->map_failed) {
		warnmsg("%s: cannot write the map: %s", j->o->map, strerror(-e));
		j->map_failed = true;
		j->res->stream_error = true;
	}
}

/* ---- the loop ---- */

static struct slot *slot_at(struct job *j, unsigned int i)
{
	return &j->slots[(j->head + i) % j->nslots];
}

/* The op ran on s: drop the submitter's reference if it submitted. */
static void drive(struct job *j, struct slot *s,
		  void (*op)(struct job *j, struct slot *s))
{
	op(j, s);
	slot_settle(s);
}

/* Take the done list: its slots are the main thread's again. */
static bool take_done(struct job *j)
{
	struct slot *s;

	pthread_mutex_lock(&j->done_lock);
	s = j->done;
	j->done = NULL;
	pthread_mutex_unlock(&j->done_lock);
	if (!s)
		return false;
	for (; s; s = s->next_done)
		s->state = SLOT_READY;
	return true;
}

/* The slot being filled from the input, if any: it is the newest. */
static struct slot *filling(struct job *j)
{
	struct slot *s = j->used ? slot_at(j, j->used - 1) : NULL;

	return s && s->state == SLOT_FILL ? s : NULL;
}

/* Whether a file or NBD source's run of data or of hole that sector off
 * (from the start) is in goes on to at least j->run_end, which says. */
static void source_run(struct job *j, uint64_t off)
{
	const struct region *src = j->src;
	uint64_t first = src->sector + off, at, end;
	bool hole;

	if (off < j->run_end)
		return;
	if (src->dev.ops->extent(&src->dev, first << DMIO_SECTOR_SHIFT, &at, &hole) ||
	    at >> DMIO_SECTOR_SHIFT <= first) {
		/* No answer, or less than a sector: data, chunk by chunk. */
		j->run_hole = false;
		j->run_end = off + j->chunk;
		return;
	}
	/* Sectors that data only starts in are data. */
	j->run_hole = hole;
	end = hole ? at >> DMIO_SECTOR_SHIFT
		   : (at + DMIO_SECTOR_SIZE - 1) >> DMIO_SECTOR_SHIFT;
	j->run_end = end - src->sector;
}

/* Where the chunk s that starts at j->next ends: a chunk on, or for
 * zeroes that need no buffer up to ZERO_CHUNK_MAX; at the end of a file
 * source's run of data or of hole (s is zero and unread in a hole); at a
 * --map resume point, which no chunk straddles. */
static void chunk_place(struct job *j, struct slot *s)
{
	uint64_t len = j->chunk, left = j->limit - j->next;

	s->off = j->next;
	s->zero = s->unread = false;
	if (j->src && !j->src->dev.is_blk) {
		source_run(j, s->off);
		s->zero = s->unread = j->run_hole;
		if (j->run_end - s->off < left)
			left = j->run_end - s->off;
	}
	if (j->ops->large_zeroes && (s->zero || !j->src))
		len = ZERO_CHUNK_MAX >> DMIO_SECTOR_SHIFT;
	s->len = left < len ? left : len;
	for (unsigned int i = 0; j->resume_map && i < j->ndst; i++)
		if (j->dst[i].resume > s->off && j->dst[i].resume - s->off < s->len)
			s->len = j->dst[i].resume - s->off;
	rescue_cut(j, s);
}

/* Start new chunks while there are free slots and, with --rate, tokens. */
static bool start_chunks(struct job *j)
{
	bool moved = false;

	j->rate.due = 0;
	while (j->used < j->nslots && rescue_skip(j) < j->limit && !filling(j) &&
	       !job_hash_busy(j, slot_at(j, j->used))) {
		struct slot *s = slot_at(j, j->used);

		chunk_place(j, s);
		if (!rate_take(&j->rate, rate_cost(j, s)))
			break; /* wait_or_fill() sleeps until it may */
		j->used++;
		j->next += s->len;
		s->wrote = false;
		s->filled = 0;
		s->ndest = 0;
		s->state = SLOT_READY; /* as it is, if start submits nothing */
		drive(j, s, j->ops->start);
		moved = true;
	}
	return moved;
}

/* Advance completed slots; while a slot has not written, only once every
 * slot before it is past that too, so that a source read error stops the
 * chunks after it before they write. */
static bool advance_slots(struct job *j)
{
	bool moved = false, earlier = false;

	for (unsigned int i = 0; i < j->used; i++) {
		struct slot *s = slot_at(j, i);
		bool first = !s->wrote && s->state != SLOT_DONE;

		if (first && s->off >= j->limit && s->state != SLOT_IO) {
			slot_finish(s); /* past the limit: nothing more to do */
			moved = true;
		} else if (s->state == SLOT_READY && !(first && earlier)) {
			drive(j, s, j->ops->advance);
			if (first && s->len && j->hasher && j->ops->hash_at_advance)
				job_hash(j, s);
			moved = true;
		}
		earlier |= !s->wrote && s->state != SLOT_DONE;
	}
	return moved;
}

/* Retire finished slots in chunk order. */
static bool retire_slots(struct job *j)
{
	bool moved = false;

	while (j->used && j->slots[j->head].state == SLOT_DONE) {
		struct slot *s = &j->slots[j->head];
		bool done = s->off < j->limit && s->len;

		if (done) {
			if (s->off + s->len > j->limit)
				s->len = j->limit - s->off;
			if (j->ops->retire)
				j->ops->retire(j, s);
			/* Every destination failed or differs: stop after s. */
			if (j->ndst && !active_dests(j))
				job_stop_at(j, s->off + s->len, STOP_DESTS);
			if (s->off < j->limit && s->off + s->len > j->progress)
				j->progress = s->off + s->len < j->limit ? s->off + s->len
									 : j->limit;
			j->retired += s->len;
			if (j->src)
				j->src->done = j->progress;
			if (j->src && !s->unread)
				j->res->bytes_read += s->len << DMIO_SECTOR_SHIFT;
			if (j->hasher && s->len && !j->ops->hash_at_advance)
				job_hash(j, s);
		}
		rescue_retire(j, s, done);
		s->state = SLOT_FREE;
		j->head = (j->head + 1) % j->nslots;
		j->used--;
		moved = true;
	}
	return moved;
}

/* A stop signal: nothing new is submitted, and chunks that have not
 * finished their first phase (read, filled) are dropped; what is in flight
 * drains. */
static void interrupt(struct job *j, int sig)
{
	uint64_t at = j->next;

	j->res->signal = sig;
	for (unsigned int i = 0; i < j->used; i++) {
		struct slot *s = slot_at(j, i);

		if (!s->wrote && s->state != SLOT_DONE && s->off < at)
			at = s->off;
	}
	job_stop_at(j, at, STOP_SIGNAL);
}

/* Milliseconds until the loop has something to do unprompted: -1, never. */
static int due_ms(struct job *j)
{
	double due = progress_due(), r = rate_due(&j->rate);

	if (j->resume_map) {
		double m = MAP_INTERVAL - (now_seconds() - j->map_last);

		if (due < 0 || m < due)
			due = m;
	}
	if (r >= 0 && (due < 0 || r < due))
		due = r;
	if (due > DUE_MAX)
		due = DUE_MAX; /* then it looks again */
	return due < 0 ? -1 : (int)ceil(due * 1000);
}

/* Sleep until a completion, a signal, the input or a deadline; with
 * moved, only look. */
static void wait_or_fill(struct job *j, bool moved)
{
	struct slot *f = filling(j);
	struct pollfd p[2] = { { j->wake_fd, POLLIN, 0 }, { f ? j->infd : -1, POLLIN, 0 } };
	uint64_t n;

	if (moved && !f)
		return;
	if (poll(p, 2, moved ? 0 : due_ms(j)) <= 0)
		return;
	if (p[0].revents & POLLIN)
		while (read(j->wake_fd, &n, sizeof(n)) < 0 && errno == EINTR)
			;
	if (f && p[1].revents)
		drive(j, f, j->ops->fill);
}

void pipeline_run(struct job *j)
{
	signals_wake(j->wake_fd);
	for (;;) {
		int sig = signal_stop();
		bool moved;

		if (sig && !j->res->signal)
			interrupt(j, sig);
		moved = take_done(j);
		moved |= start_chunks(j);
		moved |= advance_slots(j);
		moved |= retire_slots(j);
		progress_update(j->res, j->progress << DMIO_SECTOR_SHIFT, false);
		if (j->resume_map && now_seconds() - j->map_last >= MAP_INTERVAL)
			job_checkpoint(j, false);
		if (!j->used && j->next >= j->limit)
			break;
		wait_or_fill(j, moved);
	}
	signals_wake(-1);
}

/* ---- set-up ---- */

static int client_init(struct job *j)
{
	const struct opts *o = j->o;
	unsigned int max_io = j->chunk << DMIO_SECTOR_SHIFT < REQUEST_MAX
				      ? (unsigned int)(j->chunk << DMIO_SECTOR_SHIFT) : REQUEST_MAX;
	/* Room in the engine for every piece of every chunk in flight. */
	unsigned long depth = (unsigned long)j->nslots * (1 + j->ndst) *
			      ((j->chunk << DMIO_SECTOR_SHIFT) / max_io);

	if (depth > ENGINE_DEPTH_MAX)
		depth = ENGINE_DEPTH_MAX;
	if (o->engine && !strcmp(o->engine, "sync"))
		depth = 0; /* the engine's own: one at a time */
	j->client = dmio_client_create(o->engine ? o->engine : "uring",
				       (unsigned int)depth, max_io);
	/* --async: io_uring where the kernel has it, else libaio. */
	if (!j->client && !o->engine)
		j->client = dmio_client_create("aio", (unsigned int)depth, max_io);
	return j->client ? 0 : -errno;
}

int pipeline_init(struct job *j)
{
	unsigned int per = j->ops->buffer_per_dest ? 1 + j->ndst : 1;
	int r;

	j->nslots = j->o->depth / per ? j->o->depth / per : 1;
	j->nbufs = j->nslots * per;
	j->wake_fd = eventfd(0, EFD_CLOEXEC);
	if (j->wake_fd < 0)
		return -errno;
	pthread_mutex_init(&j->done_lock, NULL);
	rate_init(&j->rate, j->o->rate);
	r = client_init(j);
	if (r)
		return r;
	j->slots = calloc(j->nslots, sizeof(*j->slots));
	if (!j->slots)
		return -ENOMEM;
	r = bufs_init(j);
	if (r)
		return r;
	for (unsigned int i = 0; i < j->nslots; i++) {
		struct slot *s = &j->slots[i];

		s->job = j;
		s->buf = &j->bufs[i * per];
		s->res = calloc(1 + j->ndst, sizeof(*s->res));
		s->calls = calloc(1 + j->ndst, sizeof(*s->calls));
		s->dest = calloc(j->ndst + 1, sizeof(*s->dest));
		s->dest_call = calloc(j->ndst + 1, sizeof(*s->dest_call));
		s->dest_hole = calloc(j->ndst + 1, sizeof(*s->dest_hole));
		if (!s->res || !s->calls || !s->dest || !s->dest_call || !s->dest_hole)
			return -ENOMEM;
		for (unsigned int k = 0; k <= j->ndst; k++)
			s->calls[k].slot = s;
	}
	return 0;
}

void pipeline_free(struct job *j)
{
	if (j->client)
		dmio_client_destroy(j->client); /* waits for what is in flight */
	for (unsigned int i = 0; j->slots && i < j->nslots; i++) {
		free(j->slots[i].res);
		free(j->slots[i].calls);
		free(j->slots[i].dest);
		free(j->slots[i].dest_call);
		free(j->slots[i].dest_hole);
		bad_free(&j->slots[i].found);
	}
	free(j->slots);
	free(j->retry);
	bufs_free(j);
	if (j->wake_fd >= 0) {
		pthread_mutex_destroy(&j->done_lock);
		close(j->wake_fd);
	}
}
