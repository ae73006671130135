// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * --hash-log: the digest file a job writes (the format is in
 * digestfile.h).  Its place is checked up front, where a temporary file is
 * made beside it (none under --dry-run) and renamed over it at the end: a
 * run that hashed no region whole (interrupted, failed) leaves an earlier
 * log as it was.  A log that is not a regular file (a FIFO, a terminal), or
 * that is where no other file may be made, is written in place, at the end.
 *
 * Windows may be millions (a 2 GiB region has 4 Mi of 512 bytes): each
 * goes as it completes to a spool of its stream, an unnamed file beside
 * the log, and is copied from there into the log at the end under each
 * region that claims the stream, which is known only then (a region that
 * failed claims none; a write destination claims the input's or its own).
 * Memory stays the same whatever their number.
 *
 * A name holding a newline or a backslash is escaped as GNU coreutils does:
 * a digest line starts with a backslash, and the name has \n and \\ for
 * them; in a comment, which coreutils skips, the name is always so escaped
 * and the line starts with '#'.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base.h"
#include "features/digestfile.h"

#ifndef DMIO_VERSION
#define DMIO_VERSION "unknown"
#endif

#define REC_MAX (2 * sizeof(uint64_t) + HASH_COUNT * HASH_HEX_MAX)

static struct {
	char *target;		/* the file the log replaces or makes; NULL: in place */
	char *tmp;		/* the temporary file beside it, while there is one */
	int fd;			/* tmp's */
	FILE **spool;		/* [stream]: its windows, the hasher thread's until it ends */
	unsigned int nspools;
	int err;		/* the first error of a spool: -errno */
} lg = { .fd = -1 };

/* ---- up front: the place ---- */

/* Whether paths a and b name the same file, which may not exist yet: the
 * same name in the same directory. */
static bool same_path(const char *a, const char *b)
{
	char *da = strdup(a), *db = strdup(b), *ra = NULL, *rb = NULL;
	bool same = false;

	if (da && db && strcmp(strrchr(a, '/') ? strrchr(a, '/') + 1 : a,
			       strrchr(b, '/') ? strrchr(b, '/') + 1 : b) == 0) {
		ra = realpath(dirname(da), NULL);
		rb = realpath(dirname(db), NULL);
		same = ra && rb && !strcmp(ra, rb);
	}
	free(da);
	free(db);
	free(ra);
	free(rb);
	return same;
}

/* What standard output carries besides the log: read's data, the report,
 * or nothing (-q without --json: the report only of a failed run). */
static const char *stdout_carries(const struct opts *o)
{
	if (o->shape.output && stream_is_std(o))
		return "read's data";
	return o->json || !o->quiet ? "the report" : NULL;
}

/* The log is not a file the job reads or writes (a region's, through a
 * symlink or a loop device too; the input, output or map), which it would
 * overwrite at the end, nor standard output while that carries something
 * else: 0, or -EINVAL once said. */
static int apart(const struct opts *o, const struct region *r, unsigned int n)
{
	const char *others[] = { o->input, o->output, o->map };
	const char *names[] = { "input", "output", "map" };
	struct extent e, x;

	for (unsigned int i = 0; i < 3; i++)
		if (others[i] && strcmp(others[i], "-") && same_path(others[i], o->hash_log)) {
			warnmsg("%s: the digest log is the %s", o->hash_log, names[i]);
			return -EINVAL;
		}
	if (path_extent(o->hash_log, &e))
		return 0; /* a new file */
	for (unsigned int i = 0; i < n; i++)
		if (extents_same(&r[i].dev.ext, &e)) {
			warnmsg("%s: the digest log is %s's %s", o->hash_log, r[i].text,
				extent_kind(&e));
			return -EINVAL;
		}
	for (unsigned int i = 0; i < 3; i++)
		if (others[i] && strcmp(others[i], "-") && !path_extent(others[i], &x) &&
		    extents_same(&x, &e)) {
			warnmsg("%s: the digest log is the %s", o->hash_log, names[i]);
			return -EINVAL;
		}
	/* /dev/stdout, or the file it was redirected to: the log would
	 * replace what goes there, or mix with it (/dev/null loses nothing). */
	if (stdout_carries(o) && !fd_extent(1, &x) && extents_same(&x, &e) &&
	    !extent_discards(&e)) {
		warnmsg("%s: the digest log is standard output, which carries %s", o->hash_log,
			stdout_carries(o));
		return -EINVAL;
	}
	return 0;
}

/* The mode of a new file: 0666 less the umask. */
static mode_t new_mode(void)
{
	mode_t u = umask(0);

	umask(u);
	return 0666 & ~u;
}

/* Make the temporary file beside lg.target, of the mode the log will
 * have; --dry-run only asks whether it could: 0 or -errno. */
static int make_tmp(bool dry, mode_t mode)
{
	char *dir = strdup(lg.target);
	int err = !dir ? -ENOMEM : access(dirname(dir), W_OK | X_OK) ? -errno : 0;

	free(dir);
	if (err || dry)
		return err;
	if (asprintf(&lg.tmp, "%s.XXXXXX", lg.target) < 0) {
		lg.tmp = NULL;
		return -ENOMEM;
	}
	lg.fd = mkostemp(lg.tmp, O_CLOEXEC);
	err = lg.fd < 0 || fchmod(lg.fd, mode) ? -errno : 0;
	if (err) {
		hash_log_release();
		return err;
	}
	return 0;
}

/* Where the log goes, and whether it can: 0 or -errno. */
static int place(const char *path, bool dry)
{
	struct stat st, lst;
	int err;

	if (!stat(path, &st)) {
		if (S_ISDIR(st.st_mode))
			return -EISDIR;
		if (access(path, W_OK))
			return -errno;
		if (!S_ISREG(st.st_mode))
			return 0; /* written in place: a FIFO, a terminal, /dev/null */
		/* A link stays a link: what it names is replaced. */
		lg.target = realpath(path, NULL);
		err = lg.target ? make_tmp(dry, st.st_mode & 07777) : -errno;
		if (err != -EACCES)
			return err;
		/* A file that may be written where no other may be made: in
		 * place, at the end. */
		free(lg.target);
		lg.target = NULL;
		return 0;
	}
	if (errno != ENOENT)
		return -errno;
	if (!lstat(path, &lst))
		return 0; /* a link to nothing: what it names is made, in place */
	lg.target = strdup(path);
	return lg.target ? make_tmp(dry, new_mode()) : -ENOMEM;
}

int hash_log_prepare(const struct opts *o, const struct region *r, unsigned int n)
{
	int err = apart(o, r, n);

	if (err)
		return err;
	err = place(o->hash_log, o->dry_run);
	if (!err)
		return 0;
	warnmsg("%s: cannot write the digests: %s", o->hash_log, strerror(-err));
	return -EINVAL;
}

/* ---- while the job runs: the windows ---- */

int hash_log_start(unsigned int nstreams)
{
	lg.spool = calloc(nstreams, sizeof(*lg.spool));
	if (!lg.spool)
		return -ENOMEM;
	lg.nspools = nstreams;
	return 0;
}

/* A new spool, unlinked, beside the log (its file system holds the log
 * anyway), or in TMPDIR for a log written in place. */
static FILE *spool_open(void)
{
	char *dir = lg.target ? strdup(lg.target) : NULL, *tmp = NULL;
	FILE *f = NULL;
	int fd = -1;

	if (!lg.target)
		return tmpfile();
	if (!dir)
		return NULL;
	fd = open(dirname(dir), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	/* No O_TMPFILE there: a name, gone at once. */
	if (fd < 0 && asprintf(&tmp, "%s/.dmio-spool.XXXXXX", dir) >= 0) {
		fd = mkostemp(tmp, O_CLOEXEC);
		if (fd >= 0)
			unlink(tmp);
	}
	if (fd >= 0 && !(f = fdopen(fd, "w+")))
		close(fd);
	free(tmp);
	free(dir);
	return f;
}

void hash_log_window(const struct hasher *h, unsigned int i, const struct hash_window *w)
{
	char rec[REC_MAX];
	size_t len = 2 * sizeof(uint64_t);

	if (lg.err || i >= lg.nspools)
		return;
	if (!lg.spool[i] && !(lg.spool[i] = spool_open())) {
		lg.err = errno ? -errno : -ENOMEM;
		return;
	}
	memcpy(rec, &w->offset, sizeof(uint64_t));
	memcpy(rec + sizeof(uint64_t), &w->length, sizeof(uint64_t));
	for (unsigned int a = 0; a < HASH_COUNT; a++) {
		const char *hex = hash_window_hex(h, w, a);

		if (hex) {
			memcpy(rec + len, hex, hash_hex_len(a));
			len += hash_hex_len(a);
		}
	}
	if (fwrite(rec, len, 1, lg.spool[i]) != 1)
		lg.err = errno ? -errno : -EIO;
}

/* ---- at the end: the log ---- */

static bool needs_escape(const char *name)
{
	return strpbrk(name, "\n\\") != NULL;
}

/* name, escaped, to f. */
static void put_name(FILE *f, const char *name)
{
	for (const char *p = name; *p; p++) {
		if (*p == '\n')
			fputs("\\n", f);
		else if (*p == '\\')
			fputs("\\\\", f);
		else
			fputc(*p, f);
	}
}

/* The windows of stream i, from its spool, under r's name: 0 or -errno. */
static int put_windows(FILE *f, const struct region *r, const struct hasher *h,
		       unsigned int i)
{
	FILE *s = i < lg.nspools ? lg.spool[i] : NULL;
	char rec[REC_MAX];
	size_t len = 2 * sizeof(uint64_t);

	if (!s)
		return hasher_windows_total(h, i) ? -EIO : 0;
	for (unsigned int a = 0; a < HASH_COUNT; a++)
		len += hasher_hex(h, i, a) ? hash_hex_len(a) : 0;
	rewind(s);
	while (fread(rec, len, 1, s) == 1) {
		uint64_t off, wlen;
		const char *hex = rec + 2 * sizeof(uint64_t);

		memcpy(&off, rec, sizeof(off));
		memcpy(&wlen, rec + sizeof(off), sizeof(wlen));
		for (unsigned int a = 0; a < HASH_COUNT; a++) {
			if (!hasher_hex(h, i, a))
				continue;
			fprintf(f, "# window %" PRIu64 " %" PRIu64 " %s %.*s ", off, wlen,
				hash_name(a), (int)hash_hex_len(a), hex);
			put_name(f, r->text);
			fputc('\n', f);
			hex += hash_hex_len(a);
		}
	}
	return ferror(s) ? -EIO : 0;
}

/* r's lines: its size, its digests, its windows: 0 or -errno. */
static int put_region(FILE *f, const struct region *r, const struct hasher *h)
{
	unsigned int i = r->digest - 1;
	const char *esc = needs_escape(r->text) ? "\\" : "";

	fprintf(f, "# size %" PRIu64 " ", hasher_bytes(h, i));
	put_name(f, r->text);
	fputc('\n', f);
	for (unsigned int a = 0; a < HASH_COUNT; a++) {
		if (!hasher_hex(h, i, a))
			continue;
		fprintf(f, "%s%s (", esc, hash_tag(a));
		put_name(f, r->text);
		fprintf(f, ") = %s\n", hasher_hex(h, i, a));
	}
	return put_windows(f, r, h, i);
}

/* Every region that has digests, to f, which is closed: 0 or -errno. */
static int put_log(FILE *f, const struct opts *o, const struct region *r, unsigned int n,
		   const struct hasher *h)
{
	int err = lg.err;

	fprintf(f, "# dmio %s %s\n", DMIO_VERSION, op_names[o->op]);
	for (unsigned int i = 0; !err && i < n; i++)
		if (r[i].digest)
			err = put_region(f, &r[i], h);
	if (!err && (fflush(f) || (lg.tmp && fsync(fileno(f)))))
		err = -errno;
	if (fclose(f) && !err)
		err = -errno;
	lg.fd = -1;
	return err;
}

int hash_log_write(const struct opts *o, const struct region *r, unsigned int n,
		   const struct hasher *h)
{
	FILE *f;
	int err;
	unsigned int any = 0;

	/* Nothing hashed whole (an interrupted or failed run): an earlier log
	 * stays as it was. */
	for (unsigned int i = 0; i < n; i++)
		any += !!r[i].digest;
	if (!any) {
		warnmsg("%s: not written: no region was hashed whole", o->hash_log);
		hash_log_release();
		return 0;
	}
	f = lg.tmp ? fdopen(lg.fd, "w") : fopen(o->hash_log, "we");
	err = !f ? -errno : put_log(f, o, r, n, h);
	if (!err && lg.tmp && rename(lg.tmp, lg.target))
		err = -errno;
	if (!err) {
		free(lg.tmp);
		lg.tmp = NULL;
	}
	hash_log_release();
	if (err)
		warnmsg("%s: cannot write the digests: %s", o->hash_log, strerror(-err));
	return err;
}

void hash_log_release(void)
{
	for (unsigned int i = 0; i < lg.nspools; i++)
		if (lg.spool[i])
			fclose(lg.spool[i]);
	free(lg.spool);
	if (lg.fd >= 0)
		close(lg.fd);
	if (lg.tmp)
		unlink(lg.tmp);
	free(lg.tmp);
	free(lg.target);
	lg = (typeof(lg)){ .fd = -1 };
}
