// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libdmio's NBD regions, against nbdkit servers that tests/unit/run starts
 * on Unix sockets: a 16 MiB memory disk ($DMIO_TEST_NBD), one whose every
 * write fails ($DMIO_TEST_NBD_WFAIL), a read-only one ($DMIO_TEST_NBD_RO),
 * one with a 4096-byte minimum block ($DMIO_TEST_NBD_4K) and one that
 * cannot zero and allows one connection ($DMIO_TEST_NBD_PLAIN), one whose
 * reads take a second ($DMIO_TEST_NBD_SLOW), one that allows multi-conn but
 * takes one client at a time ($DMIO_TEST_NBD_ONE).  A local
 * file and an export in the same call, with each buffer type, sync and
 * async; the engine comes from $DMIO_ENGINE.
 */
#include <pthread.h>
#include <stddef.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "unit.h"

#define S DMIO_SECTOR_SIZE
#define LEN (1u << 20)

static int nbd(const char *env, unsigned int connections)
{
	struct dmio_nbd_params p = { .size = sizeof(p), .connections = connections };
	int h = dmio_nbd_open(unit_env(env), &p);

	if (h < 0) {
		fprintf(stderr, "%s: %s: %s\n", env, strerror(-h), dmio_nbd_error());
		exit(2);
	}
	return h;
}

/* req over where[0..n), async or not: its return; the bits in *bits. */
static int call(struct dmio_request req, bool async, unsigned int n,
		struct dmio_region *where, unsigned long *bits)
{
	*bits = ~0UL;
	return unit_call(req, async, n, where, bits);
}

/* DMIO_FLUSH of handle h through client c (NULL: the default one). */
static int flush(int h, struct dmio_client *c)
{
	struct dmio_request req = { .rw = DMIO_FLUSH, .client = c };
	struct dmio_region w = { h, 0, 0 };
	unsigned long bits;

	return call(req, false, 1, &w, &bits);
}

/* Whether the export's bytes at sector equal want (len bytes). */
static bool nbd_equals(int h, uint64_t sector, const void *want, size_t len)
{
	struct tbuf *b = tbuf_new(BUF_VM, len, 0, 0);
	struct dmio_region w = { h, sector, len / S };
	unsigned long bits;
	bool same = call(tbuf_request(b, DMIO_READ), false, 1, &w, &bits) == 0 &&
		    !memcmp(b->base, want, len);

	tbuf_free(b);
	return same;
}

static void test_open(void)
{
	struct dmio_nbd_info info;
	struct dmio_nbd_params p = { .size = sizeof(p), .connections = 17 };
	int h = nbd("DMIO_TEST_NBD", 0), plain = nbd("DMIO_TEST_NBD_PLAIN", 8);

	CHECK(dmio_nbd_info(h, &info) == 0, "info");
	CHECK(info.size == 16u << 20 && info.connections == 4 && info.min_block == 1 &&
	      info.max_block >= LEN,
	      "size %llu, %u connections, blocks %u..%u", (unsigned long long)info.size,
	      info.connections, info.min_block, info.max_block);
	CHECK((info.flags & (DMIO_NBD_CAN_FLUSH | DMIO_NBD_CAN_ZERO | DMIO_NBD_CAN_TRIM |
			     DMIO_NBD_CAN_MULTI_CONN | DMIO_NBD_READ_ONLY)) ==
		      (DMIO_NBD_CAN_FLUSH | DMIO_NBD_CAN_ZERO | DMIO_NBD_CAN_TRIM |
		       DMIO_NBD_CAN_MULTI_CONN),
	      "flags %#x", info.flags);
	/* No multi-conn: one connection, whatever was asked. */
	CHECK(dmio_nbd_info(plain, &info) == 0 && info.connections == 1 &&
	      !(info.flags & (DMIO_NBD_CAN_ZERO | DMIO_NBD_CAN_MULTI_CONN)),
	      "plain: %u connections, flags %#x", info.connections, info.flags);
	CHECK(dmio_nbd_open(unit_env("DMIO_TEST_NBD"), &p) == -EINVAL, "17 connections");
	CHECK(dmio_nbd_open("nbd+unix:///?socket=/nonexistent/s", NULL) < 0 &&
	      *dmio_nbd_error(), "no server, no reason");
	CHECK(dmio_nbd_open(NULL, NULL) == -EINVAL, "no URI");
	p.size = 0;
	CHECK(dmio_nbd_open(unit_env("DMIO_TEST_NBD"), &p) == -EINVAL, "params of size 0");
	CHECK(flush(h, NULL) == 0 && flush(plain, NULL) == 0, "flush");
	CHECK(dmio_nbd_close(h) == 0 && dmio_nbd_close(plain) == 0, "close");
	CHECK(dmio_nbd_info(h, &info) == -EINVAL && dmio_nbd_close(h) == -EINVAL &&
	      flush(h, NULL) == -EBADF, "a closed handle");
}

