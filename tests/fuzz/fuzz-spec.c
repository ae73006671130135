// SPDX-License-Identifier: GPL-2.0-or-later
/* libFuzzer: the region-spec parser.  Whatever it accepts must be sane. */
#include <stdlib.h>
#include <string.h>

#include "spec.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char *text = strndup((const char *)data, size);
	struct spec sp;

	if (!text)
		return 0;
	if (!spec_parse(text, &sp)) {
		/* The device is the text before the last ':', never empty. */
		if (!sp.device || !*sp.device || strlen(sp.device) > strlen(text))
			abort();
		if (sp.start > SPEC_MAX_SECTORS ||
		    (sp.has_count && (!sp.count || sp.count > SPEC_MAX_SECTORS - sp.start)))
			abort();
		free(sp.device);
	} else if (sp.device) {
		abort(); /* a refusal allocates nothing */
	}
	free(text);
	return 0;
}
