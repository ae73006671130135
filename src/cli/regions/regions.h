/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Regions: a spec (spec.h), resolved to a device (region.c: libblkid for
 * tags), opened once by its backend (claim.c; backend-file.c,
 * backend-nbd.c, backend-captive.c over server.c and monitor.c,
 * backend-stream.c), which says once what the device can do (struct
 * caps); what the system knows of a device (sysdev.c); and a region's
 * outcome.  Only the backends and
 * sysdev.c know what kind of device a region is: everything else asks its
 * capabilities.
 */
#ifndef DMIO_REGION_H
#define DMIO_REGION_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cmd/command.h"
#include "regions/spec.h"

/* ---- devices: one backend per kind of device ---- */

struct dev;
struct ident;

/* How a backend opens a device. */
#define OPEN_WRITE 0x1	/* for writing */
#define OPEN_EXCL 0x2	/* claimed exclusively */
#define OPEN_DIRECT 0x4	/* O_DIRECT */
#define OPEN_CHANGES 0x8	/* with what changed since a checkpoint (o->dirty_bitmap) */

struct backend_ops {
	const char *name;
	/* Open what spec names (path: what it resolved to, as shown) as how
	 * says, maybe claimed exclusively (a block device with O_EXCL, EBUSY
	 * when mounted or held; a file with flock, EBUSY when another holds
	 * it); fill in fd (the libdmio region's), size, sector sizes,
	 * read_only, caps, identity and extent.  0 or -errno; -EINTR once
	 * said that a stop signal came while it waited. */
	int (*open)(struct dev *dev, const struct spec *spec, const char *path,
		    const struct opts *o, unsigned int how);
	/* What opening it is called in messages ("open", "connect"), and why
	 * the last open failed with err. */
	const char *opening;
	const char *(*open_error)(const char *path, int err);
	/* Whether a and b, both of this backend, are one device. */
	bool (*same)(const struct dev *a, const struct dev *b);
	/* The run of data or of hole that byte pos is in: its end in *end,
	 * and *hole; all data where the device cannot say (!caps.extents).
	 * 0 or -errno. */
	int (*extent)(const struct dev *dev, uint64_t pos, uint64_t *end, bool *hole);
	/* Where what changed since a checkpoint is (caps.changes): the run of
	 * changed or of unchanged bytes that byte pos is in, its end in *end,
	 * and *changed.  0 or -errno. */
	int (*changed)(const struct dev *dev, uint64_t pos, uint64_t *end, bool *changed);
	/* Make what was written durable (through client c, which did the
	 * writes): 0 or -errno. */
	int (*flush)(struct dev *dev, struct dmio_client *c);
	/* What info shows of it (path: what it was opened as). */
	void (*describe)(const struct dev *dev, const char *path, struct ident *id);
	void (*close)(struct dev *dev);
};

extern const struct backend_ops file_backend, nbd_backend, captive_backend, stream_backend,
	null_backend;

/* How a writer claims a device. */
enum claim {
	CLAIM_NONE,	/* nobody: the server decides (an NBD export) */
	CLAIM_FLOCK,	/* flock(): EBUSY is another writer (a file) */
	CLAIM_EXCL,	/* O_EXCL: EBUSY is a mount, a holder, or one let go a
			 * moment ago (a block device) */
};

/* What a device can do, set once by its backend when it opens it. */
struct caps {
	bool zero;		/* write-zeroes works (a file's hole or zero range,
				 * BLKZEROOUT, NBD_CMD_WRITE_ZEROES); cleared when it
				 * turns out not to (EOPNOTSUPP): data from then on */
	bool trim;		/* discard works; cleared as zero is */
	unsigned int zero_block; /* bytes: write-zeroes and discard take whole blocks */
	bool sparse;		/* zeroes written to it become holes and cost no I/O */
	bool keeps_blocks;	/* zeroed without unmapping its blocks (BLKZEROOUT) */
	bool discard_zeroes;	/* what a discard leaves reads as zeroes */
	bool extents;		/* it says where its holes are (SEEK_HOLE, block status) */
	bool changes;		/* it says what changed since a checkpoint (a dirty bitmap) */
	bool remote;		/* on a server: connected once, and stays connected */
	bool flush;		/* a flush has something to do */
	bool direct;		/* it may be opened O_DIRECT */
	bool stream;		/* read or written once, in order, as the job's
				 * input or output (stdin, stdout): never by the
				 * library, no size of its own */
	unsigned int min_io;	/* bytes every request is a multiple of, always */
	enum claim claim;
};

/* Where a device's bytes are: on a whole disk or a file, from byte start
 * (a partition, a loop device's backing file). */
