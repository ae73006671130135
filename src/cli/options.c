// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The command line: the usage text, the options and the command, parsed or
 * refused with a one-line message and "Try 'dmio --help'" (util-linux's
 * errtryhelp()); a refusal is a JSON document too under --json.
 */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <popt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "hash.h"

#ifndef DMIO_VERSION
#define DMIO_VERSION "unknown"
#endif

static const char usage_text[] =
	"Usage:\n"
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
	"Regions: DEVICE[:START[+COUNT]]; DEVICE is a path, UUID=, LABEL=,\n"
	"PARTUUID=, PARTLABEL=, or an NBD URI (nbd://HOST[:PORT]/EXPORT, nbds://,\n"
	"nbd+unix:///EXPORT?socket=PATH, nbds+unix://), with :START[+COUNT] after\n"
	"its path, before any '?'; START and COUNT are 512-byte sectors, or bytes\n"
	"with a suffix K, M, G, T (KiB, MiB, GiB, TiB).\n"
	"\n"
	"Options:\n"
	"     --sync               the sync engine (preadv/pwritev)\n"
	"     --async              an async engine: io_uring where the kernel has\n"
	"                          it, else libaio (the default)\n"
	"     --engine=NAME        exactly this engine: uring, aio (libaio) or sync\n"
	"     --buffer=TYPE        dm-io buffer type: vm (default), pages or bvec\n"
	"     --chunk=SIZE         bytes per I/O chunk (default 1M; a multiple of 4K\n"
	"                          up to 64M)\n"
	"     --queue-depth=N      chunks in flight (default 8; chunk x depth at most\n"
	"                          256M)\n"
	"     --direct             O_DIRECT on every region; refuse unaligned ones\n"
	"     --no-direct          never O_DIRECT (default: where aligned)\n"
	" -i, --input=FILE         write: read the data from FILE, not stdin (-: stdin)\n"
	" -o, --output=FILE        read: write the data to FILE, not stdout (-: stdout)\n"
	"     --map=FILE           copy: record progress per destination in FILE;\n"
	"                          run again with it to copy only what is missing\n"
	"     --keep-going         copy: go on past unreadable source sectors,\n"
	"                          writing zeroes for them, and list them (exit 3)\n"
	"     --retries=N          copy --keep-going: read the bad sectors again, up\n"
	"                          to N more passes (default 0)\n"
	"     --no-sparse          write every byte: no holes, no write-zeroes\n"
	"     --target-is-zero     copy, write: the destinations read as zeroes;\n"
	"                          skip the source's zeroes\n"
	"     --write-changed      copy: read each destination, write only chunks\n"
	"                          that differ\n"
	"     --discard            zero: discard instead of writing zeroes\n"
	"     --first              verify: stop each destination at its first\n"
	"                          difference (faster; no list of what differs)\n"
	"     --max-ranges=N       verify: list at most N differing ranges per\n"
	"                          destination in JSON (default 1000)\n"
	"     --connections=N      NBD: connections per export where the server\n"
	"                          allows several (default 4)\n"
	"     --tls-psk=FILE       NBD: TLS with the pre-shared keys in FILE\n"
	"     --tls-certificates=DIR  NBD: TLS with the X.509 files in DIR\n"
	"     --hash=ALG[,ALG...]  digests of the data in the same pass: md5, sha1,\n"
	"                          sha256, sha512, sha3-256, blake2b-512, xxh128\n"
	"     --hash-window=SIZE   a digest of every SIZE bytes too\n"
	"     --hash-log=FILE      write the digests to FILE, as sha256sum -c reads\n"
	"     --digest-file=FILE   verify: check each DST against FILE's digests\n"
	"                          (a --hash-log), with no source\n"
	"     --rate=SIZE          at most SIZE bytes of the regions per second\n"
	"     --progress[=fd:N]    show progress on stderr; with fd:N, JSON lines on\n"
	"                          file descriptor N instead, for programs\n"
	"     --json               print the status as JSON\n"
	"     --force              write to block devices in use\n"
	" -n, --dry-run            resolve, check and print the plan; touch nothing\n"
	"     --no-flush           skip the final fdatasync of each destination\n"
	" -q, --quiet              no status table on success (--json still prints)\n"
	" -v, --verbose            say more\n"
	" -h, --help               display this help\n"
	" -V, --version            display version\n"
	"\n"
	"Sizes are bytes, with an optional K, M, G or T (also KB, KiB...: powers of\n"
	"1024).  DMIO_ENGINE and DMIO_QUEUE_DEPTH set the defaults of --engine and\n"
	"--queue-depth.\n"
	"\n"
	"Exit status: 0 success, 1 verify found differences, 2 usage error or\n"
	"refused input (nothing written), 3 I/O error, 128+N interrupted by signal N.\n"
	"\n"
	"For more details see dmio(1).\n";

