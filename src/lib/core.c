// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The dm-io core: one entry point (dmio_submit) that validates a call, and
 * the completion thread's side that splits it into pieces, feeds them to the
 * engine and completes it.  The six service calls are one-line wrappers
 * of it (calls.c).
 *
 * Counting follows the kernel: a call's count starts at one, each piece adds
 * one, and the extra reference is dropped only when the last piece has been
 * made, so the callback can never run before every piece was issued.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "dmio-internal.h"

/* ---- validation, on the caller's thread ---- */

/* The alignment O_DIRECT I/O on fd needs, or 0 when fd is not O_DIRECT. */
static int direct_align(int fd, int flags, unsigned int *align)
{
	struct statx stx;
	unsigned int a = 0;

	*align = 0;
	if (!(flags & O_DIRECT))
		return 0;
	if (statx(fd, "", AT_EMPTY_PATH, STATX_TYPE | STATX_DIOALIGN, &stx))
		return -errno;
	if (stx.stx_mask & STATX_DIOALIGN && stx.stx_dio_offset_align) {
		a = stx.stx_dio_offset_align;
		if (stx.stx_dio_mem_align > a)
			a = stx.stx_dio_mem_align;
	} else if (S_ISBLK(stx.stx_mode)) {
		int lbs;

		if (ioctl(fd, BLKSSZGET, &lbs))
			return -errno;
		a = (unsigned int)lbs;
	}
	if (a < DMIO_SECTOR_SIZE)
		a = DMIO_SECTOR_SIZE;
	/* Bounce pages are DMIO_PAGE_SIZE: more than that cannot be met. */
	if (a > DMIO_PAGE_SIZE || (a & (a - 1)))
		return -EINVAL;
	*align = a;
	return 0;
}

/* Write-zeroes and discard on a block device are in its logical blocks. */
static int zero_align(int fd, struct region_state *rs)
{
	struct stat st;
	int lbs;

	if (fstat(fd, &st))
		return -errno;
	rs->blk = S_ISBLK(st.st_mode);
	rs->align = 0;
	if (rs->blk) {
		if (ioctl(fd, BLKSSZGET, &lbs))
			return -errno;
		rs->align = (unsigned int)lbs;
	}
	return 0;
}

static int check_region(const struct dmio_region *w, int rw,
			struct region_state *rs)
{
	uint64_t end;
	int flags, acc, r;

	if (w->fd < 0)
		return -EBADF;
	rs->nbd = nbd_find(w->fd);
	flags = fcntl(w->fd, F_GETFL);
	if (flags < 0)
		return -EBADF;
	if (DMIO_OP(rw) == DMIO_FLUSH) {
		/* One piece of no bytes: the region is a token, [0, 1). */
		rs->fd = w->fd;
		rs->pos = 0;
		rs->end = 1;
		return 0;
	}
	acc = flags & O_ACCMODE;
	if (rw == DMIO_READ ? acc == O_WRONLY : acc == O_RDONLY)
		return -EBADF;
	/* The end, in bytes, must be a valid off_t. */
	if (w->sector > (UINT64_MAX >> DMIO_SECTOR_SHIFT) ||
	    w->count > (UINT64_MAX >> DMIO_SECTOR_SHIFT) - w->sector)
		return -EINVAL;
	end = (w->sector + w->count) << DMIO_SECTOR_SHIFT;
	if (end > INT64_MAX)
		return -EINVAL;
	if (rs->nbd) {
		rs->fd = w->fd;
		rs->pos = w->sector << DMIO_SECTOR_SHIFT;
		rs->end = end;
		return nbd_check(rs->nbd, rw, rs->pos, rs->end);
	}
	r = dmio_zeroing(rw) ? zero_align(w->fd, rs) : direct_align(w->fd, flags, &rs->align);
	if (r)
		return r;
	rs->fd = w->fd;
	rs->pos = w->sector << DMIO_SECTOR_SHIFT;
	rs->end = end;
	if (rs->align && (rs->pos % rs->align || rs->end % rs->align))
		return -EINVAL;
	return 0;
}

/* What issues rs's pieces (see struct dmio_engine_ops). */
static const struct dmio_engine_ops *region_ops(const struct dmio_client *c, int rw,
						const struct region_state *rs)
{
	if (rs->nbd)
		return &dmio_nbd_engine;
	if (dmio_bufferless(rw))
		return &dmio_sync_engine;
	return c->ops;
}

