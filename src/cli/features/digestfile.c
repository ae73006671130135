// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Digest files: written by --hash-log, read by verify --digest-file (the
 * format is in digestfile.h).  A name holding a newline or a backslash is
 * escaped as GNU coreutils does: a digest line starts with a backslash, and
 * the name has \n and \\ for them; in a comment, which coreutils skips,
 * the name is always so escaped and the line starts with '#'.
 */
#include <errno.h>
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

static struct digest_entry *entries;
static unsigned int nentries;

/* ---- writing ---- */

/* name, escaped, to f; whether it needed it. */
static bool needs_escape(const char *name)
{
	return strpbrk(name, "\n\\") != NULL;
}

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

static void put_region(FILE *f, const struct region *r, const struct hasher *h,
		       uint64_t bytes)
{
	unsigned int i = r->digest - 1, nw;
	const struct hash_window *w = hasher_windows(h, i, &nw);
	const char *esc = needs_escape(r->text) ? "\\" : "";

	fprintf(f, "# size %" PRIu64 " ", bytes);
	put_name(f, r->text);
	fputc('\n', f);
	for (unsigned int a = 0; a < HASH_COUNT; a++) {
		if (!hasher_hex(h, i, a))
			continue;
		fprintf(f, "%s%s (", esc, hash_tag(a));
		put_name(f, r->text);
		fprintf(f, ") = %s\n", hasher_hex(h, i, a));
	}
	for (unsigned int a = 0; a < HASH_COUNT; a++) {
		if (!hasher_hex(h, i, a))
			continue;
		for (unsigned int x = 0; x < nw; x++) {
			fprintf(f, "# window %" PRIu64 " %" PRIu64 " %s %s ", w[x].offset,
				w[x].length, hash_name(a), hash_window_hex(h, &w[x], a));
			put_name(f, r->text);
			fputc('\n', f);
		}
	}
}

int hash_log_write(const struct opts *o, const struct region *r, unsigned int n,
		   const struct hasher *h)
{
	FILE *f;
	int err = 0;
	unsigned int any = 0;

	/* Nothing hashed whole (an interrupted or failed run): an earlier log
	 * stays as it was. */
	for (unsigned int i = 0; i < n; i++)
		any += !!r[i].digest;
	if (!any) {
		warnmsg("%s: not written: no region was hashed whole", o->hash_log);
		return 0;
	}
	f = fopen(o->hash_log, "we");
	if (!f) {
		err = -errno;
		warnmsg("%s: cannot write the digests: %s", o->hash_log, strerror(errno));
		return err;
	}
	fprintf(f, "# dmio %s %s\n", DMIO_VERSION, op_names[o->op]);
	for (unsigned int i = 0; i < n; i++)
		if (r[i].digest)
			put_region(f, &r[i], h, hasher_bytes(h, r[i].digest - 1));
	if (ferror(f))
		err = -EIO;
	if (fclose(f) && !err)
		err = -errno;
	if (err)
		warnmsg("%s: cannot write the digests: %s", o->hash_log, strerror(-err));
	return err;
}

/* ---- reading ---- */

/* The entry named name, made if new: NULL when out of memory. */
static struct digest_entry *entry(const char *name)
{
	struct digest_entry *e;

	for (unsigned int i = 0; i < nentries; i++)
		if (!strcmp(entries[i].name, name))
			return &entries[i];
	e = realloc(entries, (nentries + 1) * sizeof(*e));
	if (!e)
		return NULL;
	entries = e;
	e = &entries[nentries];
	*e = (struct digest_entry){ .name = strdup(name), .size = UINT64_MAX };
	if (!e->name)
		return NULL;
	nentries++;
	return e;
}

/* s, which had a leading backslash, unescaped in place: false when it
 * holds an escape that is not \n or \\. */
static bool unescape(char *s)
{
	char *w = s;

	for (char *p = s; *p; p++) {
		if (*p == '\\') {
			p++;
			if (*p != 'n' && *p != '\\')
				return false;
			*w++ = *p == 'n' ? '\n' : '\\';
		} else {
			*w++ = *p;
		}
	}
	*w = 0;
	return true;
}

static bool is_hex(const char *s, size_t n)
{
	return n && strspn(s, "0123456789abcdefABCDEF") == n;
}

/* "# size BYTES NAME", "# window OFF LEN ALG HEX NAME"; other comments
 * are skipped.  False for one of those that is wrong. */
