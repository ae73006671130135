// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The jobs: copy, verify, read, write and zero, as one pipeline in the
 * manner of dm-kcopyd.  The region is cut into chunks; each chunk has a slot
 * (a buffer in one mmap'd area) and goes through its phases:
 *
 *   copy    read the source, then write that same buffer to every
 *           destination still healthy, in one dm-io call
 *   verify  read the source and every destination at once, then compare
 *   read    read the source, then (in order) to the output
 *   write   fill from the input, then write to every destination
 *   zero    write the (never touched, so zero) buffer to every destination
 *
 * Several chunks are in flight.  As in dm-kcopyd, a copy chunk whose read
 * completed cleanly is written by the completion callback itself, from the
 * same buffer, with no trip through the main thread, as soon as every chunk
 * before it was read cleanly too (so a read error stops the copy there);
 * every other slot whose calls are done is handed to the main thread, which
 * does everything else.  The main thread turns that fast path off (under
 * j->lock) before it changes anything the callback reads: the limit, a
 * destination's status.  Chunks retire in order, so what each region
 * reports done is always a prefix of it.  A failed chunk is redone by
 * halves down to one block, to find the exact failing sector (and to get
 * past a transient failure).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "map.h"

#define MAX_IO (1u << 20)
#define HUGE_PAGE (2u << 20)
#define MAP_INTERVAL 1.0 /* seconds between map checkpoints */

enum phase { P_FREE, P_READ, P_WRITE, P_DONE };

struct cbuf {
	char *mem;
	struct dmio_page_list *pl;
	struct dmio_bvec *bv;
};

struct slot {
	struct job *job;
	enum phase phase;
	/* References: each dm-io call in flight, and the submitter's own while
	 * it submits, so that the slot cannot complete halfway.  Atomic. */
	int pending;
	bool ready;		/* done, and the main thread's: atomic */
	bool waiting;		/* fast path: read, to be written after the
				 * chunks before it (j->lock) */
	uint64_t off, len;	/* sectors, from the start of the regions */
	struct cbuf *buf;	/* [0] the source's; verify: [1 + k] destination k's */
	struct dmio_result *res; /* per where[] of the calls */
	unsigned int *map;	/* where[i] is region map[i] */
	unsigned int nmap;
};

struct job {
	const struct opts *o;
	struct region *src;	/* copy, verify, read */
	struct region *dst;	/* copy, verify, write, zero */
	unsigned int ndst;
	uint64_t total, next, limit, chunk; /* sectors */
	uint64_t progress;	/* sectors retired */
	struct dmio_client *client;
	struct slot *slots;
	unsigned int nslots, head, used, nbufs;
	struct cbuf *bufs;
	char *area;
	size_t area_len;
	pthread_mutex_t lock;	/* events, fast, and the fast path itself */
	pthread_cond_t cond;
	unsigned long events;
	bool fast;		/* copy: callbacks may write what they read */
	uint64_t read_upto;	/* fast path: every chunk before this sector
				 * was read cleanly (j->lock) */
	int infd, outfd;
	struct job_result *res;
	struct map *map;	/* copy --map */
	double map_last;	/* when it was last written */
	bool map_failed;
};

/* ---- buffers: one mmap'd area, seen as vm, page lists or bvecs ---- */

static int bufs_init(struct job *j)
{
	size_t chunk = j->chunk << DMIO_SECTOR_SHIFT;
	size_t npages = chunk / DMIO_PAGE_SIZE;
	char *mem;

	/* On huge pages where the kernel allows: pinning a 2 MiB page for
	 * O_DIRECT costs what pinning one 4 KiB page does. */
	j->area_len = chunk * j->nbufs + HUGE_PAGE;
	j->area = mmap(NULL, j->area_len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (j->area == MAP_FAILED) {
		j->area = NULL;
		return -errno;
	}
	mem = (char *)(((uintptr_t)j->area + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
	madvise(mem, chunk * j->nbufs, MADV_HUGEPAGE);
	j->bufs = calloc(j->nbufs, sizeof(*j->bufs));
	if (!j->bufs)
		return -ENOMEM;
	for (unsigned int i = 0; i < j->nbufs; i++) {
		struct cbuf *b = &j->bufs[i];

		b->mem = mem + i * chunk;
		if (j->o->buffer == BUFFER_PAGES) {
			b->pl = calloc(npages, sizeof(*b->pl));
			if (!b->pl)
				return -ENOMEM;
			for (size_t p = 0; p < npages; p++) {
				b->pl[p].page = b->mem + p * DMIO_PAGE_SIZE;
				b->pl[p].next = p + 1 < npages ? &b->pl[p + 1] : NULL;
			}
		} else if (j->o->buffer == BUFFER_BVEC) {
			b->bv = calloc(npages + 1, sizeof(*b->bv));
			if (!b->bv)
				return -ENOMEM;
			for (size_t p = 0; p < npages; p++)
				b->bv[p] = (struct dmio_bvec){ b->mem + p * DMIO_PAGE_SIZE,
							       DMIO_PAGE_SIZE, 0 };
		}
	}
	return 0;
}

static void bufs_free(struct job *j)
{
	if (j->bufs)
		for (unsigned int i = 0; i < j->nbufs; i++) {
			free(j->bufs[i].pl);
			free(j->bufs[i].bv);
		}
	free(j->bufs);
	if (j->area)
		munmap(j->area, j->area_len);
}

/* ---- dm-io calls ---- */

static void write_chunk(struct job *j, struct slot *s);

/* The submitter's reference: taken before a slot's calls, dropped after. */
static void slot_begin(struct slot *s)
{
	__atomic_store_n(&s->pending, 1, __ATOMIC_RELAXED);
}

/* Drop one reference to s; true when it was the last. */
static bool slot_put(struct slot *s)
{
	return !__atomic_sub_fetch(&s->pending, 1, __ATOMIC_ACQ_REL);
}

/* Give s to the main thread.  Under j->lock. */
static void hand_over(struct job *j, struct slot *s)
{
	__atomic_store_n(&s->ready, true, __ATOMIC_RELEASE);
	j->events++;
	pthread_cond_signal(&j->cond);
}

/* The slot read cleanly that waits for the chunk before off.  Under j->lock. */
static struct slot *waiting_at(struct job *j, uint64_t off)
{
	for (unsigned int i = 0; i < j->nslots; i++)
		if (j->slots[i].waiting && j->slots[i].off == off)
			return &j->slots[i];
	return NULL;
}

/*
 * Every call of s has completed.  A copy chunk read cleanly goes on to its
 * writes here, on whichever thread this is, once the chunks before it are
 * read, and releases those that waited for it; anything else is handed to
 * the main thread.  A callback's own writes cannot complete before it
 * returns (completions run on this same thread), so only refusals end them
 * here.
 */
static void slot_done(struct slot *s)
{
	struct job *j = s->job;

	pthread_mutex_lock(&j->lock);
	if (!j->fast || stop_signal || s->phase != P_READ || s->res[0].error) {
		hand_over(j, s);
	} else if (s->off != j->read_upto) {
		s->waiting = true;
	} else {
		for (; s; s = waiting_at(j, j->read_upto)) {
			s->waiting = false;
			j->read_upto = s->off + s->len;
			slot_begin(s);
			write_chunk(j, s);
			if (slot_put(s))
				hand_over(j, s);
		}
	}
	pthread_mutex_unlock(&j->lock);
}

/* Drop a reference: the submitter's, or a call's as it completes. */
static void slot_end(struct slot *s)
{
	if (slot_put(s))
		slot_done(s);
}

static void call_done(unsigned long error, void *context)
{
	(void)error; /* the results say which region failed, and where */
	slot_end(context);
}

/* Main thread: no callback takes the fast path after this returns, and
 * the chunks that waited on it are the main thread's. */
static void slow_path(struct job *j)
{
	if (!j->fast)
		return;
	pthread_mutex_lock(&j->lock);
	j->fast = false;
	for (unsigned int i = 0; i < j->nslots; i++)
		if (j->slots[i].waiting) {
			j->slots[i].waiting = false;
			hand_over(j, &j->slots[i]);
		}
	pthread_mutex_unlock(&j->lock);
}

static struct dmio_request request(struct job *j, struct cbuf *b, int rw,
				   void *context, struct dmio_result *res)
{
	struct dmio_request req = { .rw = rw, .fn = context ? call_done : NULL,
				    .context = context, .client = j->client,
				    .results = res };

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

/* Submit one async call for slot s, between slot_begin() and slot_end();
 * a refusal is recorded as the regions' error. */
static void submit(struct job *j, struct slot *s, struct cbuf *b, int rw,
		   unsigned int nwhere, struct dmio_region *where,
		   struct dmio_result *res)
{
	struct dmio_request req = request(j, b, rw, s, res);
	int r;

	__atomic_add_fetch(&s->pending, 1, __ATOMIC_ACQ_REL);
	r = dmio_submit(&req, nwhere, where, NULL);
	if (r) {
		for (unsigned int i = 0; i < nwhere; i++)
			res[i] = (struct dmio_result){ -r, where[i].sector };
		slot_put(s); /* never the last: the submitter holds one */
	}
}

static struct dmio_region where_of(const struct region *r, uint64_t off,
				   uint64_t len)
{
	return (struct dmio_region){ r->dev.fd, r->sector + off, len };
}

/* Do sectors [from, end) of r in one synchronous call, with the memory of
 * the chunk that starts at sector first: 0 or a positive errno. */
static int redo(struct job *j, struct region *r, int rw, char *mem,
		uint64_t first, uint64_t from, uint64_t end)
{
	struct dmio_region where = { r->dev.fd, from, end - from };
	struct dmio_request req = {
		.rw = rw, .mem_type = DMIO_MEM_VM, .client = j->client,
		.mem.vma = mem + ((from - first) << DMIO_SECTOR_SHIFT),
	};
	struct dmio_result res = { 0 };

	req.results = &res;
	if (!dmio_submit(&req, 1, &where, NULL))
		return 0;
	return res.error ? res.error : EIO;
}

/*
 * Redo sectors [from, end) of r, halving what fails down to one block, to
 * find the first sector that still fails (and its error); UINT64_MAX when
 * all worked.  Everything before that sector is done once it returns.
 */
static uint64_t narrow(struct job *j, struct region *r, int rw, char *mem,
		       uint64_t first, uint64_t from, uint64_t end, int *err)
{
	uint64_t step = region_block(r);
	uint64_t mid, bad;
	int e = redo(j, r, rw, mem, first, from, end);

	if (!e)
		return UINT64_MAX;
	if (end - from <= step) {
		*err = e;
		return from;
	}
	mid = from + (end - from) / 2 / step * step;
	if (mid == from)
		mid += step;
	bad = narrow(j, r, rw, mem, first, from, mid, err);
	return bad != UINT64_MAX ? bad : narrow(j, r, rw, mem, first, mid, end, err);
}

/* Stop at off: nothing at or past it is written or counted. */
static void set_limit(struct job *j, uint64_t off)
{
	slow_path(j);
	if (off < j->limit)
		j->limit = off;
}

static bool dest_active(const struct region *d)
{
	return d->status != ST_ERROR && d->status != ST_MISMATCH;
}

static unsigned int active_dests(const struct job *j)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < j->ndst; i++)
		n += dest_active(&j->dst[i]);
	return n;
}

/* What of slot s falls in d: write and zero destinations may differ in
 * size when they run to the ends of their devices. */
static uint64_t dest_len(const struct region *d, const struct slot *s)
{
	if (s->off >= d->count)
		return 0;
	return d->count - s->off < s->len ? d->count - s->off : s->len;
}

/* ---- the phases ---- */

/* Submit s's writes; the caller holds the submitter's reference. */
static void write_chunk(struct job *j, struct slot *s)
{
	struct dmio_region where[DMIO_MAX_REGIONS];

	s->nmap = 0;
	for (unsigned int i = 0; i < j->ndst; i++)
		if (dest_active(&j->dst[i]) && dest_len(&j->dst[i], s) &&
		    s->off >= j->dst[i].resume) {
			where[s->nmap] = where_of(&j->dst[i], s->off,
						  dest_len(&j->dst[i], s));
			s->map[s->nmap++] = i;
		}
	/* Atomic: on the fast path the main thread may be looking at it. */
	__atomic_store_n(&s->phase, P_WRITE, __ATOMIC_RELAXED);
	if (s->nmap)
		submit(j, s, &s->buf[0], DMIO_WRITE, s->nmap, where, s->res);
}

/* Fill the slot's buffer from the input; false at its end. */
static bool fill_from_input(struct job *j, struct slot *s)
{
	size_t want = s->len << DMIO_SECTOR_SHIFT, got = 0;

	while (got < want) {
		ssize_t n = read(j->infd, s->buf[0].mem + got, want - got);

		if (n < 0 && errno == EINTR) {
			if (stop_signal)
				return false;
			continue;
		}
		if (n < 0) {
			warnx("%s: read error: %s", j->o->input ? j->o->input : "stdin",
			      strerror(errno));
			j->res->output_error = true;
			set_limit(j, s->off);
			return false;
		}
		if (!n)
			break;
		got += (size_t)n;
	}
	if (got < want) {
		/* The input ended: a last partial sector is padded with zeroes. */
		size_t pad = -got & (DMIO_SECTOR_SIZE - 1);

		memset(s->buf[0].mem + got, 0, pad);
		s->len = (got + pad) >> DMIO_SECTOR_SHIFT;
		set_limit(j, s->off + s->len);
	}
	return s->len > 0;
}

static void start_chunk(struct job *j, struct slot *s)
{
	struct dmio_region where;

	s->off = j->next;
	s->len = j->limit - s->off < j->chunk ? j->limit - s->off : j->chunk;
	/* With --map, a chunk never straddles a destination's resume point. */
	for (unsigned int i = 0; j->map && i < j->ndst; i++)
		if (j->dst[i].resume > s->off && j->dst[i].resume - s->off < s->len)
			s->len = j->dst[i].resume - s->off;
	j->next += s->len;
	s->phase = P_READ;
	if (j->o->op == OP_WRITE && !fill_from_input(j, s)) {
		s->phase = P_DONE;
		return;
	}
	slot_begin(s);
	switch (j->o->op) {
	case OP_COPY:
	case OP_READ:
		where = where_of(j->src, s->off, s->len);
		submit(j, s, &s->buf[0], DMIO_READ, 1, &where, &s->res[0]);
		break;
	case OP_VERIFY:
		s->nmap = 0;
		for (unsigned int i = 0; i < j->ndst; i++)
			if (dest_active(&j->dst[i]))
				s->map[s->nmap++] = i;
		for (unsigned int k = 0; k < s->nmap; k++) {
			where = where_of(&j->dst[s->map[k]], s->off, s->len);
			submit(j, s, &s->buf[1 + k], DMIO_READ, 1, &where, &s->res[1 + k]);
		}
		where = where_of(j->src, s->off, s->len);
		submit(j, s, &s->buf[0], DMIO_READ, 1, &where, &s->res[0]);
		break;
	case OP_WRITE:
	case OP_ZERO:
		write_chunk(j, s);
		break;
	case OP_INFO:
		break;
	}
	slot_end(s);
}

/* The source's read of s failed: find where, stop there, keep what is
 * before it. */
static void source_failed(struct job *j, struct slot *s)
{
	uint64_t first = j->src->sector + s->off;
	int err = EIO;
	uint64_t bad = narrow(j, j->src, DMIO_READ, s->buf[0].mem, first,
			      s->res[0].error_sector, first + s->len, &err);

	if (bad == UINT64_MAX)
		return; /* it worked this time: the buffer is whole */
	region_fail(j->src, bad, err, "read");
	j->res->read_error = true;
	set_limit(j, bad - j->src->sector);
}

/* A slot's calls have all completed. */
static void advance(struct job *j, struct slot *s)
{
	if (s->phase == P_WRITE) {
		s->phase = P_DONE;
		return;
	}
	/* P_READ.  A copy chunk is here after an error or a signal, or with the
	 * fast path off already: the main thread writes from now on. */
	if (j->o->op == OP_COPY)
		slow_path(j);
	if (j->o->op != OP_WRITE && j->src && s->res[0].error && s->off < j->limit)
		source_failed(j, s);
	if (s->off + s->len > j->limit)
		s->len = s->off < j->limit ? j->limit - s->off : 0;
	if (j->o->op == OP_COPY && s->len) {
		slot_begin(s);
		write_chunk(j, s);
		slot_end(s);
	} else {
		s->phase = P_DONE;
	}
}

/* ---- retiring chunks, in order ---- */

static void retire_writes(struct job *j, struct slot *s)
{
	for (unsigned int i = 0; i < s->nmap; i++) {
		struct region *d = &j->dst[s->map[i]];
		uint64_t first = d->sector + s->off, len = dest_len(d, s);
		uint64_t bad = UINT64_MAX;
		int err = EIO;

		if (!dest_active(d))
			continue;
		if (s->res[i].error) {
			slow_path(j); /* before d's status can change */
			bad = narrow(j, d, DMIO_WRITE, s->buf[0].mem, first,
				     s->res[i].error_sector, first + len, &err);
		}
		if (bad == UINT64_MAX) {
			d->done += len;
		} else {
			d->done += bad - first;
			region_fail(d, bad, err, "write");
		}
	}
	if (!active_dests(j))
		set_limit(j, s->off + s->len);
}

/* The first differing sector of two buffers, or len. */
static uint64_t first_difference(const char *a, const char *b, uint64_t len)
{
	uint64_t lo = 0;

	if (!memcmp(a, b, len << DMIO_SECTOR_SHIFT))
		return len;
	/* Halve the range that holds the first difference. */
	while (len - lo > 1) {
		uint64_t mid = lo + (len - lo) / 2;

		if (memcmp(a + (lo << DMIO_SECTOR_SHIFT), b + (lo << DMIO_SECTOR_SHIFT),
			   (mid - lo) << DMIO_SECTOR_SHIFT))
			len = mid;
		else
			lo = mid;
	}
	return lo;
}

static void retire_verify(struct job *j, struct slot *s)
{
	for (unsigned int k = 0; k < s->nmap; k++) {
		struct region *d = &j->dst[s->map[k]];
		struct dmio_result *res = &s->res[1 + k];
		uint64_t first = d->sector + s->off, len = s->len, same;
		uint64_t bad = UINT64_MAX;
		int err = EIO;

		if (!dest_active(d))
			continue;
		if (res->error) {
			bad = narrow(j, d, DMIO_READ, s->buf[1 + k].mem, first,
				     res->error_sector, first + s->len, &err);
			if (bad != UINT64_MAX)
				len = bad - first;
		}
		same = first_difference(s->buf[0].mem, s->buf[1 + k].mem, len);
		d->done += same;
		if (same < len) {
			d->status = ST_MISMATCH;
			d->bad_sector = first + same;
		} else if (bad != UINT64_MAX) {
			region_fail(d, bad, err, "read");
		}
	}
	if (!active_dests(j))
		set_limit(j, s->off + s->len);
}

static void retire_read(struct job *j, struct slot *s)
{
	const char *p = s->buf[0].mem;
	size_t left = s->len << DMIO_SECTOR_SHIFT;

	while (left && !j->res->output_error) {
		ssize_t n = write(j->outfd, p, left);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			warnx("%s: write error: %s", j->o->output ? j->o->output : "stdout",
			      strerror(errno));
			j->res->output_error = true;
			set_limit(j, s->off);
			return;
		}
		p += n;
		left -= (size_t)n;
	}
}

static void retire(struct job *j, struct slot *s)
{
	if (s->off < j->limit && s->len) {
		if (s->off + s->len > j->limit)
			s->len = j->limit - s->off;
		switch (j->o->op) {
		case OP_VERIFY:
			retire_verify(j, s);
			break;
		case OP_READ:
			retire_read(j, s);
			break;
		default:
			retire_writes(j, s);
			break;
		}
		if (s->off < j->limit)
			j->progress = s->off + s->len < j->limit ? s->off + s->len : j->limit;
		if (j->src)
			j->src->done = j->progress;
	}
	s->phase = P_FREE;
}

/* ---- the map ---- */

static void checkpoint(struct job *j, bool final)
{
	struct region *r = j->src; /* the source, then the destinations */
	int e = map_checkpoint(j->o, r, 1 + j->ndst, j->map, final);

	j->map_last = now_seconds();
	if (e && !j->map_failed) {
		warnx("%s: cannot write the map: %s", j->o->map, strerror(-e));
		j->map_failed = true;
		j->res->output_error = true;
	}
}

/* ---- the loop ---- */

static void interrupt(struct job *j)
{
	uint64_t at = j->next;

	slow_path(j); /* the phases below stay as they are read */
	j->res->interrupted = true;
	j->res->signal = stop_signal;
	/* Chunks still being read are not written any more. */
	for (unsigned int i = 0; i < j->nslots; i++)
		if (j->slots[i].phase == P_READ && j->slots[i].off < at &&
		    j->o->op == OP_COPY)
			at = j->slots[i].off;
	set_limit(j, at);
}

static void wait_events(struct job *j, unsigned long *seen)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 200 * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&j->lock);
	while (j->events == *seen && !stop_signal && !status_request &&
	       pthread_cond_timedwait(&j->cond, &j->lock, &ts) == 0)
		;
	*seen = j->events;
	pthread_mutex_unlock(&j->lock);
}

