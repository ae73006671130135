// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * dmio: copy, mirror, verify, read, write and zero block regions with the
 * kernel's dm-io service in userspace (libdmio).  Options, commands and exit
 * codes; the work is in region.c, job.c and report.c.
 */
#include <errno.h>
#include <popt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

#ifndef DMIO_VERSION
#define DMIO_VERSION "unknown"
#endif

#define DEFAULT_CHUNK (1u << 20)
#define DEFAULT_DEPTH 8
#define MAX_CHUNK (64u << 20)
#define MAX_DEPTH 1024

const char *const op_names[] = { "copy", "verify", "read", "write", "zero", "info" };

/* Print msg with control bytes as \xNN, as libsmartcols shows them: a
 * name holding a newline or an escape sequence keeps the message one line. */
static void put_safe(const char *msg)
{
	for (; *msg; msg++) {
		unsigned char c = (unsigned char)*msg;

		if (c < 0x20 || c == 0x7f)
			fprintf(stderr, "\\x%02x", c);
		else
			fputc(c, stderr);
	}
}

static void vmessage(const char *fmt, va_list ap)
{
	char *msg;

	fprintf(stderr, "%s: ", PROG);
	if (vasprintf(&msg, fmt, ap) < 0) {
		fputs("out of memory\n", stderr);
		return;
	}
	put_safe(msg);
	free(msg);
	fputc('\n', stderr);
}

void warnx_(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage(fmt, ap);
	va_end(ap);
}

double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(void)
{
	fputs("Usage:\n"
	      " dmio [options] copy   SRC DST [DST...]  read SRC once, write it to every DST\n"
	      " dmio [options] verify SRC DST [DST...]  compare every DST with SRC\n"
	      " dmio [options] read   SRC               SRC to stdout (or -o FILE)\n"
	      " dmio [options] write  DST [DST...]      stdin (or -i FILE) to every DST\n"
	      " dmio [options] zero   DST [DST...]      write zeroes to every DST\n"
	      " dmio [options] info   REGION...         what each region resolves to\n"
	      "\n"
	      "Copy, mirror and verify block regions with the kernel's dm-io service in\n"
	      "userspace.\n"
	      "\n"
	      "Regions: DEVICE[:START[+COUNT]]; DEVICE is a path or UUID=, LABEL=,\n"
	      "PARTUUID=, PARTLABEL=; START and COUNT are 512-byte sectors, or bytes with\n"
	      "a suffix K, M, G, T (KiB, MiB, GiB, TiB).\n"
	      "\n"
	      "Options:\n"
	      "     --sync               the sync engine (preadv/pwritev)\n"
	      "     --async              an async engine: io_uring where the kernel has\n"
	      "                          it, else libaio (the default)\n"
	      "     --engine=NAME        exactly this engine: uring, aio (libaio) or sync\n"
	      "     --buffer=TYPE        dm-io buffer type: vm (default), pages or bvec\n"
	      "     --chunk=SIZE         bytes per I/O chunk (default 1M; a multiple of 4K)\n"
	      "     --queue-depth=N      chunks in flight (default 8)\n"
	      "     --direct             O_DIRECT on every region; refuse unaligned ones\n"
	      "     --no-direct          never O_DIRECT (default: where aligned)\n"
	      " -i, --input=FILE         write: read the data from FILE, not stdin\n"
	      " -o, --output=FILE        read: write the data to FILE, not stdout\n"
	      "     --map=FILE           copy: record progress per destination in FILE;\n"
	      "                          run again with it to copy only what is missing\n"
	      "     --progress           show progress on stderr\n"
	      "     --json               print the status as JSON\n"
	      "     --force              write to block devices in use\n"
	      " -n, --dry-run            resolve, check and print the plan; touch nothing\n"
	      "     --no-flush           skip the final fdatasync of each destination\n"
	      " -q, --quiet              print nothing on success\n"
	      " -v, --verbose            say more\n"
	      " -h, --help               display this help\n"
	      " -V, --version            display version\n"
	      "\n"
	      "Exit status: 0 success, 1 verify found differences, 2 usage error or\n"
	      "refused input (nothing written), 3 I/O error, 128+N interrupted by signal N.\n"
	      "\n"
	      "For more details see dmio(1).\n",
	      stdout);
	exit(EXIT_OK);
}

static void try_help(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage(fmt, ap);
	va_end(ap);
	fprintf(stderr, "Try '%s --help' for more information.\n", PROG);
	exit(EXIT_USAGE);
}

enum {
	OPT_SYNC = 1, OPT_ASYNC, OPT_DIRECT, OPT_NO_DIRECT, OPT_HELP, OPT_VERSION,
};

