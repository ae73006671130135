/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The dmio program's internal contract: limits, options, regions, the
 * device backend, the job and its result, the report, signals and messages.
 * The library does the I/O; this side owns messages and exit codes.
 *
 * One error convention: functions return 0 or a negative errno and say why
 * through warnmsg(); exit codes exist only in main().
 */
#ifndef DMIO_CLI_H
#define DMIO_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "dmio.h"
#include "spec.h"

#define PROG "dmio"

/* ---- named limits, one per concept ---- */

#define CHUNK_DEFAULT (1u << 20)	/* bytes per chunk */
#define CHUNK_MAX DMIO_MAX_IO_LIMIT	/* a chunk is at most one library request's limit */
#define DEPTH_DEFAULT 8u		/* chunks in flight */
#define DEPTH_MAX 1024u
#define REQUEST_MAX DMIO_DEFAULT_MAX_IO	/* bytes per engine request the CLI asks for */
#define ENGINE_DEPTH_MAX 1024u		/* engine requests in flight, at most */
#define IN_FLIGHT_MAX (256u << 20)	/* bytes of chunk buffers, at most */
#define ZERO_CHUNK_MAX (256u << 20)	/* a chunk of zeroes that needs no buffer */
#define RANGES_DEFAULT 1000u		/* verify: differing ranges listed per destination */
#define RANGES_MAX 1000000u		/* --max-ranges, at most (16 bytes each) */
#define RANGES_SHOWN 3u			/* of them in the table */
#define RETRIES_MAX 100u		/* --retries: passes over the bad ranges */

enum exit_code {
	EXIT_OK = 0,
	EXIT_MISMATCH = 1,
	EXIT_USAGE = 2,
	EXIT_IOERR = 3,
	EXIT_SIGNAL = 128,
};

/* ---- options ---- */

enum op { OP_COPY, OP_VERIFY, OP_READ, OP_WRITE, OP_ZERO, OP_INFO, OP_COUNT };
extern const char *const op_names[OP_COUNT];

enum buffer_type { BUFFER_VM, BUFFER_PAGES, BUFFER_BVEC };
enum direct_mode { DIRECT_AUTO, DIRECT_ON, DIRECT_OFF };

struct opts {
	enum op op;
	const char *engine;	/* "uring", "aio" or "sync"; NULL: uring, else aio */
	enum buffer_type buffer;
	uint64_t chunk;		/* bytes */
	unsigned int depth;	/* chunks in flight */
	enum direct_mode direct;
	bool progress, json, force, dry_run, no_flush, quiet, verbose;
	bool no_sparse;		/* write every byte: no write-zeroes */
	bool target_is_zero;	/* the destinations read as zeroes: skip zeroes */
	bool discard;		/* zero: discard, not write zeroes */
	bool write_changed;	/* copy: write only chunks that differ */
	const char *input, *output; /* write -i, read -o */
	bool stdin_closed, stdout_closed; /* at start: they are /dev/null now */
	const char *map;	/* copy --map FILE */
	bool first;		/* verify: a destination ends at its first difference */
	unsigned int max_ranges; /* verify: differing ranges listed, at most */
	bool keep_going;	/* copy: go on past the source's bad sectors */
	unsigned int retries;	/* copy --keep-going: passes over the bad ranges */
	/* NBD regions: connections per export (0: the library's 4), TLS. */
	unsigned int connections;
	const char *tls_psk, *tls_certificates;
	/* Digests (hash.h): --hash's algorithms (bit 1 << alg), --hash-window
	 * (bytes, 0: none), --hash-log, and verify --digest-file. */
	unsigned int hash_mask;
	uint64_t hash_window;
	const char *hash_log, *digest_file;
	uint64_t rate;		/* --rate: bytes of the regions per second; 0: no limit */
	bool progress_json;	/* --progress=fd:N: JSON lines on fd progress_fd */
	int progress_fd;
};

