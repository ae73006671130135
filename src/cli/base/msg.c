// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Messages, util-linux style: "dmio: what: why" on stderr, one line, with
 * control bytes shown as \xNN (as libsmartcols shows them), so that a name
 * holding a newline or an escape sequence cannot break or forge a line.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/base.h"

/* len bytes of msg to f, control bytes shown as \xNN. */
static void put_safe_n(FILE *f, const char *msg, size_t len)
{
	for (; len--; msg++) {
		unsigned char c = (unsigned char)*msg;

		if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
}

void put_safe(FILE *f, const char *msg)
{
	put_safe_n(f, msg, strlen(msg));
}

static char *last;

void warnmsg(const char *fmt, ...)
{
	va_list ap;
	char *msg;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	/* One line, whole, beside a server's (msgline(), on another thread). */
	flockfile(stderr);
	fprintf(stderr, "%s: ", PROG);
	if (n < 0) {
		fputs("out of memory\n", stderr);
		funlockfile(stderr);
		return;
	}
	put_safe(stderr, msg);
	fputc('\n', stderr);
	funlockfile(stderr);
	free(last);
	last = msg;
}

void msgline(const char *who, const char *line, size_t len)
{
	flockfile(stderr);
	fputs(who, stderr);
	fputs(": ", stderr);
	put_safe_n(stderr, line, len);
	fputc('\n', stderr);
	funlockfile(stderr);
}

const char *last_message(void)
{
	return last;
}

/* The length of the UTF-8 sequence at s, or 0 when it is not one (an
 * overlong form, a surrogate, past U+10FFFF, cut short). */
static size_t utf8_len(const unsigned char *s)
{
	size_t n = s[0] < 0x80 ? 1 : s[0] >= 0xc2 && s[0] <= 0xdf ? 2
		 : (s[0] & 0xf0) == 0xe0 ? 3 : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : 0;
	unsigned int cp;

	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if (n == 3) {
		cp = (s[0] & 0x0fu) << 12 | (s[1] & 0x3fu) << 6 | (s[2] & 0x3fu);
		if (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
	} else if (n == 4) {
		cp = (s[0] & 0x07u) << 18 | (s[1] & 0x3fu) << 12;
		if (cp < 0x10000 || cp > 0x10ffff)
			return 0;
	}
	return n;
}

char *utf8_safe(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	char *out, *o;

	if (!s)
		return NULL;
	out = o = malloc(strlen(s) * 4 + 1);
	while (out && *p) {
		size_t n = utf8_len(p);

		if (n) {
			memcpy(o, p, n);
			o += n;
			p += n;
		} else {
			o += sprintf(o, "\\x%02x", *p++);
		}
	}
	if (out)
		*o = 0;
	return out;
}

double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