struct extent {
	bool is_blk;
	dev_t dev;		/* the disk's st_rdev, or the file's st_dev */
	ino_t ino;		/* the file's st_ino */
	uint64_t born;		/* the file's birth time (ns), 0 where unknown */
	uint64_t start;		/* bytes */
	const char *uri;	/* an NBD export: its URI (its region's spec.device) */
	const char *command;	/* a captive server's command (as shown): what
				 * it is to a --map, though uri is new each run */
	bool nowhere;		/* a stream, the sink: overlaps nothing */
};

struct dev {
	const struct backend_ops *ops;
	int fd;
	bool shared;			/* fd is another region's, on the same device */
	bool is_blk;			/* the backends' and sysdev.c's only */
	bool direct, read_only;
	const char *kind;		/* "device", "file", "export": for messages */
	struct caps caps;
	uint64_t size;			/* bytes */
	unsigned int lbs, pbs;		/* logical, physical sector size */
	unsigned int dio_align;		/* O_DIRECT needs this alignment */
	dev_t id_dev;			/* identity: st_rdev for a block */
	ino_t id_ino;			/* device, else st_dev and st_ino */
	struct extent ext;		/* where its bytes really are */
	const char *format;		/* a regular file's header names an image
					 * format ("qcow2", ...): the bytes are
					 * not the disk it holds */
	struct server *server;		/* a captive server's (backend-captive.c) */
};

/* ---- captive servers (server.c) ---- */

struct server;

/* Run argv (shown as name) as an NBD server on a socket of its own, by
 * socket activation: 0 and *sp; or -errno, why in why (a command not
 * found, one that cannot run).  It has o->server_timeout seconds to
 * answer (server_answered()), then is killed; so at a stop signal. */
int server_start(char *const *argv, const char *name, const struct opts *o,
		 struct server **sp, char *why, size_t len);
/* Its URI: nbd+unix:///?socket=PATH. */
const char *server_uri(const struct server *s);
/* It answered (a connect ended, either way): no more deadline. */
void server_answered(struct server *s);
/* After a connect to s failed: -errno and why, when s is to blame (it did
 * not answer in time, it exited; -EINTR: a stop signal came, why not
 * set); 0 when it is not. */
int server_why(struct server *s, char *why, size_t len);
/* Note whether s has ended already, before dmio lets it go. */
void server_check(struct server *s);
/* Stop s: SIGTERM to its process group, a grace period, SIGKILL; reap it
 * and say how it ended when it ended early and not well; remove its
 * socket; free s (NULL: nothing). */
void server_stop(struct server *s);

/* ---- what the system knows of a device (sysdev.c) ---- */

int fd_extent(int fd, struct extent *e);
int path_extent(const char *path, struct extent *e);
/* Byte ranges [astart, +alen) of a and [bstart, +blen) of b overlap. */
bool extents_overlap(const struct extent *a, uint64_t astart, uint64_t alen,
		     const struct extent *b, uint64_t bstart, uint64_t blen);
/* a and b are the same local file or device; what it is, in a word. */
bool extents_same(const struct extent *a, const struct extent *b);
const char *extent_kind(const struct extent *e);
/* e is /dev/null: what is written there overwrites nothing. */
bool extent_discards(const struct extent *e);
/* d is a partition of a disk that e is (both block devices). */
bool dev_partition_of(const struct dev *d, const struct dev *e);
/* d or a partition of it is mounted: 0 no (or not a block device), 1
 * read-only, 2 read-write; a mount point in where. */
int dev_mounted(const struct dev *d, char *where, size_t len);
/* Something holds block device d (device-mapper, md): its name in name. */
bool dev_held(const struct dev *d, char *name, size_t len);
/* What the device or file is, one word for a --map to know it again: a
 * file's device, inode, birth time, offset and size; a disk's WWN or serial
 * (else its number), offset and size. */
void dev_identity(const struct dev *d, char *buf, size_t len);

/* ---- a region and its outcome ---- */

/* Sectors a copy could not read from its source (features/rescue.c):
 * sorted, disjoint, never adjacent; relative to the region's start. */
struct bad_range {
	uint64_t start, count;
};

struct bad_list {
	struct bad_range *v;
	unsigned int n, cap;
	int err;		/* the errno of the first failure, 0 when unknown */
};

/* Add or remove [start, +count): 0 or -ENOMEM. */
int bad_add(struct bad_list *l, uint64_t start, uint64_t count);
int bad_remove(struct bad_list *l, uint64_t start, uint64_t count);
/* The sectors of l below sector end. */
uint64_t bad_sectors(const struct bad_list *l, uint64_t end);
void bad_free(struct bad_list *l);

enum role { ROLE_SOURCE, ROLE_DEST };

/* A full verify's differences on a destination (jobs/diffs.c): the counts
 * are exact, the list holds the first ranges only. */
