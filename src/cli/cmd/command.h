/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The command line (options.c, rules.c, refuse.c): the command, its
 * options as named fields, and the job's shape, decided once from them;
 * the exit codes.
 */
#ifndef DMIO_OPTIONS_H
#define DMIO_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "dmio.h"

/* ---- named limits, one per concept ---- */

#define CHUNK_DEFAULT (1u << 20)	/* bytes per chunk */
#define CHUNK_MAX DMIO_MAX_IO_LIMIT	/* a chunk is at most one library request's limit */
#define DEPTH_DEFAULT 8u		/* chunks in flight */
#define DEPTH_MAX 1024u
#define IN_FLIGHT_MAX (256u << 20)	/* bytes of chunk buffers, at most */
#define RANGES_DEFAULT 1000u		/* verify's differing ranges, and windows, listed per region */
#define RANGES_MAX 1000000u		/* --max-ranges, at most (16 bytes each) */
#define RETRIES_MAX 100u		/* --retries: passes over the bad ranges */
#define SERVER_TIMEOUT_DEFAULT 30u	/* seconds a captive server has to answer */
#define SERVER_TIMEOUT_MAX 3600u

enum exit_code {
	EXIT_OK = 0,
	EXIT_MISMATCH = 1,
	EXIT_USAGE = 2,
	EXIT_IOERR = 3,
	EXIT_SIGNAL = 128,
};

enum op { OP_COPY, OP_VERIFY, OP_READ, OP_WRITE, OP_ZERO, OP_INFO, OP_COUNT };
extern const char *const op_names[OP_COUNT];

enum buffer_type { BUFFER_VM, BUFFER_PAGES, BUFFER_BVEC };
enum direct_mode { DIRECT_AUTO, DIRECT_ON, DIRECT_OFF };

/*
 * What a job does with its regions, decided once (shape_of()) from the
 * command and its options; regions_new() gives each region its role from
 * it, and nothing asks the command these questions again.
 */
struct shape {
	bool source;		/* the first region is read: copy, verify, read (not
				 * verify --digest-file, whose regions are all checked) */
	bool writes;		/* the destinations are written: copy, write, zero */
	bool reads_back;	/* the destinations are read: verify, copy --write-changed */
	bool input, output;	/* the job's input (write's; a copy's source "-")
				 * and output (read's; a copy's destination "-") */
	unsigned int min_regions, max_regions;
};

struct opts {
	enum op op;
	struct shape shape;
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
	unsigned int std_closed; /* bit fd: fd 0, 1 or 2 was closed at start (/dev/null now) */
	const char *map;	/* copy --map FILE */
	bool first;		/* verify: a destination ends at its first difference */
	unsigned int max_ranges; /* verify's differing ranges, and windows, listed at most */
	bool keep_going;	/* copy: go on past the source's bad sectors */
	unsigned int retries;	/* copy --keep-going: passes over the bad ranges */
	/* NBD regions: connections per export (0: the library's 4), TLS. */
	unsigned int connections;
	const char *tls_psk, *tls_certificates;
	unsigned int server_timeout; /* seconds a captive server has to answer */
	bool raw;		/* image files are bytes: not refused */
	/* Digests (features/hash.h): --hash's algorithms (bit 1 << alg),
	 * --hash-window (bytes, 0: none), --hash-log, verify --digest-file. */
	unsigned int hash_mask;
	uint64_t hash_window;
	const char *hash_log, *digest_file;
	uint64_t rate;		/* --rate: bytes of the regions per second; 0: no limit */
	const char *dirty_bitmap; /* copy, verify: only what this bitmap of the source marks */
	const char *changed_since; /* copy: only the windows that differ from this log's */
	bool progress_json;	/* --progress=fd:N: JSON lines on fd progress_fd */
	int progress_fd;
};

struct region_arg;

/* Parse the command line into *o (options.c): the regions given (*n of
 * them, until options_free()); a bad one exits 2 with a message. */
const struct region_arg *options_parse(int argc, const char **argv, struct opts *o,
				       unsigned int *n);
void options_free(void);
/* Say fmt and "Try 'dmio --help'", and exit 2. */
void errtryhelp(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
/* A refusal before the job: under --json, the document that says so (the
 * last message) and rc; returns rc (refuse.c). */
int refused(int rc);
/* How refusals are said: as JSON (on stderr), and for which command. */
void refusal_json(bool on, bool to_stderr);
void refusal_command(const char *cmd);

/* Whether o's stream (its input or output: write's -i, read's -o, a
 * copy's "-") is stdin or stdout. */
bool stream_is_std(const struct opts *o);

#endif
