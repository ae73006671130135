// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The CLI's pipeline (src/cli/pipeline/ and the job kinds) without
 * devices: on image files, through the real library with the engine of
 * $DMIO_ENGINE, and through a fake engine that holds calls back and
 * completes them in reverse order from its own thread, fails chosen
 * sectors, and raises a signal at a chosen call.  Checked: chunking, that
 * what is reported done is a prefix and on the destinations whatever order
 * calls complete in, bisection to the failing sector, and interrupts.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>

#include "unit.h"
#include "cmd/rules.h"
#include "jobs/jobs.h"

#define SECTORS 1000 /* regions of the tests: not a multiple of a chunk */
#define MAX_CALLS 4096

/* ---- the fake engine ---- */

struct fake_call {
	struct dmio_request req;
	unsigned int n;
	struct dmio_region where[DMIO_MAX_REGIONS];
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct fake_call *held[64];
	unsigned int nheld;
	bool stop;
	/* What the tests set. */
	int bad_fd;		/* fails I/O touching bad_sector here, or -1 */
	int bad_rw;
	uint64_t bad_sector;
	unsigned int signal_at;	/* raise SIGINT at this async call, 0: never */
	unsigned int batch;	/* calls held before completing them (3) */
	unsigned int gap_us;	/* a pause between two completions */
	/* What the tests look at. */
	unsigned int calls;	/* async calls */
	struct { int rw; uint64_t sector, count; unsigned int n; } log[MAX_CALLS];
	uint64_t max_written;	/* the end of the furthest write, per fd of interest */
	int watch_fd;
} fake;

static bool fake_fails(int rw, const struct dmio_region *w)
{
	return w->fd == fake.bad_fd && rw == fake.bad_rw &&
	       fake.bad_sector >= w->sector && fake.bad_sector < w->sector + w->count;
}

/* Do one call on the files: bit i set where region i failed. */
static unsigned long fake_io(const struct dmio_request *req, unsigned int n,
			     const struct dmio_region *where)
{
	unsigned long bits = 0;

	for (unsigned int i = 0; i < n; i++) {
		const struct dmio_region *w = &where[i];
		size_t len = w->count << DMIO_SECTOR_SHIFT;
		off_t off = (off_t)(w->sector << DMIO_SECTOR_SHIFT);
		char *mem = req->mem.vma;
		bool ok = !fake_fails(req->rw, w);

		if (ok && req->rw == DMIO_READ)
			ok = pread(w->fd, mem, len, off) == (ssize_t)len;
		else if (ok)
			ok = pwrite(w->fd, mem, len, off) == (ssize_t)len;
		if (ok && req->rw == DMIO_WRITE && w->fd == fake.watch_fd &&
		    w->sector + w->count > fake.max_written)
			fake.max_written = w->sector + w->count;
		if (!ok) {
			bits |= 1UL << i;
			if (req->rw == DMIO_READ)
				memset(mem, 0, len);
			if (req->results)
				req->results[i] = (struct dmio_result){ EIO, w->sector };
		} else if (req->results) {
			req->results[i] = (struct dmio_result){ 0, 0 };
		}
	}
	return bits;
}

/* Completes what is held, newest first, once fake.batch calls are held or
 * a millisecond passed. */
static void *fake_thread(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&fake.lock);
	while (!fake.stop || fake.nheld) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		while (fake.nheld < fake.batch && !fake.stop &&
		       pthread_cond_timedwait(&fake.cond, &fake.lock, &ts) == 0)
			;
		while (fake.nheld) {
			struct fake_call *c = fake.held[--fake.nheld];

			c->req.fn(fake_io(&c->req, c->n, c->where), c->req.context);
			free(c);
			if (fake.gap_us) {
				pthread_mutex_unlock(&fake.lock);
				usleep(fake.gap_us);
				pthread_mutex_lock(&fake.lock);
			}
		}
		pthread_cond_broadcast(&fake.cond);
	}
	pthread_mutex_unlock(&fake.lock);
	return NULL;
}

