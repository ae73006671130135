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
static int check_open(struct window_check *c, const struct opts *o, const struct digest_entry *e)
{
	*c = (struct window_check){ .e = e, .alg = (enum hash_alg)__builtin_ctz(e->walgs),
				    .first = UINT64_MAX, .max = o->max_ranges };
	c->f = fopen(o->digest_file, "re");
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

void window_check(struct window_check *c, const struct hasher *h, const struct hash_window *w)
{
	const char *hex = hash_window_hex(h, w, c->alg);

	/* The file's windows before this one have none of the stream's. */
	while (!c->end && (!c->have || c->next.offset < w->offset)) {
		c->have = check_next(c);
		c->end = !c->have;
	}
	if (c->have && hex && c->next.offset == w->offset && c->next.length == w->length &&
	    strcmp(hex, c->next.hex))
		check_differs(c, w->offset, w->length);
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
			if (e->nwindows && (err = check_open(&checks[i], o, e))) {
				warnmsg("%s: cannot read: %s", o->digest_file, strerror(-err));
				err = -EINVAL;
			}
			r[i].check = e->nwindows ? &checks[i] : NULL;
		}
	}
	return err;
}

void digests_release(void)
{
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
