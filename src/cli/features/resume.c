// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * copy --map: load the map of an earlier run (or start one), check that it
 * is for these regions, tell each destination where to resume, and record
 * progress durably as the copy goes: destinations are flushed before the
 * map says their sectors are done.  As a stage, it keeps chunks from
 * straddling a resume point and writes the map every MAP_INTERVAL.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "features/features.h"
#include "features/map.h"

#define MAP_MAX_BYTES (4u << 20)
#define MAP_INTERVAL 1.0 /* seconds between checkpoints */

/* Whether a file can be made beside path: 0 or -errno. */
static int dir_writable(const char *path)
{
	char *copy = strdup(path);
	int e = !copy ? -ENOMEM : access(dirname(copy), W_OK | X_OK) ? -errno : 0;

	free(copy);
	return e;
}

/* Read the whole file into *buf; 0, -ENOENT, or another -errno. */
static int slurp(const char *path, char **buf, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	ssize_t n;
	int e = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st))
		e = errno;
	else if (!S_ISREG(st.st_mode) || st.st_size > MAP_MAX_BYTES)
		e = EINVAL;
	if (e) {
		close(fd);
		return -e;
	}
	*buf = malloc((size_t)st.st_size + 1);
	if (!*buf) {
		close(fd);
		return -ENOMEM;
	}
	n = read(fd, *buf, (size_t)st.st_size);
	close(fd);
	if (n != st.st_size) {
		free(*buf);
		return n < 0 ? -errno : -EIO;
	}
	*len = (size_t)n;
	return 0;
}

#define ID_MAX 512

/* r's path, canonical where it can be: ./d.img and d.img are one file. */
static char *canonical(const struct region *r)
{
	char *p = realpath(r->path, NULL);

	return p ? p : strdup(r->path);
}

static bool set_region(struct map_region *m, const struct region *r)
{
	char id[ID_MAX];

	dev_identity(&r->dev, id, sizeof(id));
	m->path = canonical(r);
	m->id = strdup(id);
	m->sector = r->sector;
	m->count = r->count;
	return m->path && m->id;
}

/* Does map region m describe r?  Names the difference in why. */
static bool same_region(const struct map_region *m, const struct region *r,
			const char **why)
{
	char *path = canonical(r), id[ID_MAX];
	bool same_path = path && (!strcmp(m->path, path) || !strcmp(m->path, r->path));

	free(path);
	dev_identity(&r->dev, id, sizeof(id));
	if (!same_path)
		*why = "path";
	else if (m->id && strcmp(m->id, id))
		*why = "identity (not the same device or file, or not its size)";
	else if (m->sector != r->sector)
		*why = "sector";
	else if (m->count != r->count)
		*why = "count";
	else
		return true;
	return false;
}

/* Whether the map m is of the same kind of copy as this one: a full copy,
 * or one of what the same dirty bitmap marks as it marks it now (dirty_id,
 * or NULL); says why not. */
static bool same_copy(const struct opts *o, const struct map *m, const char *dirty_id)
{
	if (!m->dirty_name && !dirty_id)
		return true;
	if (!m->dirty_name)
		warnmsg("%s: the map is of a full copy, not of one with --dirty-bitmap", o->map);
	else if (!dirty_id)
		warnmsg("%s: the map is of a copy with --dirty-bitmap=%s", o->map, m->dirty_name);
	else if (strcmp(m->dirty_name, o->dirty_bitmap))
		warnmsg("%s: the map is of the dirty bitmap %s, not %s", o->map, m->dirty_name,
			o->dirty_bitmap);
	else if (strcmp(m->dirty_id, dirty_id))
		warnmsg("%s: the dirty bitmap %s changed since the map was written (extents:sectors "
			"%s then, %s now): start again without the map", o->map,
			o->dirty_bitmap, m->dirty_id, dirty_id);
	else
		return true;
	return false;
}

