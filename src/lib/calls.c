// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The seed's six calls, sync and async for each buffer type: one-line
 * wrappers of dmio_submit() (core.c).
 */
#include <errno.h>

#include "dmio-internal.h"

static int call(unsigned int num_regions, struct dmio_region *where, int rw,
		struct dmio_request *req, dmio_notify_fn fn, void *context,
		unsigned long *error_bits)
{
	req->rw = rw;
	req->fn = fn;
	req->context = context;
	return dmio_submit(req, num_regions, where, error_bits);
}

static int async_call(unsigned int num_regions, struct dmio_region *where,
		      int rw, struct dmio_request *req, dmio_notify_fn fn,
		      void *context)
{
	if (!fn)
		return -EINVAL;
	return call(num_regions, where, rw, req, fn, context, NULL);
}

int dmio_sync(unsigned int num_regions, struct dmio_region *where, int rw,
	      struct dmio_page_list *pl, unsigned int offset,
	      unsigned long *error_bits)
{
	struct dmio_request req = { .mem_type = DMIO_MEM_PAGE_LIST,
				    .offset = offset, .mem.pl = pl };
	return call(num_regions, where, rw, &req, NULL, NULL, error_bits);
}

int dmio_async(unsigned int num_regions, struct dmio_region *where, int rw,
	       struct dmio_page_list *pl, unsigned int offset,
	       dmio_notify_fn fn, void *context)
{
	struct dmio_request req = { .mem_type = DMIO_MEM_PAGE_LIST,
				    .offset = offset, .mem.pl = pl };
	return async_call(num_regions, where, rw, &req, fn, context);
}

int dmio_sync_bvec(unsigned int num_regions, struct dmio_region *where, int rw,
		   struct dmio_bvec *bvec, unsigned long *error_bits)
{
	struct dmio_request req = { .mem_type = DMIO_MEM_BVEC, .mem.bvec = bvec };
	return call(num_regions, where, rw, &req, NULL, NULL, error_bits);
}

int dmio_async_bvec(unsigned int num_regions, struct dmio_region *where,
		    int rw, struct dmio_bvec *bvec, dmio_notify_fn fn,
		    void *context)
{
	struct dmio_request req = { .mem_type = DMIO_MEM_BVEC, .mem.bvec = bvec };
	return async_call(num_regions, where, rw, &req, fn, context);
}

int dmio_sync_vm(unsigned int num_regions, struct dmio_region *where, int rw,
		 void *data, unsigned long *error_bits)
{
	struct dmio_request req = { .mem_type = DMIO_MEM_VM, .mem.vma = data };
	return call(num_regions, where, rw, &req, NULL, NULL, error_bits);
}

int dmio_async_vm(unsigned int num_regions, struct dmio_region *where, int rw,
		  void *data, dmio_notify_fn fn, void *context)
{
	struct dmio_request req = { .mem_type = DMIO_MEM_VM, .mem.vma = data };
	return async_call(num_regions, where, rw, &req, fn, context);
}
