/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A small test harness for libdmio: checks that report and go on, one line
 * per test, "N passed, N failed" at the end; plus test buffers of the three
 * dm-io types built over the same bytes, and image-file helpers.
 */
#ifndef DMIO_UNIT_H
#define DMIO_UNIT_H

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dmio.h"

static int unit_failures; /* in the current test */
static int unit_passed, unit_failed;

#define CHECK(cond, ...)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			unit_failures++;                                       \
			fprintf(stderr, "  %s:%d: %s: ", __FILE__, __LINE__,   \
				#cond);                                        \
			fprintf(stderr, __VA_ARGS__);                          \
			fputc('\n', stderr);                                   \
		}                                                              \
	} while (0)

/* Checks whose failure makes the rest of a test meaningless. */
#define REQUIRE(cond, ...)                                                     \
	do {                                                                   \
		CHECK(cond, __VA_ARGS__);                                      \
		if (!(cond))                                                   \
			return;                                                \
	} while (0)

static inline double unit_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline void unit_run(const char *name, void (*fn)(void))
{
	double t = unit_now();

	unit_failures = 0;
	fn();
	t = unit_now() - t;
	if (unit_failures) {
		unit_failed++;
		printf("not ok - %s (%d failed checks)\n", name, unit_failures);
	} else {
		unit_passed++;
		printf("ok - %s (%.2fs)\n", name, t);
	}
	fflush(stdout);
}

#define RUN(fn) unit_run(#fn, fn)

static inline int unit_done(void)
{
	printf("%d passed, %d failed\n", unit_passed, unit_failed);
	return unit_failed ? 1 : 0;
}

/* A smaller matrix under valgrind. */
static inline bool unit_quick(void)
{
	return getenv("UNIT_QUICK") != NULL;
}

/* The end of an async call, for a test that waits for it. */
struct unit_done {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool called;
	unsigned long error;
};
#define UNIT_DONE_INIT { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, 0 }

static inline void unit_notify(unsigned long error, void *context)
{
	struct unit_done *d = context;

	pthread_mutex_lock(&d->lock);
	d->called = true;
	d->error = error;
	pthread_cond_signal(&d->cond);
	pthread_mutex_unlock(&d->lock);
}

/* Wait for d's call to end: its error bits. */
static inline unsigned long unit_wait(struct unit_done *d)
{
	pthread_mutex_lock(&d->lock);
	while (!d->called)
		pthread_cond_wait(&d->cond, &d->lock);
	pthread_mutex_unlock(&d->lock);
	return d->error;
}

/* req over where[0..n) through dmio_submit, async (waited for) or not:
 * its return; the error bits in *bits. */
static inline int unit_call(struct dmio_request req, bool async, unsigned int n,
			    struct dmio_region *where, unsigned long *bits)
{
	struct unit_done d = UNIT_DONE_INIT;
	int r;

	if (!async)
		return dmio_submit(&req, n, where, bits);
	req.fn = unit_notify;
	req.context = &d;
	r = dmio_submit(&req, n, where, NULL);
	if (r)
		return r;
	*bits = unit_wait(&d);
	return *bits ? -EIO : 0;
}

static inline const char *unit_env(const char *name)
{
	const char *v = getenv(name);

	if (!v) {
		fprintf(stderr, "%s is not set: run the tests with tests/unit/run\n", name);
		exit(2);
	}
	return v;
}

/* ---- bytes ---- */

/* Bytes that depend on seed and on their position: a copy from the wrong
 * place or the wrong buffer never matches. */
static inline void fill_pattern(void *buf, size_t len, uint32_t seed)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
	unsigned char *p = buf;

	for (size_t i = 0; i < len; i += 8) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		memcpy(p + i, &x, len - i < 8 ? len - i : 8);
	}
}

static inline void *xmalloc_aligned(size_t align, size_t len)
{
	void *p = aligned_alloc(align, (len + align - 1) / align * align);

	if (!p) {
		perror("aligned_alloc");
		exit(2);
	}
	return p;
}

/* ---- test buffers: the same len bytes as a vm buffer, a page list or a
 * bvec array, each entered at an offset ---- */

enum buf_type { BUF_VM, BUF_PAGES, BUF_BVEC };
static const char *const buf_names[] = { "vm", "pages", "bvec" };

struct tbuf {
	enum buf_type type;
	size_t len;
	unsigned int offset;
	char *base;                /* vm */
	struct dmio_page_list *pl; /* pages */
	unsigned int npages;
	struct dmio_bvec *bv;      /* bvec, NULL-page terminated */
	unsigned int nbv;
};

/* bvec segments: seg bytes each (the last may be shorter), each in its own
 * allocation, entered at offset. */
