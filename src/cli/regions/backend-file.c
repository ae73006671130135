// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The file backend: block devices and regular files, opened as file
 * descriptors that libdmio does the I/O on.  Block devices opened for
 * writing are claimed with O_EXCL, so a mounted or otherwise held device is
 * refused (the kernel says EBUSY) unless the user forces it; regular files
 * opened for writing are locked (flock), so that two writers refuse each
 * other.  What it can do: a file has holes (SEEK_HOLE) that zeroes become;
 * a block device zeroes with BLKZEROOUT and keeps its blocks; both flush
 * with fdatasync.  info describes either with a libblkid probe.  A
 * regular file whose first bytes are an image format's magic (qcow2,
 * vmdk, vhdx, vpc, qed) says so, for the region to be refused: its bytes
 * are not the disk it holds.  A block device is never probed: what a
 * guest writes on its disk must not change how the disk is read.
 */
#include <blkid.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/file.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "regions/regions.h"

/* The image format that a regular file's first bytes name (their magic,
 * as qemu-img probes it), or NULL: raw bytes, as far as it can tell. */
static const char *image_format(int fd)
{
	static const struct {
		const char *magic;
		size_t len;
		const char *name;
	} formats[] = {
		{ "QFI\xfb", 4, "qcow2" },	 { "QED", 4, "qed" },	 { "KDMV", 4, "vmdk" },
		{ "COWD", 4, "vmdk" },	 { "# Disk DescriptorFile", 21, "vmdk" },
		{ "vhdxfile", 8, "vhdx" }, { "conectix", 8, "vpc" },
	};
	/* Aligned, for a file opened O_DIRECT. */
	static __thread unsigned char head[4096] __attribute__((aligned(4096)));
	ssize_t n = pread(fd, head, sizeof(head), 0);

	for (size_t i = 0; n > 0 && i < sizeof(formats) / sizeof(formats[0]); i++)
		if ((size_t)n >= formats[i].len && !memcmp(head, formats[i].magic, formats[i].len))
			/* qcow version 1 (big-endian, after the magic) is "qcow". */
			return i || n < 8 || head[7] != 1 || head[4] | head[5] | head[6]
				       ? formats[i].name : "qcow";
	return NULL;
}

static int file_open(struct dev *dev, const struct spec *spec, const char *path,
		     const struct opts *o, unsigned int how)
{
	bool write = how & OPEN_WRITE, excl = how & OPEN_EXCL, direct = how & OPEN_DIRECT;
	struct statx stx;
	struct stat st;
	int flags = (write ? O_RDWR : O_RDONLY) | O_CLOEXEC | (direct ? O_DIRECT : 0);
	int fd, r;

	(void)o, (void)spec;
	if (stat(path, &st))
		return -errno;
	if (!S_ISBLK(st.st_mode) && !S_ISREG(st.st_mode))
		return -ENOTBLK;
	if (S_ISBLK(st.st_mode) && excl)
		flags |= O_EXCL;
	fd = open(path, flags);
	if (fd < 0)
		return -errno;
	if (S_ISREG(st.st_mode) && excl && flock(fd, LOCK_EX | LOCK_NB)) {
		r = errno == EWOULDBLOCK ? -EBUSY : -errno;
		close(fd);
		return r;
	}
	if (fstat(fd, &st))
		goto fail;
	*dev = (struct dev){ .ops = &file_backend, .fd = fd, .direct = direct,
			     .is_blk = S_ISBLK(st.st_mode), .lbs = 512,
			     .pbs = 512, .dio_align = 512 };
	dev->caps = (struct caps){ .zero = true, .trim = true, .flush = true, .direct = true,
				   .zero_block = 512, .min_io = 512 };
	if (dev->is_blk) {
		uint64_t size;
		int lbs, pbs, ro;

		if (ioctl(fd, BLKGETSIZE64, &size) || ioctl(fd, BLKSSZGET, &lbs) ||
		    ioctl(fd, BLKPBSZGET, &pbs) || ioctl(fd, BLKROGET, &ro))
			goto fail;
		dev->size = size;
		dev->lbs = dev->dio_align = (unsigned int)lbs;
		dev->pbs = (unsigned int)pbs;
		dev->read_only = ro;
		dev->id_dev = st.st_rdev;
		dev->kind = "device";
		dev->caps.zero_block = dev->lbs;
		dev->caps.keeps_blocks = true;
		dev->caps.claim = CLAIM_EXCL;
	} else {
		dev->size = (uint64_t)st.st_size;
		dev->id_dev = st.st_dev;
		dev->id_ino = st.st_ino;
		if (!statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) &&
		    stx.stx_mask & STATX_DIOALIGN && stx.stx_dio_offset_align) {
			dev->dio_align = stx.stx_dio_offset_align;
			if (stx.stx_dio_mem_align > dev->dio_align)
				dev->dio_align = stx.stx_dio_mem_align;
		}
		/* Root may open what it cannot write: an immutable file, a
		 * read-only mount (access() says EPERM, EROFS). */
		dev->read_only = access(path, W_OK) != 0;
		dev->kind = "file";
		dev->format = image_format(fd);
		dev->caps.sparse = dev->caps.extents = true;
		dev->caps.claim = CLAIM_FLOCK;
	}
	if (fd_extent(fd, &dev->ext))
		goto fail;
	/* What a discard leaves on a file (a loop device over one too) is a
	 * hole; on a disk, whatever the disk says. */
	dev->caps.discard_zeroes = !dev->ext.is_blk;
	return 0;
