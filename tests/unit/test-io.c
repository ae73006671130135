// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libdmio's semantics, call by call: every buffer type, sync and async,
 * one and several regions, buffered and O_DIRECT fds, sizes from a sector to
 * many MiB, odd offsets; invalid arguments; error bits from real failing
 * devices; the callback rule; the pool.  The engine comes from $DMIO_ENGINE
 * (tests/unit/run runs every test with each).
 */
#include <pthread.h>
#include <sys/stat.h>

#include "unit.h"

#define S DMIO_SECTOR_SIZE

static struct dmio_client *client; /* $DMIO_ENGINE, small pieces */

/* ---- waiting for an async call ---- */

struct waiter {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int calls;
	unsigned long error;
	pthread_t thread;
	bool (*check)(void *arg); /* run inside the callback */
	void *arg;
	bool check_ok;
};

static void waiter_init(struct waiter *w)
{
	memset(w, 0, sizeof(*w));
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
}

static void notify(unsigned long error, void *context)
{
	struct waiter *w = context;

	if (w->check)
		w->check_ok = w->check(w->arg);
	pthread_mutex_lock(&w->lock);
	w->calls++;
	w->error = error;
	w->thread = pthread_self();
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

/* Wait for the first callback, then a little more for a wrong second one. */
static void waiter_wait(struct waiter *w)
{
	pthread_mutex_lock(&w->lock);
	while (!w->calls)
		pthread_cond_wait(&w->cond, &w->lock);
	pthread_mutex_unlock(&w->lock);
}

static void waiter_destroy(struct waiter *w)
{
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
}

/* One call through the seed API on the default client (c == NULL) or
 * through dmio_submit on c: sync or async, any buffer type. */
static int do_io(struct dmio_client *c, bool async, struct tbuf *b, int rw,
		 unsigned int n, struct dmio_region *where,
		 unsigned long *bits, struct dmio_result *results)
{
	struct waiter w;
	int r;

	*bits = ~0UL;
	if (c || results) {
		struct dmio_request req = tbuf_request(b, rw);

		req.client = c;
		req.results = results;
		if (!async)
			return dmio_submit(&req, n, where, bits);
		waiter_init(&w);
		req.fn = notify;
		req.context = &w;
		r = dmio_submit(&req, n, where, NULL);
	} else if (!async) {
		switch (b->type) {
		case BUF_VM:
			return dmio_sync_vm(n, where, rw, b->base ? b->base + b->offset : NULL, bits);
		case BUF_PAGES:
			return dmio_sync(n, where, rw, b->pl, b->offset, bits);
		default:
			return dmio_sync_bvec(n, where, rw, b->bv, bits);
		}
	} else {
		waiter_init(&w);
		switch (b->type) {
		case BUF_VM:
			r = dmio_async_vm(n, where, rw, b->base ? b->base + b->offset : NULL,
					  notify, &w);
			break;
		case BUF_PAGES:
			r = dmio_async(n, where, rw, b->pl, b->offset, notify, &w);
			break;
		default:
			r = dmio_async_bvec(n, where, rw, b->bv, notify, &w);
			break;
		}
	}
	if (r) {
		CHECK(w.calls == 0, "a refused async call ran its callback");
		waiter_destroy(&w);
		return r;
	}
	waiter_wait(&w);
	CHECK(!pthread_equal(w.thread, pthread_self()),
	      "the callback ran on the caller's thread");
	*bits = w.error;
	waiter_destroy(&w);
	return w.error ? -EIO : 0;
}

/* ---- files and their model ---- */

static unsigned int dio_align(int fd)
{
	struct statx stx;

	if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) ||
	    !(stx.stx_mask & STATX_DIOALIGN) || !stx.stx_dio_offset_align)
		return 4096;
	return stx.stx_dio_offset_align > stx.stx_dio_mem_align
		       ? stx.stx_dio_offset_align : stx.stx_dio_mem_align;
}

static bool file_is(int fd, const char *model, size_t len)
{
	struct stat st;

	return !fstat(fd, &st) && (size_t)st.st_size == len &&
	       fd_equals(fd, 0, model, len);
}

static char *model_new(size_t len, uint32_t seed)
{
	char *m = malloc(len);

	fill_pattern(m, len, seed);
	return m;
}