/* Sleep only when a pass found nothing to do: a slot that a pass frees is
 * refilled by the next pass, not after the next completion. */
static void run(struct job *j)
{
	unsigned long seen = 0;
	bool moved = true;

	j->read_upto = j->next;
	for (;;) {
		if (stop_signal && !j->res->interrupted)
			interrupt(j);
		while (j->used < j->nslots && j->next < j->limit) {
			struct slot *s = &j->slots[(j->head + j->used) % j->nslots];

			j->used++;
			start_chunk(j, s);
			moved = true;
		}
		bool reading = false; /* copy: a chunk before this one is being read */

		for (unsigned int i = 0; i < j->used; i++) {
			struct slot *s = &j->slots[(j->head + i) % j->nslots];
			bool ready = __atomic_load_n(&s->ready, __ATOMIC_ACQUIRE);

			/* A copy writes a chunk only once those before it
			 * are read: a read error stops it there. */
			if (j->o->op == OP_COPY &&
			    __atomic_load_n(&s->phase, __ATOMIC_RELAXED) == P_READ &&
			    (reading || !ready)) {
				reading = true;
				continue;
			}
			if (ready) {
				s->ready = false;
				advance(j, s);
				moved = true;
			}
		}
		while (j->used &&
		       __atomic_load_n(&j->slots[j->head].phase, __ATOMIC_RELAXED) == P_DONE) {
			retire(j, &j->slots[j->head]);
			j->head = (j->head + 1) % j->nslots;
			j->used--;
			moved = true;
		}
		progress_update(j->progress << DMIO_SECTOR_SHIFT, false);
		if (j->map && now_seconds() - j->map_last >= MAP_INTERVAL)
			checkpoint(j, false);
		if (!j->used && j->next >= j->limit)
			break;
		if (!moved)
			wait_events(j, &seen);
		moved = false;
	}
}

