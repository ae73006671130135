// SPDX-License-Identifier: GPL-2.0-or-later
/* Resumable copy maps: parse, query and write (see map.h). */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "features/map.h"
#include "regions/spec.h"

/* A sector number as the map writes it: digits only, no suffix. */
static bool number(const char *s, uint64_t *v)
{
	return !s[strspn(s, "0123456789")] && !parse_sectors(s, v);
}

/* Undo \ooo escapes in place; false on a bad escape. */
static bool unescape(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (*s != '\\') {
			*o++ = *s;
			continue;
		}
		if (s[1] < '0' || s[1] > '3' || s[2] < '0' || s[2] > '7' ||
		    s[3] < '0' || s[3] > '7')
			return false;
		*o = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
		if (!*o)
			return false;
		o++;
		s += 3;
	}
	*o = 0;
	return true;
}

/* Append a range, of at most max: NULL or a message. */
static const char *range_add(struct map_range **v, unsigned int *n, unsigned int max,
			     uint64_t start, uint64_t count)
{
	struct map_range *nv;

	if (*n >= max)
		return "too many ranges";
	nv = realloc(*v, (*n + 1) * sizeof(**v));
	if (!nv)
		return "out of memory";
	*v = nv;
	nv[(*n)++] = (struct map_range){ start, count };
	return NULL;
}

const char *map_range_add(struct map_range **v, unsigned int *n,
			  uint64_t start, uint64_t count)
{
	return range_add(v, n, MAP_MAX_RANGES, start, count);
}

const char *map_bad_add(struct map *m, uint64_t start, uint64_t count)
{
	return range_add(&m->bad, &m->nbad, MAP_MAX_BAD, start, count);
}

/* Split line into at most max words at single spaces; returns the count. */
static unsigned int words(char *line, char **w, unsigned int max)
{
	unsigned int n = 0;

	while (n < max) {
		w[n++] = line;
		line = strchr(line, ' ');
		if (!line)
			break;
		*line++ = 0;
	}
	return line ? max + 1 : n;
}

static const char *parse_line(char *line, struct map *m)
{
	char *w[6];
	unsigned int n = words(line, w, 6);
	uint64_t a, b, c;

	if (!strcmp(w[0], "source") || !strcmp(w[0], "destination")) {
		bool src = w[0][0] == 's';
		struct map_region *r = src ? &m->src : &m->dst[m->ndst];

		if (n != (m->version > 1 ? 5u : 4u) || !number(w[2], &a) || !number(w[3], &b) ||
		    b > SPEC_MAX_SECTORS - a)
			return m->version > 1 ? "expected: source|destination PATH SECTOR COUNT ID"
					      : "expected: source|destination PATH SECTOR COUNT";
		if (src ? m->src.path != NULL : !m->src.path)
			return src ? "a second source" : "a destination before the source";
		if (!src && m->ndst >= MAP_MAX_DESTS)
			return "too many destinations";
		if (!*w[1] || !unescape(w[1]))
			return "a bad path";
		if (m->version > 1 && (!*w[4] || !unescape(w[4])))
			return "a bad identity";
		r->path = strdup(w[1]);
		r->id = m->version > 1 ? strdup(w[4]) : NULL;
		if (!r->path || (m->version > 1 && !r->id))
			return "out of memory";
		r->sector = a;
		r->count = b;
		m->ndst += !src;
		return NULL;
	}
	if (!strcmp(w[0], "done") || !strcmp(w[0], "failed")) {
		struct map_region *d;

		if (n != 4 || !number(w[1], &a) || !number(w[2], &b) || !number(w[3], &c))
			return "expected: done|failed INDEX START COUNT";
		if (a >= m->ndst)
			return "no such destination";
		d = &m->dst[a];
		if (!c || b > d->count || c > d->count - b)
			return "a range outside the destination";
		return w[0][0] == 'd' ? map_range_add(&d->done, &d->ndone, b, c)
				      : map_range_add(&d->failed, &d->nfailed, b, c);
	}
	if (!strcmp(w[0], "dirty") && m->version > 3) {
		if (n != 3 || !*w[1] || !*w[2] || !unescape(w[1]) || !unescape(w[2]))
			return "expected: dirty NAME ID";
		if (m->dirty_name)
			return "a second dirty line";
		m->dirty_name = strdup(w[1]);
		m->dirty_id = strdup(w[2]);
		return m->dirty_name && m->dirty_id ? NULL : "out of memory";
	}
	if (!strcmp(w[0], "bad") && m->version > 2) {
		if (n != 3 || !number(w[1], &a) || !number(w[2], &b))
			return "expected: bad START COUNT";
		if (!m->src.path)
			return "a bad range before the source";
		if (!b || a > m->src.count || b > m->src.count - a)
			return "a range outside the source";
		return map_bad_add(m, a, b);
	}
	return "unknown line";
}

