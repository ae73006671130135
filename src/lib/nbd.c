// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * NBD exports, through libnbd.  dmio_nbd_open() connects (several
 * connections where the server allows multi-conn and takes that many
 * clients) and registers the export under a handle, a file descriptor of
 * its own that regions name.  The client's completion thread sends the
 * pieces of NBD regions with libnbd's asynchronous calls, round robin over
 * the connections it owns (below), and, while any are in flight, sleeps in
 * poll() on their sockets beside its wake-up eventfd and its engine's
 * completions (nbd_wait()); libnbd's completion callbacks only put the
 * piece on c->nbd_done, which core_run() finishes.  Block status
 * (dmio_nbd_extent()) goes on those connections too, never on one more: a
 * server may take one client only and queue the next until the first
 * leaves, as qemu-nbd does by default.
 */
#include <errno.h>
#include <libnbd.h>
#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "dmio-internal.h"

#define DEFAULT_CONNECTIONS 4 /* as nbdcopy */
#define ZERO_PIECE_MAX (1u << 30) /* a zero or trim request, at most (32-bit lengths) */
/* The connections after the first have as long as the first took, this
 * many times over, and at least MORE_CONNECT_MS: a server may allow
 * multi-conn and yet take fewer clients than asked for, refusing the rest
 * or leaving them waiting (qemu-nbd --shared=N queues them); dmio goes on
 * with those it took. */
#define MORE_CONNECT_TIMES 10
#define MORE_CONNECT_MS 1000

/*
 * One connection is driven by one completion thread at a time, its
 * owner's: two threads that poll and notify one libnbd handle can leave a
 * command unsent.  A client owns a connection while it has commands in
 * flight on it, and lets it go (nbd_tidy()) when it has none.  A client
 * takes a connection under its claim lock, which dmio_nbd_extent() holds
 * while it drives a connection that nobody owns (query_run()).
 */
struct nbd_conn {
	struct dmio_nbd *t;
	struct nbd_handle *h;
	int fd;
	struct dmio_client *owner;	/* atomic; NULL: none */
	unsigned int inflight;		/* commands in flight; atomic */
	pthread_mutex_t claim;
};

/* The runs one block status reply gave of one meta context, from start:
 * run i ends at end[i] with flags[i].  Kept for the calls that ask next
 * (the reply covers many runs: each would be a round trip of its own). */
#define RUNS_KEPT 64
enum { CTX_BASE, CTX_DIRTY, CTX_COUNT };

struct runs {
	uint64_t start;
	unsigned int n;
	unsigned int writes;		/* the export's count of writes when asked */
	uint64_t end[RUNS_KEPT];
	uint32_t flags[RUNS_KEPT];
};

/* What a block status request gathers, for each context it asked. */
struct extent_walk {
	uint64_t at;
	const char *dirty_ctx;		/* the dirty bitmap's context, or NULL */
	struct runs r[CTX_COUNT];
};

/* A dmio_nbd_extent() call's block status request, on its stack. */
struct nbd_query {
	struct nbd_query *next;
	struct extent_walk w;
	uint64_t len;
	struct nbd_conn *conn;		/* where a completion thread sent it */
	int err;
	bool taken, done;		/* under the export's query_lock */
};