/* ---- set-up and the end ---- */

static int job_init(struct job *j)
{
	const struct opts *o = j->o;
	unsigned int per = o->op == OP_VERIFY ? 1 + j->ndst : 1;
	unsigned int max_io = j->chunk << DMIO_SECTOR_SHIFT < MAX_IO
				      ? (unsigned int)(j->chunk << DMIO_SECTOR_SHIFT) : MAX_IO;
	unsigned long depth;
	int r;

	j->nslots = o->depth / per ? o->depth / per : 1;
	j->nbufs = j->nslots * per;
	/* Room in the engine for every piece of every chunk in flight. */
	depth = (unsigned long)j->nslots * (1 + j->ndst) *
		((j->chunk << DMIO_SECTOR_SHIFT) / max_io);
	if (depth > 1024)
		depth = 1024;
	if (o->engine && !strcmp(o->engine, "sync"))
		depth = 0; /* the engine's own: one at a time */
	j->client = dmio_client_create(o->engine ? o->engine : "uring",
				       (unsigned int)depth, max_io);
	/* No io_uring here (an old kernel, io_uring_disabled, a seccomp
	 * filter): --async means libaio then. */
	if (!j->client && !o->engine)
		j->client = dmio_client_create("aio", (unsigned int)depth, max_io);
	if (!j->client)
		return -errno;
	pthread_mutex_init(&j->lock, NULL);
	pthread_cond_init(&j->cond, NULL);
	j->fast = o->op == OP_COPY;
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
		s->map = calloc(j->ndst + 1, sizeof(*s->map));
		if (!s->res || !s->map)
			return -ENOMEM;
	}
	return 0;
}

