// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libdmio's write-zeroes and discard: on a file on the test directory's
 * filesystem (a hole, or zeroes that stay allocated), on tmpfs (holes only,
 * so a region that must stay allocated fails alone with EOPNOTSUPP), on a
 * loop device with 4096-byte sectors (BLKZEROOUT, BLKDISCARD, in its
 * logical blocks); sync and async, through the seed calls and
 * dmio_submit.  The engine comes from $DMIO_ENGINE.
 */
#include <sys/stat.h>

#include "unit.h"

#define S DMIO_SECTOR_SIZE
#define LEN (1u << 20)

static uint64_t blocks(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? 0 : (uint64_t)st.st_blocks;
}

static bool zero_at(int fd, uint64_t sector, size_t len)
{
	char *z = calloc(1, len);
	bool ok = fd_equals(fd, sector * S, z, len);

	free(z);
	return ok;
}

/* A file of LEN bytes of a pattern in dir: its fd (O_RDWR). */
static int pattern_file(const char *dir, const char *name, uint32_t seed)
{
	char path[4096], *buf = malloc(LEN);
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	fill_pattern(buf, LEN, seed);
	if (fd < 0 || pwrite(fd, buf, LEN, 0) != LEN || fsync(fd)) {
		perror(path);
		exit(2);
	}
	free(buf);
	return fd;
}

/* rw over where[0..n) through dmio_submit, async or not: its return, the
 * bits in *bits, the results in res. */
static int zcall(bool async, int rw, unsigned int n, struct dmio_region *where,
		 unsigned long *bits, struct dmio_result *res)
{
	struct dmio_request req = { .rw = rw, .results = res };

	return unit_call(req, async, n, where, bits);
}

/* On a file: DMIO_WRITE_ZEROES leaves a hole, DMIO_NOUNMAP allocated
 * zeroes, DMIO_DISCARD a hole; the rest of the file is untouched. */
static void test_file(void)
{
	for (int async = 0; async < 2; async++) {
		int fd = pattern_file(unit_env("DMIO_TEST_DIR"), "z", 3);
		struct dmio_region w = { fd, 512, 1024 };
		unsigned long bits = ~0UL;
		char *orig = malloc(LEN);
		uint64_t b0 = blocks(fd), b1;

		fill_pattern(orig, LEN, 3);
		CHECK(zcall(async, DMIO_WRITE_ZEROES, 1, &w, &bits, NULL) == 0 && !bits,
		      "write zeroes: bits %#lx", bits);
		b1 = blocks(fd);
		CHECK(zero_at(fd, 512, 1024 * S), "not zeroes");
		CHECK(b1 + 1024 <= b0, "no hole: %llu blocks, were %llu",
		      (unsigned long long)b1, (unsigned long long)b0);
		w = (struct dmio_region){ fd, 0, 256 };
		CHECK(zcall(async, DMIO_WRITE_ZEROES | DMIO_NOUNMAP, 1, &w, &bits, NULL) == 0,
		      "nounmap: bits %#lx", bits);
		CHECK(zero_at(fd, 0, 256 * S) && blocks(fd) == b1, "nounmap: %llu blocks",
		      (unsigned long long)blocks(fd));
		w = (struct dmio_region){ fd, 1800, 16 };
		CHECK(zcall(async, DMIO_DISCARD, 1, &w, &bits, NULL) == 0, "discard");
		CHECK(zero_at(fd, 1800, 16 * S), "discard: not zeroes");
		CHECK(fd_equals(fd, 256 * S, orig + 256 * S, 256 * S) &&
		      fd_equals(fd, 1536 * S, orig + 1536 * S, 264 * S) &&
		      fd_equals(fd, 1816 * S, orig + 1816 * S, LEN - 1816 * S),
		      "written outside the regions");
		close(fd);
		free(orig);
	}
}

/* tmpfs punches holes but cannot zero in place: that region fails alone,
 * untouched, and the other region of the call is done. */
