// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The client (the kernel's dm_io_client): an engine, its pool, and the
 * completion thread that owns both.  Callers hand validated calls over under
 * c->lock; the thread splits them, runs the engine and calls back.  Callbacks
 * therefore run on the client's completion thread, one at a time.
 */
#include <errno.h>
#include <limits.h>
#include <sys/uio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "dmio-internal.h"

static __thread struct dmio_client *self; /* this thread's client, if any */

/*
 * The thread sleeps in one place, the engine's wait(), which returns when
 * wake_fd is written or I/O completes.  It says so first (client_sleep()),
 * and enqueue() writes wake_fd only to a thread that said so, once, so that
 * new work is picked up at once even while I/O is in flight, without a
 * write for every call; destroy() always writes.
 */
static void *completion_thread(void *arg)
{
	struct dmio_client *c = arg;
	bool stop;

	self = c;
	for (;;) {
		core_run(c);
		pthread_mutex_lock(&c->lock);
		stop = c->stopping && !c->incoming;
		pthread_mutex_unlock(&c->lock);
		if (stop)
			return NULL;
		client_sleep(c);
	}
}

void client_sleep(struct dmio_client *c)
{
	bool sleep;

	pthread_mutex_lock(&c->lock);
	sleep = !c->incoming && !c->stopping;
	c->asleep = sleep;
	pthread_mutex_unlock(&c->lock);
	if (sleep && c->nbd_nconns)
		nbd_wait(c);
	else if (sleep)
		c->ops->wait(c);
	pthread_mutex_lock(&c->lock);
	c->asleep = false;
	pthread_mutex_unlock(&c->lock);
}

void client_wait(struct dmio_client *c)
{
	uint64_t n;

	while (read(c->wake_fd, &n, sizeof(n)) < 0 && errno == EINTR)
		;
}

