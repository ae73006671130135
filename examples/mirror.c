// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * mirror SRC DST... - copy the first MiB of SRC to every DST with libdmio:
 * one read, one multi-region write, and the error bitset says which failed.
 * Build: cc mirror.c $(pkg-config --cflags --libs dmio)
 */
#include <dmio.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct dmio_region src, dst[DMIO_MAX_REGIONS];
	unsigned int n = (unsigned int)argc - 2;
	unsigned long bits;
	void *buf;
	int r;

	if (argc < 3 || n > DMIO_MAX_REGIONS) {
		fprintf(stderr, "usage: mirror SRC DST...\n");
		return 2;
	}
	src = (struct dmio_region){ open(argv[1], O_RDONLY), 0, 2048 };
	for (unsigned int i = 0; i < n; i++)
		dst[i] = (struct dmio_region){ open(argv[i + 2], O_WRONLY), 0, 2048 };
	buf = malloc(2048 * DMIO_SECTOR_SIZE);
	if (!buf)
		return 1;
	r = dmio_sync_vm(1, &src, DMIO_READ, buf, &bits);
	if (r) {
		fprintf(stderr, "mirror: reading %s failed: %d\n", argv[1], r);
		return 1;
	}
	r = dmio_sync_vm(n, dst, DMIO_WRITE, buf, &bits);
	for (unsigned int i = 0; i < n; i++)
		printf("%s: %s\n", argv[i + 2], bits & (1UL << i) ? "failed" : "ok");
	free(buf);
	return r ? 1 : 0;
}
