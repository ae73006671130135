// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The engines when submission fails.  This test is linked with
 * io_uring_submit(), io_uring_submit_and_wait() and io_submit() wrapped
 * (-Wl,--wrap, see the Makefile): the wrappers fail a seeded pseudo-random
 * share of calls with -EBUSY or -EAGAIN (io_submit: -EAGAIN, its transient
 * failure) without calling the real one, as the kernel fails a submit when
 * it is short of memory or of completion room, and cut some io_submit()
 * batches short.  Calls of many small pieces, on clients of several queue
 * depths, must each complete exactly once, with the right data, before a
 * deadline; the engine must never ask to submit an empty batch (it would
 * be counting an entry that is not there); and the completion thread, woken
 * at the end by a call the engine has no part in, must sleep again, not
 * spin.  The engine comes from $DMIO_ENGINE (sync submits nothing: its run
 * checks the workload alone); the seed from $DMIO_TEST_SEED, else the
 * clock, and is printed.
 */
#include <libaio.h>
#include <liburing.h>
#include <signal.h>

#include "unit.h"

#define S DMIO_SECTOR_SIZE
#define NREG 3          /* regions a write call writes */
#define NCALLS 64       /* write calls a round */
#define WINDOW 3        /* calls in flight at once */
#define LEN (16 * 1024) /* a region: 4 pieces of MAX_IO */
#define MAX_IO 4096
#define DEADLINE 30     /* seconds a round's calls may take */
#define HANG_LIMIT 300  /* seconds the whole run may take */

/* ---- the wrappers ---- */

enum path { URING_SUBMIT, URING_WAIT, AIO_SUBMIT, NPATHS };
static const char *const path_names[NPATHS] = {
	"io_uring_submit", "io_uring_submit_and_wait", "io_submit"
};

static uint64_t seed;
static unsigned int fail_pct;                 /* atomic */
static unsigned long calls[NPATHS], failed[NPATHS], cut; /* atomic */
static int refuse_next;                       /* atomic: io_submit's next answer */
static unsigned long empty;                   /* atomic: submits of nothing */

/* splitmix64's finaliser. */
static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* A pseudo-random number for this call of path, and whether it fails. */
static uint64_t roll(enum path path, bool *fail)
{
	unsigned long n = __atomic_fetch_add(&calls[path], 1, __ATOMIC_RELAXED);
	uint64_t x = mix(seed ^ mix((uint64_t)path << 56 | n));

	*fail = x % 100 < __atomic_load_n(&fail_pct, __ATOMIC_RELAXED);
	if (*fail)
		__atomic_add_fetch(&failed[path], 1, __ATOMIC_RELAXED);
	return x;
}

int __real_io_uring_submit(struct io_uring *ring);
int __real_io_uring_submit_and_wait(struct io_uring *ring, unsigned int wait_nr);
int __real_io_submit(io_context_t ctx, long nr, struct iocb **iocbs);
int __wrap_io_uring_submit(struct io_uring *ring);
int __wrap_io_uring_submit_and_wait(struct io_uring *ring, unsigned int wait_nr);
int __wrap_io_submit(io_context_t ctx, long nr, struct iocb **iocbs);

/* A whole-ring failure, -EBUSY or -EAGAIN as x says. */
static int ring_error(uint64_t x)
{
	return x >> 32 & 1 ? -EBUSY : -EAGAIN;
}

/* commit() submits what it counts as queued: with nothing there, it
 * counted an entry that is not. */
int __wrap_io_uring_submit(struct io_uring *ring)
{
	bool fail;
	uint64_t x = roll(URING_SUBMIT, &fail);

	if (!io_uring_sq_ready(ring))
		__atomic_add_fetch(&empty, 1, __ATOMIC_RELAXED);
	return fail ? ring_error(x) : __real_io_uring_submit(ring);
}

int __wrap_io_uring_submit_and_wait(struct io_uring *ring, unsigned int wait_nr)
{
	bool fail;
	uint64_t x = roll(URING_WAIT, &fail);

	return fail ? ring_error(x) : __real_io_uring_submit_and_wait(ring, wait_nr);
}