static int fake_submit(const struct dmio_request *req, unsigned int n,
		       const struct dmio_region *where, unsigned long *error_bits)
{
	struct fake_call *c;
	unsigned long bits;

	if (req->mem_type != DMIO_MEM_VM)
		return -EINVAL;
	if (!req->fn) {
		pthread_mutex_lock(&fake.lock); /* one call at a time, as the thread's */
		bits = fake_io(req, n, where);
		pthread_mutex_unlock(&fake.lock);
		if (error_bits)
			*error_bits = bits;
		return bits ? -EIO : 0;
	}
	c = calloc(1, sizeof(*c));
	c->req = *req;
	c->n = n;
	memcpy(c->where, where, n * sizeof(*where));
	pthread_mutex_lock(&fake.lock);
	if (fake.calls < MAX_CALLS)
		fake.log[fake.calls] = (typeof(fake.log[0])){ req->rw, where[0].sector,
							     where[0].count, n };
	if (++fake.calls == fake.signal_at)
		raise(SIGINT);
	while (fake.nheld == 64)
		pthread_cond_wait(&fake.cond, &fake.lock);
	fake.held[fake.nheld++] = c;
	pthread_cond_signal(&fake.cond);
	pthread_mutex_unlock(&fake.lock);
	return 0;
}

static pthread_t fake_start(void)
{
	pthread_t t;

	fake.stop = false;
	fake.calls = 0;
	fake.max_written = 0;
	pthread_create(&t, NULL, fake_thread, NULL);
	return t;
}

static void fake_end(pthread_t t)
{
	pthread_mutex_lock(&fake.lock);
	fake.stop = true;
	pthread_cond_signal(&fake.cond);
	pthread_mutex_unlock(&fake.lock);
	pthread_join(t, NULL);
	fake.bad_fd = fake.watch_fd = -1;
	fake.signal_at = fake.gap_us = 0;
	fake.batch = 3;
}

/* Fail I/O of direction rw on fd that touches sector (absolute). */
static void fake_fail(int fd, int rw, uint64_t sector)
{
	fake.bad_fd = fd;
	fake.bad_rw = rw;
	fake.bad_sector = sector;
}

/* job_run() of o over r[0..n) through the fake engine, as set up; then
 * the fake's settings go back to their defaults. */
static int run_fake(const struct opts *o, struct region *r, unsigned int n,
		    struct job_result *res)
{
	pthread_t t = fake_start();
	int rc = job_run_with(o, r, n, res, fake_submit);

	fake_end(t);
	return rc;
}

/* ---- regions on image files ---- */

static struct opts opts(enum op op)
{
	const char *engine = getenv("DMIO_ENGINE");

	struct opts o = { .op = op, .engine = engine, .buffer = BUFFER_VM,
			  .chunk = 64 << 10, .depth = 4, .quiet = true };

	o.shape = shape_of(&o);
	return o;
}

/* Region i: file name, seed (0: zeroes), SECTORS sectors from sector at. */
static void region_file(struct region *r, const char *name, uint32_t seed,
			uint64_t at, enum role role)
{
	size_t len = (at + SECTORS) << DMIO_SECTOR_SHIFT;
	int fd = seed ? image_new(name, len, seed, 0)
		      : open(tmp_path(name), O_RDWR | O_CREAT | O_TRUNC, 0600);

	if (!seed && ftruncate(fd, (off_t)len))
		exit(2);
	*r = (struct region){ .text = name, .role = role, .path = strdup(tmp_path(name)),
			      .sector = at, .count = SECTORS };
	close(fd);
	/* The device as its backend opens it, capabilities and all. */
	if (file_backend.open(&r->dev, &r->spec, r->path, &(struct opts){ 0 }, OPEN_WRITE))
		exit(2);
}

static void regions_free(struct region *r, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		close(r[i].dev.fd);
		free(r[i].path);
		free(r[i].error);
		diffs_free(&r[i].diffs);
		bad_free(&r[i].bad);
	}
}

/* Region a's first len sectors equal region b's. */
static bool same(const struct region *a, const struct region *b, uint64_t len)
{
	size_t n = len << DMIO_SECTOR_SHIFT;
	char *x = malloc(n ? n : 1), *y = malloc(n ? n : 1);
	bool eq = pread(a->dev.fd, x, n, (off_t)(a->sector << 9)) == (ssize_t)n &&
		  pread(b->dev.fd, y, n, (off_t)(b->sector << 9)) == (ssize_t)n &&
		  !memcmp(x, y, n);

	free(x);
	free(y);
	return eq;
}