/* Load o->map into m: 0, or -errno once said why. */
static int map_load(const struct opts *o, struct region *r, unsigned int n, struct map *m,
		    const char *dirty_id)
{
	char *buf = NULL;
	size_t len = 0;
	unsigned int line;
	const char *err, *why = NULL;
	int e = slurp(o->map, &buf, &len);

	if (!e && !len) {
		/* An empty file (mktemp's, or touch's) is a new map too: a
		 * map dmio wrote is never empty, as it is renamed into place. */
		free(buf);
		e = -ENOENT;
	}
	if (e == -ENOENT) {
		/* A new map: nothing is done yet. */
		bool ok;

		memset(m, 0, sizeof(*m));
		ok = set_region(&m->src, &r[0]);
		for (unsigned int i = 1; i < n; i++)
			ok &= set_region(&m->dst[m->ndst++], &r[i]);
		if (dirty_id) {
			m->dirty_name = strdup(o->dirty_bitmap);
			m->dirty_id = strdup(dirty_id);
			ok &= m->dirty_name && m->dirty_id;
		}
		/* Written now: a map that cannot be is refused before any I/O;
		 * --dry-run only looks at where it would be. */
		e = !ok ? -ENOMEM : o->dry_run ? dir_writable(o->map) : map_write(o->map, m);
		if (!e)
			return 0;
		warnmsg("%s: cannot write the map: %s", o->map, strerror(-e));
		map_free(m);
		return e == -ENOMEM ? e : -EINVAL;
	}
	if (e) {
		warnmsg("%s: cannot read the map: %s", o->map,
			e == -EINVAL ? "not a regular file of at most 4 MiB" : strerror(-e));
		return -EINVAL;
	}
	err = map_parse(buf, len, m, &line);
	free(buf);
	if (err) {
		warnmsg("%s:%u: invalid map: %s", o->map, line, err);
		map_free(m);
		return -EINVAL;
	}
	if (m->ndst != n - 1) {
		warnmsg("%s: the map is for %u destinations, not %u", o->map, m->ndst, n - 1);
		map_free(m);
		return -EINVAL;
	}
	for (unsigned int i = 0; i < n; i++) {
		const struct map_region *mr = i ? &m->dst[i - 1] : &m->src;

		if (!same_region(mr, &r[i], &why)) {
			warnmsg("%s: the map is not for %s: its %s differs", o->map,
				r[i].text, why);
			map_free(m);
			return -EINVAL;
		}
	}
	if (!same_copy(o, m, dirty_id)) {
		map_free(m);
		return -EINVAL;
	}
	if (m->version < 2) {
		warnmsg("%s: a version 1 map, which does not say what its devices were: "
			"resuming on their paths alone", o->map);
		/* Written as version 2 from now on. */
		for (unsigned int i = 0; i < n; i++) {
			struct map_region *mr = i ? &m->dst[i - 1] : &m->src;
			char id[ID_MAX];

			dev_identity(&r[i].dev, id, sizeof(id));
			mr->id = strdup(id);
		}
	}
	return 0;
}

int map_open(const struct opts *o, struct region *r, unsigned int n, struct map_state *ms,
	     const char *dirty_id)
{
	unsigned int nd = n - 1;
	struct map *m;
	int e;

	*ms = (struct map_state){ 0 };
	ms->m = m = calloc(1, sizeof(*m));
	ms->durable = calloc(nd, sizeof(*ms->durable));
	ms->refilled = calloc(nd, sizeof(*ms->refilled));
	ms->refill_from = calloc(nd, sizeof(*ms->refill_from));
	if (!m || !ms->durable || !ms->refilled || !ms->refill_from) {
		map_close(ms);
		return -ENOMEM;
	}
	e = map_load(o, r, n, m, dirty_id);
	if (e) {
		free(m);
		ms->m = NULL;
		map_close(ms);
		return e;
	}
	for (unsigned int i = 1; i < n; i++)
		r[i].done = r[i].resume = ms->durable[i - 1] = map_resume(&m->dst[i - 1]);
	/* The source's bad ranges, to be retried. */
	for (unsigned int k = 0; k < m->nbad; k++)
		if (bad_add(&r[0].bad, m->bad[k].start, m->bad[k].count)) {
			map_close(ms);
			return -ENOMEM;
		}
	return 0;
}

static struct map_state *of(struct stage *st)
{
	return container_of(st, struct map_state, stage);
}

/* Destination i failed: what it rewrote below its done prefix since the
 * last flush may not be on it. */