int __wrap_io_submit(io_context_t ctx, long nr, struct iocb **iocbs)
{
	int refuse = __atomic_exchange_n(&refuse_next, 0, __ATOMIC_RELAXED);
	bool fail;
	uint64_t x = roll(AIO_SUBMIT, &fail);

	if (nr <= 0)
		__atomic_add_fetch(&empty, 1, __ATOMIC_RELAXED);
	if (refuse)
		return refuse;
	if (fail)
		return -EAGAIN;
	if (nr > 1 && (x >> 40) % 3 == 0) {
		nr = 1 + (long)((x >> 8) % (uint64_t)(nr - 1));
		__atomic_add_fetch(&cut, 1, __ATOMIC_RELAXED);
	}
	return __real_io_submit(ctx, nr, iocbs);
}

/* ---- calls, waited for until a deadline ---- */

static const char *engine;
static bool hung; /* a call never completed: the rest cannot run */

struct call {
	int rw;
	char *buf;
	unsigned int n;
	struct dmio_region where[NREG];
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int done; /* callbacks run */
	unsigned long error;
	struct dmio_result results[NREG];
};

static void call_notify(unsigned long error, void *context)
{
	struct call *k = context;

	pthread_mutex_lock(&k->lock);
	k->done++;
	k->error = error;
	pthread_cond_broadcast(&k->cond);
	pthread_mutex_unlock(&k->lock);
}

/* Start k on client c. */
static void call_start(struct call *k, struct dmio_client *c)
{
	struct dmio_request req = { .rw = k->rw, .mem_type = DMIO_MEM_VM, .mem.vma = k->buf,
				    .fn = call_notify, .context = k, .client = c,
				    .results = k->results };
	pthread_condattr_t a;
	int r;

	pthread_mutex_init(&k->lock, NULL);
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&k->cond, &a);
	pthread_condattr_destroy(&a);
	r = dmio_submit(&req, k->n, k->where, NULL);
	CHECK(r == 0, "submit: %s", strerror(-r));
	if (r)
		call_notify(~0UL, k);
}

/* Wait for k's callback until deadline: whether it came. */
static bool call_wait(struct call *k, const struct timespec *deadline)
{
	bool done;
	int r = 0;

	pthread_mutex_lock(&k->lock);
	while (!k->done && r != ETIMEDOUT)
		r = pthread_cond_timedwait(&k->cond, &k->lock, deadline);
	done = k->done;
	pthread_mutex_unlock(&k->lock);
	return done;
}

/* Whether k completed once, without error; then it is freed. */
static bool call_ok(struct call *k)
{
	bool ok = k->done == 1 && !k->error;

	pthread_cond_destroy(&k->cond);
	pthread_mutex_destroy(&k->lock);
	return ok;
}

/* Run calls k[0..n) on c, WINDOW of them in flight: each one started as
 * the oldest completes, a wake-up of a completion thread that sleeps with
 * pieces in flight.  False when one did not complete by deadline. */
static bool calls_run(struct call *k, unsigned int n, struct dmio_client *c,
		      const struct timespec *deadline)
{
	for (unsigned int i = 0; i < n + WINDOW; i++) {
		if (i >= WINDOW && !call_wait(&k[i - WINDOW], deadline))
			return false;
		if (i < n)
			call_start(&k[i], c);
	}
	return true;
}

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A hang outside the calls' waits (a client that cannot be destroyed) is
 * a failure too. */
static void on_alarm(int sig)
{
	static const char msg[] = "not ok - the run hung (alarm)\n";
	ssize_t n = write(1, msg, sizeof(msg) - 1);

	(void)sig, (void)n;
	_exit(1);
}

/* ---- the workload ---- */

struct files {
	int fd[NREG];
	char *model[NREG];
	size_t len;
};

/* Two buffered files and an O_DIRECT one (vm buffers go to it directly). */
static void files_open(struct files *f)
{
	f->len = 16 * S + (size_t)NCALLS * LEN;
	for (unsigned int i = 0; i < NREG; i++) {
		char name[8];

		snprintf(name, sizeof(name), "s%u", i);
		f->fd[i] = image_new(name, f->len, i, i == 2 ? O_DIRECT : 0);
		f->model[i] = malloc(f->len);
		fill_pattern(f->model[i], f->len, i);
	}
}