struct dmio_nbd {
	struct dmio_nbd *next;		/* the registry */
	int handle;
	struct dmio_nbd_info info;
	pthread_mutex_t query_lock;	/* protects queries and each one's taken and done */
	pthread_cond_t query_cond;	/* a query done, or a connection let go */
	struct nbd_query *queries;	/* waiting for a completion thread to send them */
	unsigned int npending;		/* how many; atomic */
	int query_fd;			/* eventfd: a query waits; the owners poll it */
	char *dirty_ctx;		/* "qemu:dirty-bitmap:NAME", or NULL */
	char *contexts;			/* what the server offers, ","-separated */
	pthread_mutex_t runs_lock;	/* protects runs */
	struct runs runs[CTX_COUNT];	/* the last reply's */
	unsigned int writes;		/* writes, zeroes and trims sent; atomic */
	unsigned int rr;		/* the next connection to try; atomic */
	struct nbd_conn conn[];
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct dmio_nbd *registry;
static __thread char error_text[512];

const char *dmio_nbd_error(void)
{
	return error_text;
}

/* Say why libnbd failed; its errno, negated. */
static int nbd_failed(void)
{
	int e = nbd_get_errno();

	snprintf(error_text, sizeof(error_text), "%s", nbd_get_error() ? nbd_get_error() : "");
	return e ? -e : -EIO;
}

/* TLS: the user name for the PSK, unless the URI gives one (user@host):
 * this process's user's (libnbd would take the login name, which a
 * process without a terminal, as from cron, does not have). */
static int tls_username(struct nbd_handle *h)
{
	struct passwd pw, *res = NULL;
	char buf[1024];

	if (getpwuid_r(geteuid(), &pw, buf, sizeof(buf), &res) || !res)
		return 0; /* libnbd's default, then */
	return nbd_set_tls_username(h, pw.pw_name);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A handle with p's TLS settings, or NULL. */
static struct nbd_handle *handle_new(const struct dmio_nbd_params *p)
{
	struct nbd_handle *h = nbd_create();

	if (h && (tls_username(h) || (p->tls_psk_file && nbd_set_tls_psk_file(h, p->tls_psk_file)) ||
		  (p->tls_certificates && nbd_set_tls_certificates(h, p->tls_certificates)))) {
		nbd_close(h);
		return NULL;
	}
	return h;
}

/* Ask h for base:allocation and dirty_ctx (or not: NULL): 0 or -1. */
static int ask_contexts(struct nbd_handle *h, const char *dirty_ctx)
{
	return nbd_add_meta_context(h, LIBNBD_CONTEXT_BASE_ALLOCATION) ||
	       (dirty_ctx && nbd_add_meta_context(h, dirty_ctx)) ? -1 : 0;
}

/* A handle for uri with p's settings, its handshake begun, asking for
 * base:allocation and dirty_ctx (or not: NULL); or, with opt, stopping
 * before the export is chosen (the first connection lists the contexts
 * first: open_first()).  NULL, *err and error_text when it cannot be. */
static struct nbd_handle *connect_start(const char *uri, const struct dmio_nbd_params *p,
					const char *dirty_ctx, bool opt, int *err)
{
	struct nbd_handle *h = handle_new(p);

	if (!h || (opt ? nbd_set_opt_mode(h, true) : ask_contexts(h, dirty_ctx)) ||
	    nbd_set_request_block_size(h, true) ||
	    /* not clearing every read buffer first: piece_error()
	     * clears the part of a read that failed */
	    nbd_set_pread_initialize(h, false) ||
	    nbd_aio_connect_uri(h, uri)) {
		*err = nbd_failed();
		if (h)
			nbd_close(h);
		return NULL;
	}
	return h;
}

/*
 * Drive the handshakes of h[0..n) (NULL entries are skipped) in this
 * thread, polling cancel_fd (when > 0) beside them, until each is
 * connected or failed, or deadline (now_ms(); -1: none) comes: a handle
 * that failed or is not connected then is closed and set NULL, and the
 * first failure is in *err and error_text (when err is not NULL).  0; or
 * -EINTR once cancel_fd is readable, -EBADF if it is no fd, or poll()'s
 * error, every handle closed.  libnbd's own wait (nbd_connect_uri()) goes
 * on through signals: a caller's signal handler ends this one by writing
 * cancel_fd.
 */
static int connect_wait(struct nbd_handle **h, unsigned int n, int64_t deadline, int cancel_fd,
			int *err)
{
	struct pollfd fds[1 + DMIO_NBD_MAX_CONNECTIONS];
	unsigned int which[1 + DMIO_NBD_MAX_CONNECTIONS];
	int r = 0;

	for (;;) {
		unsigned int k = 1;
		int timeout = -1;

		fds[0] = (struct pollfd){ cancel_fd > 0 ? cancel_fd : -1, POLLIN, 0 };
		for (unsigned int i = 0; i < n; i++) {
			unsigned int dir;

			if (!h[i] || !nbd_aio_is_connecting(h[i])) {
				if (h[i] && nbd_aio_is_ready(h[i]) <= 0 &&
				    nbd_aio_is_negotiating(h[i]) <= 0) {
					if (err && !*err) {
						snprintf(error_text, sizeof(error_text),
							 "the connection ended in the handshake");
						*err = -ECONNRESET;
					}
					nbd_close(h[i]);
					h[i] = NULL;
				}
				continue;
			}
			dir = nbd_aio_get_direction(h[i]);
			which[k] = i;
			fds[k++] = (struct pollfd){
				nbd_aio_get_fd(h[i]),
				(short)((dir & LIBNBD_AIO_DIRECTION_READ ? POLLIN : 0) |
					(dir & LIBNBD_AIO_DIRECTION_WRITE ? POLLOUT : 0)),
				0
			};
		}
		if (k == 1)
			return 0;
		if (deadline >= 0) {
			int64_t left = deadline - now_ms();

			if (left <= 0)
				break;
			timeout = left < INT32_MAX ? (int)left : INT32_MAX;
		}
		if (poll(fds, k, timeout) < 0 && errno != EINTR) {
			r = -errno;
			break;
		}
		if (fds[0].revents) {
			r = fds[0].revents & POLLNVAL ? -EBADF : -EINTR;
			break;
		}
		for (unsigned int j = 1; j < k; j++) {
			unsigned int i = which[j];
			int e = 0;

			if (fds[j].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL))
				e = nbd_aio_notify_read(h[i]);
			else if (fds[j].revents & POLLOUT)
				e = nbd_aio_notify_write(h[i]);
			if (e == -1) {
				if (err && !*err)
					*err = nbd_failed();
				nbd_close(h[i]);
				h[i] = NULL;
			}
		}
	}
	/* Cancelled, or the time is up: what is not connected goes (all,
	 * when cancelled). */
	for (unsigned int i = 0; i < n; i++)
		if (h[i] && (r || (nbd_aio_is_ready(h[i]) <= 0 && nbd_aio_is_negotiating(h[i]) <= 0))) {
			nbd_close(h[i]);
			h[i] = NULL;
		}
	return r;
}

/* What the server says of the export, on its first connection. */
static void describe(struct dmio_nbd *t, struct nbd_handle *h)
{
	struct dmio_nbd_info *i = &t->info;
	int64_t v;

	i->size = (uint64_t)nbd_get_size(h);
	v = nbd_get_block_size(h, LIBNBD_SIZE_MINIMUM);
	i->min_block = v > 0 ? (uint32_t)v : 1;
	v = nbd_get_block_size(h, LIBNBD_SIZE_PREFERRED);
	i->preferred_block = v > 0 ? (uint32_t)v : 4096;
	v = nbd_get_block_size(h, LIBNBD_SIZE_MAXIMUM);
	i->max_block = v > 0 ? (uint32_t)v : 32u << 20;
	i->flags = (nbd_is_read_only(h) > 0 ? DMIO_NBD_READ_ONLY : 0) |
		   (nbd_can_flush(h) > 0 ? DMIO_NBD_CAN_FLUSH : 0) |
		   (nbd_can_zero(h) > 0 ? DMIO_NBD_CAN_ZERO : 0) |
		   (nbd_can_trim(h) > 0 ? DMIO_NBD_CAN_TRIM : 0) |
		   (nbd_can_multi_conn(h) > 0 ? DMIO_NBD_CAN_MULTI_CONN : 0) |
		   (nbd_can_meta_context(h, LIBNBD_CONTEXT_BASE_ALLOCATION) > 0
			    ? DMIO_NBD_EXTENTS : 0) |
		   (t->dirty_ctx && nbd_can_meta_context(h, t->dirty_ctx) > 0 ? DMIO_NBD_DIRTY : 0);
}

struct names {
	char *buf;
	size_t len, used;
};

static int add_name(void *user_data, const char *name)
{
	struct names *s = user_data;

	if (s->used < s->len)
		s->used += (size_t)snprintf(s->buf + s->used, s->len - s->used, "%s%s",
					    s->used ? "," : "", name);
	return 0;
}

static void free_target(struct dmio_nbd *t)
{
	free(t->dirty_ctx);
	free(t->contexts);
	pthread_mutex_destroy(&t->runs_lock);
	for (unsigned int i = 0; i < t->info.connections; i++) {
		if (t->conn[i].h)
			nbd_close(t->conn[i].h);
		pthread_mutex_destroy(&t->conn[i].claim);
	}
	if (t->handle >= 0)
		close(t->handle);
	if (t->query_fd >= 0)
		close(t->query_fd);
	pthread_cond_destroy(&t->query_cond);
	pthread_mutex_destroy(&t->query_lock);
	free(t);
}

/* Connect h[1..n) to uri beside h[0], all at once; keep those connected
 * within MORE_CONNECT_TIMES the time h[0] took (since start), at least
 * MORE_CONNECT_MS, packed after h[0]: how many h[] holds then.  Or
 * connect_wait()'s error (cancelled), h[0] closed too. */
static int connect_more(const char *uri, const struct dmio_nbd_params *p,
			const char *dirty_ctx, struct nbd_handle **h, unsigned int n, int64_t start)
{
	int64_t wait = (now_ms() - start) * MORE_CONNECT_TIMES;
	unsigned int k = 1;
	int ignored = 0, r;

	for (unsigned int i = 1; i < n; i++)
		h[i] = connect_start(uri, p, dirty_ctx, false, &ignored);
	r = connect_wait(h + 1, n - 1, now_ms() + (wait > MORE_CONNECT_MS ? wait : MORE_CONNECT_MS),
			 p->cancel_fd, NULL);
	if (r) {
		nbd_close(h[0]);
		return r;
	}
	/* Those that failed said why in error_text: the first worked. */
	error_text[0] = 0;
	for (unsigned int i = 1; i < n; i++)
		if (h[i])
			h[k++] = h[i];
	return (int)k;
}

/* The first connection of an export at uri, in *h; with list, the meta
 * contexts the server offers in contexts (","-separated), asked before
 * the export is chosen, on this connection (a server may take one client
 * only).  0 or -errno, said in error_text. */
static int open_first(const char *uri, const struct dmio_nbd_params *p, const char *dirty_ctx,
		      bool list, struct nbd_handle **h, char *contexts, size_t len)
{
	struct names s = { contexts, len, 0 };
	int err = 0, r;

	*contexts = 0;
	*h = connect_start(uri, p, dirty_ctx, list, &err);
	if (!*h)
		return err;
	r = connect_wait(h, 1, -1, p->cancel_fd, &err);
	/* An oldstyle server knows no options: it is ready already.  The
	 * listing asks for nothing, so the server lists every context; one
	 * that cannot list has none to say.  Then the export, with the
	 * contexts dmio reads.  (These two wait in libnbd, as a connect did
	 * before: the server has answered the handshake by then.) */
	if (list && !r && *h && nbd_aio_is_negotiating(*h) > 0) {
		nbd_opt_list_meta_context(*h, (nbd_context_callback){ .callback = add_name,
								      .user_data = &s });
		if (ask_contexts(*h, dirty_ctx) || nbd_opt_go(*h) == -1)
			err = nbd_failed();
	}
	if (!r && !err && *h && nbd_aio_is_ready(*h) > 0)
		return 0;
	if (*h)
		nbd_close(*h);
	*h = NULL;
	return r ? r : err ? err : -ECONNRESET;
}

/* The connections of an export at uri into h[]: how many, or -errno (said
 * in error_text).  The dirty bitmap dirty_ctx names must be there. */
static int open_connections(const char *uri, const struct dmio_nbd_params *p,
			    const char *dirty_ctx, struct nbd_handle **h, int64_t start,
			    char *contexts, size_t len)
{
	int n, err = open_first(uri, p, dirty_ctx, p->list_contexts > 0, h, contexts, len);

	if (err)
		return err;
	if (dirty_ctx && nbd_can_meta_context(h[0], dirty_ctx) <= 0) {
		/* What it has, asked once this connection is gone. */
		nbd_close(h[0]);
		if (!*contexts && !open_first(uri, p, NULL, true, h, contexts, len))
			nbd_close(h[0]);
		snprintf(error_text, sizeof(error_text),
			 "the export has no dirty bitmap %.100s; it offers %.300s", p->dirty_bitmap,
			 *contexts ? contexts : "no meta context");
		return -ENOENT;
	}
	n = p->connections ? (int)p->connections : DEFAULT_CONNECTIONS;
	if (nbd_can_multi_conn(h[0]) <= 0)
		n = 1;
	return n > 1 ? connect_more(uri, p, dirty_ctx, h, (unsigned int)n, start) : n;
}

int dmio_nbd_open(const char *uri, const struct dmio_nbd_params *params)
{
	struct dmio_nbd_params p = { .size = sizeof(p) };
	struct nbd_handle *h[DMIO_NBD_MAX_CONNECTIONS] = { NULL };
	struct dmio_nbd *t;
	char *dirty_ctx = NULL, contexts[1024];
	int n, err;

	error_text[0] = 0;
	if (!uri || (params && !params->size))
		return -EINVAL;
	if (params)
		memcpy(&p, params, params->size < sizeof(p) ? params->size : sizeof(p));
	if (p.connections > DMIO_NBD_MAX_CONNECTIONS)
		return -EINVAL;
	if (p.dirty_bitmap && asprintf(&dirty_ctx, "qemu:dirty-bitmap:%s", p.dirty_bitmap) < 0)
		return -ENOMEM;
	n = open_connections(uri, &p, dirty_ctx, h, now_ms(), contexts, sizeof(contexts));
	t = n < 0 ? NULL : calloc(1, sizeof(*t) + (unsigned int)n * sizeof(t->conn[0]));
	if (!t) {
		for (int i = 0; i < n; i++)
			nbd_close(h[i]);
		free(dirty_ctx);
		return n < 0 ? n : -ENOMEM;
	}
	t->dirty_ctx = dirty_ctx;
	t->contexts = strdup(contexts);
	pthread_mutex_init(&t->runs_lock, NULL);
	pthread_mutex_init(&t->query_lock, NULL);
	pthread_cond_init(&t->query_cond, NULL);
	t->info.connections = (unsigned int)n;
	for (int i = 0; i < n; i++) {
		t->conn[i] = (struct nbd_conn){ .t = t, .h = h[i], .fd = nbd_aio_get_fd(h[i]) };
		pthread_mutex_init(&t->conn[i].claim, NULL);
	}
	describe(t, h[0]);
	t->handle = memfd_create("dmio-nbd", MFD_CLOEXEC);
	t->query_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (t->handle < 0 || t->query_fd < 0) {
		err = -errno;
		free_target(t);
		return err;
	}
	pthread_mutex_lock(&registry_lock);
	t->next = registry;
	registry = t;
	pthread_mutex_unlock(&registry_lock);
	return t->handle;
}

struct dmio_nbd *nbd_find(int fd)
{
	struct dmio_nbd *t;