static inline struct tbuf *tbuf_new(enum buf_type type, size_t len,
				    unsigned int offset, unsigned int seg)
{
	struct tbuf *b = calloc(1, sizeof(*b));

	b->type = type;
	b->len = len;
	b->offset = offset;
	switch (type) {
	case BUF_VM:
		b->base = xmalloc_aligned(DMIO_PAGE_SIZE, offset + len + 1);
		break;
	case BUF_PAGES:
		b->npages = (unsigned int)((offset + len + DMIO_PAGE_SIZE - 1) / DMIO_PAGE_SIZE);
		b->pl = calloc(b->npages, sizeof(*b->pl));
		for (unsigned int i = 0; i < b->npages; i++) {
			b->pl[i].page = xmalloc_aligned(DMIO_PAGE_SIZE, DMIO_PAGE_SIZE);
			b->pl[i].next = i + 1 < b->npages ? &b->pl[i + 1] : NULL;
		}
		break;
	case BUF_BVEC:
		b->nbv = (unsigned int)((len + seg - 1) / seg);
		b->bv = calloc(b->nbv + 1, sizeof(*b->bv));
		for (unsigned int i = 0; i < b->nbv; i++) {
			size_t n = len - (size_t)i * seg < seg ? len - (size_t)i * seg : seg;

			b->bv[i].page = xmalloc_aligned(DMIO_PAGE_SIZE, offset + n);
			b->bv[i].offset = offset;
			b->bv[i].len = (unsigned int)n;
		}
		break;
	}
	return b;
}

static inline void tbuf_free(struct tbuf *b)
{
	free(b->base);
	for (unsigned int i = 0; i < b->npages; i++)
		free(b->pl[i].page);
	free(b->pl);
	for (unsigned int i = 0; i < b->nbv; i++)
		free(b->bv[i].page);
	free(b->bv);
	free(b);
}

/* Copy between the buffer and linear memory: to_buf true fills the buffer. */
static inline void tbuf_copy(struct tbuf *b, char *lin, bool to_buf)
{
	size_t done = 0;

	while (done < b->len) {
		char *addr;
		size_t n;

		if (b->type == BUF_VM) {
			addr = b->base + b->offset + done;
			n = b->len - done;
		} else if (b->type == BUF_PAGES) {
			size_t at = b->offset + done;

			addr = (char *)b->pl[at / DMIO_PAGE_SIZE].page + at % DMIO_PAGE_SIZE;
			n = DMIO_PAGE_SIZE - at % DMIO_PAGE_SIZE;
		} else {
			size_t seg = b->bv[0].len, i = done / seg;

			addr = (char *)b->bv[i].page + b->bv[i].offset + done % seg;
			n = b->bv[i].len - done % seg;
		}
		if (n > b->len - done)
			n = b->len - done;
		if (to_buf)
			memcpy(addr, lin + done, n);
		else
			memcpy(lin + done, addr, n);
		done += n;
	}
}

/* The request for b: the client, callback and results still to be set. */
static inline struct dmio_request tbuf_request(struct tbuf *b, int rw)
{
	struct dmio_request req = { .rw = rw, .offset = b->offset };

	switch (b->type) {
	case BUF_VM:
		req.mem_type = DMIO_MEM_VM;
		req.mem.vma = b->base ? b->base + b->offset : NULL;
		break;
	case BUF_PAGES:
		req.mem_type = DMIO_MEM_PAGE_LIST;
		req.mem.pl = b->pl;
		break;
	case BUF_BVEC:
		req.mem_type = DMIO_MEM_BVEC;
		req.mem.bvec = b->bv;
		break;
	}
	return req;
}

/* ---- image files ---- */

static inline char *tmp_path(const char *name)
{
	static __thread char path[4096]; /* threads make their own files */

	snprintf(path, sizeof(path), "%s/%s", unit_env("DMIO_TEST_DIR"), name);
	return path;
}

/* A new image file of len bytes holding pattern seed; returns an fd. */
static inline int image_new(const char *name, size_t len, uint32_t seed,
			    int flags)
{
	char *buf = malloc(len);
	int fd = open(tmp_path(name), O_RDWR | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || !buf) {
		perror(name);
		exit(2);
	}
	fill_pattern(buf, len, seed);
	if (pwrite(fd, buf, len, 0) != (ssize_t)len) {
		perror("pwrite");
		exit(2);
	}
	free(buf);
	close(fd);
	fd = open(tmp_path(name), O_RDWR | flags);
	if (fd < 0) {
		perror(name);
		exit(2);
	}
	return fd;
}

/* Whether fd's bytes [off, off+len) equal want; read through a new
 * buffered fd, as fd may be O_DIRECT. */
static inline bool fd_equals(int fd, uint64_t off, const void *want, size_t len)
{
	char path[64], *got = malloc(len ? len : 1);
	bool same;
	int rfd;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	rfd = open(path, O_RDONLY);
	same = rfd >= 0 && pread(rfd, got, len, (off_t)off) == (ssize_t)len &&
	       !memcmp(got, want, len);
	if (rfd >= 0)
		close(rfd);
	free(got);
	return same;
}

#endif