/* A mirror of 1000 sectors in 64 KiB chunks to three destinations. */
static void mirror_setup(struct region *r)
{
	region_file(&r[0], "src", 11, 0, ROLE_SOURCE);
	region_file(&r[1], "d1", 0, 8, ROLE_DEST);
	region_file(&r[2], "d2", 0, 0, ROLE_DEST);
	region_file(&r[3], "d3", 0, 100, ROLE_DEST);
}

/* ---- the tests ---- */

/* Through the real library: each buffer type, and a mirror's results. */
static void test_copy_library(void)
{
	static const enum buffer_type types[] = { BUFFER_VM, BUFFER_PAGES, BUFFER_BVEC };

	for (size_t t = 0; t < 3; t++) {
		struct opts o = opts(OP_COPY);
		struct job_result res = { 0 };
		int rc;
		struct region r[4];

		o.buffer = types[t];
		mirror_setup(r);
		rc = job_run(&o, r, 4, &res);
		REQUIRE(rc == 0, "job_run");
		for (int i = 0; i < 4; i++)
			CHECK(r[i].status == ST_OK && r[i].done == SECTORS,
			      "buffer %zu region %d: status %d done %llu", t, i, r[i].status,
			      (unsigned long long)r[i].done);
		for (int i = 1; i < 4; i++)
			CHECK(same(&r[0], &r[i], SECTORS), "destination %d differs", i);
		CHECK(error_bits(r + 1, 3) == 0 && !res.read_error && res.stop == STOP_NONE, "result");
		CHECK(res.bytes == SECTORS << 9, "bytes %llu", (unsigned long long)res.bytes);
		regions_free(r, 4);
	}
}

/* Chunks of 128 sectors and the 104 left; one read each, one write call
 * to every destination; completed newest first, still a whole copy. */
static void test_chunks_out_of_order(void)
{
	struct opts o = opts(OP_COPY);
	struct job_result res = { 0 };
	int rc;
	struct region r[4];
	unsigned int reads = 0, writes = 0;

	mirror_setup(r);
	rc = run_fake(&o, r, 4, &res);
	REQUIRE(rc == 0, "job_run");
	for (unsigned int i = 0; i < fake.calls; i++) {
		uint64_t at = fake.log[i].sector;

		if (fake.log[i].rw == DMIO_READ) {
			CHECK(at % 128 == 0 && fake.log[i].count == (SECTORS - at < 128 ? SECTORS - at : 128),
			      "read %u: %llu+%llu", i, (unsigned long long)at,
			      (unsigned long long)fake.log[i].count);
			reads++;
		} else {
			CHECK(fake.log[i].n == 3, "write %u to %u regions", i, fake.log[i].n);
			writes++;
		}
	}
	CHECK(reads == 8 && writes == 8, "%u reads, %u writes", reads, writes);
	for (int i = 0; i < 4; i++)
		CHECK(r[i].status == ST_OK && r[i].done == SECTORS, "region %d", i);
	for (int i = 1; i < 4; i++)
		CHECK(same(&r[0], &r[i], SECTORS), "destination %d differs", i);
	regions_free(r, 4);
}

/* A destination failing at one sector: narrowed to it, the others whole. */
static void test_bisect_write(void)
{
	struct opts o = opts(OP_COPY);
	struct job_result res = { 0 };
	int rc;
	struct region r[4];

	mirror_setup(r);
	fake_fail(r[2].dev.fd, DMIO_WRITE, 613);
	rc = run_fake(&o, r, 4, &res);
	REQUIRE(rc == 0, "job_run");
	CHECK(r[2].status == ST_ERROR && r[2].bad_sector == 613 && r[2].done == 613,
	      "status %d at %llu, done %llu", r[2].status,
	      (unsigned long long)r[2].bad_sector, (unsigned long long)r[2].done);
	CHECK(r[2].error && !strcmp(r[2].error, "write: Input/output error"), "%s", r[2].error);
	CHECK(same(&r[0], &r[2], 613), "d2 before the bad sector");
	CHECK(error_bits(r + 1, 3) == 2, "error bits 0x%lx", error_bits(r + 1, 3));
	for (int i = 1; i < 4; i += 2)
		CHECK(r[i].status == ST_OK && same(&r[0], &r[i], SECTORS), "region %d", i);
	regions_free(r, 4);
}

/* A source failing at one sector, the four reads in flight completed last
 * first, a while apart (so the main thread sees the chunks after the
 * failing one complete first): every region stops exactly there, and
 * nothing at or past it was written. */
