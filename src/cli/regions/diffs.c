// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A full verify's differences on a destination: runs of adjacent differing
 * sectors, found in chunk order (so a run that crosses a chunk's end is
 * merged with the next chunk's), counted exactly and listed up to a limit
 * (--max-ranges), so that memory stays bounded whatever the damage.
 */
#include <stdio.h>
#include <stdlib.h>

#include "regions/regions.h"

void diffs_add(struct diffs *d, uint64_t sector, uint64_t count, unsigned int max)
{
	if (!count)
		return;
	if (!d->sectors)
		d->first = sector;
	d->sectors += count;
	if (d->nranges && sector == d->end) {
		/* The last run goes on; it is listed if it was. */
		if (d->nstored == d->nranges)
			d->range[d->nstored - 1].count += count;
		d->end += count;
		return;
	}
	/* A list that could not grow stays short: the counts stay exact. */
	if (d->nstored == d->nranges && d->nstored < max) {
		if (d->nstored == d->cap) {
			size_t cap = d->cap ? 2 * d->cap : 16;
			struct diff_range *r;

			if (cap > max)
				cap = max;
			r = realloc(d->range, cap * sizeof(*r));
			if (r) {
				d->range = r;
				d->cap = cap;
			}
		}
		if (d->nstored < d->cap)
			d->range[d->nstored++] = (struct diff_range){ sector, count };
	}
	d->nranges++;
	d->end = sector + count;
}

void diffs_free(struct diffs *d)
{
	free(d->range);
	*d = (struct diffs){ 0 };
}

char *diffs_text(const struct diffs *d)
{
	size_t shown = d->nstored < RANGES_SHOWN ? d->nstored : RANGES_SHOWN;
	char *s = NULL;
	size_t len = 0;
	FILE *f;

	if (!d->sectors || !(f = open_memstream(&s, &len)))
		return NULL;
	fprintf(f, "%llu sector%s differ%s, in %llu range%s",
		(unsigned long long)d->sectors, d->sectors == 1 ? "" : "s",
		d->sectors == 1 ? "s" : "", (unsigned long long)d->nranges,
		d->nranges == 1 ? "" : "s");
	for (size_t i = 0; i < shown; i++)
		fprintf(f, "%s%llu+%llu", i ? ", " : ": ",
			(unsigned long long)d->range[i].sector,
			(unsigned long long)d->range[i].count);
	if (d->nranges > shown)
		fprintf(f, "%s%llu more", shown ? " and " : ": ",
			(unsigned long long)(d->nranges - shown));
	if (fclose(f)) {
		free(s);
		return NULL;
	}
	return s;
}