static void files_close(struct files *f)
{
	for (unsigned int i = 0; i < NREG; i++) {
		close(f->fd[i]);
		free(f->model[i]);
	}
}

/* Write call j's region i: one in each file, each at its own offset. */
static struct dmio_region region(const struct files *f, unsigned int j, unsigned int i)
{
	return (struct dmio_region){ f->fd[i], 8 * i + (uint64_t)j * (LEN / S), LEN / S };
}

/*
 * One round on a client of the given depth, with pct percent of submits
 * failing: NCALLS writes of NREG regions, then each region read back by a
 * call of its own, then a flush (a call the engine has no part in, which
 * wakes the completion thread when nothing else does), then idle.  False
 * when a call did not complete (the client is then left as it is:
 * destroying it would wait for ever).
 */
static bool round_run(struct files *f, unsigned int depth, unsigned int pct, uint32_t salt)
{
	enum { NREADS = NCALLS * NREG };
	struct dmio_client *c = dmio_client_create(engine, depth, MAX_IO);
	struct call *w = calloc(NCALLS, sizeof(*w)), *r = calloc(NREADS, sizeof(*r));
	struct call fl = { .rw = DMIO_FLUSH, .n = NREG };
	char *data = xmalloc_aligned(DMIO_PAGE_SIZE, NCALLS * LEN);
	char *back = xmalloc_aligned(DMIO_PAGE_SIZE, NREADS * LEN);
	struct timespec deadline;
	unsigned int bad = 0;
	unsigned long nothing;
	double cpu;

	if (!c) {
		CHECK(c, "client: %s", strerror(errno));
		return true;
	}
	__atomic_store_n(&fail_pct, pct, __ATOMIC_RELAXED);
	fill_pattern(data, NCALLS * LEN, salt);
	memset(back, 0, NREADS * LEN);
	for (unsigned int j = 0; j < NCALLS; j++) {
		w[j] = (struct call){ .rw = DMIO_WRITE, .buf = data + j * LEN, .n = NREG };
		for (unsigned int i = 0; i < NREG; i++) {
			struct call *k = &r[j * NREG + i];

			w[j].where[i] = region(f, j, i);
			memcpy(f->model[i] + w[j].where[i].sector * S, w[j].buf, LEN);
			*k = (struct call){ .rw = DMIO_READ, .buf = back + (j * NREG + i) * LEN,
					    .n = 1, .where = { w[j].where[i] } };
		}
	}
	for (unsigned int i = 0; i < NREG; i++)
		fl.where[i] = w[0].where[i];
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += DEADLINE;
	if (!calls_run(w, NCALLS, c, &deadline) || !calls_run(r, NREADS, c, &deadline) ||
	    !calls_run(&fl, 1, c, &deadline)) {
		CHECK(false, "depth %u, %u%% failing: a call did not complete in %d s", depth,
		      pct, DEADLINE);
		hung = true;
		return false;
	}
	cpu = cpu_now();
	usleep(200000);
	cpu = cpu_now() - cpu;
	CHECK(cpu < 0.1, "depth %u: %.3f s of CPU in 0.2 s idle", depth, cpu);
	nothing = __atomic_exchange_n(&empty, 0, __ATOMIC_RELAXED);
	CHECK(!nothing, "depth %u: %lu submits of nothing (entries counted that are not there)",
	      depth, nothing);
	dmio_client_destroy(c); /* a stray second callback would come before this returns */

	for (unsigned int j = 0; j < NCALLS; j++)
		bad += !call_ok(&w[j]);
	for (unsigned int j = 0; j < NREADS; j++)
		bad += !call_ok(&r[j]) || memcmp(r[j].buf, data + j / NREG * LEN, LEN);
	bad += !call_ok(&fl);
	CHECK(!bad, "depth %u: %u calls failed, were called back more than once or read "
	      "wrong data", depth, bad);
	for (unsigned int i = 0; i < NREG; i++)
		CHECK(fd_equals(f->fd[i], 0, f->model[i], f->len), "depth %u: file %u is wrong",
		      depth, i);
	free(w), free(r), free(data), free(back);
	return true;
}

