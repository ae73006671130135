// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The region-spec and size parsers.  Strict: no signs, no spaces, no hex,
 * no empty parts, no overflow; an error names what is wrong.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "regions/spec.h"

struct suffix {
	const char *name;
	unsigned int shift;
};

/* In region specs: bytes, in powers of 1024. */
static const struct suffix spec_suffixes[] = {
	{ "K", 10 }, { "KiB", 10 }, { "M", 20 }, { "MiB", 20 },
	{ "G", 30 }, { "GiB", 30 }, { "T", 40 }, { "TiB", 40 },
};

/* In size options: the same, in any case, and KB, MB... as KiB, MiB. */
static const struct suffix size_suffixes[] = {
	{ "K", 10 }, { "KB", 10 }, { "KiB", 10 }, { "M", 20 }, { "MB", 20 }, { "MiB", 20 },
	{ "G", 30 }, { "GB", 30 }, { "GiB", 30 }, { "T", 40 }, { "TB", 40 }, { "TiB", 40 },
};

#define NSUFFIXES(t) (sizeof(t) / sizeof((t)[0]))

/* len bytes of s: digits, then one of the n suffixes or none, as bytes
 * (the suffix's power of two, if any, applied). */
static const char *parse_number(const char *s, size_t len, const struct suffix *t,
				size_t n, bool any_case, uint64_t *bytes, bool *suffixed)
{
	uint64_t v = 0;
	size_t i = 0, k;

	if (!len)
		return "empty number";
	for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
		if (v > (UINT64_MAX - 9) / 10)
			return "number too large";
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (!i)
		return "not a number";
	*suffixed = i < len;
	if (i < len) {
		for (k = 0; k < n; k++)
			if (strlen(t[k].name) == len - i &&
			    !(any_case ? strncasecmp : strncmp)(s + i, t[k].name, len - i))
				break;
		if (k == n)
			return any_case ? "unknown suffix (use K, M, G, T, as in 64K, 1M or 1MiB)"
					: "unknown suffix (use K, M, G, T or KiB, MiB, GiB, TiB)";
		if (v > (UINT64_MAX >> t[k].shift))
			return "number too large";
		v <<= t[k].shift;
	}
	*bytes = v;
	return NULL;
}

/* Parse len bytes of s. */
static const char *parse_sectors_n(const char *s, size_t len, uint64_t *sectors)
{
	bool suffixed;
	uint64_t v;
	const char *err = parse_number(s, len, spec_suffixes, NSUFFIXES(spec_suffixes),
				       false, &v, &suffixed);

	if (err)
		return err;
	if (suffixed && v % 512)
		return "not a whole number of 512-byte sectors";
	if (suffixed)
		v >>= 9;
	if (v > SPEC_MAX_SECTORS)
		return "number too large";
	*sectors = v;
	return NULL;
}

const char *parse_sectors(const char *s, uint64_t *sectors)
{
	return parse_sectors_n(s, strlen(s), sectors);
}

const char *parse_bytes(const char *s, uint64_t *bytes)
{
	bool suffixed;
	const char *err = parse_number(s, strlen(s), size_suffixes, NSUFFIXES(size_suffixes),
				       true, bytes, &suffixed);

	if (!err && *bytes > INT64_MAX)
		return "number too large";
	return err;
}

/* Name the part of the spec that is wrong, and pass err on. */
static const char *bad_part(struct spec *spec, const char *part, const char *s,
			    size_t len, const char *err)
{
	spec->bad_part = part;
	spec->bad = s;
	spec->bad_len = len;
	return err;
}

#define PATH_HINT " (a path that holds ':' is written PATH:START)"

static const char *const nbd_schemes[] = { "nbd://", "nbds://", "nbd+unix://", "nbds+unix://" };

size_t spec_nbd_scheme(const char *text)
{
	for (size_t i = 0; i < sizeof(nbd_schemes) / sizeof(nbd_schemes[0]); i++)
		if (!strncmp(text, nbd_schemes[i], strlen(nbd_schemes[i])))
			return strlen(nbd_schemes[i]);
	return 0;
}