	pthread_mutex_lock(&registry_lock);
	for (t = registry; t && t->handle != fd; t = t->next)
		;
	pthread_mutex_unlock(&registry_lock);
	return t;
}

const char *dmio_nbd_contexts(int handle)
{
	struct dmio_nbd *t = nbd_find(handle);

	return t && t->contexts ? t->contexts : "";
}

int dmio_nbd_info(int handle, struct dmio_nbd_info *info)
{
	struct dmio_nbd *t = nbd_find(handle);

	if (!t || !info)
		return -EINVAL;
	*info = t->info;
	return 0;
}

/* libnbd's callback of a block status reply: the runs of each context
 * asked for, from w->at, into w->r. */
static int gather(void *user_data, const char *context, uint64_t offset, uint32_t *entries,
		  size_t nr, int *error)
{
	struct extent_walk *w = user_data;
	struct runs *r = !strcmp(context, LIBNBD_CONTEXT_BASE_ALLOCATION) ? &w->r[CTX_BASE]
		       : w->dirty_ctx && !strcmp(context, w->dirty_ctx) ? &w->r[CTX_DIRTY] : NULL;
	uint64_t end = offset;

	(void)error;
	if (!r || r->n)
		return 0;
	r->start = offset;
	for (size_t i = 0; i + 1 < nr && r->n < RUNS_KEPT && entries[i]; i += 2) {
		end += entries[i];
		r->end[r->n] = end;
		r->flags[r->n++] = entries[i + 1];
	}
	return 0;
}

/* libnbd's completion callback of a query, on its owner's completion
 * thread: nbd_tidy() wakes its caller. */
static int query_done(void *user_data, int *error)
{
	struct nbd_query *q = user_data;
	struct nbd_conn *conn = q->conn;
	struct dmio_client *c = __atomic_load_n(&conn->owner, __ATOMIC_RELAXED);

	q->err = *error ? -*error : 0;
	__atomic_sub_fetch(&conn->inflight, 1, __ATOMIC_RELAXED);
	q->next = c->nbd_replied;
	c->nbd_replied = q;
	return 1;
}

/* A connection of t that no client owns, with its claim lock held so that
 * none takes it; NULL when each is owned (or being taken).  Under
 * t->query_lock. */
static struct nbd_conn *conn_idle(struct dmio_nbd *t)
{
	for (unsigned int i = 0; i < t->info.connections; i++) {
		struct nbd_conn *x = &t->conn[i];

		if (__atomic_load_n(&x->owner, __ATOMIC_SEQ_CST) ||
		    pthread_mutex_trylock(&x->claim))
			continue;
		if (!__atomic_load_n(&x->owner, __ATOMIC_ACQUIRE))
			return x;
		pthread_mutex_unlock(&x->claim);
	}
	return NULL;
}

/* Block status of q on x, in this thread, which drives x. */
static void query_sync(struct nbd_conn *x, struct nbd_query *q)
{
	nbd_extent_callback cb = { .callback = gather, .user_data = &q->w };

	if (nbd_block_status(x->h, q->len, q->w.at, cb, 0))
		q->err = nbd_failed();
}

/*
 * Run q on t's connections, never on a connection of its own (the server
 * may take no more clients, and queue it forever).  A connection nobody
 * owns is driven here, under its claim lock; one a client owns is its
 * completion thread's to drive: it sends q there (queries_send()), woken
 * through query_fd, and wakes this thread when the answer came, or when it
 * let its connection go first (nbd_tidy()): q is run here then.
 */
static void query_run(struct dmio_nbd *t, struct nbd_query *q)
{
	struct dmio_client *self = client_self();
	uint64_t one = 1;
	struct nbd_conn *x;

	/* A completion callback: this thread drives its client's
	 * connections, and would wait for itself.  libnbd's synchronous call
	 * there also reads the other replies, which its callbacks put on the
	 * client's lists. */
	for (unsigned int i = 0; self && i < t->info.connections; i++)
		if (__atomic_load_n(&t->conn[i].owner, __ATOMIC_RELAXED) == self) {
			query_sync(&t->conn[i], q);
			return;
		}
	pthread_mutex_lock(&t->query_lock);
	q->next = t->queries;
	t->queries = q;
	/* Before the owners are looked at: an owner that lets its connection
	 * go looks at npending after, so one of the two sees the other. */
	__atomic_add_fetch(&t->npending, 1, __ATOMIC_SEQ_CST);
	while (!q->done) {
		if (!q->taken && (x = conn_idle(t))) {
			struct nbd_query **pp = &t->queries;

			while (*pp != q)
				pp = &(*pp)->next;
			*pp = q->next;
			__atomic_sub_fetch(&t->npending, 1, __ATOMIC_RELAXED);
			q->taken = true;
			pthread_mutex_unlock(&t->query_lock);
			query_sync(x, q);
			pthread_mutex_unlock(&x->claim);
			pthread_mutex_lock(&t->query_lock);
			/* Others that found no connection free look again. */
			if (t->queries)
				pthread_cond_broadcast(&t->query_cond);
			break;
		}
		if (!q->taken && write(t->query_fd, &one, sizeof(one)) < 0) {
			/* Only a full counter fails: readable, then. */
		}
		pthread_cond_wait(&t->query_cond, &t->query_lock);
	}
	pthread_mutex_unlock(&t->query_lock);
}

/* The run of context ctx that byte offset is in, from the runs kept:
 * false when they do not say. */
static bool kept(struct dmio_nbd *t, unsigned int ctx, uint64_t offset, uint64_t *end,
		 uint32_t *flags)
{
	const struct runs *r = &t->runs[ctx];
	bool found = false;

	pthread_mutex_lock(&t->runs_lock);
	/* A write since may have changed what they said. */
	if (r->n && r->writes == __atomic_load_n(&t->writes, __ATOMIC_RELAXED) &&
	    offset >= r->start)
		for (unsigned int i = 0; i < r->n && !found; i++)
			if (offset < r->end[i]) {
				*end = r->end[i];
				*flags = r->flags[i];
				found = true;
			}
	pthread_mutex_unlock(&t->runs_lock);
	return found;
}

/* The run of context ctx that byte offset is in, as t says: its end and
 * flags.  0 or -errno. */
static int status(struct dmio_nbd *t, unsigned int ctx, uint64_t offset, uint64_t *end,
		  uint32_t *flags)
{
	struct nbd_query q = { .w = { .at = offset, .dirty_ctx = t->dirty_ctx } };
	unsigned int writes = __atomic_load_n(&t->writes, __ATOMIC_RELAXED);

	if (kept(t, ctx, offset, end, flags))
		return 0;
	q.len = t->info.size - offset < ZERO_PIECE_MAX ? t->info.size - offset : ZERO_PIECE_MAX;
	query_run(t, &q);
	if (q.err)
		return q.err;
	pthread_mutex_lock(&t->runs_lock);
	for (unsigned int c = 0; c < CTX_COUNT; c++)
		if (q.w.r[c].n) {
			t->runs[c] = q.w.r[c];
			t->runs[c].writes = writes;
		}
	pthread_mutex_unlock(&t->runs_lock);
	if (!q.w.r[ctx].n || q.w.r[ctx].start != offset)
		return -ENODATA; /* the server said nothing of it */
	*end = q.w.r[ctx].end[0];
	*flags = q.w.r[ctx].flags[0];
	return 0;
}

int dmio_nbd_extent(int handle, uint64_t offset, uint64_t *end, int *hole)
{
	struct dmio_nbd *t = nbd_find(handle);
	uint32_t flags;
	int err;

	error_text[0] = 0;
	if (!t || !end || !hole || offset >= t->info.size)
		return -EINVAL;
	*end = t->info.size;
	*hole = 0;
	if (!(t->info.flags & DMIO_NBD_EXTENTS))
		return 0;
	err = status(t, CTX_BASE, offset, end, &flags);
	if (err == -ENODATA)
		return 0; /* no answer: all data */
	if (!err) {
		*end = *end < t->info.size ? *end : t->info.size;
		*hole = !!(flags & LIBNBD_STATE_ZERO);
	}
	return err;
}

int dmio_nbd_dirty(int handle, uint64_t offset, uint64_t *end, int *dirty)
{
	struct dmio_nbd *t = nbd_find(handle);
	uint32_t flags;
	int err;

	error_text[0] = 0;
	if (!t || !end || !dirty || offset >= t->info.size)
		return -EINVAL;
	if (!(t->info.flags & DMIO_NBD_DIRTY))
		return -EOPNOTSUPP;
	err = status(t, CTX_DIRTY, offset, end, &flags);
	if (err == -ENODATA)
		err = -EIO;
	if (!err) {
		*end = *end < t->info.size ? *end : t->info.size;
		*dirty = flags & 1; /* qemu's dirty bit */
	}
	return err;
}

int dmio_nbd_close(int handle)
{
	struct dmio_nbd **pp, *t = NULL;

	pthread_mutex_lock(&registry_lock);
	for (pp = &registry; *pp; pp = &(*pp)->next)
		if ((*pp)->handle == handle) {
			t = *pp;
			*pp = t->next;
			break;
		}
	pthread_mutex_unlock(&registry_lock);
	if (!t)
		return -EINVAL;
	for (unsigned int i = 0; i < t->info.connections; i++)
		nbd_shutdown(t->conn[i].h, 0);
	free_target(t);
	return 0;
}

/* ---- on the completion thread ---- */

int nbd_check(struct dmio_nbd *t, int rw, uint64_t pos, uint64_t end)
{
	int op = DMIO_OP(rw);

	if (op == DMIO_FLUSH)
		return 0;
	if (op != DMIO_READ && t->info.flags & DMIO_NBD_READ_ONLY)
		return -EROFS;
	if (end > t->info.size || pos % t->info.min_block || end % t->info.min_block)
		return -EINVAL;
	return 0;
}

uint64_t nbd_max_piece(struct dmio_nbd *t, int rw, uint64_t max_io)
{
	if (dmio_zeroing(rw))
		return ZERO_PIECE_MAX / t->info.min_block * t->info.min_block;
	return max_io < t->info.max_block ? max_io : t->info.max_block;
}

/* libnbd's completion callback, on the owner's completion thread. */
static int nbd_done(void *user_data, int *error)
{
	struct dmio_piece *p = user_data;
	struct nbd_conn *conn = p->conn;
	struct dmio_client *c = __atomic_load_n(&conn->owner, __ATOMIC_RELAXED);

	p->res = *error ? -*error : (long)p->len;
	__atomic_sub_fetch(&conn->inflight, 1, __ATOMIC_RELAXED);
	p->next = c->nbd_done;
	c->nbd_done = p;
	return 1; /* the command is retired */
}

/* Send the queries that wait on conn's export on conn, which c owns. */
static void queries_send(struct dmio_client *c, struct nbd_conn *conn)
{
	struct dmio_nbd *t = conn->t;
	struct nbd_query *q, *next;

	pthread_mutex_lock(&t->query_lock);
	q = t->queries;
	t->queries = NULL;
	__atomic_store_n(&t->npending, 0, __ATOMIC_RELAXED);
	for (next = q; next; next = next->next)
		next->taken = true;
	pthread_mutex_unlock(&t->query_lock);
	for (; q; q = next) {
		next = q->next; /* q may be done, and gone, once it is sent */
		q->conn = conn;
		__atomic_add_fetch(&conn->inflight, 1, __ATOMIC_RELAXED);
		if (nbd_aio_block_status(conn->h, q->len, q->w.at,
					 (nbd_extent_callback){ .callback = gather,
								.user_data = &q->w },
					 (nbd_completion_callback){ .callback = query_done,
								    .user_data = q },
					 0) == -1) {
			int e = nbd_get_errno();

			/* Refused: no callback comes. */
			__atomic_sub_fetch(&conn->inflight, 1, __ATOMIC_RELAXED);
			q->err = e ? -e : -EIO;
			q->next = c->nbd_replied;
			c->nbd_replied = q;
		}
	}
}

void nbd_tidy(struct dmio_client *c)
{
	struct nbd_query *q, *next;
	unsigned int k = 0;

	for (unsigned int i = 0; i < c->nbd_nconns; i++) {
		struct nbd_conn *conn = c->nbd_conns[i];

		if (__atomic_load_n(&conn->t->npending, __ATOMIC_RELAXED))
			queries_send(c, conn);
		if (__atomic_load_n(&conn->inflight, __ATOMIC_RELAXED)) {
			c->nbd_conns[k++] = conn;
			continue;
		}
		/* Let it go, with what its commands did.  A query that came
		 * since waits for an owner to send it: say there is none. */
		__atomic_store_n(&conn->owner, NULL, __ATOMIC_SEQ_CST);
		if (__atomic_load_n(&conn->t->npending, __ATOMIC_SEQ_CST)) {
			pthread_mutex_lock(&conn->t->query_lock);
			pthread_cond_broadcast(&conn->t->query_cond);
			pthread_mutex_unlock(&conn->t->query_lock);
		}
	}
	c->nbd_nconns = k;
	/* Last, as a piece's callback comes after this: once woken, a
	 * caller may close the export. */
	for (q = c->nbd_replied, c->nbd_replied = NULL; q; q = next) {
		struct dmio_nbd *t = q->conn->t;

		next = q->next;
		pthread_mutex_lock(&t->query_lock);
		q->done = true; /* q may be gone once this is unlocked */
		pthread_cond_broadcast(&t->query_cond);
		pthread_mutex_unlock(&t->query_lock);
	}
}

/* A connection of t for c: one c owns with room for a command, else one
 * nobody owns (c takes it).  NULL, and *full when c's own are full. */
static struct nbd_conn *conn_get(struct dmio_client *c, struct dmio_nbd *t, bool *full)
{
	unsigned int n = t->info.connections;
	unsigned int rr = __atomic_fetch_add(&t->rr, 1, __ATOMIC_RELAXED);

