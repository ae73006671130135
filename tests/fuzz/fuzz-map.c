// SPDX-License-Identifier: GPL-2.0-or-later
/* libFuzzer: the --map reader.  Whatever it accepts must be consistent. */
#include <stdlib.h>
#include <string.h>

#include "features/map.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct map m;
	unsigned int line;

	if (!map_parse((const char *)data, size, &m, &line)) {
		if (!m.src.path || !m.ndst || m.ndst > MAP_MAX_DESTS)
			abort();
		for (unsigned int i = 0; i < m.ndst; i++) {
			const struct map_region *d = &m.dst[i];

			if (!d->path || map_resume(d) > d->count)
				abort();
			for (unsigned int k = 0; k < d->ndone; k++)
				if (d->done[k].start + d->done[k].count > d->count)
					abort();
		}
		if (m.nbad > MAP_MAX_BAD || (m.nbad && m.version < 3))
			abort();
		for (unsigned int k = 0; k < m.nbad; k++)
			if (!m.bad[k].count || m.bad[k].start + m.bad[k].count > m.src.count)
				abort();
		/* A dirty line: version 4 only, its name and identity whole. */
		if (!m.dirty_name != !m.dirty_id || (m.dirty_name && m.version < 4) ||
		    (m.dirty_name && (!*m.dirty_name || !*m.dirty_id)))
			abort();
	}
	map_free(&m);
	return 0;
}