/* The password of an NBD URI (user:PASSWORD@ in its authority): its place
 * in *at and length, or 0. */
static size_t uri_password(const char *text, const char **at)
{
	size_t scheme = spec_nbd_scheme(text);
	const char *auth = text + scheme, *end = auth + strcspn(auth, "/?"), *user, *colon;

	if (!scheme)
		return 0;
	user = memrchr(auth, '@', (size_t)(end - auth));
	colon = user ? memchr(auth, ':', (size_t)(user - auth)) : NULL;
	if (!colon)
		return 0;
	*at = colon + 1;
	return (size_t)(user - *at);
}

char *spec_redact(const char *text)
{
	const char *pw;
	size_t len = uri_password(text, &pw);
	char *s;

	if (!len)
		return strdup(text);
	if (asprintf(&s, "%.*s%s%s", (int)(pw - text), text, REDACTED, pw + len) < 0)
		return NULL;
	return s;
}

char *spec_redact_in(const char *msg, const char *uri)
{
	const char *pw, *at;
	size_t len = uri_password(uri, &pw), n = 0;
	char *s, *t;

	for (at = msg; len && (at = memmem(at, strlen(at), pw, len));
	     at += len)
		n++;
	s = t = malloc(strlen(msg) + n * sizeof(REDACTED) + 1);
	while (s && n-- && (at = memmem(msg, strlen(msg), pw, len))) {
		t = mempcpy(mempcpy(t, msg, (size_t)(at - msg)), REDACTED, strlen(REDACTED));
		msg = at + len;
	}
	if (s)
		strcpy(t, msg);
	return s;
}

/* In an NBD URI, the colon before START is the last one of its path: not
 * in the authority (host:port), not in the query (?socket=/a:b).  Its
 * place in *colon (NULL: none), the query's in *query (or the end). */
static void nbd_split(const char *text, size_t scheme, const char **colon,
		      const char **query)
{
	const char *path = text + scheme + strcspn(text + scheme, "/?");

	*query = path + strcspn(path, "?");
	*colon = NULL;
	for (const char *p = path; p < *query; p++)
		if (*p == ':')
			*colon = p;
}

/* START[+COUNT] from rest up to end (the text after the colon), into
 * spec: NULL, or what is wrong. */
static const char *parse_range(struct spec *spec, const char *rest, const char *end)
{
	const char *plus = memchr(rest, '+', (size_t)(end - rest)), *err;
	size_t len = plus ? (size_t)(plus - rest) : (size_t)(end - rest);

	if (!plus && !len)
		return "nothing after ':'";
	err = parse_sectors_n(rest, len, &spec->start);
	/* Not a number at all: most likely a ':' in the path. */
	if (err && (rest[0] < '0' || rest[0] > '9'))
		err = len ? "not a number" PATH_HINT : "empty number" PATH_HINT;
	if (err)
		return bad_part(spec, "START", rest, len, err);
	if (plus) {
		const char *c = plus + 1;
		size_t clen = (size_t)(end - c);

		err = parse_sectors_n(c, clen, &spec->count);
		if (!err && !spec->count)
			err = "empty region (count 0)";
		if (!err && spec->count > SPEC_MAX_SECTORS - spec->start)
			err = "region end too large";
		if (err)
			return bad_part(spec, "COUNT", c, clen, err);
		spec->has_count = true;
	}
	return NULL;
}

const char *spec_parse(const char *text, struct spec *spec)
{
	size_t scheme = spec_nbd_scheme(text);
	const char *colon = strrchr(text, ':'), *query = text + strlen(text), *err;
	size_t devlen;

	*spec = (struct spec){ 0 };
	/* The streams and the sink are these words exactly: a file of that
	 * name is ./- or ./null::0. */
	spec->stdio = !strcmp(text, "-");
	spec->discard = !strcmp(text, "null:");
	if (spec->stdio || spec->discard) {
		spec->device = strdup(text);
		return spec->device ? NULL : "out of memory";
	}
	if (scheme)
		nbd_split(text, scheme, &colon, &query);
	devlen = colon ? (size_t)(colon - text) : (size_t)(query - text);
	if (!devlen)
		return "no device";
	if (colon) {
		err = parse_range(spec, colon + 1, query);
		if (err)
			return err;
	}
	/* The device: all before the colon, and a URI's query after it. */
	if (asprintf(&spec->device, "%.*s%s", (int)devlen, text, scheme ? query : "") < 0)
		spec->device = NULL;
	spec->nbd = scheme != 0;
	return spec->device ? NULL : "out of memory";
}