static void test_source_error_stops_in_order(void)
{
	struct opts o = opts(OP_COPY);
	struct job_result res = { 0 };
	int rc;
	struct region r[4];

	mirror_setup(r);
	fake_fail(r[0].dev.fd, DMIO_READ, 300);
	fake.watch_fd = r[1].dev.fd;
	fake.batch = 4;
	fake.gap_us = 3000;
	rc = run_fake(&o, r, 4, &res);
	REQUIRE(rc == 0, "job_run");
	CHECK(res.read_error && res.stop == STOP_SOURCE && r[0].status == ST_ERROR &&
	      r[0].bad_sector == 300,
	      "source: status %d at %llu", r[0].status, (unsigned long long)r[0].bad_sector);
	for (int i = 0; i < 4; i++)
		CHECK(r[i].done == 300, "region %d done %llu", i, (unsigned long long)r[i].done);
	for (int i = 1; i < 4; i++)
		CHECK(r[i].status == ST_STOPPED && same(&r[0], &r[i], 300), "region %d", i);
	CHECK(fake.max_written == r[1].sector + 300, "d1 written up to %llu",
	      (unsigned long long)fake.max_written);
	regions_free(r, 4);
}

/* --keep-going: the same source error, completed out of order; the copy
 * goes on, the bad sector is zeroes on every destination and the only
 * bad range; then a second pass (--retries) reads it once more. */
static void test_keep_going(void)
{
	struct opts o = opts(OP_COPY);
	struct job_result res = { 0 };
	static const char zero[512];
	char buf[512];
	struct region r[4];
	unsigned int reads = 0;
	int rc;

	o.keep_going = true;
	o.retries = 1;
	mirror_setup(r);
	fake_fail(r[0].dev.fd, DMIO_READ, 300);
	fake.batch = 4;
	fake.gap_us = 3000;
	rc = run_fake(&o, r, 4, &res);
	REQUIRE(rc == 0, "job_run");
	CHECK(res.read_error && res.stop == STOP_NONE && r[0].status == ST_ERROR &&
	      r[0].bad_sector == 300 && r[0].done == SECTORS,
	      "source: status %d at %llu", r[0].status, (unsigned long long)r[0].bad_sector);
	CHECK(r[0].bad.n == 1 && r[0].bad.v[0].start == 300 && r[0].bad.v[0].count == 1,
	      "%u bad ranges", r[0].bad.n);
	for (int i = 1; i < 4; i++) {
		CHECK(r[i].status == ST_OK && r[i].done == SECTORS, "region %d", i);
		CHECK(same(&r[0], &r[i], 300), "region %d before", i);
		CHECK(pread(r[i].dev.fd, buf, 512, (off_t)(r[i].sector + 300) << 9) == 512 &&
		      !memcmp(buf, zero, 512), "region %d: sector 300 not zeroes", i);
	}
	/* Sector 300 alone: once while narrowing, once in the second pass. */
	for (unsigned int i = 0; i < fake.calls; i++)
		reads += fake.log[i].rw == DMIO_READ && fake.log[i].sector == 300 &&
			 fake.log[i].count == 1;
	CHECK(reads == 1, "%u async reads of sector 300 alone", reads);
	CHECK(res.bytes == (SECTORS + 1) << 9, "bytes %llu", (unsigned long long)res.bytes);
	regions_free(r, 4);
}

/* verify: differences at chosen sectors, a read error on another
 * destination; to the end (every difference), and with --first. */