static bool comment_line(char *line)
{
	char alg[32], hex[HASH_HEX_MAX + 1];
	uint64_t a, b;
	int at = 0;
	struct digest_entry *e;

	if (sscanf(line, "# size %" SCNu64 " %n", &a, &at) == 1 && at) {
		if (!unescape(line + at))
			return false;
		e = entry(line + at);
		return e && (e->size = a, true);
	}
	if (sscanf(line, "# window %" SCNu64 " %" SCNu64 " %31s %129s %n", &a, &b, alg, hex,
		   &at) == 4 && at) {
		enum hash_alg h = hash_lookup(alg);
		struct digest_window *w;

		if (!unescape(line + at))
			return false;
		e = entry(line + at);
		if (!e || h == HASH_COUNT || strlen(hex) != hash_hex_len(h) ||
		    !is_hex(hex, strlen(hex)))
			return false;
		w = realloc(e->windows, (e->nwindows + 1) * sizeof(*w));
		if (!w)
			return false;
		e->windows = w;
		w[e->nwindows++] = (struct digest_window){ a, b, h, { 0 } };
		strcpy(w[e->nwindows - 1].hex, hex);
		return true;
	}
	return strncmp(line, "# size ", 7) && strncmp(line, "# window ", 9);
}

/* An untagged line's algorithms: --hash's one, else every one whose
 * digests are that long (md5 and xxh128, sha256 and sha3-256, sha512 and
 * blake2b-512 share lengths: the digest is held against each); 0, and why
 * in *why, when there is none. */
static unsigned int untagged_algs(size_t hexlen, unsigned int hash_mask, const char **why)
{
	static char text[96];
	unsigned int mask = 0;

	for (unsigned int a = 0; a < HASH_COUNT; a++)
		if (hash_mask == 1u << a) {
			if (hash_hex_len(a) == hexlen)
				return 1u << a;
			snprintf(text, sizeof(text), "a %zu-digit digest, not %s's %u digits (--hash)",
				 hexlen, hash_name(a), hash_hex_len(a));
			*why = text;
			return 0;
		}
	for (unsigned int a = 0; a < HASH_COUNT; a++)
		if (hash_hex_len(a) == hexlen)
			mask |= 1u << a;
	return mask;
}

/* "TAG (NAME) = HEX" or "HEX  NAME" (or "HEX *NAME"): false, and why in
 * *why if it is not just "not a digest line". */
static bool digest_line(char *line, unsigned int hash_mask, const char **why)
{
	char *open = strstr(line, " ("), *close = strrchr(line, ')');
	unsigned int mask = 0;
	struct digest_entry *e;
	char *hex, *name;

	if (open && close && close > open && !strncmp(close, ") = ", 4)) {
		*open = 0;
		*close = 0;
		mask = hash_lookup(line) < HASH_COUNT ? 1u << hash_lookup(line) : 0;
		name = open + 2;
		hex = close + 4;
	} else {
		hex = line;
		name = strchr(line, ' ');
		if (!name || (name[1] != ' ' && name[1] != '*'))
			return false;
		*name = 0;
		name += 2;
		mask = untagged_algs(strlen(hex), hash_mask, why);
	}
	if (!mask || strlen(hex) != hash_hex_len((enum hash_alg)__builtin_ctz(mask)) ||
	    !is_hex(hex, strlen(hex)) || !*name || !(e = entry(name)))
		return false;
	for (char *p = hex; *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'F' ? *p - 'A' + 'a' : *p);
	for (unsigned int a = 0; a < HASH_COUNT; a++)
		if (mask & 1u << a)
			strcpy(e->hex[a], hex);
	e->mask |= mask;
	if (mask & (mask - 1))
		e->either |= mask;
	return true;
}

static int read_file(const char *path, unsigned int hash_mask)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	unsigned int no = 0;
	ssize_t len;
	bool ok = true;

	if (!f) {
		warnmsg("%s: cannot open: %s", path, strerror(errno));
		return -EINVAL;
	}
	const char *why = "not a digest line";

	while (ok && (len = getline(&line, &cap, f)) >= 0) {
		char *l = line;

		no++;
		if (len && l[len - 1] == '\n')
			l[--len] = 0;
		if (!*l)
			continue;
		if (*l == '\\' && !unescape(++l))
			ok = false;
		else
			ok = *l == '#' ? comment_line(l) : digest_line(l, hash_mask, &why);
	}
	if (!ok) {
		warnmsg("%s:%u: %s", path, no, why);
	} else if (ferror(f)) {
		warnmsg("%s: read error: %s", path, strerror(errno));
		ok = false;
	} else if (!nentries) {
		warnmsg("%s: no digests in it", path);
		ok = false;
	}
	for (unsigned int i = 0; ok && i < nentries; i++)
		if (!entries[i].mask) {
			warnmsg("%s: %s: a size or windows, but no digest", path, entries[i].name);
			ok = false;
		}
	free(line);
	fclose(f);
	return ok ? 0 : -EINVAL;
}

/* ---- matching ---- */

/* r's entry: the one named as r is, else the only one. */
static const struct digest_entry *match(const struct region *r)
{
	for (unsigned int i = 0; i < nentries; i++)
		if (!strcmp(entries[i].name, r->text))
			return &entries[i];
	return nentries == 1 ? &entries[0] : NULL;
}

/* --hash-log: not a file the job reads or writes (a region's, through a
 * symlink or a loop device too; the input, output or map), which the log
 * would overwrite at the end. */
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

