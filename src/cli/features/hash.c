// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Digests while the data goes by (see hash.h).  The main thread pushes
 * (stream, buffer, length) in order; the hasher's thread takes them one by
 * one, feeds every algorithm of the stream (and of its current window),
 * counts the ticket done and, when the main thread waits for it, writes
 * its eventfd; the main thread may then reuse the buffer.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "features/hash.h"

#define ZEROES_LEN (1u << 20)	/* fed again and again for a run of zeroes */
#define HASH_QUEUE 256u		/* chunks waiting to be hashed, at most */

static const struct {
	const char *name, *tag, *evp;	/* evp NULL: xxh128 */
	unsigned int hex;
} algs[HASH_COUNT] = {
	[HASH_MD5] = { "md5", "MD5", "MD5", 32 },
	[HASH_SHA1] = { "sha1", "SHA1", "SHA1", 40 },
	[HASH_SHA256] = { "sha256", "SHA256", "SHA256", 64 },
	[HASH_SHA512] = { "sha512", "SHA512", "SHA512", 128 },
	[HASH_SHA3_256] = { "sha3-256", "SHA3-256", "SHA3-256", 64 },
	[HASH_BLAKE2B_512] = { "blake2b-512", "BLAKE2b", "BLAKE2B-512", 128 },
	[HASH_XXH128] = { "xxh128", "XXH128", NULL, 32 },
};

const char *hash_name(enum hash_alg a)
{
	return algs[a].name;
}

const char *hash_tag(enum hash_alg a)
{
	return algs[a].tag;
}

unsigned int hash_hex_len(enum hash_alg a)
{
	return algs[a].hex;
}

enum hash_alg hash_lookup(const char *name)
{
	unsigned int a;

	for (a = 0; a < HASH_COUNT; a++)
		if (!strcmp(name, algs[a].name) || !strcmp(name, algs[a].tag))
			break;
	return (enum hash_alg)a;
}

const char *hash_parse(const char *list, unsigned int *mask, char *bad, size_t len)
{
	const char *p = list;

	*mask = 0;
	do {
		size_t n = strcspn(p, ",");
		unsigned int a;

		for (a = 0; a < HASH_COUNT; a++)
			if (n == strlen(algs[a].name) && !strncmp(p, algs[a].name, n))
				break;
		if (a == HASH_COUNT) {
			snprintf(bad, len, "%.*s", (int)n, p);
			return bad;
		}
		*mask |= 1u << a;
		p += n;
	} while (*p++ == ',');
	return NULL;
}

/* ---- one set of running digests ---- */

struct digests {
	EVP_MD_CTX *md[HASH_COUNT];
	XXH3_state_t *xxh;
};

static int digests_start(struct digests *d, unsigned int mask, EVP_MD *const *md)
{
	for (unsigned int a = 0; a < HASH_COUNT; a++) {
		if (!(mask & 1u << a))
			continue;
		if (a == HASH_XXH128) {
			if ((!d->xxh && !(d->xxh = XXH3_createState())) ||
			    XXH3_128bits_reset(d->xxh) != XXH_OK)
				return -ENOMEM;
		} else if ((!d->md[a] && !(d->md[a] = EVP_MD_CTX_new())) ||
			   !EVP_DigestInit_ex(d->md[a], md[a], NULL)) {
			return -ENOMEM;
		}
	}
	return 0;
}

static void digests_update(struct digests *d, unsigned int mask, const void *buf, size_t len)
{
	for (unsigned int a = 0; a < HASH_COUNT; a++) {
		if (!(mask & 1u << a))
			continue;
		if (a == HASH_XXH128)
			XXH3_128bits_update(d->xxh, buf, len);
		else
			EVP_DigestUpdate(d->md[a], buf, len);
	}
}

static void to_hex(const unsigned char *b, unsigned int n, char *hex)
{
	for (unsigned int i = 0; i < n; i++)
		sprintf(hex + 2 * i, "%02x", b[i]);
}

/* The hex digests into hex[k], k counting the algorithms of the mask. */
static void digests_end(struct digests *d, unsigned int mask, char (*hex)[HASH_HEX_MAX])
{
	unsigned int k = 0;

	for (unsigned int a = 0; a < HASH_COUNT; a++) {
		unsigned char b[EVP_MAX_MD_SIZE];
		unsigned int n = 0;

		if (!(mask & 1u << a))
			continue;
		if (a == HASH_XXH128) {
			XXH128_canonical_t c;

			XXH128_canonicalFromHash(&c, XXH3_128bits_digest(d->xxh));
			to_hex(c.digest, sizeof(c.digest), hex[k++]);
		} else {
			EVP_DigestFinal_ex(d->md[a], b, &n);
			to_hex(b, n, hex[k++]);
		}
	}
}

static void digests_free(struct digests *d)
{
	for (unsigned int a = 0; a < HASH_COUNT; a++)
		EVP_MD_CTX_free(d->md[a]);
	XXH3_freeState(d->xxh);
}

