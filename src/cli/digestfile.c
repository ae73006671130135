// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Digest files: written by --hash-log, read by verify --digest-file (the
 * format is in digestfile.h).  A name holding a newline or a backslash is
 * escaped as GNU coreutils does: the line starts with a backslash, and the
 * name has \n and \\ for them.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digestfile.h"

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

	fprintf(f, "%s# size %" PRIu64 " ", esc, bytes);
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
			fprintf(f, "%s# window %" PRIu64 " %" PRIu64 " %s %s ", esc, w[x].offset,
				w[x].length, hash_name(a), hash_window_hex(h, &w[x], a));
			put_name(f, r->text);
			fputc('\n', f);
		}
	}
}

int hash_log_write(const struct opts *o, const struct region *r, unsigned int n,
		   const struct hasher *h, uint64_t written)
{
	FILE *f = fopen(o->hash_log, "we");
	int err = 0;

	if (!f) {
		err = -errno;
		warnmsg("%s: cannot write the digests: %s", o->hash_log, strerror(errno));
		return err;
	}
	fprintf(f, "# dmio %s %s\n", DMIO_VERSION, op_names[o->op]);
	for (unsigned int i = 0; i < n; i++)
		if (r[i].digest)
			put_region(f, &r[i], h,
				   (written != UINT64_MAX ? written : r[i].count) << DMIO_SECTOR_SHIFT);
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
		e = entry(line + at);
		return e && (e->size = a, true);
	}
	if (sscanf(line, "# window %" SCNu64 " %" SCNu64 " %31s %129s %n", &a, &b, alg, hex,
		   &at) == 4 && at) {
		enum hash_alg h = hash_lookup(alg);
		struct digest_window *w;

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

/* An untagged line's algorithm: --hash's one, else by its length. */
static enum hash_alg untagged_alg(size_t hexlen, unsigned int hash_mask)
{
	for (unsigned int a = 0; a < HASH_COUNT; a++)
		if (hash_mask == 1u << a)
			return hash_hex_len(a) == hexlen ? (enum hash_alg)a : HASH_COUNT;
	switch (hexlen) {
	case 32: return HASH_MD5;
	case 40: return HASH_SHA1;
	case 64: return HASH_SHA256;
	case 128: return HASH_SHA512;
	}
	return HASH_COUNT;
}

/* "TAG (NAME) = HEX" or "HEX  NAME" (or "HEX *NAME"). */
static bool digest_line(char *line, unsigned int hash_mask)
{
	char *open = strstr(line, " ("), *close = strrchr(line, ')');
	enum hash_alg a = HASH_COUNT;
	struct digest_entry *e;
	char *hex, *name;

	if (open && close && close > open && !strncmp(close, ") = ", 4)) {
		*open = 0;
		*close = 0;
		a = hash_lookup(line);
		name = open + 2;
		hex = close + 4;
	} else {
		hex = line;
		name = strchr(line, ' ');
		if (!name || (name[1] != ' ' && name[1] != '*'))
			return false;
		*name = 0;
		name += 2;
		a = untagged_alg(strlen(hex), hash_mask);
	}
	if (a == HASH_COUNT || strlen(hex) != hash_hex_len(a) || !is_hex(hex, strlen(hex)) ||
	    !*name || !(e = entry(name)))
		return false;
	for (char *p = hex; *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'F' ? *p - 'A' + 'a' : *p);
	strcpy(e->hex[a], hex);
	e->mask |= 1u << a;
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
			ok = *l == '#' ? comment_line(l) : digest_line(l, hash_mask);
	}
	if (!ok) {
		warnmsg("%s:%u: not a digest line", path, no);
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

int digests_prepare(const struct opts *o, struct region *r, unsigned int n)
{
	int err;

	if (!o->digest_file)
		return 0;
	err = read_file(o->digest_file, o->hash_mask);
	for (unsigned int i = 0; !err && i < n; i++) {
		const struct digest_entry *e = match(&r[i]);
		uint64_t bytes = r[i].count << DMIO_SECTOR_SHIFT;

		if (!e) {
			warnmsg("%s: no digest for it in %s", r[i].text, o->digest_file);
			err = -EINVAL;
		} else if (e->size != UINT64_MAX && !r[i].spec.has_count &&
			   (e->size % DMIO_SECTOR_SIZE || e->size > bytes)) {
			warnmsg(e->size > bytes ? "%s: %llu bytes, fewer than the %llu of its digest"
						: "%s: %llu bytes, but its digest is of %llu: not whole sectors",
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