/* The meta contexts a server offers, asked on the first connection; a
 * dirty bitmap it does not have is refused, naming them. */
static void test_contexts(void)
{
	struct dmio_nbd_params p = { .size = sizeof(p), .list_contexts = 1 };
	int h = dmio_nbd_open(unit_env("DMIO_TEST_NBD"), &p), d = 0;
	uint64_t end;

	REQUIRE(h >= 0, "open: %s", dmio_nbd_error());
	CHECK(!strcmp(dmio_nbd_contexts(h), "base:allocation"), "contexts '%s'",
	      dmio_nbd_contexts(h));
	CHECK(dmio_nbd_dirty(h, 0, &end, &d) == -EOPNOTSUPP, "no bitmap asked for");
	CHECK(dmio_nbd_close(h) == 0, "close");
	p = (struct dmio_nbd_params){ .size = sizeof(p), .dirty_bitmap = "b0" };
	CHECK(dmio_nbd_open(unit_env("DMIO_TEST_NBD"), &p) == -ENOENT &&
	      !strcmp(dmio_nbd_error(), "the export has no dirty bitmap b0; it offers base:allocation"),
	      "a missing bitmap: %s", dmio_nbd_error());
	CHECK(!*dmio_nbd_contexts(h), "a closed handle's");
}

/* One write to a local file and an export, with each buffer type, sync
 * and async; then each read back through the other's place. */
static void test_mirror(void)
{
	int h = nbd("DMIO_TEST_NBD", 0);
	char *want = malloc(LEN), *got = malloc(LEN);

	for (int t = BUF_VM; t <= BUF_BVEC; t++)
		for (int async = 0; async < 2; async++) {
			int fd = image_new("m", 2 * LEN, 9, 0);
			uint64_t at = (uint64_t)(1 + t * 2 + async) * (LEN / S);
			struct dmio_region w[2] = { { fd, 8, LEN / S }, { h, at, LEN / S } };
			struct tbuf *b = tbuf_new((enum buf_type)t, LEN, 512, 64 * 1024);
			unsigned long bits;

			fill_pattern(want, LEN, 20 + (uint32_t)t);
			tbuf_copy(b, want, true);
			CHECK(call(tbuf_request(b, DMIO_WRITE), async, 2, w, &bits) == 0 && !bits,
			      "%s async %d: bits %#lx", buf_names[t], async, bits);
			CHECK(fd_equals(fd, 8 * S, want, LEN), "%s: the file", buf_names[t]);
			CHECK(nbd_equals(h, at, want, LEN), "%s: the export", buf_names[t]);
			/* Read the export into the buffer again. */
			memset(got, 0, LEN);
			tbuf_copy(b, got, true);
			CHECK(call(tbuf_request(b, DMIO_READ), async, 1, &w[1], &bits) == 0,
			      "%s: read", buf_names[t]);
			tbuf_copy(b, got, false);
			CHECK(!memcmp(got, want, LEN), "%s: read back", buf_names[t]);
			tbuf_free(b);
			close(fd);
		}
	/* A flush of the local file and the export in one call. */
	{
		int fd = image_new("m", LEN, 9, O_RDONLY);
		struct dmio_region w[2] = { { fd, 0, 0 }, { h, 0, 0 } };
		unsigned long bits;

		CHECK(call((struct dmio_request){ .rw = DMIO_FLUSH }, true, 2, w, &bits) == 0 &&
		      !bits, "flush both: bits %#lx", bits);
		close(fd);
	}
	dmio_nbd_close(h);
	free(want);
	free(got);
}