int main(int argc, const char **argv)
{
	struct opts o = { .chunk = DEFAULT_CHUNK, .depth = DEFAULT_DEPTH };
	char *engine = NULL, *buffer = NULL, *chunk = NULL, *depth = NULL, *input = NULL, *output = NULL,
	     *map = NULL;
	int progress = 0, json = 0, force = 0, dry_run = 0, no_flush = 0, quiet = 0,
	    verbose = 0;
	struct poptOption table[] = {
		{ "sync", 0, POPT_ARG_NONE, NULL, OPT_SYNC, "use the sync engine", NULL },
		{ "async", 0, POPT_ARG_NONE, NULL, OPT_ASYNC, "an async engine", NULL },
		{ "engine", 0, POPT_ARG_STRING, &engine, 0, "exactly this engine", "uring|aio|sync" },
		{ "buffer", 0, POPT_ARG_STRING, &buffer, 0, "dm-io buffer type", "vm|pages|bvec" },
		{ "chunk", 0, POPT_ARG_STRING, &chunk, 0, "bytes per chunk", "SIZE" },
		{ "queue-depth", 0, POPT_ARG_STRING, &depth, 0, "chunks in flight", "N" },
		{ "direct", 0, POPT_ARG_NONE, NULL, OPT_DIRECT, "O_DIRECT everywhere", NULL },
		{ "no-direct", 0, POPT_ARG_NONE, NULL, OPT_NO_DIRECT, "never O_DIRECT", NULL },
		{ "input", 'i', POPT_ARG_STRING, &input, 0, "write: data from FILE", "FILE" },
		{ "output", 'o', POPT_ARG_STRING, &output, 0, "read: data to FILE", "FILE" },
		{ "map", 0, POPT_ARG_STRING, &map, 0, "copy: resumable map", "FILE" },
		{ "progress", 0, POPT_ARG_NONE, &progress, 0, "show progress", NULL },
		{ "json", 0, POPT_ARG_NONE, &json, 0, "status as JSON", NULL },
		{ "force", 0, POPT_ARG_NONE, &force, 0, "write to devices in use", NULL },
		{ "dry-run", 'n', POPT_ARG_NONE, &dry_run, 0, "print the plan only", NULL },
		{ "no-flush", 0, POPT_ARG_NONE, &no_flush, 0, "skip the final fdatasync", NULL },
		{ "quiet", 'q', POPT_ARG_NONE, &quiet, 0, "nothing on success", NULL },
		{ "verbose", 'v', POPT_ARG_NONE, &verbose, 0, "say more", NULL },
		{ "help", 'h', POPT_ARG_NONE, NULL, OPT_HELP, "display this help", NULL },
		{ "version", 'V', POPT_ARG_NONE, NULL, OPT_VERSION, "display version", NULL },
		POPT_TABLEEND
	};
	poptContext pc = poptGetContext(PROG, argc, argv, table, 0);
	const char **args, *cmd;
	struct region *r;
	struct job_result res = { 0 };
	unsigned long error_bits = 0;
	unsigned int n, min, max;
	int c, rc;

	while ((c = poptGetNextOpt(pc)) > 0) {
		switch (c) {
		case OPT_SYNC: o.engine = "sync"; break;
		case OPT_ASYNC: o.engine = NULL; break;
		case OPT_DIRECT: o.direct = DIRECT_ON; break;
		case OPT_NO_DIRECT: o.direct = DIRECT_OFF; break;
		case OPT_HELP: usage(); break;
		case OPT_VERSION:
			printf("%s %s\n", PROG, DMIO_VERSION);
			return EXIT_OK;
		}
	}
	if (c < -1)
		try_help("%s: %s", poptBadOption(pc, POPT_BADOPTION_NOALIAS), poptStrerror(c));
	o.progress = progress, o.json = json, o.force = force, o.dry_run = dry_run;
	o.no_flush = no_flush, o.quiet = quiet, o.verbose = verbose;
	o.input = input, o.output = output, o.map = map;
	if (engine) {
		if (strcmp(engine, "uring") && strcmp(engine, "aio") && strcmp(engine, "sync"))
			try_help("--engine: '%s': not uring, aio or sync", engine);
		o.engine = engine;
	}
	if (buffer) {
		if (!strcmp(buffer, "vm"))
			o.buffer = BUFFER_VM;
		else if (!strcmp(buffer, "pages"))
			o.buffer = BUFFER_PAGES;
		else if (!strcmp(buffer, "bvec"))
			o.buffer = BUFFER_BVEC;
		else
			try_help("--buffer: '%s': not vm, pages or bvec", buffer);
	}
	if (chunk) {
		uint64_t s;
		const char *err = parse_sectors(chunk, &s);

		if (err)
			try_help("--chunk: '%s': %s", chunk, err);
		o.chunk = s << DMIO_SECTOR_SHIFT;
		if (!o.chunk || o.chunk % DMIO_PAGE_SIZE || o.chunk > MAX_CHUNK)
			try_help("--chunk: '%s': must be a multiple of 4K from 4K to 64M", chunk);
	}
	if (depth) {
		char *end;
		unsigned long d;

		errno = 0;
		d = strtoul(depth, &end, 10);
		if (errno || *end || end == depth || depth[0] == '-' || !d || d > MAX_DEPTH)
			try_help("--queue-depth: '%s': not a number from 1 to %d", depth,
				 MAX_DEPTH);
		o.depth = (unsigned int)d;
	}

	cmd = poptGetArg(pc);
	if (!cmd)
		try_help("no command given");
	for (c = 0; c <= OP_INFO; c++)
		if (!strcmp(cmd, op_names[c]))
			break;
	if (c > OP_INFO)
		try_help("unknown command '%s'", cmd);
	o.op = (enum op)c;
	if (o.input && o.op != OP_WRITE)
		try_help("--input is for write only");
	if (o.output && o.op != OP_READ)
		try_help("--output is for read only");
	if (o.map && o.op != OP_COPY)
		try_help("--map is for copy only");
	if (o.map && !*o.map)
		try_help("--map: an empty file name");
	if (o.map && o.no_flush)
		try_help("--map and --no-flush: a map records only what was flushed");

	args = poptGetArgs(pc);
	for (n = 0; args && args[n]; n++)
		;
	switch (o.op) {
	case OP_COPY:
	case OP_VERIFY:
		min = 2, max = 1 + DMIO_MAX_REGIONS;
		break;
	case OP_READ:
		min = max = 1;
		break;
	case OP_INFO:
		min = 1, max = UINT32_MAX;
		break;
	default:
		min = 1, max = DMIO_MAX_REGIONS;
		break;
	}
	if (n < min)
		try_help("%s: too few regions", cmd);
	if (n > max) {
		if (o.op == OP_READ)
			try_help("read: one source region only");
		warnx("%s: %u destinations; at most %zu", cmd,
		      n - (o.op == OP_COPY || o.op == OP_VERIFY), DMIO_MAX_REGIONS);
		return EXIT_USAGE;
	}

	r = calloc(n, sizeof(*r));
	if (!r) {
		warnx("out of memory");
		return EXIT_IOERR;
	}
	for (unsigned int i = 0; i < n; i++) {
		r[i].text = args[i];
		r[i].role = (o.op == OP_COPY || o.op == OP_VERIFY) && !i ? ROLE_SOURCE
			    : o.op == OP_READ || o.op == OP_INFO ? ROLE_SOURCE
								: ROLE_DEST;
	}
	signals_init();
	if (!regions_prepare(&o, r, n)) {
		rc = EXIT_USAGE;
		goto out;
	}
	if (o.verbose)
		for (unsigned int i = 0; i < n; i++)
			warnx("%s -> %s, sectors %llu+%llu, %s",
			      r[i].text, r[i].path, (unsigned long long)r[i].sector,
			      (unsigned long long)r[i].count,
			      r[i].dev.direct ? "O_DIRECT" : "buffered");
	if (o.op == OP_INFO) {
		rc = info_run(&o, r, n);
		goto out;
	}
	if (o.dry_run) {
		for (unsigned int i = 0; i < n; i++)
			r[i].status = ST_PLANNED;
		report(&o, r, n, &res, 0);
		rc = EXIT_OK;
		goto out;
	}
	rc = job_run(&o, r, n, &res);
	if (rc)
		goto out;
	rc = EXIT_OK;
	for (unsigned int i = 0; i < n; i++) {
		unsigned int bit = i - (o.op == OP_COPY || o.op == OP_VERIFY);

		if (r[i].role == ROLE_DEST && r[i].status == ST_ERROR)
			error_bits |= 1UL << bit;
		if (r[i].status == ST_MISMATCH && rc == EXIT_OK)
			rc = EXIT_MISMATCH;
		if (r[i].status == ST_ERROR)
			rc = EXIT_IOERR;
	}
	if (res.read_error || res.output_error)
		rc = EXIT_IOERR;
	if (res.interrupted)
		rc = EXIT_SIGNAL + res.signal;
	if (rc != EXIT_OK || !o.quiet)
		report(&o, r, n, &res, error_bits);
out:
	regions_close(r, n);
	for (unsigned int i = 0; i < n; i++) {
		free(r[i].spec.device);
		free(r[i].path);
		free(r[i].error);
	}
	free(r);
	poptFreeContext(pc);
	return rc;
}
