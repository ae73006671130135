// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A job's digests (--hash, verify --digest-file): which bytes feed which
 * stream of the hasher, and, at the end, which region may claim a digest.
 *
 * Stream 0 is the data: what was read from the source (copy, read,
 * verify) or written (write).  Stream 1 + i is destination i as read back
 * (verify).  Chunks are fed as they retire, in order, so a stream is its
 * region's bytes from its start; a region gets a digest only when every
 * byte of it went in and nothing failed in it.
 */
#include <errno.h>
#include <string.h>

#include "digestfile.h"
#include "job.h"

int job_hash_init(struct job *j)
{
	unsigned int mask = j->o->hash_mask;
	uint64_t window = j->o->hash_window;

	/* verify --digest-file: the file's algorithms, and its windows. */
	for (unsigned int i = 0; i < j->ndst; i++) {
		const struct digest_entry *e = j->dst[i].expected;

		if (!e)
			continue;
		mask |= e->mask;
		if (!window && e->nwindows)
			window = e->windows[0].length;
	}
	if (!mask)
		return 0;
	j->hasher = hasher_new(mask, window, 1 + j->ndst, j->wake_fd);
	if (!j->hasher)
		return -errno;
	j->res->hasher = j->hasher;
	return 0;
}

void job_hash(struct job *j, struct slot *s)
{
	uint64_t len = s->len << DMIO_SECTOR_SHIFT;

	if (j->src || j->o->op == OP_WRITE)
		s->hash_ticket = hasher_push(j->hasher, 0, s->unread ? NULL : s->buf[0].mem, len);
	if (j->o->op != OP_VERIFY)
		return;
	for (unsigned int k = 0; k < s->ndest; k++) {
		uint64_t dlen = dest_len(&j->dst[s->dest[k]], s) << DMIO_SECTOR_SHIFT;

		if (dlen)
			s->hash_ticket = hasher_push(j->hasher, 1 + s->dest[k],
						     s->dest_hole[k] ? NULL : s->buf[1 + k].mem,
						     dlen);
	}
}

bool job_hash_busy(const struct job *j, const struct slot *s)
{
	if (!j->hasher || s->hash_ticket <= hasher_done(j->hasher))
		return false;
	hasher_want(j->hasher, s->hash_ticket);
	return s->hash_ticket > hasher_done(j->hasher);
}

/* Whether stream i holds every byte of r, which did not fail. */
static bool whole(const struct job *j, unsigned int i, const struct region *r, uint64_t sectors)
{
	return r->status != ST_ERROR && r->status != ST_INTERRUPTED && r->status != ST_STOPPED &&
	       hasher_bytes(j->hasher, i) == sectors << DMIO_SECTOR_SHIFT;
}

/* verify --digest-file: r, read back whole as stream i, against what the
 * file says. */
static void check_expected(struct job *j, struct region *r, unsigned int i)
{
	const struct digest_entry *e = r->expected;
	uint64_t bad = UINT64_MAX;
	bool differs = false, either = !e->either;

	for (unsigned int a = 0; a < HASH_COUNT; a++) {
		bool same;

		if (!(e->mask & 1u << a))
			continue;
		same = !strcmp(e->hex[a], hasher_hex(j->hasher, i, a));
		if (e->either & 1u << a)
			either |= same; /* an untagged digest: one of them */
		else
			differs |= !same;
	}
	if (!differs && either)
		return;
	/* The first window that differs, where the file has windows. */
	bad = digest_first_bad_window(e, j->hasher, i);
	r->status = ST_MISMATCH;
	/* No window: where it differs is not known (UINT64_MAX). */
	r->bad_sector = bad == UINT64_MAX ? UINT64_MAX : r->sector + (bad >> DMIO_SECTOR_SHIFT);
}

int job_hash_end(struct job *j)
{
	if (!j->hasher)
		return 0;
	hasher_finish(j->hasher);
	if (j->src && whole(j, 0, j->src, j->src->count))
		j->src->digest = 1;
	for (unsigned int i = 0; i < j->ndst; i++) {
		struct region *d = &j->dst[i];

		if (j->o->op == OP_WRITE) {
			/* Every destination that took all of the input. */
			if (d->status == ST_OK && d->count >= j->progress)
				d->digest = 1;
		} else if (j->o->op == OP_VERIFY && whole(j, 1 + i, d, d->count)) {
			d->digest = 2 + i;
			if (d->expected)
				check_expected(j, d, 1 + i);
		}
	}
	if (!j->o->hash_log)
		return 0;
	return hash_log_write(j->o, j->src ? j->src : j->dst, j->src ? 1 + j->ndst : j->ndst,
			      j->hasher, j->o->op == OP_WRITE ? j->progress : UINT64_MAX);
}