static void unflushed(struct map_state *ms, unsigned int i)
{
	if (ms->refilled[i] && ms->durable[i] > ms->refill_from[i])
		ms->durable[i] = ms->refill_from[i];
	ms->refilled[i] = false;
}

/* Flush the destinations that progressed, then record them: 0 or -errno. */
static int checkpoint(struct map_state *ms, bool final)
{
	struct job *j = ms->stage.job;
	struct map *m = ms->m;

	for (unsigned int i = 0; i < j->ndst; i++) {
		struct region *d = &j->dst[i];
		struct map_region *md = &m->dst[i];

		/* What is done is recorded once flushed; at the end the job
		 * has flushed every destination already. */
		if (d->status != ST_ERROR && (d->done > ms->durable[i] || ms->refilled[i])) {
			int e = final ? 0 : d->dev.ops->flush(&d->dev, j->client);

			if (e) {
				unflushed(ms, i);
				region_fail(d, d->sector + ms->durable[i], -e, "flush");
			} else {
				ms->durable[i] = d->done;
				ms->refilled[i] = false;
			}
		}
		if (d->status == ST_ERROR)
			unflushed(ms, i);
		md->ndone = md->nfailed = 0;
		if (ms->durable[i] && map_range_add(&md->done, &md->ndone, 0, ms->durable[i]))
			return -ENOMEM;
		if (d->status == ST_ERROR &&
		    map_range_add(&md->failed, &md->nfailed, d->bad_sector - d->sector,
				  region_block(d)))
			return -ENOMEM;
	}
	/* The destinations have what the list no longer says is bad. */
	m->nbad = 0;
	for (unsigned int k = 0; k < j->src->bad.n; k++)
		if (map_bad_add(m, j->src->bad.v[k].start, j->src->bad.v[k].count))
			return -ENOMEM;
	return map_write(j->o->map, m);
}

void map_checkpoint(struct map_state *ms, bool final)
{
	struct job *j = ms->stage.job;
	int e = checkpoint(ms, final);

	ms->last = now_seconds();
	if (e && !ms->failed) {
		warnmsg("%s: cannot write the map: %s", j->o->map, strerror(-e));
		ms->failed = true;
		j->res->stream_error = true;
		j->res->map_err = -e;
	}
}

/* No chunk straddles a destination's resume point. */
static uint64_t map_limit(struct stage *st, struct slot *s)
{
	const struct job *j = st->job;
	uint64_t end = UINT64_MAX;

	for (unsigned int i = 0; i < j->ndst; i++)
		if (j->dst[i].resume > s->off && j->dst[i].resume < end)
			end = j->dst[i].resume;
	return end;
}

/* Destination i rewrote s below its done prefix: a failure shortens what
 * is durable too, and the map flushes it before it says the rewrite is
 * done. */
static void map_rewritten(struct stage *st, struct slot *s, unsigned int i, uint64_t bad)
{
	struct map_state *ms = of(st);
	const struct region *d = &st->job->dst[i];

	(void)bad;
	if (ms->durable[i] > d->done)
		ms->durable[i] = d->done;
	if (!ms->refilled[i] || s->off < ms->refill_from[i])
		ms->refill_from[i] = s->off;
	ms->refilled[i] = true;
}

static double map_due(struct stage *st)
{
	return MAP_INTERVAL - (now_seconds() - of(st)->last);
}

static void map_tick(struct stage *st)
{
	if (now_seconds() - of(st)->last >= MAP_INTERVAL)
		map_checkpoint(of(st), false);
}

static const struct stage_ops map_ops = {
	.name = "map",
	.limit = map_limit,
	.rewritten = map_rewritten,
	.due = map_due,
	.tick = map_tick,
};

int map_start(struct map_state *ms, struct job *j)
{
	ms->last = now_seconds();
	job_add_stage(j, &ms->stage, &map_ops);
	return 0;
}

void map_close(struct map_state *ms)
{
	if (ms->m)
		map_free(ms->m);
	free(ms->m);
	free(ms->durable);
	free(ms->refilled);
	free(ms->refill_from);
	*ms = (struct map_state){ 0 };
}
