// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Messages, util-linux style: "dmio: what: why" on stderr, one line, with
 * control bytes shown as \xNN (as libsmartcols shows them), so that a name
 * holding a newline or an escape sequence cannot break or forge a line.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cli.h"

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

void warnmsg(const char *fmt, ...)
{
	va_list ap;
	char *msg;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: ", PROG);
	if (n < 0) {
		fputs("out of memory\n", stderr);
		return;
	}
	put_safe(msg);
	free(msg);
	fputc('\n', stderr);
}

double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
