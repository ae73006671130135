// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * What the system knows of a device, from sysfs and mountinfo.  Where its
 * bytes really are, so that regions are compared on what they name rather
 * than on their paths: a partition is a range of its disk (.../start and
 * the parent's dev), a loop device a range of its backing file or device
 * (.../loop/backing_file and offset), a regular file is itself.  And who
 * else uses it: mounts of it or of its partitions, holders (dm, md).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "regions/regions.h"

#define MAX_DEPTH 8 /* loop over loop over ... */

/* The first line of /sys/dev/block/MAJ:MIN/name, in buf: 0 or -errno. */
static int sysfs_read(dev_t d, const char *name, char *buf, size_t len)
{
	char path[128];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/%s", major(d), minor(d), name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -EIO;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

static bool sysfs_u64(dev_t d, const char *name, uint64_t *v)
{
	char buf[64], *end;

	if (sysfs_read(d, name, buf, sizeof(buf)) || !*buf)
		return false;
	*v = strtoull(buf, &end, 10);
	return !*end;
}

static bool sysfs_dev(dev_t d, const char *name, dev_t *out)
{
	char buf[64];
	unsigned int ma, mi;

	if (sysfs_read(d, name, buf, sizeof(buf)) || sscanf(buf, "%u:%u", &ma, &mi) != 2)
		return false;
	*out = makedev(ma, mi);
	return true;
}

static void from_path(int dirfd, const char *path, int flags, struct extent *e, int depth);

/* Block device d, whose byte 0 is at e->start so far. */
static void from_blk(dev_t d, struct extent *e, int depth)
{
	char backing[4096];
	uint64_t v;
	dev_t whole;

	if (sysfs_u64(d, "partition", &v) && sysfs_u64(d, "start", &v) &&
	    sysfs_dev(d, "../dev", &whole)) {
		e->start += v << DMIO_SECTOR_SHIFT;
		d = whole;
	}
	*e = (struct extent){ .is_blk = true, .dev = d, .start = e->start };
	if (depth < MAX_DEPTH && !sysfs_read(d, "loop/backing_file", backing, sizeof(backing))) {
		struct extent back = { .start = e->start };

		if (sysfs_u64(d, "loop/offset", &v))
			back.start += v;
		from_path(AT_FDCWD, backing, 0, &back, depth + 1);
		/* A backing file that is gone ("(deleted)"): the loop device. */
		if (back.dev)
			*e = back;
	}
}

/* What path (or dirfd, with AT_EMPTY_PATH) is; e->start so far.  Leaves e
 * as it is when it cannot be known. */
static void from_path(int dirfd, const char *path, int flags, struct extent *e, int depth)
{
	struct statx stx;

	if (statx(dirfd, path, flags, STATX_BASIC_STATS | STATX_BTIME, &stx))
		return;
	if (S_ISBLK(stx.stx_mode)) {
		from_blk(makedev(stx.stx_rdev_major, stx.stx_rdev_minor), e, depth);
	} else {
		e->is_blk = false;
		e->dev = makedev(stx.stx_dev_major, stx.stx_dev_minor);
		e->ino = stx.stx_ino;
		/* A file made again under the same inode number is not the
		 * same file: its birth time says so. */
		e->born = stx.stx_mask & STATX_BTIME
				  ? (uint64_t)stx.stx_btime.tv_sec * 1000000000u + stx.stx_btime.tv_nsec
				  : 0;
	}
}

int fd_extent(int fd, struct extent *e)
{
	*e = (struct extent){ 0 };
	from_path(fd, "", AT_EMPTY_PATH, e, 0);
	return e->dev || e->ino ? 0 : -ENODEV;
}

int path_extent(const char *path, struct extent *e)
{
	*e = (struct extent){ 0 };
	from_path(AT_FDCWD, path, 0, e, 0);
	return e->dev || e->ino ? 0 : -ENOENT;
}

bool extents_overlap(const struct extent *a, uint64_t astart, uint64_t alen,
		     const struct extent *b, uint64_t bstart, uint64_t blen)
{
	uint64_t x = a->start + astart, y = b->start + bstart;

	/* A stream and the sink are nowhere; an export is known by its URI
	 * only (a captive server's is its own socket's). */
	if (a->nowhere || b->nowhere)
		return false;
	if (a->uri || b->uri)
		return a->uri && b->uri && !strcmp(a->uri, b->uri) && x < y + blen && y < x + alen;
	return a->is_blk == b->is_blk && a->dev == b->dev && a->ino == b->ino &&
	       x < y + blen && y < x + alen;
}

bool extents_same(const struct extent *a, const struct extent *b)
{
	return !a->uri && !b->uri && !a->nowhere && !b->nowhere && a->is_blk == b->is_blk &&
	       a->dev == b->dev && a->ino == b->ino;
}

bool extent_discards(const struct extent *e)
{
	struct extent null;

	return !path_extent("/dev/null", &null) && extents_same(&null, e);
}

const char *extent_kind(const struct extent *e)
{
	return e->is_blk ? "device" : "file";
}

bool dev_partition_of(const struct dev *d, const struct dev *e)
{
	uint64_t v;
	dev_t whole;

	return d->is_blk && e->is_blk && sysfs_u64(d->id_dev, "partition", &v) &&
	       sysfs_dev(d->id_dev, "../dev", &whole) && whole == e->id_dev;
}

/* ---- who else uses a block device ---- */

/* m is d, or a partition of d. */
static bool same_disk(dev_t m, dev_t d)
{
	uint64_t v;
	dev_t whole;

	return m == d || (sysfs_u64(m, "partition", &v) && sysfs_dev(m, "../dev", &whole) &&
			  whole == d);
}

/* Undo mountinfo's \ooo escapes in place. */
static void unescape(char *s)
{
	char *o = s;

	for (; *s; s++, o++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' &&
		    s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*o = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
			s += 3;
		} else {
			*o = *s;
		}
	}
	*o = 0;
}

int dev_mounted(const struct dev *dev, char *where, size_t len)
{
	FILE *f = dev->is_blk ? fopen("/proc/self/mountinfo", "re") : NULL;
	dev_t d = dev->id_dev;
	char *line = NULL;
	size_t cap = 0;
	int found = 0;

	if (!f)
		return 0;
	while (found < 2 && getline(&line, &cap, f) > 0) {
		unsigned int ma, mi;
		char point[4096], opts[1024];

		if (sscanf(line, "%*u %*u %u:%u %*s %4095s %1023s", &ma, &mi, point, opts) != 4 ||
		    !same_disk(makedev(ma, mi), d))
			continue;
		unescape(point);
		snprintf(where, len, "%s", point);
		found = !strncmp(opts, "rw", 2) && (!opts[2] || opts[2] == ',') ? 2 : 1;
	}
	free(line);
	fclose(f);
	return found;
}

bool dev_held(const struct dev *dev, char *name, size_t len)
{
	char path[128];
	struct dirent *e;
	DIR *dir;
	bool held = false;

	if (!dev->is_blk)
		return false;
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/holders", major(dev->id_dev),
		 minor(dev->id_dev));
	dir = opendir(path);
	if (!dir)
		return false;
	while (!held && (e = readdir(dir)))
		if (e->d_name[0] != '.') {
			snprintf(name, len, "%s", e->d_name);
			held = true;
		}
	closedir(dir);
	return held;
}