static bool json;		/* --json, seen before the options are parsed */
static bool json_stderr;	/* its document goes to stderr (read's data is on stdout) */
static const char *command;	/* the command as given, for a refusal's JSON */

/* A refusal or a failure before the job: with --json, one document that
 * says what and the exit status.  Returns rc. */
int refused(int rc)
{
	json_object *doc;
	char *msg;

	if (!json)
		return rc;
	doc = json_object_new_object();
	msg = utf8_safe(last_message());
	json_object_object_add(doc, "schema", json_object_new_int(REPORT_SCHEMA));
	json_object_object_add(doc, "operation", command ? json_object_new_string(command) : NULL);
	json_object_object_add(doc, "error", msg ? json_object_new_string(msg) : NULL);
	json_object_object_add(doc, "exit_code", json_object_new_int(rc));
	fprintf(json_stderr ? stderr : stdout, "%s\n",
		json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY |
					       JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(doc);
	free(msg);
	fflush(stdout);
	return rc;
}

void errtryhelp(const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	warnmsg("%s", msg ? msg : "out of memory");
	free(msg);
	fprintf(stderr, "Try '%s --help' for more information.\n", PROG);
	exit(refused(EXIT_USAGE));
}

/* ---- parse or die, as util-linux's strtou32_or_err() ---- */

static uint64_t size_or_err(const char *s, const char *opt)
{
	uint64_t bytes;
	const char *err = parse_bytes(s, &bytes);

	if (err)
		errtryhelp("%s: '%s': %s", opt, s, err);
	return bytes;
}

static unsigned int u32_or_err(const char *s, const char *opt, unsigned int min,
			       unsigned int max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || end == s || s[0] == '-' || v < min || v > max)
		errtryhelp("%s: '%s': not a number from %u to %u", opt, s, min, max);
	return (unsigned int)v;
}

/* The index of s in words (NULL-terminated). */
static unsigned int word_or_err(const char *s, const char *opt,
				const char *const *words, const char *list)
{
	for (unsigned int i = 0; words[i]; i++)
		if (!strcmp(s, words[i]))
			return i;
	errtryhelp("%s: '%s': not %s", opt, s, list);
}

/* --progress's argument: none (the bar or plain lines on stderr), or fd:N,
 * an fd open for writing (JSON lines). */
static void progress_or_err(const char *s, struct opts *o)
{
	char *end;
	long fd;
	int fl;

	if (!s || !*s) {
		o->progress = true;
		return;
	}
	errno = 0;
	fd = strncmp(s, "fd:", 3) || s[3] < '0' || s[3] > '9' ? -1 : strtol(s + 3, &end, 10);
	if (fd < 0 || errno || *end || fd > INT32_MAX)
		errtryhelp("--progress: '%s': not fd:N (a file descriptor number)", s);
	fl = fcntl((int)fd, F_GETFL);
	if (fl < 0)
		errtryhelp("--progress: fd %ld: not open", fd);
	if ((fl & O_ACCMODE) == O_RDONLY)
		errtryhelp("--progress: fd %ld: not open for writing", fd);
	o->progress_json = true;
	o->progress_fd = (int)fd;
}

/* ---- options ---- */

enum {
	OPT_SYNC = 1, OPT_ASYNC, OPT_ENGINE, OPT_DIRECT, OPT_NO_DIRECT, OPT_PROGRESS, OPT_HELP,
	OPT_VERSION,
};

static const char *const engines[] = { "uring", "aio", "sync", NULL };

/* Set *v to val for option opt, unless an earlier option set it to
 * something else; *by names the option that set it. */
static void set_once(const char **v, const char *val, const char **by, const char *opt)
{
	if (*by && *v != val && (!*v || !val || strcmp(*v, val)))
		errtryhelp("%s and %s: conflicting options", *by, opt);
	*v = val;
	*by = opt;
}

/* The defaults that the environment sets. */
static void parse_environment(struct opts *o)
{
	const char *e = getenv("DMIO_ENGINE"), *d = getenv("DMIO_QUEUE_DEPTH");

	if (e && *e)
		o->engine = engines[word_or_err(e, "DMIO_ENGINE", engines, "uring, aio or sync")];
	if (d && *d)
		o->depth = u32_or_err(d, "DMIO_QUEUE_DEPTH", 1, DEPTH_MAX);
}

