// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The region-spec and size parsers.  Strict: no signs, no spaces, no hex,
 * no empty parts, no overflow; an error names what is wrong.
 */
#include <stdlib.h>
#include <string.h>

#include "spec.h"

static const struct {
	const char *name;
	unsigned int shift;
} suffixes[] = {
	{ "K", 10 }, { "KiB", 10 }, { "M", 20 }, { "MiB", 20 },
	{ "G", 30 }, { "GiB", 30 }, { "T", 40 }, { "TiB", 40 },
};

/* Parse len bytes of s. */
static const char *parse_sectors_n(const char *s, size_t len, uint64_t *sectors)
{
	uint64_t v = 0;
	size_t i = 0;
	unsigned int shift = 0;

	if (!len)
		return "empty number";
	for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
		if (v > (UINT64_MAX - 9) / 10)
			return "number too large";
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (!i)
		return "not a number";
	if (i < len) {
		size_t n = len - i;
		size_t k;

		for (k = 0; k < sizeof(suffixes) / sizeof(suffixes[0]); k++)
			if (strlen(suffixes[k].name) == n &&
			    !memcmp(s + i, suffixes[k].name, n))
				break;
		if (k == sizeof(suffixes) / sizeof(suffixes[0]))
			return "unknown suffix (use K, M, G, T or KiB, MiB, GiB, TiB)";
		shift = suffixes[k].shift;
		if (v > (UINT64_MAX >> shift))
			return "number too large";
		v <<= shift;
		if (v % 512)
			return "not a whole number of 512-byte sectors";
		v >>= 9;
	}
	if (v > SPEC_MAX_SECTORS)
		return "number too large";
	*sectors = v;
	return NULL;
}

const char *parse_sectors(const char *s, uint64_t *sectors)
{
	return parse_sectors_n(s, strlen(s), sectors);
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

const char *spec_parse(const char *text, struct spec *spec)
{
	const char *colon = strrchr(text, ':'), *err;
	size_t devlen = colon ? (size_t)(colon - text) : strlen(text);

	*spec = (struct spec){ 0 };
	if (!devlen)
		return "no device";
	if (colon) {
		const char *rest = colon + 1, *plus = strchr(rest, '+');
		size_t len = plus ? (size_t)(plus - rest) : strlen(rest);

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

			err = parse_sectors(c, &spec->count);
			if (!err && !spec->count)
				err = "empty region (count 0)";
			if (!err && spec->count > SPEC_MAX_SECTORS - spec->start)
				err = "region end too large";
			if (err)
				return bad_part(spec, "COUNT", c, strlen(c), err);
			spec->has_count = true;
		}
	}
	spec->device = strndup(text, devlen);
	return spec->device ? NULL : "out of memory";
}