static void job_free(struct job *j)
{
	if (j->client)
		dmio_client_destroy(j->client); /* waits for what is in flight */
	for (unsigned int i = 0; j->slots && i < j->nslots; i++) {
		free(j->slots[i].res);
		free(j->slots[i].map);
	}
	free(j->slots);
	bufs_free(j);
	if (j->client) {
		pthread_cond_destroy(&j->cond);
		pthread_mutex_destroy(&j->lock);
	}
}

static void finish_status(struct job *j, struct region *r)
{
	if (r->status != ST_PENDING)
		return;
	if (r->done == r->count || (j->o->op == OP_WRITE && !j->res->interrupted &&
				     !j->res->output_error))
		r->status = ST_OK;
	else
		r->status = ST_INTERRUPTED;
}

int job_run(const struct opts *o, struct region *r, unsigned int n,
	    struct job_result *res)
{
	struct job j = { .o = o, .res = res, .infd = -1, .outfd = -1 };
	struct map map;
	double t0 = now_seconds();
	uint64_t first;
	int err;

	switch (o->op) {
	case OP_COPY:
	case OP_VERIFY:
		j.src = &r[0];
		j.dst = &r[1];
		j.ndst = n - 1;
		break;
	case OP_READ:
		j.src = &r[0];
		break;
	default:
		j.dst = r;
		j.ndst = n;
		break;
	}
	j.total = j.src ? j.src->count : j.dst[0].count;
	if (o->op == OP_WRITE || o->op == OP_ZERO)
		for (unsigned int i = 1; i < j.ndst; i++)
			if (j.dst[i].count > j.total)
				j.total = j.dst[i].count;
	j.limit = j.total;
	j.chunk = o->chunk >> DMIO_SECTOR_SHIFT;
	if (o->map) {
		err = map_open(o, r, n, &map);
		if (err)
			return err;
		j.map = &map;
		j.map_last = now_seconds();
		/* Start where the destination that has least done stops. */
		j.next = j.total;
		for (unsigned int i = 0; i < j.ndst; i++)
			if (j.dst[i].resume < j.next)
				j.next = j.dst[i].resume;
		j.progress = j.src->done = j.next;
	}
	if (o->op == OP_WRITE)
		j.infd = o->input ? open(o->input, O_RDONLY | O_CLOEXEC) : 0;
	if (o->op == OP_READ)
		j.outfd = o->output ? open(o->output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666)
				    : 1;
	if (j.infd < 0 && o->op == OP_WRITE) {
		warnx("%s: cannot open: %s", o->input, strerror(errno));
		return EXIT_USAGE;
	}
	if (j.outfd < 0 && o->op == OP_READ) {
		warnx("%s: cannot open: %s", o->output, strerror(errno));
		return EXIT_USAGE;
	}
	err = job_init(&j);
	if (err) {
		warnx("cannot set up the I/O: %s", strerror(-err));
		if (j.map)
			map_free(j.map);
		job_free(&j);
		return EXIT_IOERR;
	}
	first = j.progress;
	progress_init(o, j.total << DMIO_SECTOR_SHIFT);
	run(&j);
	progress_update(j.progress << DMIO_SECTOR_SHIFT, true);

	/* Success is reported only for what is on the device. */
	for (unsigned int i = 0; i < j.ndst && o->op != OP_VERIFY; i++) {
		struct region *d = &j.dst[i];

		if (o->no_flush || d->status == ST_ERROR || !d->done)
			continue;
		err = d->dev.ops->flush(&d->dev);
		if (err) {
			d->done = 0;
			region_fail(d, d->sector, -err, "flush");
		}
	}
	if (o->op == OP_READ && j.outfd > 1 && close(j.outfd) && !res->output_error) {
		warnx("%s: write error: %s", o->output, strerror(errno));
		res->output_error = true;
	}
	if (j.infd > 0)
		close(j.infd);
	if (j.map) {
		checkpoint(&j, true);
		map_free(j.map);
	}
	if (j.src)
		finish_status(&j, j.src);
	for (unsigned int i = 0; i < j.ndst; i++)
		finish_status(&j, &j.dst[i]);
	res->bytes = (j.progress - first) << DMIO_SECTOR_SHIFT;
	res->seconds = now_seconds() - t0;
	dmio_client_stats(j.client, &res->stats);
	job_free(&j);
	return 0;
}
