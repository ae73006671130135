// SPDX-License-Identifier: GPL-2.0-or-later
/* libFuzzer: the size parsers, checked against slow, obvious models. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "regions/spec.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char *text = strndup((const char *)data, size);
	uint64_t v = 0;
	const char *err;

	if (!text)
		return 0;
	err = parse_sectors(text, &v);
	if (!err) {
		/* Accepted: digits, then nothing or a known suffix. */
		size_t d = strspn(text, "0123456789");
		const char *suf = text + d;

		if (!d || (*suf && strcmp(suf, "K") && strcmp(suf, "KiB") &&
			   strcmp(suf, "M") && strcmp(suf, "MiB") && strcmp(suf, "G") &&
			   strcmp(suf, "GiB") && strcmp(suf, "T") && strcmp(suf, "TiB")))
			abort();
		if (v > SPEC_MAX_SECTORS)
			abort();
		/* Without a suffix and short enough, it is the number itself. */
		if (!*suf && d < 19 && strtoull(text, NULL, 10) != v)
			abort();
	}
	err = parse_bytes(text, &v);
	if (!err) {
		/* Accepted: digits, then nothing or K, M, G, T with B or iB, in
		 * any case; never past an off_t. */
		size_t d = strspn(text, "0123456789");
		const char *suf = text + d;

		if (!d || (*suf && (!strchr("kKmMgGtT", *suf) ||
				    (suf[1] && strcasecmp(suf + 1, "B") && strcasecmp(suf + 1, "iB")))))
			abort();
		if (v > INT64_MAX)
			abort();
		if (!*suf && d < 19 && strtoull(text, NULL, 10) != v)
			abort();
	}
	free(text);
	return 0;
}