struct diff_range { uint64_t sector, count; };	/* absolute sectors */
struct diffs {
	uint64_t sectors;	/* differing sectors */
	uint64_t nranges;	/* runs of adjacent ones */
	uint64_t first, end;	/* the first differing sector; the last run's end */
	struct diff_range *range; /* the first nstored runs */
	size_t nstored, cap;
};

enum status {
	ST_PENDING, ST_OK, ST_ERROR, ST_MISMATCH,
	ST_INTERRUPTED,	/* a signal stopped the job */
	ST_STOPPED,	/* something else did (job_result.stop) */
	ST_PLANNED,	/* --dry-run */
};

struct digest_entry;
struct window_check;

struct region {
	const char *text;	/* the spec as given; a URI's password REDACTED */
	const struct region_arg *arg; /* its arguments (a captive server's command),
				 * or NULL: text is the spec */
	char *shown;		/* text, when allocated to hide a password */
	enum role role;
	struct spec spec;
	char *path;		/* the resolved device (a URI's password REDACTED) */
	struct dev dev;
	uint64_t sector, count;
	/* The outcome: its status is the one record of its failure. */
	enum status status;
	uint64_t done;		/* sectors done, a prefix of the region */
	uint64_t resume;	/* sectors done before this pass (a --map, a
				 * --retries pass): only bad ranges are written
				 * below it */
	uint64_t bad_sector;	/* absolute, for ST_ERROR and ST_MISMATCH */
	char *error;		/* the reason, for ST_ERROR */
	/* Digests: of its bytes (a stream of the job's hasher), and what
	 * verify --digest-file expected of them (features/digestfile.c). */
	unsigned int digest;	/* its stream + 1, or 0: none (not hashed, or not all of it) */
	const struct digest_entry *expected;
	struct window_check *check; /* and how its windows compare, where it has some */
	struct diffs diffs;	/* verify (without --first): what differs */
	struct bad_list bad;	/* a copy's source: its bad sectors */
	uint64_t data_first, data_end; /* a run of data, absolute sectors
				 * [data_first, data_end), as region_hole()
				 * last learnt it */
};

/* The smallest I/O on r, in sectors: its logical block under O_DIRECT,
 * else what its device always needs. */
static inline uint64_t region_block(const struct region *r)
{
	return (r->dev.direct ? r->dev.lbs : r->dev.caps.min_io) >> DMIO_SECTOR_SHIFT;
}

/* Resolve, check and open every region for o: 0, or -errno once it said
 * why, with nothing opened for writing. */
int regions_prepare(const struct opts *o, struct region *r, unsigned int n);
/* Open r's device with its backend as how says: 0 or -errno (not said). */
int region_open(const struct opts *o, struct region *r, unsigned int how);
/* Say that r's device cannot be opened (for writing) with err. */
void region_open_failed(const struct region *r, int err, bool write);
/* Whether the job writes r. */
bool region_writes(const struct opts *o, const struct region *r);
/* Open (claim.c) every device the regions name, once: 0, or -errno once
 * it said why, with nothing left open. */
int regions_open(const struct opts *o, struct region *r, unsigned int n);
void regions_close(struct region *r, unsigned int n);
/* r failed at sector (absolute) with errno err while doing what: its
 * status says so (the first failure stays). */
void region_fail(struct region *r, uint64_t sector, int err, const char *what);
/* The error bits of destinations d[0..n): bit i, d[i] failed (its status
 * is the one record of that). */
unsigned long error_bits(const struct region *d, unsigned int n);
/* Whether sectors [first, first + len) of r are a hole of its device. */
bool region_hole(struct region *r, uint64_t first, uint64_t len);

/* ---- verify's differences (diffs.c) ---- */

#define RANGES_SHOWN 3u		/* of them in the table */

/* Sectors [sector, +count) of a destination differ: counted, merged with
 * the last run when adjacent, listed while fewer than max runs are. */
void diffs_add(struct diffs *d, uint64_t sector, uint64_t count, unsigned int max);
void diffs_free(struct diffs *d);
/* "N sectors differ, in K ranges: S+C, S+C, S+C and M more", allocated;
 * NULL when nothing differs (or out of memory). */
char *diffs_text(const struct diffs *d);

/* ---- info: what a region resolves to ---- */

/* What libblkid and the system say of a device, or its server of it. */
struct ident {
	char *type, *uuid, *label;	/* a filesystem's, or TYPE is the table's */
	char *ptuuid;			/* a disk's partition table */
	char *partuuid, *partlabel;	/* a partition's entry in it */
	char *mountpoint, *holder;	/* it or a partition of it is mounted; held */
	char *features;			/* an NBD export's: "flush,zero,..." */
	char *contexts;			/* and its meta contexts: "base:allocation,..." */
	uint64_t min_io, opt_io, max_io; /* an NBD export's block sizes, or 0 */
};

void ident_free(struct ident *id);

#endif