/* Parse the command line into *o (options.c): the regions' arguments; a
 * bad one exits 2 with a message. */
const char **options_parse(int argc, const char **argv, struct opts *o);
void options_free(void);
/* Say fmt and "Try 'dmio --help'", and exit 2. */
void errtryhelp(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
/* A refusal before the job: under --json, the document that says so (the
 * last message) and rc; returns rc. */
int refused(int rc);

/* ---- devices: one backend per kind of device (backend-*.c) ---- */

struct dev;

/* How a backend opens a device. */
#define OPEN_WRITE 0x1	/* for writing */
#define OPEN_EXCL 0x2	/* claimed exclusively */
#define OPEN_DIRECT 0x4	/* O_DIRECT */

struct backend_ops {
	const char *name;
	/* Open path as how says, maybe claimed exclusively (a block device
	 * with O_EXCL, EBUSY when mounted or held; a file with flock, EBUSY
	 * when another holds it); fill in fd (the libdmio region's), size,
	 * sector sizes, read_only, identity and extent.  0 or -errno. */
	int (*open)(struct dev *dev, const char *path, const struct opts *o, unsigned int how);
	/* Why the last open failed with err, for a message. */
	const char *(*open_error)(const char *path, int err);
	/* The run of data or of hole that byte pos is in: its end in *end,
	 * and *hole; all data where the device cannot say.  0 or -errno. */
	int (*extent)(const struct dev *dev, uint64_t pos, uint64_t *end, bool *hole);
	/* Make what was written durable (through client c, which did the
	 * writes): 0 or -errno. */
	int (*flush)(struct dev *dev, struct dmio_client *c);
	void (*close)(struct dev *dev);
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
};

struct dev {
	const struct backend_ops *ops;
	int fd;
	bool shared;			/* fd is another region's, on the same device */
	bool is_blk, is_nbd, direct, read_only;
	uint64_t size;			/* bytes */
	unsigned int lbs, pbs;		/* logical, physical sector size */
	unsigned int dio_align;		/* O_DIRECT needs this alignment */
	dev_t id_dev;			/* identity: st_rdev for a block */
	ino_t id_ino;			/* device, else st_dev and st_ino */
	struct extent ext;		/* where its bytes really are */
};

extern const struct backend_ops file_backend, nbd_backend;

/* ---- what the system knows of a device (sysdev.c) ---- */

int fd_extent(int fd, struct extent *e);
int path_extent(const char *path, struct extent *e);
/* Byte ranges [astart, +alen) of a and [bstart, +blen) of b overlap. */
bool extents_overlap(const struct extent *a, uint64_t astart, uint64_t alen,
		     const struct extent *b, uint64_t bstart, uint64_t blen);
/* Block device d is a partition: its disk in *whole. */
bool dev_disk(dev_t d, dev_t *whole);
/* Block device d or a partition of it is mounted: 0 no, 1 read-only, 2
 * read-write; a mount point in where. */
int dev_mounted(dev_t d, char *where, size_t len);
/* Something holds d (device-mapper, md): its name in name. */
bool dev_held(dev_t d, char *name, size_t len);
/* What the device or file is, one word for a --map to know it again: a
 * file's device, inode, birth time, offset and size; a disk's WWN or serial
 * (else its number), offset and size. */
void dev_identity(const struct dev *d, char *buf, size_t len);

/* ---- regions (region.c): a spec, resolved, checked and opened ---- */

/* Sectors a copy could not read from its source (rescue.c): sorted,
 * disjoint, never adjacent; relative to the region's start. */
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

/* A full verify's differences on a destination (diffs.c): the counts are
 * exact, the list holds the first ranges only. */
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

struct region {
	const char *text;	/* the spec as given; a URI's password REDACTED */
	char *shown;		/* text, when allocated to hide a password */
	enum role role;
	struct spec spec;
	char *path;		/* the resolved device (a URI's password REDACTED) */
	struct dev dev;
	uint64_t sector, count;
	/* The outcome. */
	enum status status;
	uint64_t done;		/* sectors done, a prefix of the region */
	uint64_t resume;	/* copy --map: sectors done by an earlier run */
	uint64_t durable;	/* copy --map: sectors flushed and in the map */
	uint64_t bad_sector;	/* absolute, for ST_ERROR and ST_MISMATCH */
	char *error;		/* the reason, for ST_ERROR */
	bool no_zeroes;		/* it cannot write zeroes (EOPNOTSUPP): data from now on */
	/* Digests: of its bytes (a stream of job_result.hasher), and what
	 * verify --digest-file expected of them (digestfile.c). */
	unsigned int digest;	/* its stream + 1, or 0: none (not hashed, or not all of it) */
	const struct digest_entry *expected;
	struct diffs diffs;	/* verify (without --first): what differs */
	/* copy --keep-going, --map: the source's bad sectors; a destination's
	 * rewrites of them below its done prefix, not yet flushed, from
	 * sector refill_from (relative) on. */
	struct bad_list bad;
	bool refilled;
	uint64_t refill_from;
};

/* The smallest I/O on r, in sectors: its logical block under O_DIRECT,
 * an NBD export's minimum block. */
static inline uint64_t region_block(const struct region *r)
{
	return r->dev.direct || r->dev.is_nbd ? r->dev.lbs >> DMIO_SECTOR_SHIFT : 1;
}

/* Resolve, check and open every region for op: 0, or -errno once it said
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
/* r failed at sector (absolute) with errno err while doing what. */
void region_fail(struct region *r, uint64_t sector, int err, const char *what);

/* ---- verify's differences (diffs.c) ---- */

/* Sectors [sector, +count) of a destination differ: counted, merged with
 * the last run when adjacent, listed while fewer than max runs are. */
void diffs_add(struct diffs *d, uint64_t sector, uint64_t count, unsigned int max);
void diffs_free(struct diffs *d);
/* "N sectors differ, in K ranges: S+C, S+C, S+C and M more", allocated;
 * NULL when nothing differs (or out of memory). */
char *diffs_text(const struct diffs *d);

/* ---- the job (job.c; the pipeline and the job kinds in job.h) ---- */

/* Why a job ended before the end of its regions. */
enum stop {
	STOP_NONE,	/* it did not (write: the input ended) */
	STOP_SIGNAL,	/* interrupted by job_result.signal */
	STOP_SOURCE,	/* the source failed */
	STOP_DESTS,	/* every destination failed or differs */
	STOP_INPUT,	/* write's input failed */
	STOP_OUTPUT,	/* read's output failed */
};

struct job_result {
	enum stop stop;		/* the first reason */
	bool read_error;	/* the source failed */
	bool stream_error;	/* the input, the output or the map failed */
	int signal;		/* a stop signal came */
	unsigned long error_bits; /* bit i: destination i failed (I/O or flush) */
	uint64_t bytes;
	/* Over every region: read (source, and destinations compared), written
	 * as data, zeroed (write-zeroes, discard), skipped (zeroes onto
	 * --target-is-zero, unchanged with --write-changed). */
	uint64_t bytes_read, bytes_written, bytes_zeroed, bytes_skipped;
	double seconds;
	unsigned int chunks;	/* in flight at most, of chunk bytes */
	uint64_t chunk;
	struct dmio_stats stats; /* the engine's, for --verbose */
	struct hasher *hasher;	/* --hash, --digest-file: the regions' digests */
};

/* --dry-run: what job_run() would refuse before any I/O (the map, the
 * input or output): 0, or -errno once said why. */
int job_check(const struct opts *o, struct region *r, unsigned int n);
/* Run o->op over r[0..n) (for copy and verify r[0] is the source); the
 * outcome is in r[] and *res.  0, or -errno when the job could not start
 * (-EINVAL: refused, said why). */
int job_run(const struct opts *o, struct region *r, unsigned int n,
	    struct job_result *res);

/* ---- copy --map (resume.c) ---- */

struct map;
/* Load o->map (or start a new map when there is none) and set each
 * destination's resume point: 0, or -errno once it said why (-EINVAL: the
 * map does not match). */
int map_open(const struct opts *o, struct region *r, unsigned int n, struct map *m);
/* Flush the destinations that progressed, then record them: 0 or -errno.
 * final: the job has flushed them already. */
int map_checkpoint(const struct opts *o, struct region *r, unsigned int n,
		   struct map *m, bool final, struct dmio_client *c);

/* ---- signals (signal.c) ---- */

/* SIGINT, SIGTERM and SIGHUP ask the job to stop; SIGUSR1 for a progress
 * line.  Handlers without SA_RESTART, so a blocked read or write returns. */
void signals_init(void);
/* The handlers also write to this eventfd (-1: none), to wake the job. */
void signals_wake(int fd);
/* An eventfd readable once a stop signal came (-1: none). */
int signals_stop_fd(void);
/* The stop signal received, or 0. */
int signal_stop(void);
/* Whether a SIGUSR1 came since the last call. */
bool signal_status_taken(void);

/* ---- progress (progress.c; --progress=fd:N in progress-fd.c) ---- */

/* A job over regions r[0..n) of total_bytes starts, with done_bytes of
 * them done already (a --map). */
void progress_init(const struct opts *o, uint64_t total_bytes, uint64_t done_bytes,
		   const struct region *r, unsigned int n);
/* Called from the job now and then, and with final true at the end. */
void progress_update(const struct job_result *res, uint64_t done_bytes, bool final);
/* Seconds until progress_update() has something to draw: -1 for never. */
double progress_due(void);
/* The job is over and every region has its status: the last word. */
void progress_end(uint64_t done_bytes);

void progress_fd_init(const struct opts *o, uint64_t total_bytes, uint64_t done_bytes,
		      const struct region *r, unsigned int n, double start);
/* A line when one is due (final: the last, whatever the time). */
void progress_fd_update(uint64_t done_bytes, bool final);
double progress_fd_due(void);

/* ---- output (report.c, info.c) ---- */

/* The version of the JSON documents (doc/dmio-report.schema.json), their
 * "schema" key: it changes when a key is renamed, removed or changes
 * meaning, not when one is added. */
#define REPORT_SCHEMA 1
/* The words of the status of a region, as the report writes them. */
extern const char *const status_names[];

/* What libblkid and the system say of a device, for info. */
struct ident {
	char *type, *uuid, *label;	/* a filesystem's, or TYPE is the table's */
	char *ptuuid;			/* a disk's partition table */
	char *partuuid, *partlabel;	/* a partition's entry in it */
	char *mountpoint, *holder;	/* it or a partition of it is mounted; held */
	char *features;			/* an NBD export's: "flush,zero,..." */
	uint64_t min_io, opt_io, max_io; /* an NBD export's block sizes, or 0 */
};

/* The status of every region, as a table or JSON: 0 or -errno. */
int report(const struct opts *o, const struct region *r, unsigned int n,
	   const struct job_result *res);
/* info's description of every region: 0 or -errno. */
int report_info(const struct opts *o, const struct region *r, unsigned int n,
		const struct ident *ids);
/* Probe and describe every region: 0 or -errno. */
int info_run(const struct opts *o, struct region *r, unsigned int n);

/* ---- messages, util-linux style (msg.c) ---- */

/* "dmio: " fmt, one line on stderr, control bytes shown as \xNN. */
void warnmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The last message warnmsg() printed, without "dmio: ", or NULL. */
const char *last_message(void);
/* s, allocated, as valid UTF-8: each byte that is not is written \xNN
 * (a backslash, x, two hex digits); NULL for NULL or out of memory. */
char *utf8_safe(const char *s);
double now_seconds(void);

#endif