/* A failing export fails alone: the local region of the same call is
 * written, and the error bit is the export's only. */
static void test_one_fails(void)
{
	int h = nbd("DMIO_TEST_NBD_WFAIL", 0), fd = image_new("f", LEN, 1, 0);
	struct dmio_region w[3] = { { h, 0, 64 }, { fd, 0, 64 }, { h, 128, 64 } };
	struct dmio_result res[3];
	struct tbuf *b = tbuf_new(BUF_VM, 64 * S, 0, 0);
	struct dmio_request req = tbuf_request(b, DMIO_WRITE);
	unsigned long bits;

	fill_pattern(b->base, 64 * S, 33);
	req.results = res;
	CHECK(call(req, false, 3, w, &bits) == -EIO && bits == 0x5, "bits %#lx", bits);
	CHECK(res[0].error == EIO && res[1].error == 0 && res[2].error == EIO,
	      "results %d %d %d", res[0].error, res[1].error, res[2].error);
	CHECK(fd_equals(fd, 0, b->base, 64 * S), "the local region");
	tbuf_free(b);
	close(fd);
	dmio_nbd_close(h);
}

/* What the export refuses, before any I/O: writes to a read-only export,
 * regions off its minimum block or past its end. */
static void test_refused(void)
{
	int ro = nbd("DMIO_TEST_NBD_RO", 0), k4 = nbd("DMIO_TEST_NBD_4K", 0);
	int fd = image_new("r", LEN, 2, 0);
	struct tbuf *b = tbuf_new(BUF_VM, 16 * S, 0, 0);
	struct dmio_region w[2] = { { fd, 0, 16 }, { ro, 0, 16 } };
	struct dmio_nbd_info info;
	char *orig = malloc(16 * S);
	unsigned long bits;

	fill_pattern(orig, 16 * S, 2);
	memset(b->base, 0xaa, 16 * S);
	CHECK(call(tbuf_request(b, DMIO_WRITE), false, 2, w, &bits) == -EROFS,
	      "a read-only export written");
	CHECK(fd_equals(fd, 0, orig, 16 * S), "the local region was written");
	CHECK(call(tbuf_request(b, DMIO_READ), false, 1, &w[1], &bits) == 0, "read-only: read");
	CHECK(dmio_nbd_info(k4, &info) == 0 && info.min_block == 4096, "min block %u",
	      info.min_block);
	w[1] = (struct dmio_region){ k4, 1, 8 };
	CHECK(call(tbuf_request(b, DMIO_WRITE), false, 2, w, &bits) == -EINVAL, "off 4K");
	w[1] = (struct dmio_region){ k4, 8, 12 };
	CHECK(call(tbuf_request(b, DMIO_READ), false, 1, &w[1], &bits) == -EINVAL, "4K + 2K");
	w[1] = (struct dmio_region){ k4, 8, 16 };
	CHECK(call(tbuf_request(b, DMIO_WRITE), false, 1, &w[1], &bits) == 0 && !bits, "4K");
	w[1] = (struct dmio_region){ k4, (16u << 20) / S - 8, 16 };
	CHECK(call(tbuf_request(b, DMIO_READ), false, 1, &w[1], &bits) == -EINVAL,
	      "past the end");
	tbuf_free(b);
	free(orig);
	close(fd);
	dmio_nbd_close(ro);
	dmio_nbd_close(k4);
}

