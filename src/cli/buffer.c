// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The chunk buffers: one mmap'd area, cut into chunk-sized buffers, each
 * also seen as a page list and as a bvec array, for the three dm-io buffer
 * types that --buffer chooses between; and one more that stays zeroes, for
 * writing zero chunks as data.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "job.h"

#define HUGE_PAGE (2u << 20)

int bufs_init(struct job *j)
{
	size_t chunk = j->chunk << DMIO_SECTOR_SHIFT;
	size_t npages = chunk / DMIO_PAGE_SIZE;
	char *mem;

	/* On huge pages where the kernel allows: pinning a 2 MiB page for
	 * O_DIRECT costs what pinning one 4 KiB page does. */
	unsigned int n = j->nbufs + 1; /* and the zeroes */

	j->area_len = chunk * n + HUGE_PAGE;
	j->area = mmap(NULL, j->area_len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (j->area == MAP_FAILED) {
		j->area = NULL;
		return -errno;
	}
	mem = (char *)(((uintptr_t)j->area + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
	madvise(mem, chunk * n, MADV_HUGEPAGE);
	j->bufs = calloc(n, sizeof(*j->bufs));
	if (!j->bufs)
		return -ENOMEM;
	j->zeroes = &j->bufs[j->nbufs];
	for (unsigned int i = 0; i < n; i++) {
		struct cbuf *b = &j->bufs[i];

		b->mem = mem + i * chunk;
		if (j->o->buffer == BUFFER_PAGES) {
			b->pl = calloc(npages, sizeof(*b->pl));
			if (!b->pl)
				return -ENOMEM;
			for (size_t p = 0; p < npages; p++) {
				b->pl[p].page = b->mem + p * DMIO_PAGE_SIZE;
				b->pl[p].next = p + 1 < npages ? &b->pl[p + 1] : NULL;
			}
		} else if (j->o->buffer == BUFFER_BVEC) {
			b->bv = calloc(npages + 1, sizeof(*b->bv));
			if (!b->bv)
				return -ENOMEM;
			for (size_t p = 0; p < npages; p++)
				b->bv[p] = (struct dmio_bvec){ b->mem + p * DMIO_PAGE_SIZE,
							       DMIO_PAGE_SIZE, 0 };
		}
	}
	return 0;
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
}
