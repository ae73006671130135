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
#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "nbd-internal.h"

#define DEFAULT_CONNECTIONS 4 /* as nbdcopy */
/* The connections after the first have as long as the first took, this
 * many times over, and at least MORE_CONNECT_MS: a server may allow
 * multi-conn and yet take fewer clients than asked for, refusing the rest
 * or leaving them waiting (qemu-nbd --shared=N queues them); dmio goes on
 * with those it took. */
#define MORE_CONNECT_TIMES 10
#define MORE_CONNECT_MS 1000

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct dmio_nbd *registry;
__thread char nbd_error_text[512];

const char *dmio_nbd_error(void)
{
	return nbd_error_text;
}

/* Say why libnbd failed; its errno, negated. */
int nbd_failed(void)
{
	int e = nbd_get_errno();

	snprintf(nbd_error_text, sizeof(nbd_error_text), "%s", nbd_get_error() ? nbd_get_error() : "");
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
 * first: open_first()).  NULL, *err and nbd_error_text when it cannot be. */
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
 * first failure is in *err and nbd_error_text (when err is not NULL).  0; or
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
						snprintf(nbd_error_text, sizeof(nbd_error_text),
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
	/* Those that failed said why in nbd_error_text: the first worked. */
	nbd_error_text[0] = 0;
	for (unsigned int i = 1; i < n; i++)
		if (h[i])
			h[k++] = h[i];
	return (int)k;
}

/* The first connection of an export at uri, in *h; with list, the meta
 * contexts the server offers in contexts (","-separated), asked before
 * the export is chosen, on this connection (a server may take one client
 * only).  0 or -errno, said in nbd_error_text. */
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
 * in nbd_error_text).  The dirty bitmap dirty_ctx names must be there. */
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
		snprintf(nbd_error_text, sizeof(nbd_error_text),
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

	nbd_error_text[0] = 0;
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
