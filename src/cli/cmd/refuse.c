// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * How the command line says no: a one-line message and "Try 'dmio
 * --help'" (util-linux's errtryhelp()), exit 2; under --json, a document
 * that says what and the exit status, on stdout (stderr where read's data
 * goes to stdout).
 */
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/base.h"
#include "cmd/command.h"
#include "output/output.h"

static bool json;		/* --json, seen before the options are parsed */
static bool json_stderr;	/* its document goes to stderr (read's data is on stdout) */
static const char *command;	/* the command as given, for a refusal's JSON */

void refusal_json(bool on, bool to_stderr)
{
	json = on;
	json_stderr = to_stderr;
}

void refusal_command(const char *cmd)
{
	command = cmd;
}

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
