// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The command line: the usage text, the options and the command, parsed or
 * refused with a one-line message and "Try 'dmio --help'" (refuse.c).
 * Which command takes which option, and which options need or exclude
 * each other, is rules.c's table.
 */
#include <errno.h>
#include <fcntl.h>
#include <popt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "cmd/rules.h"
#include "regions/spec.h"
#include "features/hash.h"

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
	"with a suffix K, M, G, T (KiB, MiB, GiB, TiB).  [ CMD ARGS... ] [:START[+COUNT]]\n"
	"is an NBD server that dmio runs for the job (socket activation), as in\n"
	"[ qemu-nbd -f qcow2 disk.qcow2 ].  copy also takes - (stdin as its source,\n"
	"stdout as a destination) and null: (a destination that keeps nothing).\n"
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
	"                          destination in JSON (default 1000); the same\n"
	"                          for the windows of --hash-window\n"
	"     --connections=N      NBD: connections per export where the server\n"
	"                          allows several (default 4)\n"
	"     --tls-psk=FILE       NBD: TLS with the pre-shared keys in FILE\n"
	"     --tls-certificates=DIR  NBD: TLS with the X.509 files in DIR\n"
	"     --server-timeout=SECONDS  [ CMD ]: how long a server may take to\n"
	"                          answer (default 30)\n"
	"     --raw                regions that are image files (qcow2, vmdk, vhdx,\n"
	"                          vpc, qed) are their bytes, not refused\n"
	"     --hash=ALG[,ALG...]  digests of the data in the same pass: md5, sha1,\n"
	"                          sha256, sha512, sha3-256, blake2b-512, xxh128\n"
	"     --hash-window=SIZE   a digest of every SIZE bytes too\n"
	"     --hash-log=FILE      write the digests to FILE, as sha256sum -c reads\n"
	"     --digest-file=FILE   verify: check each DST against FILE's digests\n"
	"                          (a --hash-log), with no source\n"
	"     --rate=SIZE          at most SIZE bytes of the regions per second\n"
	"     --dirty-bitmap=NAME  copy, verify: only the extents that the NBD\n"
	"                          source's dirty bitmap NAME marks (qemu-nbd -B)\n"
	"     --changed-since=LOG  copy: write only the windows whose digest differs\n"
	"                          from LOG's, a --hash-log of the last copy to\n"
	"                          these destinations, and write the new log there\n"
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

/* A file name: not empty. */
static const char *file_or_err(const char *s, const char *opt)
{
	if (s && !*s)
		errtryhelp("%s: an empty file name", opt);
	return s;
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
	/* fds 0, 1 and 2 closed at start are /dev/null now, for nobody. */
	if (fl < 0 || (fd < 3 && o->std_closed & 1u << fd))
		errtryhelp("--progress: fd %ld: not open", fd);
	if ((fl & O_ACCMODE) == O_RDONLY)
		errtryhelp("--progress: fd %ld: not open for writing", fd);
	o->progress_json = true;
	o->progress_fd = (int)fd;
}

/* ---- the options ---- */

static const char *const engines[] = { "uring", "aio", "sync", NULL };

/* The popt table: every option returns its id, and its argument is kept
 * in arg[id] (the last one given). */
