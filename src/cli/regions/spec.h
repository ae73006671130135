/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Region specs, DEVICE[:START[+COUNT]], and sizes: pure parsers, no I/O, so
 * that they can be unit-tested and fuzzed on their own.
 */
#ifndef DMIO_SPEC_H
#define DMIO_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The largest sector count a size may give: its bytes fit in an off_t. */
#define SPEC_MAX_SECTORS (INT64_MAX >> 9)

/*
 * A size: decimal digits, 512-byte sectors; or with a suffix K, M, G, T (or
 * KiB, MiB, GiB, TiB), bytes in powers of 1024, which must come to whole
 * sectors.  Returns NULL and sets *sectors, or a message saying what is wrong.
 */
const char *parse_sectors(const char *s, uint64_t *sectors);

/*
 * A size option: decimal digits, bytes; or with a suffix K, M, G, T (also
 * KB, KiB... and in lower case), in powers of 1024.  Returns NULL and sets
 * *bytes, or a message saying what is wrong.
 */
const char *parse_bytes(const char *s, uint64_t *bytes);

struct spec {
	char *device;     /* allocated: a path, a TAG=value, an NBD URI, "-" or
			   * "null:"; NULL for a captive server */
	bool nbd;         /* an NBD URI */
	bool stdio;       /* "-": standard input (a source) or output */
	bool discard;     /* "null:": a destination that keeps nothing */
	char *const *argv; /* a captive server's command (not the spec's:
			    * its struct region_arg's), else NULL */
	uint64_t start;   /* sectors */
	uint64_t count;   /* sectors, when has_count */
	bool has_count;
	/* On error, the part that is wrong: "START" or "COUNT", and its text
	 * (bad, bad_len); bad_part is NULL when the spec as a whole is. */
	const char *bad_part, *bad;
	size_t bad_len;
};

/*
 * Split at the last ':' into the device and START[+COUNT].  An NBD URI
 * (nbd://, nbds://, nbd+unix://, nbds+unix://) is split at the last ':' of
 * its path instead, so that host:port and ?socket=/a:b stay in the device:
 * nbd://host:10809/export:2048+100, nbd+unix:///export:8?socket=/s.
 * Returns NULL and fills *spec (free spec->device), or a message saying
 * what is wrong; then nothing is allocated.
 */
const char *spec_parse(const char *text, struct spec *spec);
/* ---- the command line's regions: arguments, and captive servers ---- */

/* One region of the command line: an argument, or a captive server's
 * "[ CMD ARGS... ]" (each word an argument of its own, as for test(1)),
 * with the ":START[+COUNT]" that may follow "]" as the next argument. */
struct region_arg {
	char *text;		/* allocated: the argument, or the server's words
				 * joined ("[ qemu-nbd -f qcow2 'a b.qcow2' ] :8+8") */
	char **argv;		/* allocated, NULL-terminated: the command between
				 * "[" and "]"; NULL for an argument */
	const char *range;	/* the ":START[+COUNT]" after "]", or NULL */
};

/*
 * Group args (NULL-terminated) into regions: NULL, and *out holds *n of
 * them (region_args_free() them); or a message saying what is wrong, with
 * the argument at fault in *bad, and nothing allocated.
 */
const char *spec_group(const char *const *args, struct region_arg **out, unsigned int *n,
		       const char **bad);
void region_args_free(struct region_arg *a, unsigned int n);
/* A captive server's spec: its command, and START[+COUNT] from range
 * (":START[+COUNT]", or NULL); as spec_parse() returns. */
const char *spec_captive(char *const *argv, const char *range, struct spec *spec);

/* What a URI's password is shown as. */
#define REDACTED "***"
/* text, allocated, with an NBD URI's password (nbd://user:PASSWORD@host/)
 * written REDACTED; NULL when out of memory. */
char *spec_redact(const char *text);
/* msg, allocated, with each occurrence of uri's password written REDACTED. */
char *spec_redact_in(const char *msg, const char *uri);
/* The length of text's NBD URI scheme and "//", or 0 when it has none. */
size_t spec_nbd_scheme(const char *text);

#endif