/* ---- the round-trip matrix ---- */

struct case_ {
	enum buf_type type;
	bool async, direct, via_client;
	uint64_t sectors;
	unsigned int offset, nregions;
};

static const uint64_t starts[3] = { 0, 8, 3000 }; /* per region, sectors */

static void roundtrip(const struct case_ *k)
{
	size_t len = k->sectors * S;
	int fds[3];
	char *models[3];
	size_t flen[3];
	struct dmio_region where[3];
	struct dmio_result results[3];
	char *data = malloc(len), *back = malloc(len);
	struct tbuf *b = tbuf_new(k->type, len, k->offset, 3 * S + 512);
	unsigned long bits;
	int r;

	for (unsigned int i = 0; i < k->nregions; i++) {
		flen[i] = (starts[i] + k->sectors + 9) * S;
		models[i] = model_new(flen[i], 100 + i);
		fds[i] = image_new(i == 0 ? "a" : i == 1 ? "b" : "c", flen[i],
				   100 + i, k->direct ? O_DIRECT : 0);
		where[i] = (struct dmio_region){ fds[i], starts[i], k->sectors };
	}
	fill_pattern(data, len, (uint32_t)(k->sectors + k->offset));
	tbuf_copy(b, data, true);
	if (b->base)
		b->base[k->offset + len] = 0x5a; /* a guard past the region */

	r = do_io(k->via_client ? client : NULL, k->async, b, DMIO_WRITE,
		  k->nregions, where, &bits, k->via_client ? results : NULL);
	CHECK(r == 0 && bits == 0, "write: r %d bits %#lx", r, bits);
	for (unsigned int i = 0; i < k->nregions; i++) {
		memcpy(models[i] + starts[i] * S, data, len);
		CHECK(file_is(fds[i], models[i], flen[i]),
		      "region %u: the file is not the model after the write", i);
		if (k->via_client)
			CHECK(results[i].error == 0, "region %u: error %d", i,
			      results[i].error);
	}

	/* Read each region back into a buffer of the same shape. */
	for (unsigned int i = 0; i < k->nregions; i++) {
		memset(back, 0xee, len);
		tbuf_copy(b, back, true);
		r = do_io(k->via_client ? client : NULL, k->async, b, DMIO_READ,
			  1, &where[i], &bits, NULL);
		CHECK(r == 0 && bits == 0, "read %u: r %d bits %#lx", i, r, bits);
		tbuf_copy(b, back, false);
		CHECK(!memcmp(back, data, len), "read %u: wrong bytes", i);
		if (b->base)
			CHECK(b->base[k->offset + len] == 0x5a,
			      "read %u: wrote past the buffer", i);
	}
	for (unsigned int i = 0; i < k->nregions; i++) {
		close(fds[i]);
		free(models[i]);
	}
	tbuf_free(b);
	free(data);
	free(back);
}

static void run_matrix(bool direct)
{
	static const uint64_t sizes[] = { 1, 7, 8, 2049, 10243 };
	static const unsigned int offsets[] = { 0, 512, 100 };
	unsigned int nsizes = unit_quick() ? 3 : 5, cases = 0;
	unsigned int align = 512;

	if (direct) {
		int fd = image_new("probe", 4096, 0, O_DIRECT);

		align = dio_align(fd);
		close(fd);
	}
	for (int type = BUF_VM; type <= BUF_BVEC; type++)
		for (int async = 0; async < 2; async++)
			for (unsigned int s = 0; s < nsizes; s++)
				for (unsigned int o = 0; o < 3; o++)
					for (unsigned int n = 1; n <= 3; n += 2) {
						struct case_ k = {
							.type = type, .async = async,
							.direct = direct,
							.via_client = (s + o) % 2,
							.sectors = sizes[s],
							.offset = offsets[o],
							.nregions = n,
						};
						int before = unit_failures;

						/* Regions an O_DIRECT fd cannot take
						 * are refused: test_direct_refusals. */
						if (direct && (sizes[s] * S) % align)
							continue;
						roundtrip(&k);
						cases++;
						if (unit_failures != before)
							fprintf(stderr, "  in: %s %s %s %llu sectors offset %u, %u region(s)\n",
								buf_names[type], async ? "async" : "sync",
								direct ? "O_DIRECT" : "buffered",
								(unsigned long long)sizes[s], offsets[o], n);
					}
	CHECK(cases >= 36, "only %u cases ran", cases);
}