static int io_prepare(const struct dmio_client *c, const struct dmio_request *req,
		      unsigned int num_regions, const struct dmio_region *where,
		      struct dmio_io **iop)
{
	struct dmio_io *io;
	struct dpages dp;
	uint64_t most = 0;
	int r;

	if (!req || !where || !num_regions || num_regions > DMIO_MAX_REGIONS ||
	    DMIO_OP(req->rw) > DMIO_FLUSH ||
	    (req->rw & ~0xff && req->rw != (DMIO_WRITE_ZEROES | DMIO_NOUNMAP)) ||
	    (req->rw == DMIO_READ && num_regions != 1))
		return -EINVAL;
	io = calloc(1, sizeof(*io) + num_regions * sizeof(io->r[0]));
	if (!io)
		return -ENOMEM;
	for (unsigned int i = 0; i < num_regions; i++) {
		r = check_region(&where[i], req->rw, &io->r[i]);
		if (r)
			goto fail;
		io->r[i].ops = region_ops(c, req->rw, &io->r[i]);
		if (where[i].count > most)
			most = where[i].count;
		if (io->r[i].pos < io->r[i].end)
			io->regions_left++;
	}
	/* Every region is written from (or read into) the buffer's start. */
	r = dmio_bufferless(req->rw) ? 0 : dp_init(&dp, req, most << DMIO_SECTOR_SHIFT);
	if (r)
		goto fail;
	for (unsigned int i = 0; i < num_regions; i++)
		io->r[i].dp = dp;
	io->rw = req->rw;
	io->num_regions = num_regions;
	io->count = 1;
	io->fn = req->fn;
	io->context = req->context;
	io->results = req->results;
	if (io->results)
		memset(io->results, 0, num_regions * sizeof(*io->results));
	*iop = io;
	return 0;
fail:
	free(io);
	return r;
}

/* ---- completion, on the completion thread ---- */

static void io_put(struct dmio_client *c, struct dmio_io *io)
{
	if (--io->count)
		return;
	io->fn(io->error_bits, io->context);
	free(io);
	client_io_done(c);
}

static void piece_error(struct dmio_io *io, struct dmio_piece *p, int err)
{
	struct dmio_result *res = io->results ? &io->results[p->region] : NULL;
	uint64_t sector = p->start >> DMIO_SECTOR_SHIFT;

	io->error_bits |= 1UL << p->region;
	if (res && (!res->error || sector < res->error_sector)) {
		res->error = err;
		res->error_sector = sector;
	}
	/* A failed read leaves zeroes, never stale data, in its part. */
	if (DMIO_OP(p->rw) == DMIO_READ)
		dp_zero(&p->dp, p->total);
}

/* The engine is done with p, or a short transfer needs the rest issued:
 * returns true when p was given back to be queued again. */
static bool piece_complete(struct dmio_client *c, struct dmio_piece *p)
{
	struct dmio_io *io = p->io;

	if (p->res > 0 && (size_t)p->res < p->len) {
		size_t n = (size_t)p->res;

		p->pos += n;
		p->len -= n;
		while (n >= p->iov[0].iov_len) {
			n -= p->iov[0].iov_len;
			p->iov++;
			p->iovcnt--;
		}
		p->iov[0].iov_base = (char *)p->iov[0].iov_base + n;
		p->iov[0].iov_len -= n;
		return true;
	}
	if (p->res < 0)
		piece_error(io, p, (int)-p->res);
	else if (p->res == 0 && p->len)
		piece_error(io, p, ENODATA); /* the end of the file or device came first */
	else if (DMIO_OP(p->rw) == DMIO_READ && p->nbounce)
		for (unsigned int i = 0; i < p->nbounce; i++) {
			size_t done = (size_t)i * DMIO_PAGE_SIZE;
			size_t n = p->total - done;

			dp_copy_in(&p->dp, p->bounce_pages[i],
				   n < DMIO_PAGE_SIZE ? n : DMIO_PAGE_SIZE);
		}
	if (p->nbounce)
		pool_give_pages(&c->pool, p->bounce_pages, p->nbounce);
	pool_piece_free(&c->pool, p);
	io_put(c, io);
	return false;
}

/* ---- splitting, on the completion thread ---- */