const char *spec_captive(char *const *argv, const char *range, struct spec *spec)
{
	const char *err = NULL;

	*spec = (struct spec){ .argv = argv };
	if (range)
		err = parse_range(spec, range + 1, range + strlen(range));
	if (err)
		spec->argv = NULL;
	return err;
}

/* ---- the command line's regions ---- */

/* Whether word is shown as it is: nothing a shell would split or expand. */
static bool plain_word(const char *w)
{
	return *w && strspn(w, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			       "0123456789-_./:=+,@%^[]") == strlen(w);
}

/* The words [first, end) of args, joined by spaces, each quoted as a
 * shell would need it ('a b', 'it'\''s'); then " " and range, if any. */
static char *join_words(const char *const *args, size_t first, size_t end, const char *range)
{
	size_t len = 1 + (range ? strlen(range) + 1 : 0);
	char *s, *o;

	for (size_t i = first; i < end; i++)
		len += strlen(args[i]) * 4 + 3;
	s = o = malloc(len);
	for (size_t i = first; s && i < end; i++) {
		const char *w = args[i];

		if (i > first)
			*o++ = ' ';
		if (plain_word(w)) {
			o = stpcpy(o, w);
			continue;
		}
		*o++ = '\'';
		for (; *w; w++)
			o = *w == '\'' ? stpcpy(o, "'\\''") : (*o = *w, o + 1);
		*o++ = '\'';
	}
	if (s && range)
		o = stpcpy(stpcpy(o, " "), range);
	if (s)
		*o = 0;
	return s;
}

/* The captive region whose "[" is args[i]: into a, its end in *next. */
static const char *group_one(const char *const *args, size_t i, struct region_arg *a,
			     size_t *next, const char **bad)
{
	size_t end = i + 1;

	while (args[end] && strcmp(args[end], "]")) {
		if (!strncmp(args[end], "]:", 2)) {
			*bad = args[end];
			return "write ']' and ':START[+COUNT]' as two arguments";
		}
		end++;
	}
	*bad = args[i];
	if (!args[end])
		return "no ']' after it";
	if (end == i + 1)
		return "no command between '[' and ']'";
	a->range = args[end + 1] && args[end + 1][0] == ':' ? args[end + 1] : NULL;
	a->argv = calloc(end - i, sizeof(*a->argv));
	a->text = join_words(args, i, end + 1, a->range);
	if (!a->argv || !a->text)
		return "out of memory";
	for (size_t k = i + 1; k < end; k++)
		a->argv[k - i - 1] = (char *)args[k];
	*next = end + 1 + (a->range != NULL);
	return NULL;
}

const char *spec_group(const char *const *args, struct region_arg **out, unsigned int *n,
		       const char **bad)
{
	struct region_arg *a;
	size_t i = 0, k = 0, words = 0;
	const char *err = NULL;

	while (args && args[words])
		words++;
	a = calloc(words + 1, sizeof(*a));
	if (!a)
		return "out of memory";
	while (!err && i < words) {
		if (!strcmp(args[i], "[")) {
			err = group_one(args, i, &a[k], &i, bad);
		} else if (!strcmp(args[i], "]")) {
			*bad = args[i];
			err = "no '[' before it";
		} else {
			a[k].text = strdup(args[i++]);
			if (!a[k].text)
				err = "out of memory";
		}
		k++;
	}
	if (err) {
		region_args_free(a, (unsigned int)k);
		return err;
	}
	*out = a;
	*n = (unsigned int)k;
	return NULL;
}

void region_args_free(struct region_arg *a, unsigned int n)
{
	for (unsigned int i = 0; a && i < n; i++) {
		free(a[i].text);
		free(a[i].argv);
	}
	free(a);
}