static int hash_log_apart(const struct opts *o, const struct region *r, unsigned int n)
{
	const char *others[] = { o->input, o->output, o->map };
	struct extent e, x;

	for (unsigned int i = 0; i < 3; i++)
		if (others[i] && strcmp(others[i], "-") && same_path(others[i], o->hash_log)) {
			warnmsg("%s: the digest log is the %s", o->hash_log,
				i == 0 ? "input" : i == 1 ? "output" : "map");
			return -EINVAL;
		}
	if (path_extent(o->hash_log, &e))
		return 0; /* a new file */
	/* /dev/stdout, or the file it was redirected to: the log would
	 * replace what goes there, or mix with it (/dev/null loses nothing). */
	if (stdout_carries(o) && !fd_extent(1, &x) && extents_same(&x, &e) &&
	    !extent_discards(&e)) {
		warnmsg("%s: the digest log is standard output, which carries %s", o->hash_log,
			stdout_carries(o));
		return -EINVAL;
	}
	for (unsigned int i = 0; i < n; i++)
		if (extents_same(&r[i].dev.ext, &e)) {
			warnmsg("%s: the digest log is %s's %s", o->hash_log, r[i].text,
				extent_kind(&e));
			return -EINVAL;
		}
	for (unsigned int i = 0; i < 3; i++)
		if (others[i] && strcmp(others[i], "-") && !path_extent(others[i], &x) &&
		    extents_same(&x, &e)) {
			warnmsg("%s: the digest log is the %s", o->hash_log,
				i == 0 ? "input" : i == 1 ? "output" : "map");
			return -EINVAL;
		}
	return 0;
}

/* Whether the log could be written at the end: 0, or -EINVAL once said
 * why (no such directory, a directory, a read-only place).  Nothing is
 * made: --dry-run asks the same. */
static int hash_log_writable(const char *path)
{
	struct stat st;
	char *dir;
	int err = 0;

	if (!stat(path, &st))
		err = S_ISDIR(st.st_mode) ? -EISDIR : access(path, W_OK) ? -errno : 0;
	else if (errno != ENOENT)
		err = -errno;
	else if (!(dir = strdup(path)))
		err = -ENOMEM;
	else {
		err = access(dirname(dir), W_OK | X_OK) ? -errno : 0;
		free(dir);
	}
	if (!err)
		return 0;
	warnmsg("%s: cannot write the digests: %s", path, strerror(-err));
	return -EINVAL;
}

int digests_prepare(const struct opts *o, struct region *r, unsigned int n)
{
	int err;

	if (o->hash_log) {
		err = hash_log_apart(o, r, n);
		return err ? err : hash_log_writable(o->hash_log);
	}
	if (!o->digest_file)
		return 0;
	err = read_file(o->digest_file, o->hash_mask);
	for (unsigned int i = 0; !err && i < n; i++) {
		const struct digest_entry *e = match(&r[i]);
		uint64_t bytes = r[i].count << DMIO_SECTOR_SHIFT;

		if (!e) {
			warnmsg("%s: no digest for it in %s", r[i].text, o->digest_file);
			err = -EINVAL;
		} else if (e->size != UINT64_MAX &&
			   (e->size % DMIO_SECTOR_SIZE || e->size > bytes ||
			    (r[i].spec.has_count && e->size != bytes))) {
			warnmsg(e->size > bytes ? "%s: %llu bytes, fewer than the %llu of its digest"
						: "%s: %llu bytes, but its digest is of %llu",
				r[i].text, (unsigned long long)bytes, (unsigned long long)e->size);
			err = -EINVAL;
		} else {
			if (e->size != UINT64_MAX && !r[i].spec.has_count)
				r[i].count = e->size >> DMIO_SECTOR_SHIFT;
			r[i].expected = e;
		}
	}
	return err;
}

void digests_release(void)
{
	for (unsigned int i = 0; i < nentries; i++) {
		free(entries[i].name);
		free(entries[i].windows);
	}
	free(entries);
	entries = NULL;
	nentries = 0;
}

bool digest_window_differs(const struct digest_entry *e, const struct hasher *h,
			   unsigned int i, unsigned int x)
{
	unsigned int nw;
	const struct hash_window *w = hasher_windows(h, i, &nw);
	const struct digest_window *d = &e->windows[x];
	uint64_t y = nw ? d->offset / w[0].length : 0; /* the hasher's, at the same place */
	const char *hex = y < nw ? hash_window_hex(h, &w[y], d->alg) : NULL;

	return hex && w[y].offset == d->offset && w[y].length == d->length && strcmp(hex, d->hex);
}

uint64_t digest_first_bad_window(const struct digest_entry *e, const struct hasher *h,
				 unsigned int i)
{
	uint64_t first = UINT64_MAX;

	for (unsigned int x = 0; x < e->nwindows; x++)
		if (e->windows[x].offset < first && digest_window_differs(e, h, i, x))
			first = e->windows[x].offset;
	return first;
}
