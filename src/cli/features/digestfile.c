// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Digest files read back: verify --digest-file (the format is in
 * digestfile.h; --hash-log writes them, hashlog.c).  Every line is read up
 * front, to give each destination its entry and its length, but windows
 * are not kept (there may be millions): each entry knows how many it has
 * and of what length, and while the job runs a destination's windows are
 * read again from the file, in order, each as the stream's window at the
 * same place completes, and compared (window_check()).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "features/digestfile.h"

static struct digest_entry *entries;
static unsigned int nentries;
static struct window_check *checks;	/* [region], of digests_prepare() */
static unsigned int nchecks;
static char *file_op;			/* "# dmio VERSION OP"'s OP */
static char **file_dests;		/* "# destination NAME" */
static unsigned int nfile_dests;

/* ---- reading it up front ---- */

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

/* "# window OFF LEN ALG HEX NAME" into *w, its name (unescaped in place)
 * into *name: 1; 0 when line is no window line; -1 when it is a wrong one. */
static int window_line(char *line, struct digest_window *w, char **name)
{
	char alg[32], hex[HASH_HEX_MAX + 1];
	int at = 0;

	if (strncmp(line, "# window ", 9))
		return 0;
	if (sscanf(line, "# window %" SCNu64 " %" SCNu64 " %31s %129s %n", &w->offset,
		   &w->length, alg, hex, &at) != 4 || !at || !unescape(line + at))
		return -1;
	w->alg = hash_lookup(alg);
	if (w->alg == HASH_COUNT || strlen(hex) != hash_hex_len(w->alg) ||
	    !is_hex(hex, strlen(hex)) || !w->length)
		return -1;
	for (char *p = hex; *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'F' ? *p - 'A' + 'a' : *p);
	strcpy(w->hex, hex);
	*name = line + at;
	return 1;
}

/* A copy's destination, "# destination NAME": false on a bad escape. */
static bool add_dest(char *name)
{
	char **v;

	if (!unescape(name))
		return false;
	v = realloc(file_dests, (nfile_dests + 1) * sizeof(*v));
	if (!v)
		return false;
	file_dests = v;
	v[nfile_dests] = strdup(name);
	return v[nfile_dests] && ++nfile_dests;
}

/* "# size BYTES NAME", "# window OFF LEN ALG HEX NAME"; other comments
 * are skipped.  False, and why in *why, for one of those that is wrong;
 * an entry's windows of each algorithm must come in order, each after the
 * one before. */
static bool comment_line(char *line, const char **why)
{
	struct digest_window w;
	uint64_t a;
	int at = 0, win;
	struct digest_entry *e;
	char *name;

	if (sscanf(line, "# size %" SCNu64 " %n", &a, &at) == 1 && at) {
		if (!unescape(line + at))
			return false;
		e = entry(line + at);
		return e && (e->size = a, true);
	}
	if (!strncmp(line, "# dmio ", 7) && strchr(line + 7, ' ')) {
		free(file_op);
		file_op = strdup(strrchr(line, ' ') + 1);
		return file_op;
	}
	if (!strncmp(line, "# destination ", 14))
		return add_dest(line + 14);
	win = window_line(line, &w, &name);
	if (!win)
		return strncmp(line, "# size ", 7);
	if (win < 0 || !(e = entry(name)))
		return false;
	if (w.offset < e->wnext[w.alg]) {
		*why = "a window out of order";
		return false;
	}
	if (!e->walgs)
		e->wlen = w.length;
	e->walgs |= 1u << w.alg;
	e->wnext[w.alg] = w.offset + w.length;
	e->nwindows++;
	return true;
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
			ok = *l == '#' ? comment_line(l, &why) : digest_line(l, hash_mask, &why);
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

/* ---- the windows, as the job goes ---- */

/* Start c on entry e, whose windows are read again from o->digest_file:
 * 0 or -errno. */
static int check_open(struct window_check *c, const char *path, unsigned int max,
		      const struct digest_entry *e)
{
	*c = (struct window_check){ .e = e, .alg = (enum hash_alg)__builtin_ctz(e->walgs),
				    .first = UINT64_MAX, .max = max };
	c->f = fopen(path, "re");
	return c->f ? 0 : -errno;
}

/* Window [offset, +length) differs: counted, and listed while fewer than
 * max are (out of memory: not listed, the count stays). */
static void check_differs(struct window_check *c, uint64_t offset, uint64_t length)
{
	if (c->first == UINT64_MAX)
		c->first = offset;
	c->total++;
	if (c->nlisted == c->max)
		return;
	if (c->nlisted == c->listed_cap) {
		unsigned int cap = c->listed_cap ? 2 * c->listed_cap : 64;
		struct window_run *v;

		if (cap > c->max)
			cap = c->max;
		v = realloc(c->listed, cap * sizeof(*v));
		if (!v)
			return;
		c->listed = v;
		c->listed_cap = cap;
	}
	c->listed[c->nlisted++] = (struct window_run){ offset, length };
}

/* The file's next window of c's entry and algorithm, into c->next: false
 * at its end. */
static bool check_next(struct window_check *c)
{
	ssize_t len;

	while ((len = getline(&c->line, &c->cap, c->f)) >= 0) {
		char *l = c->line, *name;

		if (len && l[len - 1] == '\n')
			l[--len] = 0;
		if (*l == '\\' && !unescape(++l))
			continue;
		if (window_line(l, &c->next, &name) > 0 && c->next.alg == c->alg &&
		    !strcmp(name, c->e->name))
			return true;
	}
	return false;
}

/* The file's window at w's place, if it has one, in c->next: 1 when it
 * holds the same digest as w, 0 when another, -1 when there is none. */
static int check_at(struct window_check *c, const struct hasher *h, const struct hash_window *w)
{
	const char *hex = hash_window_hex(h, w, c->alg);

	/* The file's windows before this one have none of the stream's. */
	while (!c->end && (!c->have || c->next.offset < w->offset)) {
		c->have = check_next(c);
		c->end = !c->have;
	}
	if (!c->have || !hex || c->next.offset != w->offset || c->next.length != w->length)
		return -1;
	return !strcmp(hex, c->next.hex);
}

void window_check(struct window_check *c, const struct hasher *h, const struct hash_window *w)
{
	if (!check_at(c, h, w))
		check_differs(c, w->offset, w->length);
}

bool window_same(struct window_check *c, const struct hasher *h, const struct hash_window *w)
{
	return check_at(c, h, w) == 1;
}

int digests_prepare(const struct opts *o, struct region *r, unsigned int n)
{
	int err;

	if (!o->digest_file)
		return 0;
	err = read_file(o->digest_file, o->hash_mask);
	checks = err ? NULL : calloc(n, sizeof(*checks));
	if (!err && !checks)
		err = -ENOMEM;
	nchecks = checks ? n : 0;
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
			if (e->nwindows &&
			    (err = check_open(&checks[i], o->digest_file, o->max_ranges, e))) {
				warnmsg("%s: cannot read: %s", o->digest_file, strerror(-err));
				err = -EINVAL;
			}
			r[i].check = e->nwindows ? &checks[i] : NULL;
		}
	}
	return err;
}