static void test_roundtrip_buffered(void)
{
	run_matrix(false);
}

static void test_roundtrip_direct(void)
{
	run_matrix(true);
}

/* Many MiB, odd sized, from an odd offset, to two regions of each type. */
static void test_big_regions(void)
{
	uint64_t sectors = unit_quick() ? 8195 : 65541; /* 4 MiB+, 32 MiB+ */

	for (int type = BUF_VM; type <= BUF_BVEC; type++) {
		struct case_ k = { .type = type, .async = type != BUF_PAGES,
				   .sectors = sectors, .offset = 1000,
				   .nregions = 3 };

		roundtrip(&k);
	}
}

/* ---- invalid arguments: -errno, nothing written, nothing submitted ---- */

static void test_invalid_arguments(void)
{
	int fd = image_new("inv", 64 * S, 7, 0);
	int dfd = image_new("invd", 64 * S, 8, O_DIRECT);
	int rofd = open(tmp_path("inv"), O_RDONLY);
	int wofd = open(tmp_path("inv"), O_WRONLY);
	char *m = model_new(64 * S, 7), *md = model_new(64 * S, 8);
	struct tbuf *vm = tbuf_new(BUF_VM, 8 * S, 0, 0);
	struct tbuf *pages = tbuf_new(BUF_PAGES, 8 * S, 0, 0);
	struct tbuf *bv = tbuf_new(BUF_BVEC, 8 * S, 0, 2 * S);
	struct dmio_region ok = { fd, 0, 8 }, many[DMIO_MAX_REGIONS + 1];
	struct dmio_stats before, after;
	unsigned long bits;
	struct dmio_page_list short_pl = { NULL, pages->pl[0].page };
	struct dmio_bvec short_bv[2] = { { bv->bv[0].page, 2 * S, 0 }, { 0 } };
	struct {
		const char *what;
		int rw;
		unsigned int n;
		struct dmio_region where[2];
		int type; /* buffer: 0 vm, 1 pages, 2 bvec, 3 NULL vm,
			     4 short list, 5 short bvec, 6 offset 4096 */
		int want;
	} cases[] = {
		{ "no regions", DMIO_WRITE, 0, { { fd, 0, 8 } }, 0, -EINVAL },
		{ "rw 7", 7, 1, { { fd, 0, 8 } }, 0, -EINVAL },
		{ "two read regions", DMIO_READ, 2, { { fd, 0, 8 }, { fd, 16, 8 } }, 0, -EINVAL },
		{ "NULL vm buffer", DMIO_WRITE, 1, { { fd, 0, 8 } }, 3, -EINVAL },
		{ "page list too short", DMIO_WRITE, 1, { { fd, 0, 9 } }, 4, -EINVAL },
		{ "bvec too short", DMIO_WRITE, 1, { { fd, 0, 8 } }, 5, -EINVAL },
		{ "page offset 4096", DMIO_WRITE, 1, { { fd, 0, 1 } }, 6, -EINVAL },
		{ "fd -1", DMIO_WRITE, 1, { { -1, 0, 8 } }, 0, -EBADF },
		{ "closed fd", DMIO_WRITE, 2, { { fd, 0, 8 }, { 999, 0, 8 } }, 1, -EBADF },
		{ "write to O_RDONLY", DMIO_WRITE, 2, { { fd, 0, 8 }, { rofd, 16, 8 } }, 2, -EBADF },
		{ "read from O_WRONLY", DMIO_READ, 1, { { wofd, 0, 8 } }, 0, -EBADF },
		{ "sector overflow", DMIO_WRITE, 2, { { fd, 0, 8 }, { fd, UINT64_MAX - 2, 8 } }, 0, -EINVAL },
		{ "end past off_t", DMIO_WRITE, 1, { { fd, 1ULL << 54, 1ULL << 54 } }, 0, -EINVAL },
	};
	int nok = 0;

	fill_pattern(vm->base, 8 * S, 1);
	REQUIRE(rofd >= 0 && wofd >= 0, "open: %s", strerror(errno));
	REQUIRE(!dmio_client_stats(dmio_default_client(), &before), "stats");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (int async = 0; async < 2; async++) {
			struct tbuf *b = cases[i].type == 1 ? pages
					 : cases[i].type == 2 ? bv : vm;
			struct tbuf copy = *b;
			int r;

			switch (cases[i].type) {
			case 3: copy.base = NULL, copy.offset = 0; break;
			case 4: copy.type = BUF_PAGES, copy.pl = &short_pl; break;
			case 5: copy.type = BUF_BVEC, copy.bv = short_bv; break;
			case 6: copy.type = BUF_PAGES, copy.pl = pages->pl, copy.offset = 4096; break;
			}
			r = do_io(NULL, async, &copy, cases[i].rw, cases[i].n,
				  cases[i].where, &bits, NULL);
			CHECK(r == cases[i].want, "%s (%s): got %d, want %d",
			      cases[i].what, async ? "async" : "sync", r, cases[i].want);
			nok++;
		}
	}
	CHECK(nok >= 26, "only %d refusals tried", nok);

	/* Too many regions; async without a callback; no request at all. */
	for (unsigned int i = 0; i <= DMIO_MAX_REGIONS; i++)
		many[i] = (struct dmio_region){ fd, i, 1 };
	CHECK(dmio_sync_vm(DMIO_MAX_REGIONS + 1, many, DMIO_WRITE, vm->base, &bits) == -EINVAL,
	      "65 regions accepted");
	CHECK(dmio_async_vm(1, &ok, DMIO_WRITE, vm->base, NULL, NULL) == -EINVAL,
	      "async without a callback accepted");
	CHECK(dmio_submit(NULL, 1, &ok, &bits) == -EINVAL, "NULL request accepted");

	REQUIRE(!dmio_client_stats(dmio_default_client(), &after), "stats");
	CHECK(after.requests == before.requests,
	      "%llu requests issued by refused calls", after.requests - before.requests);
	CHECK(file_is(fd, m, 64 * S), "a refused call changed the file");
	CHECK(file_is(dfd, md, 64 * S), "a refused call changed the O_DIRECT file");

	close(fd), close(dfd), close(rofd), close(wofd);
	free(m), free(md);
	tbuf_free(vm), tbuf_free(pages), tbuf_free(bv);
}

