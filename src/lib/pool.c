// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The client's pool, as dm-io's mempools: the pieces (requests with their
 * iocb and iovec, one per queue slot) are made once; the bounce pages, which
 * carry I/O whose memory an O_DIRECT fd cannot take as it is, number
 * base + reserved, where dmio_get()/dmio_put() move "reserved".  I/O takes
 * pages from the pool and never allocates.
 */
#include <errno.h>
#include <stdlib.h>

#include "dmio-internal.h"

static void free_piece(struct dmio_piece *p)
{
	free(p->iovs);
	free(p->bounce_pages);
	free(p);
}

static struct dmio_piece *alloc_piece(unsigned int max_iov)
{
	struct dmio_piece *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->iovs = calloc(max_iov, sizeof(*p->iovs));
	p->bounce_pages = calloc(max_iov, sizeof(*p->bounce_pages));
	if (!p->iovs || !p->bounce_pages) {
		free_piece(p);
		return NULL;
	}
	return p;
}

/* Free free pages while the pool holds more than it should.  Locked. */
static void trim_pages(struct dmio_pool *pool)
{
	while (pool->npages > pool->base + pool->reserved && pool->nfree) {
		free(pool->pages[--pool->nfree]);
		pool->npages--;
	}
}

/* Grow the pool to base + reserved pages.  Locked. */
static int fill_pages(struct dmio_pool *pool)
{
	unsigned int want = pool->base + pool->reserved;

	if (want > pool->cap) {
		char **pages = realloc(pool->pages, want * sizeof(*pages));

		if (!pages)
			return -ENOMEM;
		pool->pages = pages;
		pool->cap = want;
	}
	while (pool->npages < want) {
		char *page = aligned_alloc(DMIO_PAGE_SIZE, DMIO_PAGE_SIZE);

		if (!page)
			return -ENOMEM;
		pool->pages[pool->nfree++] = page;
		pool->npages++;
		pool->page_allocs++;
	}
	return 0;
}

int pool_init(struct dmio_pool *pool, unsigned int npieces,
	      unsigned int max_iov, unsigned int base_pages)
{
	int r;

	*pool = (struct dmio_pool){ .max_iov = max_iov, .base = base_pages };
	pthread_mutex_init(&pool->lock, NULL);
	for (unsigned int i = 0; i < npieces; i++) {
		struct dmio_piece *p = alloc_piece(max_iov);

		if (!p) {
			pool_exit(pool);
			return -ENOMEM;
		}
		p->next = pool->free_pieces;
		pool->free_pieces = p;
		pool->npieces++;
	}
	r = fill_pages(pool);
	if (r)
		pool_exit(pool);
	return r;
}

void pool_exit(struct dmio_pool *pool)
{
	while (pool->free_pieces) {
		struct dmio_piece *p = pool->free_pieces;

		pool->free_pieces = p->next;
		free_piece(p);
	}
	while (pool->nfree)
		free(pool->pages[--pool->nfree]);
	free(pool->pages);
	pthread_mutex_destroy(&pool->lock);
}

int pool_get(struct dmio_pool *pool, unsigned int n)
{
	int r;

	pthread_mutex_lock(&pool->lock);
	if (pool->reserved + n < pool->reserved) {
		r = -EOVERFLOW;
	} else {
		pool->reserved += n;
		r = fill_pages(pool);
		if (r) {
			pool->reserved -= n;
			trim_pages(pool);
		}
	}
	pthread_mutex_unlock(&pool->lock);
	return r;
}

void pool_put(struct dmio_pool *pool, unsigned int n)
{
	pthread_mutex_lock(&pool->lock);
	/* An unbalanced put gives back what there is and no more. */
	pool->reserved -= n < pool->reserved ? n : pool->reserved;
	trim_pages(pool);
	pthread_mutex_unlock(&pool->lock);
}

struct dmio_piece *pool_piece(struct dmio_pool *pool)
{
	struct dmio_piece *p = pool->free_pieces;

	if (p)
		pool->free_pieces = p->next;
	return p;
}

void pool_piece_free(struct dmio_pool *pool, struct dmio_piece *p)
{
	p->next = pool->free_pieces;
	pool->free_pieces = p;
}

unsigned int pool_take_pages(struct dmio_pool *pool, char **pages,
			     unsigned int n)
{
	unsigned int i;

	pthread_mutex_lock(&pool->lock);
	for (i = 0; i < n && pool->nfree; i++)
		pages[i] = pool->pages[--pool->nfree];
	pthread_mutex_unlock(&pool->lock);
	return i;
}

void pool_give_pages(struct dmio_pool *pool, char **pages, unsigned int n)
{
	pthread_mutex_lock(&pool->lock);
	while (n)
		pool->pages[pool->nfree++] = pages[--n];
	trim_pages(pool);
	pthread_mutex_unlock(&pool->lock);
}