static void parse_options(poptContext pc, struct opts *o, char **v)
{
	static const char *const buffers[] = { "vm", "pages", "bvec", NULL };
	const char *engine_by = NULL, *direct_by = NULL, *direct = NULL;
	int c;

	while ((c = poptGetNextOpt(pc)) > 0) {
		switch (c) {
		case OPT_SYNC: set_once(&o->engine, "sync", &engine_by, "--sync"); break;
		case OPT_ASYNC: set_once(&o->engine, NULL, &engine_by, "--async"); break;
		case OPT_ENGINE: {
			char *e = poptGetOptArg(pc);

			set_once(&o->engine, engines[word_or_err(e, "--engine", engines,
								  "uring, aio or sync")],
				 &engine_by, "--engine");
			free(e);
			break;
		}
		case OPT_PROGRESS: {
			char *p = poptGetOptArg(pc);

			progress_or_err(p, o);
			free(p);
			break;
		}
		case OPT_DIRECT: set_once(&direct, "on", &direct_by, "--direct"); break;
		case OPT_NO_DIRECT: set_once(&direct, "off", &direct_by, "--no-direct"); break;
		case OPT_HELP: fputs(usage_text, stdout); exit(EXIT_OK);
		case OPT_VERSION: printf("%s %s\n", PROG, DMIO_VERSION); exit(EXIT_OK);
		}
	}
	if (c < -1)
		errtryhelp("%s: %s", poptBadOption(pc, POPT_BADOPTION_NOALIAS), poptStrerror(c));
	if (direct)
		o->direct = !strcmp(direct, "on") ? DIRECT_ON : DIRECT_OFF;
	if (v[1])
		o->buffer = (enum buffer_type)word_or_err(v[1], "--buffer", buffers,
							 "vm, pages or bvec");
	if (v[2]) {
		o->chunk = size_or_err(v[2], "--chunk");
		if (!o->chunk || o->chunk % DMIO_PAGE_SIZE || o->chunk > CHUNK_MAX)
			errtryhelp("--chunk: '%s': not a multiple of 4K from 4K to %uM",
				   v[2], CHUNK_MAX >> 20);
	}
	if (v[3])
		o->depth = u32_or_err(v[3], "--queue-depth", 1, DEPTH_MAX);
	if (v[4])
		o->connections = u32_or_err(v[4], "--connections", 1, DMIO_NBD_MAX_CONNECTIONS);
	if (v[9])
		o->retries = u32_or_err(v[9], "--retries", 0, RETRIES_MAX);
	if ((v[5] && !*v[5]) || (v[6] && !*v[6]))
		errtryhelp("%s: an empty file name", v[5] && !*v[5] ? "--tls-psk" : "--tls-certificates");
	o->tls_psk = v[5];
	o->tls_certificates = v[6];
	o->max_ranges = v[7] ? u32_or_err(v[7], "--max-ranges", 0, RANGES_MAX) : RANGES_DEFAULT;
	if (v[8]) {
		o->rate = size_or_err(v[8], "--rate");
		if (!o->rate)
			errtryhelp("--rate: '%s': not a rate: bytes per second, more than 0", v[8]);
	}
}

/* --hash, --hash-window, --hash-log, --digest-file: h[0..3]. */
static void parse_digest_options(struct opts *o, char **h)
{
	char bad[64];

	if (h[0] && hash_parse(h[0], &o->hash_mask, bad, sizeof(bad)))
		errtryhelp("--hash: '%s': not md5, sha1, sha256, sha512, sha3-256, blake2b-512 "
			   "or xxh128", bad);
	if (h[1]) {
		o->hash_window = size_or_err(h[1], "--hash-window");
		if (!o->hash_window || o->hash_window % DMIO_SECTOR_SIZE)
			errtryhelp("--hash-window: '%s': not a multiple of 512 bytes", h[1]);
	}
	for (unsigned int i = 2; i < 4; i++)
		if (h[i] && !*h[i])
			errtryhelp("%s: an empty file name", i == 2 ? "--hash-log" : "--digest-file");
	o->hash_log = h[2];
	o->digest_file = h[3];
}