static void test_client_create_errors(void)
{
	struct { const char *engine; unsigned int depth, max_io; } bad[] = {
		{ "nope", 0, 0 }, { "aio", 100000, 0 }, { "sync", 0, 1000 },
		{ "aio", 0, 128u << 20 },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		CHECK(!dmio_client_create(bad[i].engine, bad[i].depth, bad[i].max_io) &&
		      errno == EINVAL, "client %zu was created or errno %d", i, errno);
	}
	CHECK(dmio_client_get(NULL, 1) == -EINVAL, "get on NULL");
	dmio_client_put(NULL, 1);
	dmio_client_destroy(NULL);
}

/* ---- error bits from real failing devices ---- */

/* Write to 3 or 64 regions, one of them on a device whose writes fail. */
static void error_bits_case(unsigned int n, unsigned int bad, bool async,
			    struct dmio_client *c)
{
	size_t len = 64 * S, flen = (size_t)n * len;
	int fd = image_new("eb", flen, 3, 0);
	int wfail = open(unit_env("DMIO_TEST_WFAIL"), O_RDWR | O_DIRECT);
	char *m = model_new(flen, 3);
	struct dmio_region *where = calloc(n, sizeof(*where));
	struct dmio_result *res = calloc(n, sizeof(*res));
	struct tbuf *b = tbuf_new(BUF_VM, len, 0, 0);
	unsigned long bits;
	int r;

