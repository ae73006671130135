// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The three buffer types of dm-io behind one walker, as the kernel's dpages:
 * the I/O path only calls get_page()/next_page(), and a region is restarted
 * by copying the walker saved at the start of the buffer.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "dmio-internal.h"

/* ---- page lists: DMIO_PAGE_SIZE pages, the first entered at an offset ---- */

static void list_get_page(struct dpages *dp, char **addr, size_t *len)
{
	*addr = (char *)dp->ptr.pl->page + dp->offset;
	*len = DMIO_PAGE_SIZE - dp->offset;
}

static void list_next_page(struct dpages *dp, size_t n)
{
	dp->offset += n;
	if (dp->offset == DMIO_PAGE_SIZE) {
		dp->ptr.pl = dp->ptr.pl->next;
		dp->offset = 0;
	}
}

static int list_dp_init(struct dpages *dp, struct dmio_page_list *pl,
			unsigned int offset, uint64_t len)
{
	if (offset >= DMIO_PAGE_SIZE)
		return -EINVAL;
	dp->get_page = list_get_page;
	dp->next_page = list_next_page;
	dp->ptr.pl = pl;
	dp->offset = offset;
	/* Every page the call needs must be there. */
	for (uint64_t have = 0; have < len + offset; have += DMIO_PAGE_SIZE) {
		if (!pl || !pl->page)
			return -EINVAL;
		pl = pl->next;
	}
	return 0;
}

/* ---- bvec arrays: consumed in order; page == NULL ends the array ---- */

/* Entries are only looked at when their bytes are needed, so an array
 * that ends exactly where the region does is never read past. */
static void bvec_get_page(struct dpages *dp, char **addr, size_t *len)
{
	while (dp->offset == dp->ptr.bvec->len) {
		dp->ptr.bvec++;
		dp->offset = 0;
	}
	*addr = (char *)dp->ptr.bvec->page + dp->ptr.bvec->offset + dp->offset;
	*len = dp->ptr.bvec->len - dp->offset;
}

static void bvec_next_page(struct dpages *dp, size_t n)
{
	dp->offset += n;
}

static int bvec_dp_init(struct dpages *dp, struct dmio_bvec *bvec, uint64_t len)
{
	uint64_t have = 0;

	if (!bvec)
		return -EINVAL;
	dp->get_page = bvec_get_page;
	dp->next_page = bvec_next_page;
	dp->ptr.bvec = bvec;
	dp->offset = 0;
	for (const struct dmio_bvec *bv = bvec; have < len; bv++) {
		if (!bv->page)
			return -EINVAL;
		have += bv->len;
	}
	return 0;
}

/* ---- vm: one virtually contiguous buffer ---- */

static void vm_get_page(struct dpages *dp, char **addr, size_t *len)
{
	*addr = dp->ptr.vma;
	*len = SIZE_MAX / 2; /* contiguous: the region bounds it */
}

static void vm_next_page(struct dpages *dp, size_t n)
{
	dp->ptr.vma += n;
}

static int vm_dp_init(struct dpages *dp, void *data)
{
	if (!data)
		return -EINVAL;
	dp->get_page = vm_get_page;
	dp->next_page = vm_next_page;
	dp->ptr.vma = data;
	dp->offset = 0;
	return 0;
}

int dp_init(struct dpages *dp, const struct dmio_request *req, uint64_t len)
{
	switch (req->mem_type) {
	case DMIO_MEM_PAGE_LIST:
		return list_dp_init(dp, req->mem.pl, req->offset, len);
	case DMIO_MEM_BVEC:
		return bvec_dp_init(dp, req->mem.bvec, len);
	case DMIO_MEM_VM:
		return vm_dp_init(dp, req->mem.vma);
	}
	return -EINVAL;
}

/* ---- moving through the memory without I/O: bounce copies, zero-fill ---- */

/* Call fn on each contiguous part of the next n bytes, advancing dp. */
static void dp_each(struct dpages *dp, size_t n,
		    void (*fn)(char *addr, size_t len, char **buf), char **buf)
{
	while (n) {
		char *addr;
		size_t len;

		dp->get_page(dp, &addr, &len);
		if (len > n)
			len = n;
		if (fn)
			fn(addr, len, buf);
		dp->next_page(dp, len);
		n -= len;
	}
}

static void copy_out(char *addr, size_t len, char **buf)
{
	memcpy(*buf, addr, len);
	*buf += len;
}

static void copy_in(char *addr, size_t len, char **buf)
{
	memcpy(addr, *buf, len);
	*buf += len;
}

static void zero(char *addr, size_t len, char **buf)
{
	(void)buf;
	memset(addr, 0, len);
}

void dp_advance(struct dpages *dp, size_t n)
{
	dp_each(dp, n, NULL, NULL);
}

void dp_copy_out(struct dpages *dp, char *buf, size_t n)
{
	dp_each(dp, n, copy_out, &buf);
}

void dp_copy_in(struct dpages *dp, const char *buf, size_t n)
{
	dp_each(dp, n, copy_in, (char **)&buf);
}

void dp_zero(struct dpages *dp, size_t n)
{
	dp_each(dp, n, zero, NULL);
}