static void test_verify(void)
{
	struct opts o = opts(OP_VERIFY);
	struct job_result res = { 0 };
	int rc;
	struct region r[4];
	char x = 'x';

	mirror_setup(r);
	rc = job_run(&(struct opts){ .op = OP_COPY, .engine = o.engine, .chunk = 65536,
					.depth = 4, .shape = shape_of(&(struct opts){ .op = OP_COPY }) },
		     r, 4, &res);
	REQUIRE(rc == 0, "copy");
	rc = (int)pwrite(r[3].dev.fd, &x, 1, (100 + 777) * 512 + 9);
	rc += (int)pwrite(r[3].dev.fd, &x, 1, (100 + 999) * 512 + 511);
	REQUIRE(rc == 2, "pwrite");
	o.max_ranges = 10;
	for (int first = 0; first < 2; first++) {
		const struct diffs *d = &r[3].diffs;

		for (int i = 0; i < 4; i++) {
			r[i].status = ST_PENDING, r[i].done = 0;
			free(r[i].error);
			r[i].error = NULL;
			diffs_free(&r[i].diffs);
		}
		o.first = first;
		fake_fail(r[1].dev.fd, DMIO_READ, 8 + 450);
		res = (struct job_result){ 0 };
		rc = run_fake(&o, r, 4, &res);
		REQUIRE(rc == 0, "verify");
		CHECK(r[1].status == ST_ERROR && r[1].bad_sector == 458 && r[1].done == 450 &&
		      !r[1].diffs.sectors,
		      "d1: %d at %llu done %llu", r[1].status, (unsigned long long)r[1].bad_sector,
		      (unsigned long long)r[1].done);
		CHECK(r[2].status == ST_OK && r[2].done == SECTORS && !r[2].diffs.sectors, "d2");
		CHECK(r[3].status == ST_MISMATCH && r[3].bad_sector == 877 &&
		      r[3].done == (first ? 777 : SECTORS),
		      "d3: %d at %llu done %llu", r[3].status, (unsigned long long)r[3].bad_sector,
		      (unsigned long long)r[3].done);
		if (first)
			CHECK(!d->sectors, "--first counted %llu", (unsigned long long)d->sectors);
		else
			CHECK(d->sectors == 2 && d->nranges == 2 && d->nstored == 2 &&
			      d->range[0].sector == 877 && d->range[0].count == 1 &&
			      d->range[1].sector == 1099 && d->range[1].count == 1,
			      "d3: %llu sectors in %llu ranges", (unsigned long long)d->sectors,
			      (unsigned long long)d->nranges);
		CHECK(error_bits(r + 1, 3) == 1, "error bits 0x%lx", error_bits(r + 1, 3));
	}
	regions_free(r, 4);
}

/* read to a file and write from it: the streams, through the library. */
static void test_streams(void)
{
	struct opts o = opts(OP_READ);
	struct job_result res = { 0 };
	int rc;
	struct region r[2];
	char *out = strdup(tmp_path("out"));

	region_file(&r[0], "src", 5, 0, ROLE_SOURCE);
	o.output = out;
	rc = job_run(&o, r, 1, &res);
	REQUIRE(rc == 0, "read");
	CHECK(r[0].status == ST_OK && r[0].done == SECTORS, "read status");
	o = opts(OP_WRITE);
	o.input = out;
	region_file(&r[1], "w", 0, 16, ROLE_DEST);
	rc = job_run(&o, &r[1], 1, &res);
	REQUIRE(rc == 0, "write");
	CHECK(r[1].status == ST_OK && r[1].done == SECTORS, "write status");
	CHECK(same(&r[0], &r[1], SECTORS), "the round trip differs");
	regions_free(r, 2);
	free(out);
}

/* A SIGINT at the sixth call: exit as interrupted, and what each
 * destination reports done is on it. */
static void test_interrupt(void)
{
	struct opts o = opts(OP_COPY);
	struct job_result res = { 0 };
	int rc;
	struct region r[4];

	mirror_setup(r);
	fake.signal_at = 6;
	rc = run_fake(&o, r, 4, &res);
	REQUIRE(rc == 0, "job_run");
	CHECK(res.stop == STOP_SIGNAL && res.signal == SIGINT, "stopped %d by %d",
	      res.stop, res.signal);
	CHECK(r[1].done < SECTORS && r[1].status == ST_INTERRUPTED, "done %llu",
	      (unsigned long long)r[1].done);
	for (int i = 1; i < 4; i++)
		CHECK(r[i].done == r[0].done && same(&r[0], &r[i], r[i].done), "region %d", i);
	regions_free(r, 4);
}

int main(void)
{
	fake.bad_fd = fake.watch_fd = -1;
	fake.batch = 3;
	pthread_mutex_init(&fake.lock, NULL);
	pthread_cond_init(&fake.cond, NULL);
	RUN(test_copy_library);
	RUN(test_chunks_out_of_order);
	RUN(test_bisect_write);
	RUN(test_source_error_stops_in_order);
	RUN(test_keep_going);
	RUN(test_verify);
	RUN(test_streams);
	signals_init();
	RUN(test_interrupt);
	return unit_done();
}