	REQUIRE(wfail >= 0, "%s: %s", unit_env("DMIO_TEST_WFAIL"), strerror(errno));
	fill_pattern(b->base, len, 9);
	for (unsigned int i = 0; i < n; i++)
		where[i] = (struct dmio_region){ fd, i * 64, 64 };
	where[bad] = (struct dmio_region){ wfail, 2048, 64 };
	r = do_io(c, async, b, DMIO_WRITE, n, where, &bits, c ? res : NULL);
	CHECK(r == -EIO, "%u regions, bad %u: r %d", n, bad, r);
	CHECK(bits == 1UL << bad, "%u regions, bad %u: bits %#lx", n, bad, bits);
	for (unsigned int i = 0; i < n; i++)
		if (i != bad)
			memcpy(m + i * len, b->base, len);
	CHECK(file_is(fd, m, flen), "%u regions, bad %u: healthy regions wrong", n, bad);
	if (c) {
		for (unsigned int i = 0; i < n; i++)
			CHECK(res[i].error == (i == bad ? EIO : 0),
			      "result %u: error %d", i, res[i].error);
		CHECK(res[bad].error_sector >= 2048 && res[bad].error_sector < 2048 + 64,
		      "error sector %llu", (unsigned long long)res[bad].error_sector);
	}
	close(fd), close(wfail);
	free(m), free(where), free(res);
	tbuf_free(b);
}

static void test_error_bits(void)
{
	for (int async = 0; async < 2; async++) {
		error_bits_case(3, 0, async, NULL);
		error_bits_case(3, 1, async, client);
		error_bits_case(3, 2, async, NULL);
		error_bits_case(DMIO_MAX_REGIONS, 0, async, client);
		error_bits_case(DMIO_MAX_REGIONS, 31, async, NULL);
		error_bits_case(DMIO_MAX_REGIONS, DMIO_MAX_REGIONS - 1, async, client);
	}
}

/* A failed read leaves zeroes in the buffer and nothing past it. */
static void test_failed_read_zero_fills(void)
{
	int rfail = open(unit_env("DMIO_TEST_RFAIL"), O_RDONLY | O_DIRECT);

	REQUIRE(rfail >= 0, "%s: %s", unit_env("DMIO_TEST_RFAIL"), strerror(errno));
	for (int type = BUF_VM; type <= BUF_BVEC; type++)
		for (int async = 0; async < 2; async++) {
			size_t len = 300 * S;
			struct tbuf *b = tbuf_new(type, len, 512, 8 * S);
			struct dmio_region where = { rfail, 16, 300 };
			char *back = malloc(len), *zero = calloc(1, len);
			struct dmio_result res;
			unsigned long bits;
			int r;

			memset(back, 0xaa, len);
			tbuf_copy(b, back, true);
			if (b->base)
				b->base[512 + len] = 0x5a;
			r = do_io(async ? client : NULL, async, b, DMIO_READ, 1,
				  &where, &bits, async ? &res : NULL);
			CHECK(r == -EIO && bits == 1, "%s: r %d bits %#lx",
			      buf_names[type], r, bits);
			if (async)
				CHECK(res.error == EIO && res.error_sector >= 16,
				      "result %d at %llu", res.error,
				      (unsigned long long)res.error_sector);
			tbuf_copy(b, back, false);
			CHECK(!memcmp(back, zero, len), "%s: not zero-filled",
			      buf_names[type]);
			if (b->base)
				CHECK(b->base[512 + len] == 0x5a, "zeroed past the buffer");
			tbuf_free(b);
			free(back), free(zero);
		}
	close(rfail);
}

/* Reading past the end of a regular file is an error, not silence. */
static void test_read_past_eof(void)
{
	int fd = image_new("eof", 10 * S, 1, 0);
	struct dmio_region where = { fd, 8, 4 };
	struct tbuf *b = tbuf_new(BUF_VM, 4 * S, 0, 0);
	unsigned long bits;

	struct dmio_result res;

	CHECK(do_io(NULL, false, b, DMIO_READ, 1, &where, &bits, &res) == -EIO &&
	      bits == 1, "bits %#lx", bits);
	/* The piece that met the end began at sector 8. */
	CHECK(res.error == ENODATA && res.error_sector == 8, "error %d at %llu",
	      res.error, (unsigned long long)res.error_sector);
	close(fd);
	tbuf_free(b);
}

/* ---- the callback: exactly once, after every region is complete ---- */

struct on_disk {
	int fds[3];
	const char *data;
	size_t len;
};

static bool all_on_disk(void *arg)
{
	struct on_disk *d = arg;

	for (int i = 0; i < 3; i++)
		if (!fd_equals(d->fds[i], 0, d->data, d->len))
			return false;
	return true;
}