/* ---- streams and the thread ---- */

struct stream {
	struct digests all, win;
	uint64_t bytes, in_window;	/* fed; of which in the current window */
	char hex[HASH_COUNT][HASH_HEX_MAX];
	uint64_t nwindows;		/* completed */
	struct hash_window *kept;	/* the first of them, up to the hasher's keep */
	unsigned int nkept, kept_cap;
	char scratch[HASH_COUNT][HASH_HEX_MAX]; /* a window's digests, not kept */
};

struct item {
	unsigned int stream;
	const void *buf;
	uint64_t len;
};

struct hasher {
	unsigned int mask, nalgs, nstreams;
	uint64_t window;
	struct hash_windowing win;
	EVP_MD *md[HASH_COUNT];
	struct stream *streams;
	char *zeroes;
	int wake_fd, err;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct item q[HASH_QUEUE];	/* a ring, under lock */
	unsigned int head, count;
	bool threaded;			/* the thread runs */
	bool stop, finished;
	uint64_t pushed;		/* the main thread's */
	uint64_t done;			/* atomic */
	uint64_t want;			/* atomic: the ticket the main thread waits for */
};

/* A place for the next window of s: kept while fewer than keep are, else
 * the stream's scratch.  NULL when out of memory. */
static struct hash_window *window_slot(struct hasher *h, struct stream *s,
				       struct hash_window *scratch)
{
	struct hash_window *w;

	if (s->nkept == h->win.keep) {
		scratch->hex = s->scratch;
		return scratch;
	}
	if (s->nkept == s->kept_cap) {
		unsigned int cap = s->kept_cap ? 2 * s->kept_cap : 64;
		struct hash_window *nw;

		if (cap > h->win.keep)
			cap = h->win.keep;
		nw = realloc(s->kept, cap * sizeof(*nw));
		if (!nw)
			return NULL;
		s->kept = nw;
		s->kept_cap = cap;
	}
	w = &s->kept[s->nkept];
	w->hex = calloc(h->nalgs, sizeof(*w->hex));
	if (!w->hex)
		return NULL;
	s->nkept++;
	return w;
}

/* Close the current window of s (stream i), and give it to win.done. */
static void window_end(struct hasher *h, unsigned int i)
{
	struct stream *s = &h->streams[i];
	struct hash_window scratch, *w = window_slot(h, s, &scratch);

	if (!w) {
		h->err = -ENOMEM;
		return;
	}
	w->offset = s->bytes - s->in_window;
	w->length = s->in_window;
	digests_end(&s->win, h->mask, w->hex);
	s->nwindows++;
	s->in_window = 0;
	if (h->win.done)
		h->win.done(h->win.ctx, h, i, w);
	if (digests_start(&s->win, h->mask, h->md))
		h->err = -ENOMEM;
}

static void feed(struct hasher *h, unsigned int i, const char *buf, uint64_t len)
{
	struct stream *s = &h->streams[i];

	while (len && !h->err) {
		size_t n = len < ZEROES_LEN ? (size_t)len : ZEROES_LEN;
		const char *p = buf ? buf : h->zeroes;

		if (h->window && n > h->window - s->in_window)
			n = (size_t)(h->window - s->in_window);
		digests_update(&s->all, h->mask, p, n);
		if (h->window)
			digests_update(&s->win, h->mask, p, n);
		s->bytes += n;
		s->in_window += n;
		if (h->window && s->in_window == h->window)
			window_end(h, i);
		if (buf)
			buf += n;
		len -= n;
	}
}