static const struct poptOption table[] = {
	{ "sync", 0, POPT_ARG_NONE, NULL, OPT_SYNC, NULL, NULL },
	{ "async", 0, POPT_ARG_NONE, NULL, OPT_ASYNC, NULL, NULL },
	{ "engine", 0, POPT_ARG_STRING, NULL, OPT_ENGINE, NULL, NULL },
	{ "buffer", 0, POPT_ARG_STRING, NULL, OPT_BUFFER, NULL, NULL },
	{ "chunk", 0, POPT_ARG_STRING, NULL, OPT_CHUNK, NULL, NULL },
	{ "queue-depth", 0, POPT_ARG_STRING, NULL, OPT_QUEUE_DEPTH, NULL, NULL },
	{ "direct", 0, POPT_ARG_NONE, NULL, OPT_DIRECT, NULL, NULL },
	{ "no-direct", 0, POPT_ARG_NONE, NULL, OPT_NO_DIRECT, NULL, NULL },
	{ "input", 'i', POPT_ARG_STRING, NULL, OPT_INPUT, NULL, NULL },
	{ "output", 'o', POPT_ARG_STRING, NULL, OPT_OUTPUT, NULL, NULL },
	{ "map", 0, POPT_ARG_STRING, NULL, OPT_MAP, NULL, NULL },
	{ "keep-going", 0, POPT_ARG_NONE, NULL, OPT_KEEP_GOING, NULL, NULL },
	{ "retries", 0, POPT_ARG_STRING, NULL, OPT_RETRIES, NULL, NULL },
	{ "no-sparse", 0, POPT_ARG_NONE, NULL, OPT_NO_SPARSE, NULL, NULL },
	{ "target-is-zero", 0, POPT_ARG_NONE, NULL, OPT_TARGET_IS_ZERO, NULL, NULL },
	{ "write-changed", 0, POPT_ARG_NONE, NULL, OPT_WRITE_CHANGED, NULL, NULL },
	{ "discard", 0, POPT_ARG_NONE, NULL, OPT_DISCARD, NULL, NULL },
	{ "first", 0, POPT_ARG_NONE, NULL, OPT_FIRST, NULL, NULL },
	{ "max-ranges", 0, POPT_ARG_STRING, NULL, OPT_MAX_RANGES, NULL, NULL },
	{ "connections", 0, POPT_ARG_STRING, NULL, OPT_CONNECTIONS, NULL, NULL },
	{ "tls-psk", 0, POPT_ARG_STRING, NULL, OPT_TLS_PSK, NULL, NULL },
	{ "tls-certificates", 0, POPT_ARG_STRING, NULL, OPT_TLS_CERTIFICATES, NULL, NULL },
	{ "server-timeout", 0, POPT_ARG_STRING, NULL, OPT_SERVER_TIMEOUT, NULL, NULL },
	{ "raw", 0, POPT_ARG_NONE, NULL, OPT_RAW, NULL, NULL },
	{ "hash", 0, POPT_ARG_STRING, NULL, OPT_HASH, NULL, NULL },
	{ "hash-window", 0, POPT_ARG_STRING, NULL, OPT_HASH_WINDOW, NULL, NULL },
	{ "hash-log", 0, POPT_ARG_STRING, NULL, OPT_HASH_LOG, NULL, NULL },
	{ "digest-file", 0, POPT_ARG_STRING, NULL, OPT_DIGEST_FILE, NULL, NULL },
	{ "rate", 0, POPT_ARG_STRING, NULL, OPT_RATE, NULL, NULL },
	{ "dirty-bitmap", 0, POPT_ARG_STRING, NULL, OPT_DIRTY_BITMAP, NULL, NULL },
	{ "changed-since", 0, POPT_ARG_STRING, NULL, OPT_CHANGED_SINCE, NULL, NULL },
	{ "progress", 0, POPT_ARG_STRING | POPT_ARGFLAG_OPTIONAL, NULL, OPT_PROGRESS, NULL, NULL },
	{ "json", 0, POPT_ARG_NONE, NULL, OPT_JSON, NULL, NULL },
	{ "force", 0, POPT_ARG_NONE, NULL, OPT_FORCE, NULL, NULL },
	{ "dry-run", 'n', POPT_ARG_NONE, NULL, OPT_DRY_RUN, NULL, NULL },
	{ "no-flush", 0, POPT_ARG_NONE, NULL, OPT_NO_FLUSH, NULL, NULL },
	{ "quiet", 'q', POPT_ARG_NONE, NULL, OPT_QUIET, NULL, NULL },
	{ "verbose", 'v', POPT_ARG_NONE, NULL, OPT_VERBOSE, NULL, NULL },
	{ "help", 'h', POPT_ARG_NONE, NULL, OPT_HELP, NULL, NULL },
	{ "version", 'V', POPT_ARG_NONE, NULL, OPT_VERSION, NULL, NULL },
	POPT_TABLEEND
};

/* What the command line gave: each option's (last) argument, and whether
 * it was given. */
static char *arg[OPT_COUNT];
static bool given[OPT_COUNT];

/* The engine: --sync, --async and --engine set it, and may not set it to
 * two things; *by names the option that set it. */
