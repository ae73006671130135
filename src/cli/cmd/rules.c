// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Which command takes which option, and which options need or exclude each
 * other: one table, one check (util-linux's ul_excl_t and
 * err_exclusive_options()).  A real run and --dry-run pass the same check.
 */
#include <stdio.h>
#include <string.h>

#include "cmd/rules.h"

const char *const op_names[OP_COUNT] = { "copy", "verify", "read", "write", "zero", "info" };

#define CMD(x) (1u << OP_##x)
#define ANY ((1u << OP_COUNT) - 1)

/* An option with a rule: the commands that take it; another it needs (or
 * one of those after it). */
static const struct rule {
	enum opt id;
	const char *name;
	unsigned int cmds;
	enum opt needs[3];
} rules[] = {
	{ OPT_INPUT, "--input", CMD(WRITE), { 0 } },
	{ OPT_OUTPUT, "--output", CMD(READ), { 0 } },
	{ OPT_MAP, "--map", CMD(COPY), { 0 } },
	{ OPT_DISCARD, "--discard", CMD(ZERO), { 0 } },
	{ OPT_WRITE_CHANGED, "--write-changed", CMD(COPY), { 0 } },
	{ OPT_KEEP_GOING, "--keep-going", CMD(COPY), { 0 } },
	{ OPT_TARGET_IS_ZERO, "--target-is-zero", CMD(COPY) | CMD(WRITE), { 0 } },
	{ OPT_FIRST, "--first", CMD(VERIFY), { 0 } },
	{ OPT_DIGEST_FILE, "--digest-file", CMD(VERIFY), { 0 } },
	{ OPT_HASH, "--hash", CMD(COPY) | CMD(READ) | CMD(WRITE) | CMD(VERIFY), { 0 } },
	{ OPT_HASH_WINDOW, "--hash-window", ANY, { OPT_HASH, OPT_DIGEST_FILE, OPT_CHANGED_SINCE } },
	{ OPT_HASH_LOG, "--hash-log", ANY, { OPT_HASH, OPT_DIGEST_FILE, OPT_CHANGED_SINCE } },
	{ OPT_MAX_RANGES, "--max-ranges", CMD(COPY) | CMD(READ) | CMD(WRITE) | CMD(VERIFY), { 0 } },
	{ OPT_RETRIES, "--retries", ANY, { OPT_KEEP_GOING } },
	{ OPT_DIRTY_BITMAP, "--dirty-bitmap", CMD(COPY) | CMD(VERIFY), { 0 } },
	{ OPT_CHANGED_SINCE, "--changed-since", CMD(COPY), { 0 } },
	{ OPT_SERVER_TIMEOUT, "--server-timeout", ANY, { 0 } },
	{ OPT_RAW, "--raw", ANY, { 0 } },
};

/* Options that exclude each other, and why where "conflicting" is not
 * enough. */