/* ---- what a device is, for a map to know it again ---- */

/* A stable name of the disk d where sysfs has one (WWN, serial), made one
 * word: 0 or -errno. */
static int disk_name(dev_t d, char *buf, size_t len)
{
	static const char *const names[] = { "wwid", "device/wwid", "device/serial", "serial" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!sysfs_read(d, names[i], buf, len) && *buf) {
			for (char *p = buf; *p; p++)
				if (*p <= ' ' || *p == ':' || *p == '\\' || *p == 0x7f)
					*p = '_';
			return 0;
		}
	return -ENOENT;
}

void dev_identity(const struct dev *d, char *buf, size_t len)
{
	const struct extent *e = &d->ext;
	char name[256];

	if (e->command) {
		snprintf(buf, len, "captive:%s:%llu", e->command, (unsigned long long)d->size);
	} else if (e->nowhere) {
		snprintf(buf, len, "%s", d->kind);
	} else if (e->uri) {
		char *uri = spec_redact(e->uri);

		snprintf(buf, len, "nbd:%s:%llu", uri ? uri : "", (unsigned long long)d->size);
		free(uri);
	} else if (!e->is_blk)
		snprintf(buf, len, "file:%u:%u:%llu:%llu:%llu:%llu", major(e->dev), minor(e->dev),
			 (unsigned long long)e->ino, (unsigned long long)e->born,
			 (unsigned long long)e->start, (unsigned long long)d->size);
	else if (!disk_name(e->dev, name, sizeof(name)))
		snprintf(buf, len, "blk:%s:%llu:%llu", name, (unsigned long long)e->start,
			 (unsigned long long)d->size);
	else
		snprintf(buf, len, "blk:%u:%u:%llu:%llu", major(e->dev), minor(e->dev),
			 (unsigned long long)e->start, (unsigned long long)d->size);
}