fail:
	r = -errno;
	close(fd);
	return r;
}

static const char *file_open_error(const char *path, int err)
{
	(void)path;
	return err == -ENOTBLK ? "not a block device or regular file" : strerror(-err);
}

static bool file_same(const struct dev *a, const struct dev *b)
{
	return a->is_blk == b->is_blk && a->id_dev == b->id_dev && a->id_ino == b->id_ino;
}

/* SEEK_DATA and SEEK_HOLE: a block device is all data. */
static int file_extent(const struct dev *dev, uint64_t pos, uint64_t *end, bool *hole)
{
	off_t at;

	*end = dev->size;
	*hole = false;
	if (!dev->caps.extents)
		return 0;
	at = lseek(dev->fd, (off_t)pos, SEEK_DATA);
	if (at < 0 && errno == ENXIO) {
		*hole = true; /* to the end of the file */
		return 0;
	}
	if (at < 0)
		return -errno;
	*hole = (uint64_t)at != pos;
	if (!*hole)
		at = lseek(dev->fd, (off_t)pos, SEEK_HOLE);
	if (at < 0)
		return -errno;
	*end = (uint64_t)at < dev->size ? (uint64_t)at : dev->size;
	return 0;
}

static int file_flush(struct dev *dev, struct dmio_client *c)
{
	(void)c;
	return fdatasync(dev->fd) ? -errno : 0;
}

static char *value(blkid_probe pr, const char *name)
{
	const char *v;

	return blkid_probe_lookup_value(pr, name, &v, NULL) ? NULL : strdup(v);
}

/* TYPE, UUID and LABEL (a filesystem's), PTUUID (a disk's partition
 * table), PARTUUID and PARTLABEL (a partition's entry) from a libblkid
 * probe, where it finds them; mounts and holders from the system. */
static void file_describe(const struct dev *dev, const char *path, struct ident *id)
{
	blkid_probe pr = blkid_new_probe_from_filename(path);
	char buf[4096];

	if (dev_mounted(dev, buf, sizeof(buf)))
		id->mountpoint = strdup(buf);
	if (dev_held(dev, buf, sizeof(buf)))
		id->holder = strdup(buf);
	if (!pr)
		return;
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_UUID |
						      BLKID_SUBLKS_LABEL);
	blkid_probe_enable_partitions(pr, 1);
	blkid_probe_set_partitions_flags(pr, BLKID_PARTS_ENTRY_DETAILS);
	if (!blkid_do_safeprobe(pr)) {
		id->type = value(pr, "TYPE");
		if (!id->type)
			id->type = value(pr, "PTTYPE");
		id->uuid = value(pr, "UUID");
		id->label = value(pr, "LABEL");
		id->ptuuid = value(pr, "PTUUID");
		id->partuuid = value(pr, "PART_ENTRY_UUID");
		id->partlabel = value(pr, "PART_ENTRY_NAME");
	}
	blkid_free_probe(pr);
}

static void file_close(struct dev *dev)
{
	if (dev->fd >= 0)
		close(dev->fd);
	dev->fd = -1;
}

const struct backend_ops file_backend = {
	.name = "file",
	.open = file_open,
	.opening = "open",
	.open_error = file_open_error,
	.same = file_same,
	.extent = file_extent,
	.flush = file_flush,
	.describe = file_describe,
	.close = file_close,
};
