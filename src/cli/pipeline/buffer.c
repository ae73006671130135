// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The chunk buffers: one mmap'd area, cut into chunk-sized buffers, each
 * also seen as a page list and as a bvec array, for the three dm-io buffer
 * types that --buffer chooses between; and the zeroes: a mapping of
 * ZERO_CHUNK_MAX bytes that is never written, so that it costs no memory
 * (its pages are the kernel's zero page), for writing zero chunks as data.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "pipeline/pipeline.h"

#define HUGE_PAGE (2u << 20)

/* b, len bytes at mem, as the buffer type of j wants it: 0 or -ENOMEM. */
static int buf_views(const struct job *j, struct cbuf *b, char *mem, size_t len)
{
	size_t npages = len / DMIO_PAGE_SIZE;

	b->mem = mem;
	if (j->o->buffer == BUFFER_PAGES) {
		b->pl = calloc(npages, sizeof(*b->pl));
		if (!b->pl)
			return -ENOMEM;
		for (size_t p = 0; p < npages; p++) {
			b->pl[p].page = mem + p * DMIO_PAGE_SIZE;
			b->pl[p].next = p + 1 < npages ? &b->pl[p + 1] : NULL;
		}
	} else if (j->o->buffer == BUFFER_BVEC) {
		b->bv = calloc(npages + 1, sizeof(*b->bv));
		if (!b->bv)
			return -ENOMEM;
		for (size_t p = 0; p < npages; p++)
			b->bv[p] = (struct dmio_bvec){ mem + p * DMIO_PAGE_SIZE, DMIO_PAGE_SIZE, 0 };
	}
	return 0;
}

int bufs_init(struct job *j)
{
	size_t chunk = j->chunk << DMIO_SECTOR_SHIFT;
	char *mem;
	int r;

	/* On huge pages where the kernel allows: pinning a 2 MiB page for
	 * O_DIRECT costs what pinning one 4 KiB page does. */
	j->area_len = chunk * j->nbufs + HUGE_PAGE;
	j->area = mmap(NULL, j->area_len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	j->zero_area = mmap(NULL, ZERO_CHUNK_MAX, PROT_READ,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (j->area == MAP_FAILED || j->zero_area == MAP_FAILED) {
		r = -errno;
		if (j->area == MAP_FAILED)
			j->area = NULL;
		if (j->zero_area == MAP_FAILED)
			j->zero_area = NULL;
		return r;
	}
	mem = (char *)(((uintptr_t)j->area + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
	madvise(mem, chunk * j->nbufs, MADV_HUGEPAGE);
	j->bufs = calloc(j->nbufs + 1, sizeof(*j->bufs));
	if (!j->bufs)
		return -ENOMEM;
	for (unsigned int i = 0; i < j->nbufs; i++) {
		r = buf_views(j, &j->bufs[i], mem + i * chunk, chunk);
		if (r)
			return r;
	}
	j->zeroes = &j->bufs[j->nbufs];
	return buf_views(j, j->zeroes, j->zero_area, ZERO_CHUNK_MAX);
}

void bufs_free(struct job *j)
{
	for (unsigned int i = 0; j->bufs && i <= j->nbufs; i++) {
		free(j->bufs[i].pl);
		free(j->bufs[i].bv);
	}
	free(j->bufs);
	if (j->area)
		munmap(j->area, j->area_len);
	if (j->zero_area)
		munmap(j->zero_area, ZERO_CHUNK_MAX);
}