static void test_failing_submits(void)
{
	static const struct { unsigned int depth, pct; } rounds[] = {
		{ 1, 30 }, { 2, 50 }, { 3, 70 }, { 8, 50 }, { 32, 30 }, { 5, 90 },
	};
	unsigned int n = unit_quick() ? 3 : sizeof(rounds) / sizeof(rounds[0]);
	struct files f;

	files_open(&f);
	for (unsigned int j = 0; j < n; j++)
		if (!round_run(&f, rounds[j].depth, rounds[j].pct, (uint32_t)(seed + j)))
			return;
	files_close(&f);
	printf("# failed of called:");
	for (unsigned int p = 0; p < NPATHS; p++)
		printf(" %s %lu/%lu,", path_names[p], failed[p], calls[p]);
	printf(" io_submit cut short %lu\n", cut);
	/* Each path of the engine was exercised. */
	if (!strcmp(engine, "uring"))
		CHECK(failed[URING_SUBMIT] && failed[URING_WAIT],
		      "no failure injected into commit or wait");
	if (!strcmp(engine, "aio"))
		CHECK(failed[AIO_SUBMIT] && cut, "no failure injected into io_submit");
}

/*
 * aio: io_submit() refusing its first iocb (the kernel's answer for a bad
 * one) fails that piece alone; its region's bit and result say so, the
 * rest of the call is done, and the callback comes once.
 */
static void test_refused_iocb(void)
{
	struct dmio_client *c;
	struct call k = { .rw = DMIO_WRITE, .n = NREG };
	struct files f;
	struct timespec deadline;

	if (strcmp(engine, "aio"))
		return; /* only aio has a submit that refuses one request */
	c = dmio_client_create(engine, 4, MAX_IO);
	REQUIRE(c, "client: %s", strerror(errno));
	files_open(&f);
	k.buf = xmalloc_aligned(DMIO_PAGE_SIZE, LEN);
	fill_pattern(k.buf, LEN, (uint32_t)seed);
	for (unsigned int i = 0; i < NREG; i++)
		k.where[i] = region(&f, 0, i);
	__atomic_store_n(&fail_pct, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&refuse_next, -EINVAL, __ATOMIC_RELAXED);
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += DEADLINE;
	if (!calls_run(&k, 1, c, &deadline)) {
		CHECK(false, "the call did not complete in %d s", DEADLINE);
		hung = true;
		return;
	}
	dmio_client_destroy(c);
	/* The first piece made is region 0's first. */
	CHECK(k.done == 1 && k.error == 1, "%d callbacks, bits %#lx", k.done, k.error);
	CHECK(k.results[0].error == EINVAL && k.results[0].error_sector == k.where[0].sector,
	      "region 0: error %d at sector %llu", k.results[0].error,
	      (unsigned long long)k.results[0].error_sector);
	CHECK(fd_equals(f.fd[0], k.where[0].sector * S + MAX_IO, k.buf + MAX_IO, LEN - MAX_IO),
	      "region 0 past the refused piece is wrong");
	for (unsigned int i = 1; i < NREG; i++)
		CHECK(fd_equals(f.fd[i], k.where[i].sector * S, k.buf, LEN), "region %u is wrong",
		      i);
	call_ok(&k);
	files_close(&f);
	free(k.buf);
}

int main(void)
{
	const char *s = getenv("DMIO_TEST_SEED");

	engine = getenv("DMIO_ENGINE");
	if (!engine)
		engine = "aio";
	seed = s ? strtoull(s, NULL, 0) : (uint64_t)time(NULL) ^ (uint64_t)getpid();
	printf("# engine %s, seed %llu (DMIO_TEST_SEED=%llu repeats it)\n", engine,
	       (unsigned long long)seed, (unsigned long long)seed);
	fflush(stdout); /* on_alarm() exits without flushing */
	signal(SIGALRM, on_alarm);
	alarm(HANG_LIMIT);
	RUN(test_failing_submits);
	if (!hung)
		RUN(test_refused_iocb);
	return unit_done();
}