static void set_engine(struct opts *o, const char *val, const char **by, const char *opt)
{
	if (*by && o->engine != val && (!o->engine || !val || strcmp(o->engine, val)))
		errtryhelp("%s and %s: conflicting options", *by, opt);
	o->engine = val;
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

/* Take the options from pc: each into given[] and arg[]; the engine as it
 * comes, since its options may disagree. */
static void take_options(poptContext pc, struct opts *o)
{
	const char *engine_by = NULL;
	int c;

	while ((c = poptGetNextOpt(pc)) > 0) {
		given[c] = true;
		free(arg[c]);
		arg[c] = poptGetOptArg(pc);
		if (c == OPT_SYNC)
			set_engine(o, "sync", &engine_by, "--sync");
		else if (c == OPT_ASYNC)
			set_engine(o, NULL, &engine_by, "--async");
		else if (c == OPT_ENGINE)
			set_engine(o, engines[word_or_err(arg[c], "--engine", engines,
							  "uring, aio or sync")],
				   &engine_by, "--engine");
		else if (c == OPT_HELP) {
			fputs(usage_text, stdout);
			exit(EXIT_OK);
		} else if (c == OPT_VERSION) {
			printf("%s %s\n", PROG, DMIO_VERSION);
			exit(EXIT_OK);
		}
		else if (c == OPT_PROGRESS)
			progress_or_err(arg[c], o);
	}
	if (c < -1)
		errtryhelp("%s: %s", poptBadOption(pc, POPT_BADOPTION_NOALIAS), poptStrerror(c));
}

/* The values of the options that take one, each parsed or refused. */
static void parse_values(struct opts *o)
{
	static const char *const buffers[] = { "vm", "pages", "bvec", NULL };
	char bad[64];

	if (arg[OPT_BUFFER])
		o->buffer = (enum buffer_type)word_or_err(arg[OPT_BUFFER], "--buffer", buffers,
							 "vm, pages or bvec");
	if (arg[OPT_CHUNK]) {
		o->chunk = size_or_err(arg[OPT_CHUNK], "--chunk");
		if (!o->chunk || o->chunk % DMIO_PAGE_SIZE || o->chunk > CHUNK_MAX)
			errtryhelp("--chunk: '%s': not a multiple of 4K from 4K to %uM",
				   arg[OPT_CHUNK], CHUNK_MAX >> 20);
	}
	if (arg[OPT_QUEUE_DEPTH])
		o->depth = u32_or_err(arg[OPT_QUEUE_DEPTH], "--queue-depth", 1, DEPTH_MAX);
	if (arg[OPT_CONNECTIONS])
		o->connections = u32_or_err(arg[OPT_CONNECTIONS], "--connections", 1,
					    DMIO_NBD_MAX_CONNECTIONS);
	o->server_timeout = arg[OPT_SERVER_TIMEOUT]
				    ? u32_or_err(arg[OPT_SERVER_TIMEOUT], "--server-timeout", 1,
						 SERVER_TIMEOUT_MAX)
				    : SERVER_TIMEOUT_DEFAULT;
	if (arg[OPT_RETRIES])
		o->retries = u32_or_err(arg[OPT_RETRIES], "--retries", 0, RETRIES_MAX);
	o->tls_psk = file_or_err(arg[OPT_TLS_PSK], "--tls-psk");
	o->tls_certificates = file_or_err(arg[OPT_TLS_CERTIFICATES], "--tls-certificates");
	o->max_ranges = arg[OPT_MAX_RANGES] ? u32_or_err(arg[OPT_MAX_RANGES], "--max-ranges", 0,
						       RANGES_MAX) : RANGES_DEFAULT;
	if (arg[OPT_RATE]) {
		o->rate = size_or_err(arg[OPT_RATE], "--rate");
		if (!o->rate)
			errtryhelp("--rate: '%s': not a rate: bytes per second, more than 0",
				   arg[OPT_RATE]);
	}
	if (arg[OPT_HASH] && hash_parse(arg[OPT_HASH], &o->hash_mask, bad, sizeof(bad)))
		errtryhelp("--hash: '%s': not md5, sha1, sha256, sha512, sha3-256, blake2b-512 "
			   "or xxh128", bad);
	if (arg[OPT_HASH_WINDOW]) {
		o->hash_window = size_or_err(arg[OPT_HASH_WINDOW], "--hash-window");
		if (!o->hash_window)
			errtryhelp("--hash-window: '%s': an empty window: 512 bytes at least",
				   arg[OPT_HASH_WINDOW]);
		if (o->hash_window % DMIO_SECTOR_SIZE)
			errtryhelp("--hash-window: '%s': not a multiple of 512 bytes",
				   arg[OPT_HASH_WINDOW]);
	}
	o->hash_log = file_or_err(arg[OPT_HASH_LOG], "--hash-log");
	o->digest_file = file_or_err(arg[OPT_DIGEST_FILE], "--digest-file");
	o->input = arg[OPT_INPUT];
	o->output = arg[OPT_OUTPUT];
	o->map = arg[OPT_MAP];
	if (arg[OPT_DIRTY_BITMAP] && !*arg[OPT_DIRTY_BITMAP])
		errtryhelp("--dirty-bitmap: an empty name");
	o->dirty_bitmap = arg[OPT_DIRTY_BITMAP];
	o->changed_since = file_or_err(arg[OPT_CHANGED_SINCE], "--changed-since");
	/* The new log replaces the old one, unless --hash-log says where. */
	if (o->changed_since && !o->hash_log)
		o->hash_log = o->changed_since;
	o->direct = given[OPT_DIRECT] ? DIRECT_ON : given[OPT_NO_DIRECT] ? DIRECT_OFF : DIRECT_AUTO;
}

/* The flags, each true when given. */
static void take_flags(struct opts *o)
{
	o->json = given[OPT_JSON];
	o->force = given[OPT_FORCE];
	o->dry_run = given[OPT_DRY_RUN];
	o->no_flush = given[OPT_NO_FLUSH];
	o->quiet = given[OPT_QUIET];
	o->verbose = given[OPT_VERBOSE];
	o->no_sparse = given[OPT_NO_SPARSE];
	o->target_is_zero = given[OPT_TARGET_IS_ZERO];
	o->discard = given[OPT_DISCARD];
	o->write_changed = given[OPT_WRITE_CHANGED];
	o->first = given[OPT_FIRST];
	o->keep_going = given[OPT_KEEP_GOING];
	o->raw = given[OPT_RAW];
}

/* The command named cmd. */
static enum op parse_command(const char *cmd)
{
	if (!cmd)
		errtryhelp("no command given");
	for (unsigned int c = 0; c < OP_COUNT; c++)
		if (!strcmp(cmd, op_names[c])) {
			refusal_command(cmd);
			return (enum op)c;
		}
	errtryhelp("unknown command '%s'", cmd);
}

static poptContext pc;
static const char **args;
static char *marks;			/* "\001N": the words of captive servers */
static struct region_arg *regions;	/* the regions given */
static unsigned int nregions;

#define MARK_LEN 12 /* "\001" and an index */

/* The words popt is to parse.  A captive server's words, from "[" to "]",
 * are its own, not dmio's options: each is passed on as a mark ("\001N",
 * argv[N]) that unmark() turns back.  popt gives an optional argument the
 * next word when the option has none ("--progress copy": "copy"): a bare
 * --progress is passed on as "--progress=", which no one else may write. */
static const char **popt_words(int argc, const char **argv)
{
	bool server = false;

	args = calloc((size_t)argc + 1, sizeof(*args));
	marks = malloc((size_t)argc * MARK_LEN);
	if (!args || !marks)
		errtryhelp("out of memory");
	for (int i = 0, opts = 1; i < argc; i++) {
		args[i] = argv[i];
		if (i && (server || !strcmp(argv[i], "["))) {
			server = strcmp(argv[i], "]");
			snprintf(marks + i * MARK_LEN, MARK_LEN, "\001%d", i);
			args[i] = marks + i * MARK_LEN;
		}
		if (!i || !opts || args[i] != argv[i])
			continue;
		opts = strcmp(argv[i], "--");
		if (!strcmp(argv[i], "--progress="))
			errtryhelp("--progress: '': not fd:N (a file descriptor number)");
		if (!strcmp(argv[i], "--progress"))
			args[i] = "--progress=";
	}
	return args;
}

static const char **given_words;	/* the regions' words, unmarked */

/* words (popt's), as given: each mark turned back into its word. */
static const char **unmark(const char **words, const char **argv)
{
	size_t n = 0;

	while (words && words[n])
		n++;
	given_words = calloc(n + 1, sizeof(*given_words));
	if (!given_words)
		errtryhelp("out of memory");
	for (size_t i = 0; i < n; i++)
		given_words[i] = words[i][0] == '\001' ? argv[atoi(words[i] + 1)] : words[i];
	return given_words;
}

/* The regions among the words after the command: an argument each, or a
 * captive server's "[ CMD ARGS... ]" with its ":START[+COUNT]". */
static void group_regions(const char **words)
{
	const char *bad = NULL, *err = spec_group(words, &regions, &nregions, &bad);

	if (err && bad)
		errtryhelp("%s: %s", bad, err);
	if (err)
		errtryhelp("%s", err);
}

const struct region_arg *options_parse(int argc, const char **argv, struct opts *o,
				       unsigned int *n)
{
	bool json = false, read = false;

	const char **words = popt_words(argc, argv);

	/* Seen first, so that a refusal of any option is JSON too; a read's
	 * refusal goes where its report would, away from the data. */
	for (int i = 1; i < argc && strcmp(words[i], "--"); i++) {
		json |= !strcmp(words[i], "--json");
		read |= !strcmp(words[i], "read");
	}
	refusal_json(json, read);
	pc = poptGetContext(PROG, argc, words, table, 0);
	parse_environment(o);
	take_options(pc, o);
	parse_values(o);
	take_flags(o);
	o->op = parse_command(poptGetArg(pc));
	group_regions(unmark(poptGetArgs(pc), argv));
	o->shape = shape_of(o);
	shape_streams(o, regions, nregions);
	options_check(o, given);
	refusal_json(json, o->shape.output && stream_is_std(o));
	*n = nregions;
	return regions;
}

void options_free(void)
{
	poptFreeContext(pc);
	free(args);
	free(marks);
	free(given_words);
	for (unsigned int i = 0; i < OPT_COUNT; i++)
		free(arg[i]);
	region_args_free(regions, nregions);
}
