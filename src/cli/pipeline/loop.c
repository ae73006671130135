// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The pipeline (see pipeline.h): slots and the done list, the calls the
 * job kinds submit with (io.c has the reads and writes; narrow.c narrows
 * failed chunks), and the main loop, which asks the planner (plan.c) for
 * chunks and calls the stages' hooks.  Only the library's callback runs
 * off the main thread: call_done() and what it calls.
 */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "pipeline/pipeline.h"

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

void slot_hold(struct slot *s)
{
	slot_get(s);
	s->state = SLOT_IO;
}

void slot_release(struct slot *s)
{
	slot_put(s);
}

bool job_data_final(struct job *j, struct slot *s)
{
	if (!s->final && s->len) {
		s->final = true;
		for_each_stage(j, st)
			if (st->ops->advanced)
				st->ops->advanced(st, s);
	}
	for_each_stage(j, st)
		if (st->ops->hold && st->ops->hold(st, s))
			return false;
	return true;
}

unsigned long job_write_mask(struct job *j, struct slot *s)
{
	unsigned long only = ~0UL;

	for_each_stage(j, st)
		if (st->ops->only)
			only &= st->ops->only(st, s);
	return only;
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

void job_stop_at(struct job *j, uint64_t off, enum stop reason)
{
	if (off < j->limit)
		j->limit = off;
	if (j->res->stop == STOP_NONE)
		j->res->stop = reason;
	if (reason == STOP_SIGNAL && !j->res->signal)
		j->res->signal = signal_stop();
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

/* Whether the planned chunk s may start now: every stage says so. */
static bool admitted(struct job *j, struct slot *s)
{
	for_each_stage(j, st)
		if (st->ops->admit && !st->ops->admit(st, s))
			return false;
	return true;
}

/* Start new chunks while there are free slots and the stages admit them. */
static bool start_chunks(struct job *j)
{
	bool moved = false;

	while (j->used < j->nslots && !filling(j)) {
		struct slot *s = slot_at(j, j->used);

		if (!plan_chunk(j, s) || !admitted(j, s))
			break; /* wait_or_fill() sleeps until one is due */
		j->used++;
		j->next += s->len;
		s->wrote = false;
		s->filled = 0;
		s->ndest = 0;
		s->legs_ok = 0;
		s->checked = s->final = false;
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
			plan_trim(j, s);
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
		}
		for_each_stage(j, st)
			if (st->ops->retire)
				st->ops->retire(st, s, done);
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
	double due = -1;

	for_each_stage(j, st) {
		double d = st->ops->due ? st->ops->due(st) : -1;

		if (d >= 0 && (due < 0 || d < due))
			due = d;
	}
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
	/* A stop signal that came with the input is seen first. */
	if (f && p[1].revents && !signal_stop())
		drive(j, f, j->ops->fill);
}

/* The loop is over: what the planner skipped up to the limit (a stage
 * knew it done, or clean) is done as well, on every region still taking
 * part; what each reports done stays a prefix. */
static void skipped_to_limit(struct job *j)
{
	if (j->progress < j->limit)
		j->progress = j->limit;
	if (j->src)
		j->src->done = j->progress;
	for (unsigned int i = 0; i < j->ndst; i++) {
		struct region *d = &j->dst[i];
		uint64_t end = j->limit < d->count ? j->limit : d->count;

		if (dest_active(d) && d->done < end)
			d->done = end;
	}
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
		for_each_stage(j, st)
			if (st->ops->tick)
				st->ops->tick(st);
		if (!j->used && j->next >= j->limit)
			break;
		wait_or_fill(j, moved);
	}
	skipped_to_limit(j);
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
	/* Chunks larger than --chunk (a --changed-since log's windows) are
	 * fewer, to stay within the memory chunks may take. */
	while (j->nslots > 1 && (j->chunk << DMIO_SECTOR_SHIFT) * j->nslots * per > IN_FLIGHT_MAX)
		j->nslots--;
	j->nbufs = j->nslots * per;
	j->wake_fd = eventfd(0, EFD_CLOEXEC);
	if (j->wake_fd < 0)
		return -errno;
	pthread_mutex_init(&j->done_lock, NULL);
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
	}
	free(j->slots);
	bufs_free(j);
	if (j->wake_fd >= 0) {
		pthread_mutex_destroy(&j->done_lock);
		close(j->wake_fd);
	}
}