static void test_callback_once_after_all(void)
{
	size_t len = (unit_quick() ? 256 : 1024) * 1024;
	struct on_disk d = { .len = len };
	struct dmio_region where[3];
	char *data = malloc(len);
	struct waiter w;

	fill_pattern(data, len, 77);
	d.data = data;
	for (int i = 0; i < 3; i++) {
		d.fds[i] = image_new(i ? i == 1 ? "cb1" : "cb2" : "cb0", len, 1, 0);
		where[i] = (struct dmio_region){ d.fds[i], 0, len / S };
	}
	for (int round = 0; round < 3; round++) {
		/* Small pieces and a shallow queue: many pieces per region. */
		struct dmio_client *c = dmio_client_create(getenv("DMIO_ENGINE"), 2, 4096);
		struct dmio_request req = { .rw = DMIO_WRITE, .mem_type = DMIO_MEM_VM,
					    .mem.vma = data, .fn = notify,
					    .context = &w, .client = c };

		REQUIRE(c, "client: %s", strerror(errno));
		waiter_init(&w);
		w.check = all_on_disk;
		w.arg = &d;
		CHECK(dmio_submit(&req, 3, where, NULL) == 0, "submit");
		waiter_wait(&w);
		CHECK(w.check_ok, "round %d: the callback ran before the data was written", round);
		dmio_client_destroy(c); /* waits for every callback */
		CHECK(w.calls == 1, "round %d: %d callbacks", round, w.calls);
		waiter_destroy(&w);
		data[round] ^= 1;
	}
	for (int i = 0; i < 3; i++)
		close(d.fds[i]);
	free(data);
}

/* Many async calls in flight at once, each called back once. */
static void test_many_async_calls(void)
{
	enum { CALLS = 40 };
	int fd = image_new("many", CALLS * 16 * S, 2, 0);
	char *m = model_new(CALLS * 16 * S, 2);
	struct waiter w[CALLS];
	struct dmio_region where[CALLS];
	char *data = malloc(CALLS * 16 * S);

	fill_pattern(data, CALLS * 16 * S, 3);
	for (int i = 0; i < CALLS; i++) {
		waiter_init(&w[i]);
		where[i] = (struct dmio_region){ fd, i * 16, 16 };
		CHECK(dmio_async_vm(1, &where[i], DMIO_WRITE, data + i * 16 * S,
				    notify, &w[i]) == 0, "call %d", i);
	}
	for (int i = 0; i < CALLS; i++)
		waiter_wait(&w[i]);
	for (int i = 0; i < CALLS; i++) {
		CHECK(w[i].calls == 1 && w[i].error == 0, "call %d: %d callbacks, error %#lx",
		      i, w[i].calls, w[i].error);
		waiter_destroy(&w[i]);
	}
	CHECK(file_is(fd, data, CALLS * 16 * S), "wrong data");
	close(fd);
	free(m), free(data);
}

/* A synchronous call from a callback would wait for itself. */
struct nested {
	struct dmio_client *c;
	struct dmio_region *where;
	char *buf;
	int r;
};

static bool nested_sync(void *arg)
{
	struct nested *n = arg;
	struct dmio_request req = { .rw = DMIO_READ, .mem_type = DMIO_MEM_VM,
				    .mem.vma = n->buf, .client = n->c };

	n->r = dmio_submit(&req, 1, n->where, NULL);
	return true;
}

static void test_sync_from_callback(void)
{
	int fd = image_new("nest", 8 * S, 1, 0);
	struct dmio_region where = { fd, 0, 8 };
	char *buf = malloc(8 * S);
	struct nested n = { client, &where, buf, 1 };
	struct dmio_request req = { .rw = DMIO_READ, .mem_type = DMIO_MEM_VM,
				    .mem.vma = buf, .fn = notify, .client = client };
	struct waiter w;

	waiter_init(&w);
	w.check = nested_sync;
	w.arg = &n;
	req.context = &w;
	CHECK(dmio_submit(&req, 1, &where, NULL) == 0, "submit");
	waiter_wait(&w);
	CHECK(n.r == -EDEADLK, "sync call from the callback: %d", n.r);
	waiter_destroy(&w);
	close(fd);
	free(buf);
}

/* ---- the pool ---- */