/* Write-zeroes and trim; block status finds the holes they leave; an
 * export that cannot zero fails alone with EOPNOTSUPP. */
static void test_zeroes(void)
{
	int h = nbd("DMIO_TEST_NBD", 0), plain = nbd("DMIO_TEST_NBD_PLAIN", 0);
	struct tbuf *b = tbuf_new(BUF_VM, LEN, 0, 0);
	struct dmio_region all = { h, 0, (16u << 20) / S };
	struct dmio_region two[2] = { { h, 0, LEN / S }, { plain, 0, LEN / S } };
	struct dmio_request z = { .rw = DMIO_WRITE_ZEROES };
	struct dmio_result res[2];
	char *zero = calloc(1, LEN);
	uint64_t end;
	unsigned long bits;
	int hole = -1;

	for (int async = 0; async < 2; async++) {
		CHECK(call((struct dmio_request){ .rw = DMIO_DISCARD }, async, 1, &all, &bits) == 0,
		      "trim");
		fill_pattern(b->base, LEN, 4);
		all = (struct dmio_region){ h, 4 * LEN / S, LEN / S };
		CHECK(call(tbuf_request(b, DMIO_WRITE), async, 1, &all, &bits) == 0, "write");
		CHECK(dmio_nbd_extent(h, 0, &end, &hole) == 0 && hole && end <= 4 * LEN && end > 0,
		      "a hole to %llu? %d", (unsigned long long)end, hole);
		CHECK(dmio_nbd_extent(h, 4 * LEN, &end, &hole) == 0 && !hole &&
		      end >= 5 * LEN - 65536 && end <= 5 * LEN,
		      "data to %llu? %d", (unsigned long long)end, hole);
		CHECK(call((struct dmio_request){ .rw = DMIO_WRITE_ZEROES | DMIO_NOUNMAP }, async, 1,
			   &all, &bits) == 0 && nbd_equals(h, all.sector, zero, LEN),
		      "write zeroes");
		all = (struct dmio_region){ h, 0, (16u << 20) / S };
	}
	z.results = res;
	CHECK(call(z, false, 2, two, &bits) == -EIO && bits == 0x2 && res[1].error == EOPNOTSUPP,
	      "cannot zero: bits %#lx, %d", bits, res[1].error);
	CHECK(dmio_nbd_extent(h, 16u << 20, &end, &hole) == -EINVAL, "extent past the end");
	tbuf_free(b);
	free(zero);
	dmio_nbd_close(h);
	dmio_nbd_close(plain);
}

/* Calls from several threads at once, over every connection: each
 * thread's data where it wrote it. */
struct worker {
	int h;
	unsigned int k;
	int err;
	bool done; /* atomic */
};

static void *worker(void *arg)
{
	struct worker *w = arg;
	struct tbuf *b = tbuf_new(BUF_VM, LEN, 0, 0);
	struct dmio_region r = { w->h, (uint64_t)w->k * (LEN / S), LEN / S };
	unsigned long bits;

	for (int i = 0; i < 8 && !w->err; i++) {
		fill_pattern(b->base, LEN, w->k * 100 + (uint32_t)i);
		w->err = call(tbuf_request(b, DMIO_WRITE), i & 1, 1, &r, &bits);
		if (!w->err && !nbd_equals(w->h, r.sector, b->base, LEN))
			w->err = -EILSEQ;
	}
	tbuf_free(b);
	__atomic_store_n(&w->done, true, __ATOMIC_RELEASE);
	return NULL;
}

/* And flushes from this thread meanwhile, through the same client, and
 * through a client of its own, which may find every connection busy. */
