/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The dmio program's internal contract: options, regions, the device
 * backend, the jobs and the report.  The library does the I/O; this side
 * owns messages and exit codes.
 */
#ifndef DMIO_CLI_H
#define DMIO_CLI_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "dmio.h"
#include "spec.h"

#define PROG "dmio"

enum exit_code {
	EXIT_OK = 0,
	EXIT_MISMATCH = 1,
	EXIT_USAGE = 2,
	EXIT_IOERR = 3,
	EXIT_SIGNAL = 128,
};

enum op { OP_COPY, OP_VERIFY, OP_READ, OP_WRITE, OP_ZERO, OP_INFO };
extern const char *const op_names[];

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
	const char *input, *output; /* write -i, read -o */
	const char *map;	/* copy --map FILE */
};

/* ---- devices: one backend per kind of device (backend-file.c) ---- */

struct dev;

struct backend_ops {
	const char *name;
	/* Open path for reading or writing, claimed exclusively (a block
	 * device: EBUSY when mounted or held); fill in fd, size, sector sizes
	 * and identity.  Returns 0 or -errno. */
	int (*open)(struct dev *dev, const char *path, bool write, bool excl,
		    bool direct);
	/* Make what was written durable: 0 or -errno. */
	int (*flush)(struct dev *dev);
	void (*close)(struct dev *dev);
};

struct dev {
	const struct backend_ops *ops;
	int fd;
	bool is_blk, direct;
	uint64_t size;			/* bytes */
	unsigned int lbs, pbs;		/* logical, physical sector size */
	unsigned int dio_align;		/* O_DIRECT needs this alignment */
	dev_t id_dev;			/* identity: st_rdev for a block */
	ino_t id_ino;			/* device, else st_dev and st_ino */
};

extern const struct backend_ops file_backend;

/* ---- regions (region.c): a spec, resolved, checked and opened ---- */

enum role { ROLE_SOURCE, ROLE_DEST };
enum status { ST_PENDING, ST_OK, ST_ERROR, ST_MISMATCH, ST_INTERRUPTED, ST_PLANNED };

struct region {
	const char *text;	/* the spec as given */
	enum role role;
	struct spec spec;
	char *path;		/* the resolved device */
	struct dev dev;
	uint64_t sector, count;
	/* The outcome. */
	enum status status;
	uint64_t done;		/* sectors done, a prefix of the region */
	uint64_t resume;	/* copy --map: sectors done by an earlier run */
	uint64_t durable;	/* copy --map: sectors flushed and in the map */
	uint64_t bad_sector;	/* absolute, for ST_ERROR and ST_MISMATCH */
	char *error;		/* the reason, for ST_ERROR */
};

/* The smallest I/O on r, in sectors: its logical block under O_DIRECT. */
static inline uint64_t region_block(const struct region *r)
{
	return r->dev.direct ? r->dev.lbs >> DMIO_SECTOR_SHIFT : 1;
}

/* Resolve, check and open every region for op; on refusal print why and
 * return false, with nothing opened for writing. */
bool regions_prepare(const struct opts *o, struct region *r, unsigned int n);
void regions_close(struct region *r, unsigned int n);
void region_fail(struct region *r, uint64_t sector, int err, const char *what);

/* ---- jobs (job.c) ---- */

struct job_result {
	bool read_error, interrupted, output_error;
	int signal;
	uint64_t bytes;
	double seconds;
	struct dmio_stats stats; /* the engine's, for --verbose */
};

/* Run o->op over r[0..n): for copy and verify r[0] is the source. */
int job_run(const struct opts *o, struct region *r, unsigned int n,
	    struct job_result *res);

/* ---- copy --map (resume.c) ---- */

struct map;
/* Load o->map (or start a new map when there is none) and set each
 * destination's resume point; EXIT_USAGE, said why, when it does not match. */
int map_open(const struct opts *o, struct region *r, unsigned int n, struct map *m);
/* Flush the destinations that progressed, then record them: 0 or -errno.
 * final: the job has flushed them already. */
int map_checkpoint(const struct opts *o, struct region *r, unsigned int n,
		   struct map *m, bool final);

/* ---- progress and signals (progress.c) ---- */

extern volatile sig_atomic_t stop_signal, status_request;
void signals_init(void);
void progress_init(const struct opts *o, uint64_t total_bytes);
/* Called from the job now and then, and with final true at the end. */
void progress_update(uint64_t done_bytes, bool final);

/* ---- output (report.c, info.c) ---- */

void report(const struct opts *o, const struct region *r, unsigned int n,
	    const struct job_result *res, unsigned long error_bits);
int info_run(const struct opts *o, struct region *r, unsigned int n);

/* ---- messages, util-linux style ---- */

void warnx_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#define warnx warnx_
double now_seconds(void);

#endif