static void test_get_put(void)
{
	struct dmio_client *c = dmio_client_create(getenv("DMIO_ENGINE"), 4, 16384);
	struct dmio_stats st0, st;

	REQUIRE(c, "client: %s", strerror(errno));
	dmio_client_stats(c, &st0);
	CHECK(st0.reserved_pages == 0 && st0.pool_pages == 4, "pool %u pages, %u reserved",
	      st0.pool_pages, st0.reserved_pages);
	CHECK(dmio_client_get(c, 100) == 0, "get 100");
	dmio_client_stats(c, &st);
	CHECK(st.reserved_pages == 100 && st.pool_pages == 104 && st.free_pages == 104 &&
	      st.page_allocs == st0.page_allocs + 100, "after get: %u/%u/%u pages",
	      st.reserved_pages, st.pool_pages, st.free_pages);
	dmio_client_put(c, 60);
	dmio_client_stats(c, &st);
	CHECK(st.reserved_pages == 40 && st.pool_pages == 44, "after put: %u/%u",
	      st.reserved_pages, st.pool_pages);
	/* Unbalanced: more put than got, then put with nothing reserved. */
	dmio_client_put(c, 1000);
	dmio_client_put(c, UINT_MAX);
	dmio_client_stats(c, &st);
	CHECK(st.reserved_pages == 0 && st.pool_pages == 4, "after unbalanced put: %u/%u",
	      st.reserved_pages, st.pool_pages);
	CHECK(dmio_client_get(c, 1) == 0, "get after unbalanced put");
	CHECK(dmio_client_get(c, UINT_MAX) == -EOVERFLOW, "get overflowing");
	dmio_client_stats(c, &st);
	CHECK(st.reserved_pages == 1, "%u reserved after a failed get", st.reserved_pages);
	dmio_client_destroy(c);

	/* The seed's calls work on the default client. */
	dmio_client_stats(dmio_default_client(), &st0);
	CHECK(dmio_get(8) == 0, "dmio_get");
	dmio_client_stats(dmio_default_client(), &st);
	CHECK(st.reserved_pages == st0.reserved_pages + 8, "dmio_get reserved %u",
	      st.reserved_pages);
	dmio_put(8);
	dmio_put(8);
	dmio_client_stats(dmio_default_client(), &st);
	CHECK(st.reserved_pages == 0, "dmio_put left %u", st.reserved_pages);
}

/*
 * An O_DIRECT fd and memory it cannot take: the I/O goes through the pool's
 * bounce pages, is correct, and allocates nothing while it runs.
 */
static void test_bounce_uses_pool(void)
{
	struct dmio_client *c = dmio_client_create(getenv("DMIO_ENGINE"), 4, 8192);
	size_t len = 200 * S;
	int fd = image_new("bounce", len + 8 * S, 4, O_DIRECT);
	char *m = model_new(len + 8 * S, 4);
	struct tbuf *b = tbuf_new(BUF_VM, len, 100, 0);
	struct dmio_region where = { fd, 8, 200 };
	struct dmio_stats st0, st;
	unsigned long bits;

	REQUIRE(c, "client: %s", strerror(errno));
	CHECK(dmio_client_get(c, 16) == 0, "get");
	dmio_client_stats(c, &st0);
	fill_pattern(b->base + 100, len, 5);
	memcpy(m + 8 * S, b->base + 100, len);
	CHECK(do_io(c, true, b, DMIO_WRITE, 1, &where, &bits, NULL) == 0, "write");
	CHECK(file_is(fd, m, len + 8 * S), "bounced write wrong");
	memset(b->base, 0, 100 + len);
	CHECK(do_io(c, false, b, DMIO_READ, 1, &where, &bits, NULL) == 0, "read");
	CHECK(!memcmp(b->base + 100, m + 8 * S, len), "bounced read wrong");
	dmio_client_stats(c, &st);
	CHECK(st.bounced > st0.bounced, "nothing was bounced");
	CHECK(st.page_allocs == st0.page_allocs, "%llu pages allocated during I/O",
	      st.page_allocs - st0.page_allocs);
	CHECK(st.free_pages == st.pool_pages, "%u of %u pages not returned",
	      st.pool_pages - st.free_pages, st.pool_pages);
	dmio_client_put(c, 16);
	dmio_client_destroy(c);
	close(fd);
	free(m);
	tbuf_free(b);
}