/* A destination of r[1..n) that the file does not name, or NULL. */
static const char *dest_not_in(const struct region *r, unsigned int n)
{
	for (unsigned int i = 1; i < n; i++) {
		unsigned int k = 0;

		while (k < nfile_dests && strcmp(file_dests[k], r[i].text))
			k++;
		if (k == nfile_dests)
			return r[i].text;
	}
	return NULL;
}

/* Why the log cannot say what changed on r[0] since, or NULL. */
static const char *changed_refusal(const struct opts *o, const struct region *r, unsigned int n,
				   const struct digest_entry *e, char *why, size_t len)
{
	uint64_t bytes = r[0].count << DMIO_SECTOR_SHIFT;

	if (!file_op || strcmp(file_op, "copy"))
		return "not the --hash-log of a copy";
	if (!e)
		snprintf(why, len, "no digest of %s in it", r[0].text);
	else if (!e->nwindows)
		snprintf(why, len, "%s: no windows (a log made with --hash-window)", e->name);
	else if (e->size != bytes)
		snprintf(why, len, "%s: %llu bytes then, %llu now", e->name,
			 (unsigned long long)e->size, (unsigned long long)bytes);
	else if (dest_not_in(r, n))
		snprintf(why, len, "%s: not one of the destinations it was written for",
			 dest_not_in(r, n));
	else if (nfile_dests != n - 1)
		snprintf(why, len, "of a copy to %u destinations, not %u", nfile_dests, n - 1);
	else if (e->wlen > CHUNK_MAX || e->wlen % DMIO_PAGE_SIZE)
		snprintf(why, len, "windows of %llu bytes: --changed-since takes windows of 4 KiB "
			 "to %u MiB, in 4 KiB", (unsigned long long)e->wlen, CHUNK_MAX >> 20);
	else if (o->hash_window && o->hash_window != e->wlen)
		snprintf(why, len, "windows of %llu bytes, not %llu (--hash-window)",
			 (unsigned long long)e->wlen, (unsigned long long)o->hash_window);
	else if (o->hash_mask && o->hash_mask != e->walgs)
		snprintf(why, len, "windows of %s, not of what --hash names",
			 hash_name((enum hash_alg)__builtin_ctz(e->walgs)));
	else
		return NULL;
	return why;
}

int changed_prepare(const struct opts *o, struct region *r, unsigned int n,
		    struct window_check **check)
{
	const struct digest_entry *e;
	const char *why;
	char text[256];
	int err = read_file(o->changed_since, 0);

	if (err)
		return err;
	/* The source by its name, never the only entry: a log of another. */
	e = NULL;
	for (unsigned int i = 0; i < nentries && !e; i++)
		if (!strcmp(entries[i].name, r[0].text))
			e = &entries[i];
	why = changed_refusal(o, r, n, e, text, sizeof(text));
	if (why) {
		warnmsg("%s: %s", o->changed_since, why);
		return -EINVAL;
	}
	checks = calloc(1, sizeof(*checks));
	if (!checks)
		return -ENOMEM;
	nchecks = 1;
	err = check_open(&checks[0], o->changed_since, 0, e);
	if (err) {
		warnmsg("%s: cannot read: %s", o->changed_since, strerror(-err));
		return -EINVAL;
	}
	*check = &checks[0];
	return 0;
}

void digests_release(void)
{
	for (unsigned int i = 0; i < nfile_dests; i++)
		free(file_dests[i]);
	free(file_dests);
	file_dests = NULL;
	nfile_dests = 0;
	free(file_op);
	file_op = NULL;
	for (unsigned int i = 0; i < nentries; i++)
		free(entries[i].name);
	free(entries);
	entries = NULL;
	nentries = 0;
	for (unsigned int i = 0; i < nchecks; i++) {
		if (checks[i].f)
			fclose(checks[i].f);
		free(checks[i].line);
		free(checks[i].listed);
	}
	free(checks);
	checks = NULL;
	nchecks = 0;
}