static void test_threads(void)
{
	int h = nbd("DMIO_TEST_NBD", 0), r;
	struct worker w[6];
	pthread_t t[6];
	unsigned int flushes = 0;
	struct dmio_client *other = dmio_client_create(getenv("DMIO_ENGINE"), 0, 0);

	for (unsigned int i = 0; i < 6; i++) {
		w[i] = (struct worker){ h, i, 0, false };
		pthread_create(&t[i], NULL, worker, &w[i]);
	}
	for (unsigned int i = 0; i < 6; i++)
		while (!__atomic_load_n(&w[i].done, __ATOMIC_ACQUIRE)) {
			CHECK(flush(h, NULL) == 0, "flush");
			r = flush(h, other);
			CHECK(r == 0 || r == -EIO, "another client: %d", r);
			flushes++;
		}
	CHECK(flushes > 0, "no flush");
	CHECK(flush(h, other) == 0, "another client, when the first is done");
	dmio_client_destroy(other);
	for (unsigned int i = 0; i < 6; i++) {
		pthread_join(t[i], NULL);
		CHECK(!w[i].err, "thread %u: %s", i, strerror(-w[i].err));
	}
	dmio_nbd_close(h);
}

static double cpu_seconds(void)
{
	struct rusage u;

	getrusage(RUSAGE_SELF, &u);
	return (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
	       (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

/* The completion thread sleeps while the server takes its time: a second
 * call made while the first is in flight (a wake-up of the thread) once
 * left the uring engine's eventfd readable and the thread spinning in
 * poll() until the replies came, a second of CPU here. */
static void test_idle(void)
{
	int h = nbd("DMIO_TEST_NBD_SLOW", 1);
	struct dmio_client *c = dmio_client_create(getenv("DMIO_ENGINE"), 0, 0);
	struct tbuf *b1 = tbuf_new(BUF_VM, 4096, 0, 0), *b2 = tbuf_new(BUF_VM, 4096, 0, 0);
	struct dmio_region w1 = { h, 0, 8 }, w2 = { h, 8, 8 };
	struct unit_done d1 = UNIT_DONE_INIT, d2 = UNIT_DONE_INIT;
	struct dmio_request r1 = tbuf_request(b1, DMIO_READ), r2 = tbuf_request(b2, DMIO_READ);
	double cpu;

	r1.client = r2.client = c;
	r1.fn = r2.fn = unit_notify;
	r1.context = &d1;
	r2.context = &d2;
	usleep(100000); /* the thread asleep in its engine's wait */
	cpu = cpu_seconds();
	CHECK(dmio_submit(&r1, 1, &w1, NULL) == 0, "first read");
	usleep(100000);
	CHECK(dmio_submit(&r2, 1, &w2, NULL) == 0, "second read");
	CHECK(!unit_wait(&d1) && !unit_wait(&d2), "reads: %lx %lx", d1.error, d2.error);
	cpu = cpu_seconds() - cpu;
	CHECK(cpu < 0.3, "%.2f s of CPU while waiting a second for the server", cpu);
	dmio_client_destroy(c);
	tbuf_free(b1);
	tbuf_free(b2);
	dmio_nbd_close(h);
}

struct extent_cb {
	int h, err, hole;
	uint64_t end;
	struct unit_done d;
};

/* A completion callback that asks for block status. */
static void extent_notify(unsigned long error, void *context)
{
	struct extent_cb *e = context;

	e->err = dmio_nbd_extent(e->h, 0, &e->end, &e->hole);
	unit_notify(error, &e->d);
}

/* Block status on a connection a client drives: sent there, beside a
 * read the server holds for a second, and answered before it; and asked
 * for by a completion callback of that client (its thread drives the
 * connection), beside a read too. */
static void test_extent_busy(void)
{
	int h = nbd("DMIO_TEST_NBD_SLOW", 1), hole = -1;
	/* A depth of 4: the sync engine's 1 would hold the write back. */
	struct dmio_client *c = dmio_client_create(getenv("DMIO_ENGINE"), 4, 0);
	struct tbuf *b = tbuf_new(BUF_VM, 4096, 0, 0);
	struct dmio_region w = { h, 0, 8 }, w2 = { h, 64, 8 };
	struct unit_done d = UNIT_DONE_INIT, d2 = UNIT_DONE_INIT;
	struct extent_cb e = { .h = h, .err = 1, .d = UNIT_DONE_INIT };
	struct dmio_request r = tbuf_request(b, DMIO_READ), wr = tbuf_request(b, DMIO_WRITE);
	uint64_t end = 0;
	double t;

	alarm(60); /* a hang fails the test */
	r.client = wr.client = c;
	r.fn = unit_notify;
	r.context = &d;
	CHECK(dmio_submit(&r, 1, &w, NULL) == 0, "read");
	usleep(200000); /* the read in flight on the one connection */
	t = unit_now();
	CHECK(dmio_nbd_extent(h, 0, &end, &hole) == 0 && end > 0, "extent: end %llu",
	      (unsigned long long)end);
	t = unit_now() - t;
	CHECK(t < 0.5, "block status took %.2f s beside a read of a second", t);
	CHECK(!unit_wait(&d), "the read: %lx", d.error);
	/* The write completes while the read waits. */
	r.context = &d2;
	wr.fn = extent_notify;
	wr.context = &e;
	CHECK(dmio_submit(&r, 1, &w, NULL) == 0, "read");
	usleep(200000);
	CHECK(dmio_submit(&wr, 1, &w2, NULL) == 0, "write");
	CHECK(!unit_wait(&e.d) && e.err == 0 && e.end > 0, "from a callback: %d, end %llu",
	      e.err, (unsigned long long)e.end);
	CHECK(!unit_wait(&d2), "the read: %lx", d2.error);
	alarm(0);
	dmio_client_destroy(c);
	tbuf_free(b);
	dmio_nbd_close(h);
}

struct prober {
	int h;
	unsigned int calls;
	int err;
	const struct worker *w; /* until these are done */
	unsigned int nw;
};

/* Block status of the half that nobody writes, in a loop: a hole to the
 * end. */
static void *prober(void *arg)
{
	struct prober *p = arg;
	bool busy = true;

	while (busy && !p->err) {
		uint64_t end = 0;
		int hole = -1;

		p->err = dmio_nbd_extent(p->h, 8 * LEN + (p->calls % 8) * 4096, &end, &hole);
		if (!p->err && (!hole || end != 16u << 20))
			p->err = -EILSEQ;
		p->calls++;
		busy = false;
		for (unsigned int i = 0; i < p->nw; i++)
			busy |= !__atomic_load_n(&p->w[i].done, __ATOMIC_ACQUIRE);
	}
	return NULL;
}

/* A server that allows multi-conn but takes one client at a time (nbdkit's
 * limit filter refuses the next): one connection, and block status on it
 * from two threads, while two others write and read back through the same
 * connection, idle or busy; never a connection more, which the server
 * would refuse. */
static void test_one_client(void)
{
	int h = nbd("DMIO_TEST_NBD_ONE", 4), hole = -1;
	struct dmio_region all = { h, 0, (16u << 20) / S };
	struct dmio_nbd_info info;
	struct worker w[2];
	struct prober pr[2];
	pthread_t t[4];
	uint64_t end = 0;
	unsigned long bits;

	CHECK(dmio_nbd_info(h, &info) == 0 && info.connections == 1 &&
	      info.flags & DMIO_NBD_CAN_MULTI_CONN,
	      "%u connections, flags %#x", info.connections, info.flags);
	CHECK(call((struct dmio_request){ .rw = DMIO_DISCARD }, false, 1, &all, &bits) == 0,
	      "trim");
	CHECK(dmio_nbd_extent(h, 0, &end, &hole) == 0 && hole && end == 16u << 20,
	      "idle: a hole to %llu? %d", (unsigned long long)end, hole);
	for (unsigned int i = 0; i < 2; i++) {
		w[i] = (struct worker){ h, i, 0, false };
		pr[i] = (struct prober){ h, 0, 0, w, 2 };
	}
	for (unsigned int i = 0; i < 2; i++) {
		pthread_create(&t[i], NULL, worker, &w[i]);
		pthread_create(&t[2 + i], NULL, prober, &pr[i]);
	}
	for (unsigned int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	for (unsigned int i = 0; i < 2; i++) {
		CHECK(!w[i].err, "writer %u: %s", i, strerror(-w[i].err));
		CHECK(!pr[i].err && pr[i].calls > 0, "prober %u: %s after %u calls", i,
		      strerror(-pr[i].err), pr[i].calls);
	}
	CHECK(dmio_nbd_extent(h, 0, &end, &hole) == 0 && !hole && end >= 2 * LEN - 65536,
	      "data to %llu? %d", (unsigned long long)end, hole);
	dmio_nbd_close(h);
}

static void *write_later(void *arg)
{
	uint64_t one = 1;

	usleep(200000);
	if (write(*(int *)arg, &one, sizeof(one)) < 0)
		perror("eventfd");
	return NULL;
}

/* A server that never answers the handshake (a socket that listens and
 * never accepts): dmio_nbd_open() waits until cancel_fd is readable, then
 * fails with EINTR; at once when it is already; not when the caller's
 * size leaves cancel_fd out. */
static void test_cancel(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct dmio_nbd_params p = { .size = sizeof(p) };
	const char *path = tmp_path("mute.sock");
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), h, r;
	char uri[sizeof(sa.sun_path) + 32];
	pthread_t writer;
	double t;

	REQUIRE(strlen(path) < sizeof(sa.sun_path), "%s: too long for a socket", path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	unlink(sa.sun_path);
	r = s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) || listen(s, 16) ? -errno : 0;
	REQUIRE(!r, "socket: %s", strerror(-r));
	snprintf(uri, sizeof(uri), "nbd+unix:///?socket=%s", sa.sun_path);
	alarm(60); /* a hang fails the test */
	p.cancel_fd = eventfd(0, EFD_CLOEXEC);
	pthread_create(&writer, NULL, write_later, &p.cancel_fd);
	t = unit_now();
	h = dmio_nbd_open(uri, &p);
	t = unit_now() - t;
	pthread_join(writer, NULL);
	CHECK(h == -EINTR && t > 0.1 && t < 5, "%d after %.2f s", h, t);
	t = unit_now();
	CHECK(dmio_nbd_open(uri, &p) == -EINTR && unit_now() - t < 1, "readable already");
	/* A caller built before cancel_fd: not looked at. */
	p.size = offsetof(struct dmio_nbd_params, cancel_fd);
	h = dmio_nbd_open(unit_env("DMIO_TEST_NBD"), &p);
	CHECK(h >= 0 && dmio_nbd_close(h) == 0, "an older size: %d", h);
	close(p.cancel_fd);
	/* Not the fd just closed: the library's socket takes its number. */
	p.cancel_fd = 1000;
	p.size = sizeof(p);
	CHECK(fcntl(p.cancel_fd, F_GETFD) == -1 && dmio_nbd_open(uri, &p) == -EBADF,
	      "a cancel_fd that is no fd");
	close(s);
	unlink(sa.sun_path);
	alarm(0);
}

int main(void)
{
	RUN(test_open);
	RUN(test_contexts);
	RUN(test_mirror);
	RUN(test_one_fails);
	RUN(test_refused);
	RUN(test_zeroes);
	RUN(test_threads);
	RUN(test_idle);
	RUN(test_extent_busy);
	RUN(test_one_client);
	RUN(test_cancel);
	return unit_done();
}