static void client_wake(struct dmio_client *c)
{
	uint64_t one = 1;

	/* Cannot fail but by overflowing a 64-bit counter. */
	while (write(c->wake_fd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}

bool client_on_thread(struct dmio_client *c)
{
	return pthread_equal(pthread_self(), c->thread);
}

struct dmio_client *client_self(void)
{
	return self;
}

void client_enqueue(struct dmio_client *c, struct dmio_io *io)
{
	bool wake;

	pthread_mutex_lock(&c->lock);
	*c->incoming_tail = io;
	c->incoming_tail = &io->next;
	c->outstanding++;
	/* A thread that is not asleep looks at incoming before it sleeps. */
	wake = c->asleep;
	c->asleep = false;
	pthread_mutex_unlock(&c->lock);
	if (wake)
		client_wake(c);
}

void client_io_done(struct dmio_client *c)
{
	pthread_mutex_lock(&c->lock);
	if (!--c->outstanding)
		pthread_cond_broadcast(&c->idle);
	pthread_mutex_unlock(&c->lock);
}

static const struct dmio_engine_ops *const engines[] = {
	&dmio_aio_engine, /* the first is the default */
	&dmio_uring_engine,
	&dmio_sync_engine,
};

static const struct dmio_engine_ops *engine_by_name(const char *name)
{
	for (size_t i = 0; i < sizeof(engines) / sizeof(engines[0]); i++)
		if (!name || !strcmp(name, engines[i]->name))
			return engines[i];
	return NULL;
}

struct dmio_client *dmio_client_create(const char *engine,
				       unsigned int queue_depth,
				       unsigned int max_io)
{
	const struct dmio_engine_ops *ops = engine_by_name(engine);
	struct dmio_client *c;
	sigset_t all, old;
	unsigned int max_iov;
	int r;

	if (!max_io)
		max_io = DMIO_DEFAULT_MAX_IO;
	if (!ops || queue_depth > DMIO_MAX_QUEUE_DEPTH || max_io % DMIO_PAGE_SIZE ||
	    max_io > DMIO_MAX_IO_LIMIT) {
		errno = EINVAL;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->ops = ops;
	c->depth = queue_depth ? queue_depth : ops->default_depth;
	c->max_io = max_io;
	c->incoming_tail = &c->incoming;
	c->active_tail = &c->active;
	/* A piece starting inside a page spans one page more. */
	max_iov = max_io / DMIO_PAGE_SIZE + 1;
	if (max_iov > UIO_MAXIOV)
		max_iov = UIO_MAXIOV;
	c->wake_fd = eventfd(0, EFD_CLOEXEC);
	if (c->wake_fd < 0) {
		r = -errno;
		goto free_client;
	}
	r = pool_init(&c->pool, c->depth, max_iov, max_io / DMIO_PAGE_SIZE);
	if (r)
		goto close_wake;
	r = ops->init ? ops->init(c) : 0;
	if (r)
		goto free_pool;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->idle, NULL);
	/* Signals are the program's business: keep them off this thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = -pthread_create(&c->thread, NULL, completion_thread, c);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r)
		goto free_engine;
	return c;

free_engine:
	pthread_cond_destroy(&c->idle);
	pthread_mutex_destroy(&c->lock);
	if (ops->exit)
		ops->exit(c);
free_pool:
	pool_exit(&c->pool);
close_wake:
	close(c->wake_fd);
free_client:
	free(c);
	errno = -r;
	return NULL;
}

void dmio_client_destroy(struct dmio_client *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	while (c->outstanding)
		pthread_cond_wait(&c->idle, &c->lock);
	c->stopping = true;
	pthread_mutex_unlock(&c->lock);
	client_wake(c);
	pthread_join(c->thread, NULL);
	nbd_client_exit(c);
	if (c->ops->exit)
		c->ops->exit(c);
	pool_exit(&c->pool);
	close(c->wake_fd);
	pthread_cond_destroy(&c->idle);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

int dmio_client_get(struct dmio_client *c, unsigned int num_pages)
{
	return c ? pool_get(&c->pool, num_pages) : -EINVAL;
}

void dmio_client_put(struct dmio_client *c, unsigned int num_pages)
{
	if (c)
		pool_put(&c->pool, num_pages);
}

int dmio_client_stats(struct dmio_client *c, struct dmio_stats *st)
{
	if (!c || !st)
		return -EINVAL;
	pthread_mutex_lock(&c->pool.lock);
	*st = (struct dmio_stats){
		.engine = c->ops->name,
		.queue_depth = c->depth,
		.max_io = c->max_io,
		.reserved_pages = c->pool.reserved,
		.pool_pages = c->pool.npages,
		.free_pages = c->pool.nfree,
		.page_allocs = c->pool.page_allocs,
	};
	pthread_mutex_unlock(&c->pool.lock);
	st->requests = __atomic_load_n(&c->requests, __ATOMIC_RELAXED);
	st->bounced = __atomic_load_n(&c->bounced, __ATOMIC_RELAXED);
	return 0;
}

/* ---- the default client, for the seed's calls ---- */

static struct dmio_client *default_client;
static int default_errno;
static pthread_once_t default_once = PTHREAD_ONCE_INIT;

static void default_create(void)
{
	const char *depth = getenv("DMIO_QUEUE_DEPTH");
	unsigned long d = 0;
	char *end;

	if (depth) {
		errno = 0;
		d = strtoul(depth, &end, 10);
		if (errno || *end || end == depth || d > UINT_MAX) {
			default_errno = EINVAL;
			return;
		}
	}
	default_client = dmio_client_create(getenv("DMIO_ENGINE"),
					    (unsigned int)d, 0);
	if (!default_client)
		default_errno = errno;
}

struct dmio_client *dmio_default_client(void)
{
	pthread_once(&default_once, default_create);
	if (!default_client)
		errno = default_errno;
	return default_client;
}

/* At exit, free the default client if it is idle; never wait on I/O. */
__attribute__((destructor)) static void default_destroy(void)
{
	struct dmio_client *c = default_client;
	bool idle;

	if (!c || client_on_thread(c))
		return;
	pthread_mutex_lock(&c->lock);
	idle = !c->outstanding;
	pthread_mutex_unlock(&c->lock);
	if (idle)
		dmio_client_destroy(c);
}

int dmio_get(unsigned int num_pages)
{
	struct dmio_client *c = dmio_default_client();

	return c ? dmio_client_get(c, num_pages) : -errno;
}

void dmio_put(unsigned int num_pages)
{
	dmio_client_put(dmio_default_client(), num_pages);
}
