/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The options' ids (options.c parses them) and their rules (rules.c):
 * which command takes which option, and which options need or exclude
 * each other, in one table, checked in one function.
 */
#ifndef DMIO_RULES_H
#define DMIO_RULES_H

#include "cmd/command.h"
#include "regions/spec.h"

enum opt {
	OPT_NONE, OPT_SYNC, OPT_ASYNC, OPT_ENGINE, OPT_BUFFER, OPT_CHUNK, OPT_QUEUE_DEPTH, OPT_DIRECT,
	OPT_NO_DIRECT, OPT_INPUT, OPT_OUTPUT, OPT_MAP, OPT_KEEP_GOING, OPT_RETRIES, OPT_NO_SPARSE,
	OPT_TARGET_IS_ZERO, OPT_WRITE_CHANGED, OPT_DISCARD, OPT_FIRST, OPT_MAX_RANGES, OPT_CONNECTIONS,
	OPT_TLS_PSK, OPT_TLS_CERTIFICATES, OPT_SERVER_TIMEOUT, OPT_RAW, OPT_HASH, OPT_HASH_WINDOW,
	OPT_HASH_LOG, OPT_DIGEST_FILE, OPT_RATE, OPT_DIRTY_BITMAP, OPT_CHANGED_SINCE, OPT_PROGRESS,
	OPT_JSON, OPT_FORCE, OPT_DRY_RUN, OPT_NO_FLUSH, OPT_QUIET, OPT_VERBOSE,
	OPT_HELP, OPT_VERSION, OPT_COUNT
};

/* Refuse (exit 2) an option o->op does not take, one that lacks what it
 * needs, two that exclude each other; given[id]: the option was given. */
void options_check(const struct opts *o, const bool *given);
/* The job's shape, from the command and the options. */
struct shape shape_of(const struct opts *o);
/* What "-" and "null:" among the regions a[0..n) make of o's shape (a
 * copy's input or output); refuse (exit 2) them where they cannot be. */
void shape_streams(struct opts *o, const struct region_arg *a, unsigned int n);

#endif
