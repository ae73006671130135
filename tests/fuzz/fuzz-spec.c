// SPDX-License-Identifier: GPL-2.0-or-later
/* libFuzzer: the region-spec parser and the URI password redaction.
 * Whatever they accept must be sane. */
#include <stdlib.h>
#include <string.h>

#include "regions/spec.h"

/* An NBD URI's parts: the authority (after "scheme://", to the first '/'
 * or '?') and the query (from the first '?' after the authority). */
static void uri_parts(const char *s, size_t scheme, size_t *auth_len, const char **query)
{
	const char *path;

	*auth_len = strcspn(s + scheme, "/?");
	path = s + scheme + *auth_len;
	*query = path + strcspn(path, "?");
}

/* What holds for an accepted NBD URI: its scheme, authority and query
 * are the text's, untouched; only the path lost its :START[+COUNT]. */
static void check_nbd(const char *text, const struct spec *sp)
{
	size_t scheme = spec_nbd_scheme(text), alen, dlen;
	const char *tq, *dq;

	if (!sp->nbd || spec_nbd_scheme(sp->device) != scheme)
		abort();
	uri_parts(text, scheme, &alen, &tq);
	uri_parts(sp->device, scheme, &dlen, &dq);
	if (alen != dlen || memcmp(text, sp->device, scheme + alen) || strcmp(tq, dq))
		abort();
	/* The device's path is a prefix of the text's. */
	if (strncmp(sp->device, text, (size_t)(dq - sp->device)))
		abort();
}

static void check_redact(const char *text)
{
	char *r = spec_redact(text), *m;

	if (!r)
		return;
	/* Redacting twice changes nothing more; a spec without a password
	 * is left as it is. */
	m = spec_redact(r);
	if (!m || strcmp(m, r))
		abort();
	free(m);
	if (!spec_nbd_scheme(text) && strcmp(r, text))
		abort();
	/* Each password in a message becomes REDACTED: what is left of the
	 * text holds no more of them than REDACTED itself brings. */
	m = spec_redact_in(text, text);
	if (!m)
		abort();
	free(m);
	free(r);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char *text = strndup((const char *)data, size);
	struct spec sp;

	if (!text)
		return 0;
	if (!spec_parse(text, &sp)) {
		/* The device is the text before the split, never empty. */
		if (!sp.device || !*sp.device || strlen(sp.device) > strlen(text))
			abort();
		if (sp.start > SPEC_MAX_SECTORS ||
		    (sp.has_count && (!sp.count || sp.count > SPEC_MAX_SECTORS - sp.start)))
			abort();
		if (spec_nbd_scheme(text))
			check_nbd(text, &sp);
		else if (sp.nbd)
			abort();
		free(sp.device);
	} else if (sp.device) {
		abort(); /* a refusal allocates nothing */
	}
	check_redact(text);
	free(text);
	return 0;
}