/* What the digest options go with. */
static void check_digest_options(const struct opts *o)
{
	if (o->digest_file && o->op != OP_VERIFY)
		errtryhelp("--digest-file is for verify only");
	if (o->hash_mask && o->op != OP_COPY && o->op != OP_READ && o->op != OP_WRITE &&
	    o->op != OP_VERIFY)
		errtryhelp("--hash is for copy, read, write and verify only");
	if ((o->hash_window || o->hash_log) && !o->hash_mask && !o->digest_file)
		errtryhelp("%s needs --hash", o->hash_window ? "--hash-window" : "--hash-log");
	if (o->hash_log && o->digest_file)
		errtryhelp("--hash-log and --digest-file: conflicting options");
	if (o->hash_mask && o->keep_going)
		errtryhelp("--hash and --keep-going: a rescue reads bad ranges again, out of "
			   "order");
}

/* The command, and whether the options go with it. */
static void parse_command(const char *cmd, struct opts *o)
{
	if (!cmd)
		errtryhelp("no command given");
	o->op = OP_COUNT;
	for (unsigned int c = 0; c < OP_COUNT; c++)
		if (!strcmp(cmd, op_names[c]))
			o->op = (enum op)c;
	if (o->op == OP_COUNT)
		errtryhelp("unknown command '%s'", cmd);
	command = cmd;
	if (o->input && o->op != OP_WRITE)
		errtryhelp("--input is for write only");
	if (o->output && o->op != OP_READ)
		errtryhelp("--output is for read only");
	if (o->map && o->op != OP_COPY)
		errtryhelp("--map is for copy only");
	if (o->map && !*o->map)
		errtryhelp("--map: an empty file name");
	if (o->map && o->no_flush)
		errtryhelp("--map and --no-flush: a map records only what was flushed");
	if (o->discard && o->op != OP_ZERO)
		errtryhelp("--discard is for zero only");
	if (o->discard && o->no_sparse)
		errtryhelp("--discard and --no-sparse: conflicting options");
	if (o->write_changed && o->op != OP_COPY)
		errtryhelp("--write-changed is for copy only");
	if (o->keep_going && o->op != OP_COPY)
		errtryhelp("--keep-going is for copy only");
	if (o->target_is_zero && o->op != OP_COPY && o->op != OP_WRITE)
		errtryhelp("--target-is-zero is for copy and write only");
	if (o->first && o->op != OP_VERIFY)
		errtryhelp("--first is for verify only");
	check_digest_options(o);
	if (o->progress_json && o->progress_fd == 1 &&
	    (o->json || (o->op == OP_READ && (!o->output || !strcmp(o->output, "-")))))
		errtryhelp("--progress: fd 1: standard output carries %s",
			   o->json ? "the JSON document" : "read's data");
}

static poptContext pc;
static const char **args;

/* popt gives an optional argument the next word when the option has none
 * ("--progress copy": "copy"): a bare --progress is passed on as
 * "--progress=", which no one else may write. */
static const char **progress_bare(int argc, const char **argv)
{
	args = calloc((size_t)argc + 1, sizeof(*args));
	if (!args)
		errtryhelp("out of memory");
	for (int i = 0, opts = 1; i < argc; i++) {
		args[i] = argv[i];
		if (!i || !opts)
			continue;
		opts = strcmp(argv[i], "--");
		if (!strcmp(argv[i], "--progress="))
			errtryhelp("--progress: '': not fd:N (a file descriptor number)");
		if (!strcmp(argv[i], "--progress"))
			args[i] = "--progress=";
	}
	return args;
}