const char *map_parse(const char *text, size_t len, struct map *m, unsigned int *lineno)
{
	char *buf, *line, *next;
	const char *err = NULL;

	memset(m, 0, sizeof(*m));
	*lineno = 1;
	if (memchr(text, 0, len))
		return "a NUL byte";
	buf = strndup(text, len);
	if (!buf)
		return "out of memory";
	line = buf;
	if (!len || buf[len - 1] != '\n') {
		err = "not a complete map (no final newline)";
		goto out;
	}
	for (; *line; line = next, ++*lineno) {
		next = strchr(line, '\n');
		*next++ = 0;
		if (*lineno == 1) {
			m->version = !strcmp(line, MAP_MAGIC) ? 2 : !strcmp(line, MAP_MAGIC_1) ? 1
				   : !strcmp(line, MAP_MAGIC_3) ? 3 : !strcmp(line, MAP_MAGIC_4) ? 4
				   : 0;
			err = m->version ? NULL : "not a dmio map, version 1 to 4";
		} else
			err = parse_line(line, m);
		if (err)
			goto out;
	}
	if (!m->ndst)
		err = "no destinations";
out:
	free(buf);
	return err;
}

void map_free(struct map *m)
{
	free(m->src.path);
	free(m->src.id);
	for (unsigned int i = 0; i < m->ndst; i++) {
		free(m->dst[i].path);
		free(m->dst[i].id);
		free(m->dst[i].done);
		free(m->dst[i].failed);
	}
	free(m->bad);
	free(m->dirty_name);
	free(m->dirty_id);
	memset(m, 0, sizeof(*m));
}

uint64_t map_resume(const struct map_region *d)
{
	uint64_t end = 0;
	bool grew = true;

	/* The ranges may come in any order and overlap: grow until stuck. */
	while (grew) {
		grew = false;
		for (unsigned int i = 0; i < d->ndone; i++)
			if (d->done[i].start <= end && d->done[i].start + d->done[i].count > end) {
				end = d->done[i].start + d->done[i].count;
				grew = true;
			}
	}
	return end;
}

static void put_path(FILE *f, const char *p)
{
	for (; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (c <= ' ' || c == '\\' || c == 0x7f)
			fprintf(f, "\\%03o", c);
		else
			fputc(c, f);
	}
}

static void put_region(FILE *f, const char *kind, const struct map_region *r)
{
	fprintf(f, "%s ", kind);
	put_path(f, r->path);
	fprintf(f, " %llu %llu ", (unsigned long long)r->sector,
		(unsigned long long)r->count);
	put_path(f, r->id ? r->id : "-");
	fputc('\n', f);
}

int map_write(const char *path, const struct map *m)
{
	char *tmp = NULL, *dir = NULL;
	FILE *f;
	int fd, err = 0;

	/* A new file of its own beside it (never one that is there, nor
	 * where a link points), renamed over the map. */
	if (asprintf(&tmp, "%s.XXXXXX", path) < 0)
		return -ENOMEM;
	fd = mkostemp(tmp, O_CLOEXEC);
	f = fd < 0 ? NULL : fdopen(fd, "w");
	if (!f) {
		err = -errno;
		if (fd >= 0) {
			close(fd);
			unlink(tmp);
		}
		goto out;
	}
	fprintf(f, "%s\n", m->dirty_name ? MAP_MAGIC_4 : m->nbad ? MAP_MAGIC_3 : MAP_MAGIC);
	put_region(f, "source", &m->src);
	for (unsigned int i = 0; i < m->ndst; i++)
		put_region(f, "destination", &m->dst[i]);
	if (m->dirty_name) {
		fputs("dirty ", f);
		put_path(f, m->dirty_name);
		fputc(' ', f);
		put_path(f, m->dirty_id);
		fputc('\n', f);
	}
	for (unsigned int i = 0; i < m->ndst; i++) {
		for (unsigned int k = 0; k < m->dst[i].ndone; k++)
			fprintf(f, "done %u %llu %llu\n", i,
				(unsigned long long)m->dst[i].done[k].start,
				(unsigned long long)m->dst[i].done[k].count);
		for (unsigned int k = 0; k < m->dst[i].nfailed; k++)
			fprintf(f, "failed %u %llu %llu\n", i,
				(unsigned long long)m->dst[i].failed[k].start,
				(unsigned long long)m->dst[i].failed[k].count);
	}
	for (unsigned int k = 0; k < m->nbad; k++)
		fprintf(f, "bad %llu %llu\n", (unsigned long long)m->bad[k].start,
			(unsigned long long)m->bad[k].count);
	if (fflush(f) || fsync(fileno(f)))
		err = -errno;
	if (fclose(f) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err) {
		unlink(tmp);
		goto out;
	}
	/* The rename is durable once the directory is. */
	dir = strdup(path);
	if (!dir) {
		err = -ENOMEM;
		goto out;
	}
	fd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd))
		err = -errno;
	if (fd >= 0)
		close(fd);
out:
	free(dir);
	free(tmp);
	return err;
}