/* Point p's iovec at the caller's memory, as far as it can go in max_iov
 * entries; 0 bytes when an O_DIRECT fd cannot take the first part as it
 * is. */
static size_t piece_map(struct region_state *rs, struct dmio_piece *p, size_t want,
			unsigned int max_iov)
{
	size_t len = 0;

	p->iovcnt = 0;
	while (len < want) {
		struct iovec *prev = p->iov + p->iovcnt - 1;
		char *addr;
		size_t n;

		rs->dp.get_page(&rs->dp, &addr, &n);
		if (n > want - len)
			n = want - len;
		if (rs->align && (((uintptr_t)addr | n) & (rs->align - 1)))
			break;
		if (p->iovcnt && (char *)prev->iov_base + prev->iov_len == addr)
			prev->iov_len += n; /* contiguous: one iovec */
		else if (p->iovcnt < (int)max_iov)
			p->iov[p->iovcnt++] = (struct iovec){ addr, n };
		else
			break;
		rs->dp.next_page(&rs->dp, n);
		len += n;
	}
	return len;
}

/* Carry the next part through bounce pages; 0 when the pool has none free. */
static size_t piece_bounce(struct dmio_client *c, struct region_state *rs,
			   struct dmio_piece *p, size_t want)
{
	unsigned int n = (want + DMIO_PAGE_SIZE - 1) / DMIO_PAGE_SIZE;
	size_t len = 0;

	if (n > c->pool.max_iov)
		n = c->pool.max_iov;
	p->nbounce = pool_take_pages(&c->pool, p->bounce_pages, n);
	for (unsigned int i = 0; i < p->nbounce; i++) {
		size_t part = want - len < DMIO_PAGE_SIZE ? want - len
							  : DMIO_PAGE_SIZE;

		p->iov[i] = (struct iovec){ p->bounce_pages[i], part };
		if (p->rw == DMIO_WRITE)
			dp_copy_out(&rs->dp, p->bounce_pages[i], part);
		else
			dp_advance(&rs->dp, part);
		len += part;
	}
	p->iovcnt = (int)p->nbounce;
	return len;
}

/* Make the next piece of io's next region; false when it cannot be made
 * until something completes. */
static bool piece_make(struct dmio_client *c, struct dmio_io *io,
		       struct dmio_piece *p)
{
	unsigned int i = io->next_region;
	struct region_state *rs;
	size_t want;

	while (io->r[i].pos == io->r[i].end)
		i = (i + 1) % io->num_regions;
	rs = &io->r[i];
	want = c->max_io;
	if (rs->nbd)
		want = nbd_max_piece(rs->nbd, io->rw, c->max_io);
	else if (dmio_zeroing(io->rw))
		want = rs->end - rs->pos; /* the whole region at once */
	if (want > rs->end - rs->pos)
		want = rs->end - rs->pos;
	p->io = io;
	p->ops = rs->ops;
	p->region = i;
	p->fd = rs->fd;
	p->blk = rs->blk;
	p->nbd = rs->nbd;
	p->rw = io->rw;
	p->dp = rs->dp;
	p->iov = p->iovs;
	p->iovcnt = 0;
	p->nbounce = 0;
	/* NBD sends one buffer a request: one contiguous run of memory. */
	p->total = DMIO_OP(io->rw) == DMIO_FLUSH ? 0
		 : dmio_zeroing(io->rw) ? want
		 : piece_map(rs, p, want, rs->nbd ? 1 : c->pool.max_iov);
	if (!p->total && DMIO_OP(io->rw) != DMIO_FLUSH) {
		p->total = piece_bounce(c, rs, p, want);
		if (!p->total)
			return false;
		__atomic_add_fetch(&c->bounced, 1, __ATOMIC_RELAXED);
	}
	if (!rs->nbd) /* NBD counts what it sends */
		__atomic_add_fetch(&c->requests, 1, __ATOMIC_RELAXED);
	p->start = p->pos = rs->pos;
	p->len = p->total;
	rs->pos += DMIO_OP(io->rw) == DMIO_FLUSH ? 1 : p->total;
	if (rs->pos == rs->end)
		io->regions_left--;
	io->next_region = (i + 1) % io->num_regions;
	io->count++;
	return true;
}

/* The next piece to issue: one given back short, else a new one. */
static struct dmio_piece *next_piece(struct dmio_client *c,
				     struct dmio_piece **retry)
{
	struct dmio_piece *p;

