// SPDX-License-Identifier: GPL-2.0-or-later
/* The region-spec and size parsers, table-driven. */
#include "unit.h"
#include "regions/spec.h"

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
		/* NBD URIs: START is after the last ':' of the path, never in
		 * the authority (host:port, user:password) or the query. */
		{ "nbd://host/export", "nbd://host/export", 0, 0, false },
		{ "nbd://host:10809/export", "nbd://host:10809/export", 0, 0, false },
		{ "nbd://host:10809", "nbd://host:10809", 0, 0, false },
		{ "nbd://host:10809/export:0+2048", "nbd://host:10809/export", 0, 2048, true },
		{ "nbd://[::1]:10809/e:8", "nbd://[::1]:10809/e", 8, 0, false },
		{ "nbd://u:p:w@h:1/e", "nbd://u:p:w@h:1/e", 0, 0, false },
		{ "nbds://h/a:b:16", "nbds://h/a:b", 16, 0, false },
		{ "nbd+unix:///?socket=/run/a:b", "nbd+unix:///?socket=/run/a:b", 0, 0, false },
		{ "nbd+unix:///:8+8?socket=/run/a:8", "nbd+unix:///?socket=/run/a:8", 8, 8, true },
		{ "nbds+unix:///e:1M?socket=/s&tls-psk-file=/k:1", "nbds+unix:///e?socket=/s&tls-psk-file=/k:1",
		  2048, 0, false },
		{ "nbd://h/?x:1", "nbd://h/?x:1", 0, 0, false },
		/* Not a scheme it knows: a path, split at the last ':'. */
		{ "nbd:/x:5", "nbd:/x", 5, 0, false },
		{ "NBD://h/e:5", "NBD://h/e", 5, 0, false },
	};
	static const char *const bad[] = {
		"", ":", ":5", "a:", "a:+5", "a:5+", "a:5+0", "a:x", "a:-1", "a:1+-1",
		"a:5+5+5", "a:1K+x", "a:18014398509481983+1", "a:b:", "a:1:",
		"nbd://h/e:", "nbd://h/e:x", "nbd://h/e:8+0", "nbd://h/e:8+?socket=/s",
		"nbd+unix:///:?socket=/s", "nbd://h/e:1:2x",
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

static void test_redact(void)
{
	static const struct { const char *s, *want; } cases[] = {
		{ "nbd://alice:s3cret@host/e", "nbd://alice:" REDACTED "@host/e" },
		{ "nbds://a:b:c@h:1/e:8", "nbds://a:" REDACTED "@h:1/e:8" },
		{ "nbd://alice@host/e", "nbd://alice@host/e" },
		{ "nbd://host/e?x=a:b@c", "nbd://host/e?x=a:b@c" }, /* the query is no authority */
		{ "nbd://a:@h/", "nbd://a:@h/" },
		{ "/dev/sda:8", "/dev/sda:8" },
		{ "x://a:b@h/", "x://a:b@h/" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *r = spec_redact(cases[i].s);

		CHECK(r && !strcmp(r, cases[i].want), "'%s': %s", cases[i].s, r);
		free(r);
	}
	char *m = spec_redact_in("connect nbd://u:pw@h/: pw, pwpw", "nbd://u:pw@h/");

	CHECK(m && !strcmp(m, "connect nbd://u:" REDACTED "@h/: " REDACTED ", " REDACTED REDACTED),
	      "%s", m);
	free(m);
}

/* The command line's regions: "[ CMD ARGS... ]" grouped, with its
 * ":START[+COUNT]"; "-" and "null:". */
static void test_groups(void)
{
	static const char *const args[] = {
		"a", "[", "qemu-nbd", "-f", "qcow2", "my disk.qcow2", "]", ":8+8", "[", "x", "it's",
		"]", "-", "null:", NULL,
	};
	static const struct { const char *args[6]; const char *err, *bad; } bad[] = {
		{ { "a", "[", "x", NULL }, "no ']' after it", "[" },
		{ { "[", "]", NULL }, "no command between '[' and ']'", "[" },
		{ { "a", "]", NULL }, "no '[' before it", "]" },
		{ { "[", "x", "]:8", "]", NULL }, "write ']' and ':START[+COUNT]' as two arguments",
		  "]:8" },
	};
	struct region_arg *a;
	unsigned int n;
	const char *b = NULL, *err = spec_group(args, &a, &n, &b);
	struct spec sp;

	REQUIRE(!err, "%s", err);
	REQUIRE(n == 5, "%u regions", n);
	CHECK(!a[0].argv && !strcmp(a[0].text, "a"), "%s", a[0].text);
	CHECK(!strcmp(a[1].text, "[ qemu-nbd -f qcow2 'my disk.qcow2' ] :8+8"), "%s", a[1].text);
	CHECK(a[1].argv && !strcmp(a[1].argv[3], "my disk.qcow2") && !a[1].argv[4] &&
	      !strcmp(a[1].range, ":8+8"), "argv, range");
	CHECK(!strcmp(a[2].text, "[ x 'it'\\''s' ]") && !a[2].range, "%s", a[2].text);
	REQUIRE(!spec_captive(a[1].argv, a[1].range, &sp), "the range");
	CHECK(sp.argv == a[1].argv && sp.start == 8 && sp.count == 8 && sp.has_count, "8+8");
	CHECK(spec_captive(a[1].argv, ":x", &sp) && !sp.argv, "a bad range");
	CHECK(!spec_parse(a[3].text, &sp) && sp.stdio && !sp.discard, "-");
	free(sp.device);
	CHECK(!spec_parse(a[4].text, &sp) && sp.discard && !sp.stdio, "null:");
	free(sp.device);
	region_args_free(a, n);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		b = NULL;
		err = spec_group(bad[i].args, &a, &n, &b);
		CHECK(err && !strcmp(err, bad[i].err) && b && !strcmp(b, bad[i].bad), "%zu: %s at %s",
		      i, err, b);
	}
}

int main(void)
{
	RUN(test_sizes);
	RUN(test_specs);
	RUN(test_redact);
	RUN(test_groups);
	return unit_done();
}
