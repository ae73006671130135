// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A source's bad ranges (regions.h): sorted, disjoint, never adjacent, so
 * that what the report and the --map say of them is one list.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "regions/regions.h"

static int bad_room(struct bad_list *l, unsigned int more)
{
	struct bad_range *v;
	unsigned int cap = l->cap ? l->cap : 16;

	if (l->n + more <= l->cap)
		return 0;
	while (cap < l->n + more)
		cap *= 2;
	v = realloc(l->v, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	l->v = v;
	l->cap = cap;
	return 0;
}

int bad_add(struct bad_list *l, uint64_t start, uint64_t count)
{
	uint64_t end = start + count;
	unsigned int i = l->n, k;

	if (!count)
		return 0;
	/* The first range that ends at or after start: it and those that
	 * start at or before end merge with [start, end). */
	while (i && l->v[i - 1].start + l->v[i - 1].count >= start)
		i--;
	for (k = i; k < l->n && l->v[k].start <= end; k++) {
		if (l->v[k].start < start)
			start = l->v[k].start;
		if (l->v[k].start + l->v[k].count > end)
			end = l->v[k].start + l->v[k].count;
	}
	if (k == i) {
		if (bad_room(l, 1))
			return -ENOMEM;
		memmove(&l->v[i + 1], &l->v[i], (l->n - i) * sizeof(*l->v));
		l->n++;
	} else {
		memmove(&l->v[i + 1], &l->v[k], (l->n - k) * sizeof(*l->v));
		l->n -= k - i - 1;
	}
	l->v[i] = (struct bad_range){ start, end - start };
	return 0;
}

int bad_remove(struct bad_list *l, uint64_t start, uint64_t count)
{
	uint64_t end = start + count;

	for (unsigned int i = 0; i < l->n; i++) {
		uint64_t a = l->v[i].start, b = a + l->v[i].count;

		if (b <= start || a >= end)
			continue;
		if (a < start && b > end) {
			if (bad_room(l, 1))
				return -ENOMEM;
			memmove(&l->v[i + 2], &l->v[i + 1], (l->n - i - 1) * sizeof(*l->v));
			l->n++;
			l->v[i].count = start - a;
			l->v[i + 1] = (struct bad_range){ end, b - end };
			return 0;
		}
		if (a < start) {
			l->v[i].count = start - a;
		} else if (b > end) {
			l->v[i] = (struct bad_range){ end, b - end };
		} else {
			memmove(&l->v[i], &l->v[i + 1], (l->n - i - 1) * sizeof(*l->v));
			l->n--;
			i--;
		}
	}
	return 0;
}

uint64_t bad_sectors(const struct bad_list *l, uint64_t end)
{
	uint64_t n = 0;

	for (unsigned int i = 0; i < l->n && l->v[i].start < end; i++)
		n += l->v[i].start + l->v[i].count <= end ? l->v[i].count : end - l->v[i].start;
	return n;
}

void bad_free(struct bad_list *l)
{
	free(l->v);
	*l = (struct bad_list){ 0 };
}