/* ---- a device with 4096-byte logical sectors ---- */

static void test_loop_4k_sectors(void)
{
	const char *dev = unit_env("DMIO_TEST_LOOP4K");
	int dfd = open(dev, O_RDWR | O_DIRECT), fd = open(dev, O_RDWR);
	struct tbuf *b = tbuf_new(BUF_PAGES, 16 * S, 512, 0);
	struct dmio_region where = { dfd, 8, 16 };
	char *data = malloc(16 * S), *back = malloc(16 * S);
	unsigned long bits;

	REQUIRE(dfd >= 0 && fd >= 0, "%s: %s", dev, strerror(errno));
	fill_pattern(data, 16 * S, 11);
	tbuf_copy(b, data, true);
	/* Memory off the 4096 boundary: bounced, correct. */
	CHECK(do_io(client, true, b, DMIO_WRITE, 1, &where, &bits, NULL) == 0, "write");
	CHECK(fd_equals(fd, 8 * S, data, 16 * S), "written wrong");
	/* Regions not on the device's logical blocks: refused, not corrupted. */
	where = (struct dmio_region){ dfd, 9, 8 };
	CHECK(do_io(client, false, b, DMIO_WRITE, 1, &where, &bits, NULL) == -EINVAL,
	      "misaligned start accepted");
	where = (struct dmio_region){ dfd, 8, 9 };
	CHECK(do_io(NULL, true, b, DMIO_READ, 1, &where, &bits, NULL) == -EINVAL,
	      "misaligned count accepted");
	/* Buffered, any sector works. */
	where = (struct dmio_region){ fd, 9, 1 };
	memset(back, 0, S);
	tbuf_copy(b, back, true);
	CHECK(do_io(NULL, false, b, DMIO_READ, 1, &where, &bits, NULL) == 0, "buffered read");
	tbuf_copy(b, back, false);
	CHECK(!memcmp(back, data + S, S), "buffered read wrong");
	close(dfd), close(fd);
	free(data), free(back);
	tbuf_free(b);
}

/* ---- threads ---- */

static void *writer(void *arg)
{
	long i = (long)arg;
	char name[16];
	size_t len = 64 * S;
	char *data = malloc(len);
	int fd, bad = 0;

	snprintf(name, sizeof(name), "thr%ld", i);
	fd = image_new(name, len, 0, 0);
	for (int round = 0; round < 20; round++) {
		struct dmio_region where = { fd, 0, 64 };
		unsigned long bits;

		fill_pattern(data, len, (uint32_t)(i * 100 + round));
		if (dmio_sync_vm(1, &where, DMIO_WRITE, data, &bits) ||
		    !fd_equals(fd, 0, data, len))
			bad++;
	}
	close(fd);
	free(data);
	return (void *)(long)bad;
}

static void test_threads(void)
{
	pthread_t t[4];

	for (long i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, writer, (void *)i);
	for (int i = 0; i < 4; i++) {
		void *bad;

		pthread_join(t[i], &bad);
		CHECK(bad == NULL, "thread %d: %ld bad rounds", i, (long)bad);
	}
}

int main(void)
{
	struct dmio_stats st;

	client = dmio_client_create(getenv("DMIO_ENGINE"), 8, 16384);
	if (!client || !dmio_default_client()) {
		perror("dmio_client_create");
		return 2;
	}
	dmio_client_stats(dmio_default_client(), &st);
	printf("# engine %s, queue depth %u\n", st.engine, st.queue_depth);
	RUN(test_roundtrip_buffered);
	RUN(test_roundtrip_direct);
	RUN(test_big_regions);
	RUN(test_invalid_arguments);
	RUN(test_client_create_errors);
	RUN(test_error_bits);
	RUN(test_failed_read_zero_fills);
	RUN(test_read_past_eof);
	RUN(test_callback_once_after_all);
	RUN(test_many_async_calls);
	RUN(test_sync_from_callback);
	RUN(test_get_put);
	RUN(test_bounce_uses_pool);
	RUN(test_loop_4k_sectors);
	RUN(test_threads);
	dmio_client_destroy(client);
	return unit_done();
}