static const struct exclusion {
	enum opt a, b;
	const char *why;
} exclusions[] = {
	{ OPT_DIRECT, OPT_NO_DIRECT, NULL },
	{ OPT_MAP, OPT_NO_FLUSH, "a map records only what was flushed" },
	{ OPT_DISCARD, OPT_NO_SPARSE, NULL },
	{ OPT_HASH_LOG, OPT_DIGEST_FILE, NULL },
	{ OPT_HASH, OPT_KEEP_GOING, "a rescue reads bad ranges again, out of order" },
	{ OPT_FIRST, OPT_MAX_RANGES, NULL },
	{ OPT_HASH, OPT_DIRTY_BITMAP, "only the dirty extents are read, so no digest is of the "
				     "whole source (verify --digest-file checks a copy)" },
	{ OPT_DIGEST_FILE, OPT_DIRTY_BITMAP, NULL },
	{ OPT_CHANGED_SINCE, OPT_WRITE_CHANGED, "the destinations are not read: what changed is "
						"what the log says" },
	{ OPT_CHANGED_SINCE, OPT_DIRTY_BITMAP, NULL },
	{ OPT_CHANGED_SINCE, OPT_MAP, "the log is the record of what is done" },
	{ OPT_CHANGED_SINCE, OPT_KEEP_GOING, "the log would say a bad sector's zeroes are "
					     "the source's" },
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *name_of(enum opt id)
{
	static const char *const names[OPT_COUNT] = {
		[OPT_DIRECT] = "--direct", [OPT_NO_DIRECT] = "--no-direct", [OPT_NO_FLUSH] = "--no-flush",
		[OPT_NO_SPARSE] = "--no-sparse",
	};

	for (size_t i = 0; i < COUNT(rules); i++)
		if (rules[i].id == id)
			return rules[i].name;
	return names[id];
}

/* "copy", "copy and write", "copy, read, write and verify": the commands
 * that move data first, then verify and info. */
static void command_list(unsigned int cmds, char *buf, size_t len)
{
	static const enum op order[] = { OP_COPY, OP_READ, OP_WRITE, OP_ZERO, OP_VERIFY, OP_INFO };
	unsigned int n = (unsigned int)__builtin_popcount(cmds), k = 0;
	size_t used = 0;

	*buf = 0;
	for (size_t i = 0; i < COUNT(order) && used < len; i++)
		if (cmds & 1u << order[i])
			used += (size_t)snprintf(buf + used, len - used, "%s%s",
						 !k++ ? "" : k == n ? " and " : ", ",
						 op_names[order[i]]);
}

void options_check(const struct opts *o, const bool *given)
{
	char list[64];

	for (size_t i = 0; i < COUNT(rules); i++) {
		const struct rule *r = &rules[i];

		if (!given[r->id])
			continue;
		if (!(r->cmds & 1u << o->op)) {
			command_list(r->cmds, list, sizeof(list));
			errtryhelp("%s is for %s only", r->name, list);
		}
		if (r->needs[0] && !given[r->needs[0]] && !(r->needs[1] && given[r->needs[1]]) &&
		    !(r->needs[2] && given[r->needs[2]]))
			errtryhelp("%s needs %s", r->name, name_of(r->needs[0]));
	}
	if (o->map && !*o->map)
		errtryhelp("--map: an empty file name");
	/* It bounds verify's ranges, and the windows in JSON. */
	if (given[OPT_MAX_RANGES] && o->op != OP_VERIFY && !given[OPT_HASH_WINDOW])
		errtryhelp("--max-ranges needs verify or --hash-window");
	for (size_t i = 0; i < COUNT(exclusions); i++) {
		const struct exclusion *x = &exclusions[i];

		if (given[x->a] && given[x->b])
			errtryhelp("%s and %s: %s", name_of(x->a), name_of(x->b),
				   x->why ? x->why : "conflicting options");
	}
	if (o->progress_json && o->progress_fd == 1 &&
	    (o->json || (o->shape.output && stream_is_std(o))))
		errtryhelp("--progress: fd 1: standard output carries %s",
			   o->json ? "the JSON document" : "the data");
}

bool stream_is_std(const struct opts *o)
{
	const char *path = o->shape.input ? o->input : o->output;

	return !path || !strcmp(path, "-");
}

void shape_streams(struct opts *o, const struct region_arg *a, unsigned int n)
{
	unsigned int outs = 0;
	bool streams = false;

	for (unsigned int i = 0; i < n; i++) {
		bool std = !a[i].argv && !strcmp(a[i].text, "-");
		bool sink = !a[i].argv && !strcmp(a[i].text, "null:");
		bool src = o->shape.source && !i;

		if ((std || sink) && (o->op != OP_COPY || (sink && src)))
			errtryhelp("%s: %s", a[i].text, sink ? "only a copy's destination"
				   : "only a copy's source or destination (read and write take -o "
				     "and -i)");
		streams |= std;
		if (std && src)
			o->shape.input = true;
		else if (std && outs++)
			errtryhelp("-: standard output is one destination, given twice");
		else if (std)
			o->shape.output = true;
	}
	if (o->shape.input && o->shape.output)
		errtryhelp("-: copy from standard input to standard output: cat(1) does that");
	/* A copy's stream is read or written once, in order (read's and
	 * write's options are the rules' business). */
	if (streams && (o->map || o->keep_going || o->write_changed))
		errtryhelp("-: %s needs regions it can read or write again, out of order",
			   o->map ? "--map" : o->keep_going ? "--keep-going" : "--write-changed");
}

struct shape shape_of(const struct opts *o)
{
	struct shape s = {
		.source = (o->op == OP_COPY || o->op == OP_VERIFY || o->op == OP_READ) &&
			  !o->digest_file,
		.writes = o->op == OP_COPY || o->op == OP_WRITE || o->op == OP_ZERO,
		.reads_back = o->op == OP_VERIFY || (o->op == OP_COPY && o->write_changed),
		.input = o->op == OP_WRITE,
		.output = o->op == OP_READ,
		.min_regions = 1,
		.max_regions = UINT32_MAX,
	};

	/* copy and verify: a source and a destination at least. */
	if (s.source && o->op != OP_READ)
		s.min_regions = 2;
	if (o->op == OP_READ)
		s.max_regions = 1;
	else if (o->op != OP_INFO)
		s.max_regions = s.source + DMIO_MAX_REGIONS;
	return s;
}
