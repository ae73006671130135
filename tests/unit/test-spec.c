// SPDX-License-Identifier: GPL-2.0-or-later
/* The region-spec and size parsers, table-driven. */
#include "unit.h"
#include "spec.h"

static void test_sizes(void)
{
	static const struct { const char *s; uint64_t want; } good[] = {
		{ "0", 0 }, { "1", 1 }, { "2048", 2048 }, { "1K", 2 }, { "1KiB", 2 },
		{ "3M", 6144 }, { "1MiB", 2048 }, { "2G", 4194304 }, { "1GiB", 2097152 },
		{ "1T", 2147483648ULL }, { "1TiB", 2147483648ULL },
		{ "18014398509481983", 18014398509481983ULL }, /* INT64_MAX >> 9 */
		{ "007", 7 },
	};
	static const char *const bad[] = {
		"", "-1", "+1", " 1", "1 ", "1.5", "1.5K", "0x10", "1k", "1m", "1KB",
		"1B", "K", "1KiBx", "1Ki", "18014398509481984", "99999999999999999999",
		"18446744073709551615", "16777216T", "9007199254740992K", "1e3",
	};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		uint64_t v = 12345;
		const char *err = parse_sectors(good[i].s, &v);

		CHECK(!err && v == good[i].want, "'%s': %s, %llu", good[i].s,
		      err ? err : "ok", (unsigned long long)v);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t v;

		CHECK(parse_sectors(bad[i], &v) != NULL, "'%s' accepted", bad[i]);
	}
}

static void test_specs(void)
{
	static const struct {
		const char *s, *dev;
		uint64_t start, count;
		bool has_count;
	} good[] = {
		{ "/dev/sdb", "/dev/sdb", 0, 0, false },
		{ "/dev/sdb:0+2048", "/dev/sdb", 0, 2048, true },
		{ "/dev/sdb:100", "/dev/sdb", 100, 0, false },
		{ "img:1K+1M", "img", 2, 2048, true },
		{ "a:b:5", "a:b", 5, 0, false }, /* the split is at the last ':' */
		{ "UUID=1234-5678", "UUID=1234-5678", 0, 0, false },
		{ "LABEL=x:8+8", "LABEL=x", 8, 8, true },
		{ "a+b", "a+b", 0, 0, false },
	};
	static const char *const bad[] = {
		"", ":", ":5", "a:", "a:+5", "a:5+", "a:5+0", "a:x", "a:-1", "a:1+-1",
		"a:5+5+5", "a:1K+x", "a:18014398509481983+1", "a:b:", "a:1:",
	};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct spec sp;
		const char *err = spec_parse(good[i].s, &sp);

		REQUIRE(!err, "'%s': %s", good[i].s, err);
		CHECK(!strcmp(sp.device, good[i].dev) && sp.start == good[i].start &&
		      sp.count == good[i].count && sp.has_count == good[i].has_count,
		      "'%s': got %s %llu %llu %d", good[i].s, sp.device,
		      (unsigned long long)sp.start, (unsigned long long)sp.count,
		      sp.has_count);
		free(sp.device);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct spec sp;
		const char *err = spec_parse(bad[i], &sp);

		CHECK(err && !sp.device, "'%s' accepted", bad[i]);
	}
}

int main(void)
{
	RUN(test_sizes);
	RUN(test_specs);
	return unit_done();
}
