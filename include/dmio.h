/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dmio.h - the Linux kernel's dm-io service in userspace.
 *
 * The seed API (Documentation/admin-guide/device-mapper/dm-io.rst) with a
 * dmio_ prefix: a block device becomes an open file descriptor, a struct page
 * becomes a DMIO_PAGE_SIZE-sized, DMIO_PAGE_SIZE-aligned piece of memory.
 * Beyond the seed, an explicit client (as the kernel's dm_io_client) chooses
 * the engine and queue depth, and dmio_submit() is the one request call that
 * the six service calls wrap.  See libdmio(3).
 */
#ifndef DMIO_H
#define DMIO_H

#include <limits.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DMIO_SECTOR_SHIFT 9 /* a sector is 512 bytes, always */
#define DMIO_SECTOR_SIZE (1u << DMIO_SECTOR_SHIFT)
#define DMIO_PAGE_SIZE 4096u /* the size of a "page" in this API */
#define DMIO_MAX_REGIONS (sizeof(unsigned long) * CHAR_BIT)

/* The client's limits (dmio_client_create). */
#define DMIO_MAX_QUEUE_DEPTH 4096u	   /* requests in flight */
#define DMIO_DEFAULT_MAX_IO (1u << 20)	   /* bytes per request, by default */
#define DMIO_MAX_IO_LIMIT (64u << 20)	   /* bytes per request, at most */

/*
 * What a call does, as the kernel's dm-io requests do (REQ_OP_*):
 * DMIO_WRITE_ZEROES makes every region read back as zeroes, and may
 * deallocate it (a file: a hole) unless DMIO_NOUNMAP is or-ed in (a file:
 * its blocks stay allocated, as FALLOC_FL_ZERO_RANGE; a block device:
 * BLKZEROOUT).  DMIO_DISCARD gives the regions back to the device
 * (BLKDISCARD; a file: a hole).  DMIO_FLUSH makes durable what completed
 * writes put on each region's file, device or export (fdatasync;
 * NBD_CMD_FLUSH), as an empty REQ_PREFLUSH bio does; its regions' sector
 * and count are not used.  None of them takes a buffer.  A region whose
 * file or device cannot do it fails alone with EOPNOTSUPP in its result.
 * Write-zeroes, discard and a local flush run on the client's completion
 * thread, one region after the other.
 */
enum { DMIO_READ = 0, DMIO_WRITE = 1, DMIO_WRITE_ZEROES = 2, DMIO_DISCARD = 3, DMIO_FLUSH = 4 };
#define DMIO_NOUNMAP 0x100 /* with DMIO_WRITE_ZEROES: keep the blocks (REQ_NOUNMAP) */

/* Where the I/O goes: sectors [sector, sector + count) of an open fd. */
struct dmio_region {
	int fd;
	uint64_t sector;
	uint64_t count;
};

/* A chain of pages; only the first is entered at an offset. */
struct dmio_page_list {
	struct dmio_page_list *next;
	void *page; /* DMIO_PAGE_SIZE bytes, DMIO_PAGE_SIZE-aligned */
};

/* One piece of memory: len bytes at page + offset.  An array of these is
 * consumed in order for as many bytes as a region needs; an entry whose
 * page is NULL ends the array (reaching it is -EINVAL). */
struct dmio_bvec {
	void *page;
	unsigned int len;
	unsigned int offset;
};

/* error: bit i set <=> where[i] failed. */
typedef void (*dmio_notify_fn)(unsigned long error, void *context);

/*
 * The seed's calls, on the default client (engine from $DMIO_ENGINE, "aio"
 * when unset; queue depth from $DMIO_QUEUE_DEPTH).  Sync calls return 0, -EIO
 * when a bit is set in *error_bits, or a negative errno for invalid arguments
 * with nothing submitted.  Async calls return 0 and later run fn exactly once,
 * on the client's completion thread, after every region completed; or return
 * a negative errno at once and never run fn.
 */
int dmio_get(unsigned int num_pages);
void dmio_put(unsigned int num_pages);

int dmio_sync(unsigned int num_regions, struct dmio_region *where, int rw,
	      struct dmio_page_list *pl, unsigned int offset,
	      unsigned long *error_bits);
int dmio_async(unsigned int num_regions, struct dmio_region *where, int rw,
	       struct dmio_page_list *pl, unsigned int offset,
	       dmio_notify_fn fn, void *context);
int dmio_sync_bvec(unsigned int num_regions, struct dmio_region *where, int rw,
		   struct dmio_bvec *bvec, unsigned long *error_bits);
int dmio_async_bvec(unsigned int num_regions, struct dmio_region *where,
		    int rw, struct dmio_bvec *bvec, dmio_notify_fn fn,
		    void *context);
int dmio_sync_vm(unsigned int num_regions, struct dmio_region *where, int rw,
		 void *data, unsigned long *error_bits);
int dmio_async_vm(unsigned int num_regions, struct dmio_region *where, int rw,
		  void *data, dmio_notify_fn fn, void *context);

/* ---- Beyond the seed: clients and the one request call ---- */

struct dmio_client;

/*
 * engine: "aio" (libaio), "uring" (io_uring, through liburing) or "sync"
 * (preadv/pwritev); NULL for "aio".
 * queue_depth: requests in flight, 0 for the default (32; 1 for sync), at
 * most DMIO_MAX_QUEUE_DEPTH.
 * max_io: the largest single request in bytes, 0 for DMIO_DEFAULT_MAX_IO;
 * a multiple of DMIO_PAGE_SIZE up to DMIO_MAX_IO_LIMIT.  Returns NULL with
 * errno set on failure.
 */
struct dmio_client *dmio_client_create(const char *engine,
				       unsigned int queue_depth,
				       unsigned int max_io);
/* Waits for the client's I/O to complete, then frees it. */
void dmio_client_destroy(struct dmio_client *client);
int dmio_client_get(struct dmio_client *client, unsigned int num_pages);
void dmio_client_put(struct dmio_client *client, unsigned int num_pages);
/* The client the seed calls use, created on first use; NULL and errno
 * when it cannot be created. */
struct dmio_client *dmio_default_client(void);

struct dmio_stats {
	const char *engine;
	unsigned int queue_depth;
	unsigned int max_io;
	unsigned int reserved_pages; /* the sum of get less the sum of put */
	unsigned int pool_pages;     /* bounce pages the pool holds */
	unsigned int free_pages;     /* of which not in use */
	unsigned long long page_allocs; /* pages allocated, ever */
	unsigned long long requests;    /* engine requests issued, ever */
	unsigned long long bounced;     /* of which through bounce pages */
};
int dmio_client_stats(struct dmio_client *client, struct dmio_stats *stats);

enum dmio_mem_type { DMIO_MEM_PAGE_LIST, DMIO_MEM_BVEC, DMIO_MEM_VM };

/* Per region detail: the first error seen and the sector where the failed
 * request began (the exact failing sector lies within max_io of it).
 * ENODATA: the end of the file or device came before the region's. */
struct dmio_result {
	int error; /* 0 or a positive errno */
	uint64_t error_sector;
};

struct dmio_request {
	int rw;				/* DMIO_READ, DMIO_WRITE, ... (above) */
	enum dmio_mem_type mem_type;
	unsigned int offset;		/* into the first page: page lists only */
	union {
		struct dmio_page_list *pl;
		struct dmio_bvec *bvec;
		void *vma;
	} mem;
	dmio_notify_fn fn;		/* NULL: synchronous */
	void *context;
	struct dmio_client *client;	/* NULL: the default client */
	struct dmio_result *results;	/* NULL, or num_regions entries */
};

/*
 * The one entry point.  Synchronous when req->fn is NULL (then error_bits,
 * if not NULL, receives the bitset), else asynchronous.  Calling it
 * synchronously from a completion callback returns -EDEADLK.
 */
int dmio_submit(const struct dmio_request *req, unsigned int num_regions,
		const struct dmio_region *where, unsigned long *error_bits);

/* ---- Network block devices (libnbd) ---- */

/*
 * An NBD export is opened by URI (nbd://, nbds://, nbd+unix://,
 * nbds+unix://) into a handle: a file descriptor that names it in
 * struct dmio_region.fd, beside local regions in the same call, and in the
 * calls below (it is nothing else to use: no read, write or close).  The
 * client's completion thread drives its connections.
 */
struct dmio_nbd_params {
	unsigned int size;		/* sizeof(struct dmio_nbd_params); 0 is refused */
	unsigned int connections;	/* 0: 4; more than 1 where the server allows multi-conn
					 * (and takes that many clients);
					 * at most DMIO_NBD_MAX_CONNECTIONS */
	const char *tls_psk_file;	/* NULL, or TLS with the PSK in this file */
	const char *tls_certificates;	/* NULL, or TLS with the X.509 files in this directory */
	/* Beyond the first size (a caller built with an older dmio.h passes a
	 * size that leaves it out: 0): */
	int cancel_fd;			/* > 0: dmio_nbd_open() fails with -EINTR once this fd
					 * is readable (an eventfd a signal handler writes);
					 * 0 or less: none */
	const char *dirty_bitmap;	/* NULL, or the dirty bitmap NAME the export must offer
					 * (qemu:dirty-bitmap:NAME, as qemu-nbd -B gives it):
					 * dmio_nbd_dirty() reads it; -ENOENT, and
					 * dmio_nbd_error() says what it offers, when it does
					 * not */
	int list_contexts;		/* > 0: ask the server what meta contexts it offers,
					 * for dmio_nbd_contexts() (with no TLS where the
					 * server requires it, the refusal then says less) */
};

#define DMIO_NBD_MAX_CONNECTIONS 16

#define DMIO_NBD_READ_ONLY 0x01
#define DMIO_NBD_CAN_FLUSH 0x02
#define DMIO_NBD_CAN_ZERO 0x04
#define DMIO_NBD_CAN_TRIM 0x08
#define DMIO_NBD_CAN_MULTI_CONN 0x10
#define DMIO_NBD_EXTENTS 0x20	/* base:allocation: dmio_nbd_extent() says holes */
#define DMIO_NBD_DIRTY 0x40	/* params->dirty_bitmap: dmio_nbd_dirty() says what changed */

struct dmio_nbd_info {
	uint64_t size;			/* bytes */
	uint32_t min_block;		/* requests are multiples of it, aligned to it */
	uint32_t preferred_block;
	uint32_t max_block;		/* no request is larger */
	unsigned int connections;
	unsigned int flags;		/* DMIO_NBD_* */
};

/* Connect: the handle, or -errno (and dmio_nbd_error() says why);
 * -EINTR when params->cancel_fd became readable first. */
int dmio_nbd_open(const char *uri, const struct dmio_nbd_params *params);
int dmio_nbd_info(int handle, struct dmio_nbd_info *info);
/* The meta contexts the server offers ("base:allocation,
 * qemu:dirty-bitmap:b0", ","-separated), as it listed them at the
 * handshake (params->list_contexts): "" when it did not, or for no such
 * handle. */
const char *dmio_nbd_contexts(int handle);
/* The run of data or of hole that byte offset is in, as the server's
 * base:allocation says (all data when it does not): its end in *end, 1
 * in *hole for a run that reads as zeroes.  0, or -errno. */
int dmio_nbd_extent(int handle, uint64_t offset, uint64_t *end, int *hole);
/* The run of changed or of unchanged bytes that byte offset is in, as the
 * dirty bitmap params->dirty_bitmap says: its end in *end, 1 in *dirty
 * where it changed.  0, or -errno (-EOPNOTSUPP: no dirty bitmap). */
int dmio_nbd_dirty(int handle, uint64_t offset, uint64_t *end, int *dirty);
/* Disconnect; the handle is no more.  0, or -errno. */
int dmio_nbd_close(int handle);
/* Why the last dmio_nbd_* call of this thread failed, or "". */
const char *dmio_nbd_error(void);

#ifdef __cplusplus
}
#endif
#endif /* DMIO_H */