	if (*retry) {
		p = *retry;
		*retry = p->next;
		return p;
	}
	while (c->active && !c->active->regions_left) {
		struct dmio_io *io = c->active;

		c->active = io->next;
		if (!c->active)
			c->active_tail = &c->active;
		io_put(c, io); /* every piece is made: drop the first count */
	}
	if (!c->active)
		return NULL;
	p = pool_piece(&c->pool);
	if (p && !piece_make(c, c->active, p)) {
		pool_piece_free(&c->pool, p);
		p = NULL;
	}
	return p;
}

/* Finish the NBD pieces that completed: whether there were any. */
static bool finish_nbd(struct dmio_client *c)
{
	struct dmio_piece *p = c->nbd_done;

	c->nbd_done = NULL;
	nbd_tidy(c);
	if (!p)
		return false;
	while (p) {
		struct dmio_piece *next = p->next;

		piece_complete(c, p); /* NBD transfers all or nothing */
		p = next;
	}
	return true;
}

void core_run(struct dmio_client *c)
{
	struct dmio_piece *retry = NULL, *done[64];

	for (;;) {
		struct dmio_piece *p;

		pthread_mutex_lock(&c->lock);
		if (c->incoming) {
			*c->active_tail = c->incoming;
			c->active_tail = c->incoming_tail;
			c->incoming = NULL;
			c->incoming_tail = &c->incoming;
		}
		pthread_mutex_unlock(&c->lock);

		while (c->inflight < c->depth && (p = next_piece(c, &retry))) {
			switch (p->ops->queue(c, p)) {
			case DMIO_Q_BUSY:
				p->next = retry;
				retry = p;
				goto submit;
			case DMIO_Q_COMPLETED:
				if (piece_complete(c, p)) {
					p->next = retry;
					retry = p;
				}
				break;
			default:
				/* Held: the client's engine reaps it; an NBD
				 * piece comes back on c->nbd_done. */
				if (p->ops == c->ops)
					c->inflight++;
			}
		}
submit:
		if (c->ops->commit)
			c->ops->commit(c);
		if (finish_nbd(c))
			continue;
		if (!c->inflight && !c->nbd_nconns) {
			if (!retry && !c->active) {
				pthread_mutex_lock(&c->lock);
				bool more = c->incoming != NULL;
				pthread_mutex_unlock(&c->lock);
				if (!more)
					return;
			}
			continue;
		}
		unsigned int n = c->inflight ? c->ops->reap(c, done, 64) : 0;

		if (!n) {
			client_sleep(c);
			n = c->inflight ? c->ops->reap(c, done, 64) : 0;
		}

		for (unsigned int i = 0; i < n; i++) {
			c->inflight--;
			if (piece_complete(c, done[i])) {
				done[i]->next = retry;
				retry = done[i];
			}
		}
	}
}

/* ---- the entry point ---- */

struct sync_wait {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	unsigned long error;
};

static void sync_notify(unsigned long error, void *context)
{
	struct sync_wait *w = context;

	pthread_mutex_lock(&w->lock);
	w->error = error;
	w->done = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

int dmio_submit(const struct dmio_request *req, unsigned int num_regions,
		const struct dmio_region *where, unsigned long *error_bits)
{
	struct dmio_client *c;
	struct sync_wait w;
	struct dmio_io *io;
	int r;

	if (!req)
		return -EINVAL;
	c = req->client ? req->client : dmio_default_client();
	if (!c)
		return -errno;
	if (!req->fn && client_on_thread(c))
		return -EDEADLK;
	r = io_prepare(c, req, num_regions, where, &io);
	if (r)
		return r;
	if (req->fn) {
		client_enqueue(c, io);
		return 0;
	}
	/* Synchronous: the asynchronous path and a wait, as in the kernel. */
	pthread_mutex_init(&w.lock, NULL);
	pthread_cond_init(&w.cond, NULL);
	w.done = false;
	io->fn = sync_notify;
	io->context = &w;
	client_enqueue(c, io);
	pthread_mutex_lock(&w.lock);
	while (!w.done)
		pthread_cond_wait(&w.cond, &w.lock);
	pthread_mutex_unlock(&w.lock);
	pthread_cond_destroy(&w.cond);
	pthread_mutex_destroy(&w.lock);
	if (error_bits)
		*error_bits = w.error;
	return w.error ? -EIO : 0;
}