	*full = false;
	for (unsigned int k = 0; k < n; k++) {
		struct nbd_conn *x = &t->conn[(rr + k) % n];
		struct dmio_client *owner = __atomic_load_n(&x->owner, __ATOMIC_ACQUIRE);

		if (owner == c && __atomic_load_n(&x->inflight, __ATOMIC_RELAXED) < c->depth)
			return x;
		*full |= owner == c || (!owner && c->nbd_nconns == NBD_CONNS_MAX);
		if (owner || c->nbd_nconns == NBD_CONNS_MAX)
			continue;
		/* Waits while dmio_nbd_extent() drives it: a round trip. */
		pthread_mutex_lock(&x->claim);
		owner = __atomic_load_n(&x->owner, __ATOMIC_ACQUIRE);
		if (!owner)
			__atomic_store_n(&x->owner, c, __ATOMIC_RELAXED);
		pthread_mutex_unlock(&x->claim);
		if (!owner) {
			c->nbd_conns[c->nbd_nconns++] = x;
			return x;
		}
	}
	return NULL;
}

/* Send p on conn: libnbd's cookie, or -1. */
static int64_t conn_send(struct nbd_conn *conn, struct dmio_piece *p)
{
	nbd_completion_callback cb = { .callback = nbd_done, .user_data = p };

	switch (DMIO_OP(p->rw)) {
	case DMIO_READ:
		return nbd_aio_pread(conn->h, p->iov[0].iov_base, p->len, p->pos, cb, 0);
	case DMIO_WRITE:
		return nbd_aio_pwrite(conn->h, p->iov[0].iov_base, p->len, p->pos, cb, 0);
	case DMIO_WRITE_ZEROES:
		return nbd_aio_zero(conn->h, p->len, p->pos, cb,
				    p->rw & DMIO_NOUNMAP ? LIBNBD_CMD_FLAG_NO_HOLE : 0);
	case DMIO_DISCARD:
		return nbd_aio_trim(conn->h, p->len, p->pos, cb, 0);
	default:
		/* With multi-conn, a flush on any connection covers what
		 * every connection completed; without, there is one. */
		return nbd_aio_flush(conn->h, cb, 0);
	}
}

/* Send p: DMIO_Q_QUEUED, DMIO_Q_BUSY (every connection is full), or
 * DMIO_Q_COMPLETED (refused: p->res). */
static int nbd_queue(struct dmio_client *c, struct dmio_piece *p)
{
	struct dmio_nbd *t = p->nbd;
	struct nbd_conn *conn;
	int op = DMIO_OP(p->rw);
	bool full;

	if ((op == DMIO_WRITE_ZEROES && !(t->info.flags & DMIO_NBD_CAN_ZERO)) ||
	    (op == DMIO_DISCARD && !(t->info.flags & DMIO_NBD_CAN_TRIM))) {
		p->res = -EOPNOTSUPP;
		return DMIO_Q_COMPLETED;
	}
	if (op == DMIO_FLUSH && !(t->info.flags & DMIO_NBD_CAN_FLUSH)) {
		p->res = 0; /* nothing to make durable: the server writes through */
		return DMIO_Q_COMPLETED;
	}
	if (!c->nbd_conns) {
		c->nbd_conns = calloc(NBD_CONNS_MAX, sizeof(*c->nbd_conns));
		if (!c->nbd_conns) {
			p->res = -ENOMEM;
			return DMIO_Q_COMPLETED;
		}
	}
	conn = conn_get(c, t, &full);
	if (!conn && full)
		return DMIO_Q_BUSY; /* until one of c's commands completes */
	if (!conn) {
		p->res = -EBUSY; /* another client drives every connection */
		return DMIO_Q_COMPLETED;
	}
	p->conn = conn;
	/* What block status said before may no longer be so. */
	if (op != DMIO_READ && op != DMIO_FLUSH)
		__atomic_add_fetch(&t->writes, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&conn->inflight, 1, __ATOMIC_RELAXED);
	if (conn_send(conn, p) == -1) {
		/* Refused: no callback comes. */
		p->res = nbd_failed();
		__atomic_sub_fetch(&conn->inflight, 1, __ATOMIC_RELAXED);
		nbd_tidy(c);
		return DMIO_Q_COMPLETED;
	}
	__atomic_add_fetch(&c->requests, 1, __ATOMIC_RELAXED);
	return DMIO_Q_QUEUED;
}

void nbd_wait(struct dmio_client *c)
{
	struct pollfd fds[2 + 2 * NBD_CONNS_MAX];
	int efd = c->ops->event_fd ? c->ops->event_fd(c) : -1;
	bool read_wake = !c->ops->wake_armed || !c->ops->wake_armed(c);
	unsigned int n = 0, first, queries;
	uint64_t count;

	/* The engine's read of wake_fd (uring's) may have completed (taking a
	 * wake-up) with no piece of the engine in flight, so that nobody
	 * reaps it: take it here, or the engine would go on thinking it
	 * armed, nobody would read wake_fd, and every later wake-up would
	 * leave it readable and end every poll at once (the thread spun).
	 * The wake-up it took may be new work's: the caller looks again. */
	if (!read_wake && !c->inflight) {
		if (c->ops->events)
			c->ops->events(c);
		if (c->ops->wake_take(c))
			return;
	}

	fds[n++] = (struct pollfd){ c->wake_fd, POLLIN, 0 };
	if (efd >= 0 && c->inflight)
		fds[n++] = (struct pollfd){ efd, POLLIN, 0 };
	first = n;
	for (unsigned int i = 0; i < c->nbd_nconns; i++) {
		unsigned int dir = nbd_aio_get_direction(c->nbd_conns[i]->h);

		fds[n++] = (struct pollfd){ c->nbd_conns[i]->fd,
					    (short)((dir & LIBNBD_AIO_DIRECTION_READ ? POLLIN : 0) |
						    (dir & LIBNBD_AIO_DIRECTION_WRITE ? POLLOUT : 0)),
					    0 };
	}
	/* A query on the export of a connection c owns: nbd_tidy() sends
	 * it.  The same eventfd may be there more than once. */
	queries = n;
	for (unsigned int i = 0; i < c->nbd_nconns; i++)
		fds[n++] = (struct pollfd){ c->nbd_conns[i]->t->query_fd, POLLIN, 0 };
	if (poll(fds, n, -1) <= 0)
		return;
	/* The uring engine may have a read of the eventfd in its ring: it
	 * takes the count then, and a read here would block. */
	if (fds[0].revents & POLLIN && read_wake)
		while (read(c->wake_fd, &count, sizeof(count)) < 0 && errno == EINTR)
			;
	for (unsigned int i = first; i < queries; i++) {
		struct nbd_handle *h = c->nbd_conns[i - first]->h;

		if (fds[i].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL))
			nbd_aio_notify_read(h);
		if (fds[i].revents & POLLOUT)
			nbd_aio_notify_write(h);
	}
	/* Non-blocking: an earlier read of the same eventfd took its count. */
	for (unsigned int i = queries; i < n; i++)
		if (fds[i].revents & POLLIN && read(fds[i].fd, &count, sizeof(count)) < 0) {
			/* EAGAIN: taken already */
		}
	if (c->ops->events)
		c->ops->events(c);
}

/* NBD regions' pieces, beside any engine: libnbd's callbacks put them on
 * c->nbd_done, which core_run() finishes, and nbd_wait() sleeps for them. */
const struct dmio_engine_ops dmio_nbd_engine = {
	.name = "nbd",
	.queue = nbd_queue,
};

void nbd_client_exit(struct dmio_client *c)
{
	free(c->nbd_conns);
	c->nbd_conns = NULL;
	c->nbd_nconns = 0;
}