static void test_tmpfs_one_fails(void)
{
	int a = pattern_file(unit_env("DMIO_TEST_DIR"), "a", 4);
	int t = pattern_file(unit_env("DMIO_TEST_TMPFS"), "t", 5);
	struct dmio_region w[2] = { { a, 8, 8 }, { t, 8, 8 } };
	struct dmio_result res[2];
	char *orig = malloc(LEN);
	unsigned long bits = 0;

	fill_pattern(orig, LEN, 5);
	CHECK(zcall(true, DMIO_WRITE_ZEROES | DMIO_NOUNMAP, 2, w, &bits, res) == -EIO &&
	      bits == 2, "bits %#lx", bits);
	CHECK(res[1].error == EOPNOTSUPP && res[1].error_sector == 8 && !res[0].error,
	      "results %d, %d", res[0].error, res[1].error);
	CHECK(zero_at(a, 8, 8 * S), "the file region is not zeroes");
	CHECK(fd_equals(t, 0, orig, LEN), "the tmpfs region was written");
	CHECK(zcall(false, DMIO_WRITE_ZEROES, 2, w, &bits, NULL) == 0 && !bits,
	      "holes on both: bits %#lx", bits);
	CHECK(zero_at(t, 8, 8 * S), "no hole on tmpfs");
	close(a), close(t);
	free(orig);
}

/* A loop device with 4096-byte sectors: zeroes and discards in its
 * logical blocks, through the seed calls; anything else is -EINVAL. */
static void test_loop(void)
{
	const char *dev = unit_env("DMIO_TEST_LOOP4K");
	int fd = open(dev, O_RDWR);
	char *buf = malloc(LEN);
	struct dmio_region w = { fd, 8, 64 };
	unsigned long bits = ~0UL;
	struct unit_done d = UNIT_DONE_INIT;

	REQUIRE(fd >= 0, "%s: %s", dev, strerror(errno));
	fill_pattern(buf, LEN, 6);
	REQUIRE(pwrite(fd, buf, LEN, 0) == LEN && !fsync(fd), "pwrite");
	CHECK(dmio_sync(1, &w, DMIO_WRITE_ZEROES | DMIO_NOUNMAP, NULL, 0, &bits) == 0 && !bits,
	      "zeroout: bits %#lx", bits);
	CHECK(zero_at(fd, 8, 64 * S), "zeroout: not zeroes");
	w = (struct dmio_region){ fd, 128, 16 };
	CHECK(dmio_async_vm(1, &w, DMIO_DISCARD, NULL, unit_notify, &d) == 0, "discard");
	CHECK(!unit_wait(&d) && zero_at(fd, 128, 16 * S), "discard: bits %#lx", d.error);
	w = (struct dmio_region){ fd, 160, 8 };
	CHECK(dmio_sync_vm(1, &w, DMIO_WRITE_ZEROES, NULL, &bits) == 0, "zeroes, unmap");
	CHECK(zero_at(fd, 160, 8 * S), "zeroes, unmap: not zeroes");
	CHECK(fd_equals(fd, 0, buf, 8 * S) && fd_equals(fd, 72 * S, buf + 72 * S, 56 * S) &&
	      fd_equals(fd, 168 * S, buf + 168 * S, LEN - 168 * S), "written outside");
	w = (struct dmio_region){ fd, 9, 8 };
	CHECK(dmio_sync(1, &w, DMIO_WRITE_ZEROES, NULL, 0, &bits) == -EINVAL,
	      "a misaligned region accepted");
	close(fd);
	free(buf);
}

static void test_invalid(void)
{
	int fd = pattern_file(unit_env("DMIO_TEST_DIR"), "i", 7), ro;
	struct dmio_region w = { fd, 0, 8 };
	unsigned long bits;
	char path[4096];

	CHECK(zcall(false, DMIO_READ | DMIO_NOUNMAP, 1, &w, &bits, NULL) == -EINVAL, "read|nounmap");
	CHECK(zcall(false, DMIO_WRITE | DMIO_NOUNMAP, 1, &w, &bits, NULL) == -EINVAL, "write|nounmap");
	CHECK(zcall(false, DMIO_DISCARD | DMIO_NOUNMAP, 1, &w, &bits, NULL) == -EINVAL, "discard|nounmap");
	CHECK(zcall(false, DMIO_FLUSH | DMIO_NOUNMAP, 1, &w, &bits, NULL) == -EINVAL, "flush|nounmap");
	CHECK(zcall(false, 5, 1, &w, &bits, NULL) == -EINVAL, "op 5");
	snprintf(path, sizeof(path), "%s/i", unit_env("DMIO_TEST_DIR"));
	ro = open(path, O_RDONLY);
	w.fd = ro;
	CHECK(zcall(false, DMIO_WRITE_ZEROES, 1, &w, &bits, NULL) == -EBADF, "a read-only fd");
	close(fd), close(ro);
}

int main(void)
{
	RUN(test_file);
	RUN(test_tmpfs_one_fails);
	RUN(test_loop);
	RUN(test_invalid);
	return unit_done();
}