static void *hasher_thread(void *arg)
{
	struct hasher *h = arg;
	uint64_t one = 1, done, want;

	pthread_mutex_lock(&h->lock);
	for (;;) {
		struct item it;

		while (!h->count && !h->stop)
			pthread_cond_wait(&h->cond, &h->lock);
		if (!h->count)
			break;
		it = h->q[h->head];
		pthread_mutex_unlock(&h->lock);
		feed(h, it.stream, it.buf, it.len);
		done = __atomic_add_fetch(&h->done, 1, __ATOMIC_SEQ_CST);
		/* Wake the main thread only when it waits for this ticket. */
		want = __atomic_load_n(&h->want, __ATOMIC_SEQ_CST);
		if (want && done >= want &&
		    __atomic_compare_exchange_n(&h->want, &want, 0, false, __ATOMIC_SEQ_CST,
						__ATOMIC_SEQ_CST) &&
		    write(h->wake_fd, &one, sizeof(one)) < 0) {
			/* an eventfd write fails only on overflow */
		}
		pthread_mutex_lock(&h->lock);
		h->head = (h->head + 1) % HASH_QUEUE;
		h->count--;
		pthread_cond_broadcast(&h->cond); /* room for a push */
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

struct hasher *hasher_new(unsigned int mask, const struct hash_windowing *win,
			  unsigned int nstreams, int wake_fd)
{
	struct hasher *h = calloc(1, sizeof(*h));
	uint64_t window = win ? win->size : 0;
	sigset_t all, old;
	int err = -ENOMEM;

	if (!h)
		return NULL;
	h->mask = mask;
	h->window = window;
	if (win)
		h->win = *win;
	h->nstreams = nstreams;
	h->wake_fd = wake_fd;
	h->streams = calloc(nstreams, sizeof(*h->streams));
	h->zeroes = calloc(1, ZEROES_LEN);
	if (!h->streams || !h->zeroes)
		goto fail;
	for (unsigned int a = 0; a < HASH_COUNT; a++) {
		if (!(mask & 1u << a))
			continue;
		h->nalgs++;
		if (algs[a].evp && !(h->md[a] = EVP_MD_fetch(NULL, algs[a].evp, NULL))) {
			err = -ENOSYS;
			goto fail;
		}
	}
	for (unsigned int i = 0; i < nstreams; i++)
		if (digests_start(&h->streams[i].all, mask, h->md) ||
		    (window && digests_start(&h->streams[i].win, mask, h->md)))
			goto fail;
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->cond, NULL);
	/* Signals are the main thread's, which waits in poll() for them. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = -pthread_create(&h->thread, NULL, hasher_thread, h);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!err) {
		h->threaded = true;
		return h;
	}
	pthread_mutex_destroy(&h->lock);
	pthread_cond_destroy(&h->cond);
fail:
	h->finished = true; /* nothing to finish */
	hasher_free(h);
	errno = -err;
	return NULL;
}

uint64_t hasher_push(struct hasher *h, unsigned int i, const void *buf, uint64_t len)
{
	pthread_mutex_lock(&h->lock);
	while (h->count == HASH_QUEUE)
		pthread_cond_wait(&h->cond, &h->lock);
	h->q[(h->head + h->count++) % HASH_QUEUE] = (struct item){ i, buf, len };
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->lock);
	return ++h->pushed;
}

uint64_t hasher_done(struct hasher *h)
{
	return __atomic_load_n(&h->done, __ATOMIC_SEQ_CST);
}

void hasher_want(struct hasher *h, uint64_t ticket)
{
	__atomic_store_n(&h->want, ticket, __ATOMIC_SEQ_CST);
}

void hasher_finish(struct hasher *h)
{
	if (h->finished)
		return;
	if (h->threaded) {
		pthread_mutex_lock(&h->lock);
		h->stop = true;
		pthread_cond_broadcast(&h->cond);
		pthread_mutex_unlock(&h->lock);
		pthread_join(h->thread, NULL);
	}
	h->finished = true;
	for (unsigned int i = 0; i < h->nstreams; i++) {
		struct stream *s = &h->streams[i];
		char hex[HASH_COUNT][HASH_HEX_MAX];
		unsigned int k = 0;

		if (h->window && s->in_window)
			window_end(h, i);
		digests_end(&s->all, h->mask, hex);
		for (unsigned int a = 0; a < HASH_COUNT; a++)
			if (h->mask & 1u << a)
				memcpy(s->hex[a], hex[k++], HASH_HEX_MAX);
	}
}

const char *hash_window_hex(const struct hasher *h, const struct hash_window *w,
			    enum hash_alg a)
{
	unsigned int k = 0;

	if (!(h->mask & 1u << a))
		return NULL;
	for (unsigned int b = 0; b < a; b++)
		k += !!(h->mask & 1u << b);
	return w->hex[k];
}

uint64_t hasher_bytes(const struct hasher *h, unsigned int i)
{
	return h->streams[i].bytes;
}

const char *hasher_hex(const struct hasher *h, unsigned int i, enum hash_alg a)
{
	return h->mask & 1u << a && !h->err ? h->streams[i].hex[a] : NULL;
}

const struct hash_window *hasher_windows(const struct hasher *h, unsigned int i,
					 unsigned int *n)
{
	*n = h->err ? 0 : h->streams[i].nkept;
	return h->streams[i].kept;
}

uint64_t hasher_windows_total(const struct hasher *h, unsigned int i)
{
	return h->err ? 0 : h->streams[i].nwindows;
}

void hasher_free(struct hasher *h)
{
	if (!h)
		return;
	hasher_finish(h);
	for (unsigned int i = 0; h->streams && i < h->nstreams; i++) {
		struct stream *s = &h->streams[i];

		digests_free(&s->all);
		digests_free(&s->win);
		for (unsigned int k = 0; k < s->nkept; k++)
			free(s->kept[k].hex);
		free(s->kept);
	}
	for (unsigned int a = 0; a < HASH_COUNT; a++)
		EVP_MD_free(h->md[a]);
	if (h->threaded) {
		pthread_mutex_destroy(&h->lock);
		pthread_cond_destroy(&h->cond);
	}
	free(h->streams);
	free(h->zeroes);
	free(h);
}