/* Parse argv into *o, or exit with a refusal: the regions' arguments. */
const char **options_parse(int argc, const char **argv, struct opts *o)
{
	/* -, --buffer, --chunk, --queue-depth, --connections, --tls-psk, --tls-certificates,
	 * --max-ranges, --rate, --retries */
	char *v[10] = { NULL };
	char *h[4] = { NULL }; /* --hash, --hash-window, --hash-log, --digest-file */
	char *input = NULL, *output = NULL, *map = NULL;
	int force = 0, dry_run = 0, no_flush = 0, quiet = 0, verbose = 0;
	/* --no-sparse, --target-is-zero, --discard, --write-changed, --first,
	 * --keep-going */
	int flag[6] = { 0 };
	struct poptOption table[] = {
		{ "sync", 0, POPT_ARG_NONE, NULL, OPT_SYNC, NULL, NULL },
		{ "async", 0, POPT_ARG_NONE, NULL, OPT_ASYNC, NULL, NULL },
		{ "engine", 0, POPT_ARG_STRING, NULL, OPT_ENGINE, NULL, NULL },
		{ "buffer", 0, POPT_ARG_STRING, &v[1], 0, NULL, NULL },
		{ "chunk", 0, POPT_ARG_STRING, &v[2], 0, NULL, NULL },
		{ "queue-depth", 0, POPT_ARG_STRING, &v[3], 0, NULL, NULL },
		{ "connections", 0, POPT_ARG_STRING, &v[4], 0, NULL, NULL },
		{ "tls-psk", 0, POPT_ARG_STRING, &v[5], 0, NULL, NULL },
		{ "tls-certificates", 0, POPT_ARG_STRING, &v[6], 0, NULL, NULL },
		{ "hash", 0, POPT_ARG_STRING, &h[0], 0, NULL, NULL },
		{ "hash-window", 0, POPT_ARG_STRING, &h[1], 0, NULL, NULL },
		{ "hash-log", 0, POPT_ARG_STRING, &h[2], 0, NULL, NULL },
		{ "digest-file", 0, POPT_ARG_STRING, &h[3], 0, NULL, NULL },
		{ "rate", 0, POPT_ARG_STRING, &v[8], 0, NULL, NULL },
		{ "direct", 0, POPT_ARG_NONE, NULL, OPT_DIRECT, NULL, NULL },
		{ "no-direct", 0, POPT_ARG_NONE, NULL, OPT_NO_DIRECT, NULL, NULL },
		{ "input", 'i', POPT_ARG_STRING, &input, 0, NULL, NULL },
		{ "output", 'o', POPT_ARG_STRING, &output, 0, NULL, NULL },
		{ "map", 0, POPT_ARG_STRING, &map, 0, NULL, NULL },
		{ "keep-going", 0, POPT_ARG_NONE, &flag[5], 0, NULL, NULL },
		{ "retries", 0, POPT_ARG_STRING, &v[9], 0, NULL, NULL },
		{ "no-sparse", 0, POPT_ARG_NONE, &flag[0], 0, NULL, NULL },
		{ "target-is-zero", 0, POPT_ARG_NONE, &flag[1], 0, NULL, NULL },
		{ "discard", 0, POPT_ARG_NONE, &flag[2], 0, NULL, NULL },
		{ "write-changed", 0, POPT_ARG_NONE, &flag[3], 0, NULL, NULL },
		{ "first", 0, POPT_ARG_NONE, &flag[4], 0, NULL, NULL },
		{ "max-ranges", 0, POPT_ARG_STRING, &v[7], 0, NULL, NULL },
		{ "progress", 0, POPT_ARG_STRING | POPT_ARGFLAG_OPTIONAL, NULL, OPT_PROGRESS, NULL,
		  NULL },
		{ "json", 0, POPT_ARG_NONE, NULL, 0, NULL, NULL },
		{ "force", 0, POPT_ARG_NONE, &force, 0, NULL, NULL },
		{ "dry-run", 'n', POPT_ARG_NONE, &dry_run, 0, NULL, NULL },
		{ "no-flush", 0, POPT_ARG_NONE, &no_flush, 0, NULL, NULL },
		{ "quiet", 'q', POPT_ARG_NONE, &quiet, 0, NULL, NULL },
		{ "verbose", 'v', POPT_ARG_NONE, &verbose, 0, NULL, NULL },
		{ "help", 'h', POPT_ARG_NONE, NULL, OPT_HELP, NULL, NULL },
		{ "version", 'V', POPT_ARG_NONE, NULL, OPT_VERSION, NULL, NULL },
		POPT_TABLEEND
	};
	/* Seen first, so that a refusal of any option is JSON too; a read's
	 * refusal goes where its report would, away from the data. */
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		json |= !strcmp(argv[i], "--json");
		json_stderr |= !strcmp(argv[i], "read");
	}
	pc = poptGetContext(PROG, argc, progress_bare(argc, argv), table, 0);
	parse_environment(o);
	parse_options(pc, o, v);
	parse_digest_options(o, h);
	o->json = json, o->force = force, o->dry_run = dry_run;
	o->no_flush = no_flush, o->quiet = quiet, o->verbose = verbose;
	o->input = input, o->output = output, o->map = map;
	o->no_sparse = flag[0], o->target_is_zero = flag[1], o->discard = flag[2];
	o->write_changed = flag[3], o->first = flag[4], o->keep_going = flag[5];
	parse_command(poptGetArg(pc), o);
	if (v[7] && o->op != OP_VERIFY)
		errtryhelp("--max-ranges is for verify only");
	if (v[7] && o->first)
		errtryhelp("--first and --max-ranges: conflicting options");
	if (v[9] && !o->keep_going)
		errtryhelp("--retries needs --keep-going");
	json_stderr = o->op == OP_READ && (!o->output || !strcmp(o->output, "-"));
	return poptGetArgs(pc);
}

void options_free(void)
{
	poptFreeContext(pc);
	free(args);
}
