// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * dmio: copy, mirror, verify, read, write and zero block regions with the
 * kernel's dm-io service in userspace (libdmio).  The regions and exit
 * codes; the options are in cmd/, the regions in regions/, the job in
 * jobs/ (on pipeline/, with features/), what it shows in output/.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "features/digestfile.h"
#include "jobs/jobs.h"
#include "output/output.h"

/* The n regions given, each with its role, as o->shape says: NULL when
 * out of memory. */
static struct region *regions_new(const struct opts *o, const struct region_arg *a,
				  unsigned int n)
{
	const struct shape *sh = &o->shape;
	struct region *r;

	if (n < sh->min_regions)
		errtryhelp("%s: too few regions", op_names[o->op]);
	if (n > sh->max_regions && sh->max_regions == 1)
		errtryhelp("%s: one source region only", op_names[o->op]);
	if (n > sh->max_regions) {
		warnmsg("%s: %u destinations; at most %zu", op_names[o->op], n - sh->source,
			DMIO_MAX_REGIONS);
		exit(refused(EXIT_USAGE));
	}
	r = calloc(n, sizeof(*r));
	/* The source is read; so is every region of a job that writes
	 * nothing and reads nothing back (info looks at them). */
	for (unsigned int i = 0; r && i < n; i++) {
		r[i].text = a[i].text;
		r[i].arg = &a[i];
		r[i].role = (sh->source && !i) || (!sh->writes && !sh->reads_back)
				    ? ROLE_SOURCE : ROLE_DEST;
	}
	return r;
}

/* The exit status of a job that ran. */
static int job_status(const struct region *r, unsigned int n,
		      const struct job_result *res)
{
	bool interrupted = false;
	int rc = EXIT_OK;

	for (unsigned int i = 0; i < n; i++) {
		if (r[i].status == ST_MISMATCH && rc == EXIT_OK)
			rc = EXIT_MISMATCH;
		if (r[i].status == ST_ERROR)
			rc = EXIT_IOERR;
		interrupted |= r[i].status == ST_INTERRUPTED;
	}
	if (res->read_error || res->stream_error)
		rc = EXIT_IOERR;
	/* A signal that found nothing left to stop interrupted nothing. */
	if (interrupted)
		rc = EXIT_SIGNAL + res->signal;
	return rc;
}

/* The report said: a report that cannot be written fails the run. */
static int reported(int rc, int err)
{
	if (!err)
		return rc;
	warnmsg("cannot write the report: %s", strerror(-err));
	return rc == EXIT_OK ? EXIT_IOERR : rc;
}

/* Memory is chunk x buffers: the queue depth, or a verify's buffer per
 * region when that is more. */
static void check_memory(const struct opts *o, unsigned int n)
{
	uint64_t bufs = o->depth;

	if (o->shape.reads_back && n > bufs)
		bufs = n;
	if (o->chunk * bufs > IN_FLIGHT_MAX)
		errtryhelp("--chunk=%lluK x %llu buffers in flight: more than %uM",
			   (unsigned long long)o->chunk >> 10, (unsigned long long)bufs,
			   IN_FLIGHT_MAX >> 20);
}

static int run(const struct opts *o, struct region *r, unsigned int n)
{
	struct job_result res = { 0 };
	int err, rc;

	err = regions_prepare(o, r, n);
	if (err == -EINTR)
		return refused(EXIT_SIGNAL + signal_stop());
	if (!err)
		err = digests_prepare(o, r, n);
	if (!err && o->changed_since)
		err = changed_prepare(o, r, n, &r[0].check);
	if (!err && o->hash_log)
		err = hash_log_prepare(o, r, n);
	if (!err)
		err = progress_fd_apart(o, r, n);
	if (err)
		return refused(EXIT_USAGE);
	if (o->verbose)
		for (unsigned int i = 0; i < n; i++)
			warnmsg("%s -> %s, sectors %llu+%llu, %s", r[i].text, r[i].path,
				(unsigned long long)r[i].sector, (unsigned long long)r[i].count,
				r[i].dev.caps.remote ? "NBD" : r[i].dev.direct ? "O_DIRECT" : "buffered");
	if (o->op == OP_INFO)
		return reported(EXIT_OK, info_run(o, r, n));
	if (o->dry_run) {
		err = job_check(o, r, n, &res);
		if (err)
			return refused(err == -EINVAL ? EXIT_USAGE : EXIT_IOERR);
		for (unsigned int i = 0; i < n; i++)
			r[i].status = ST_PLANNED;
		return reported(EXIT_OK, report(o, r, n, &res));
	}
	err = job_run(o, r, n, &res);
	if (err) {
		hasher_free(res.hasher);
		return refused(err == -EINVAL ? EXIT_USAGE : EXIT_IOERR);
	}
	rc = job_status(r, n, &res);
	if (rc != EXIT_OK || !o->quiet || o->json)
		rc = reported(rc, report(o, r, n, &res));
	hasher_free(res.hasher);
	return rc;
}

/* fds 0, 1 and 2 are open (on /dev/null if they were not) before anything
 * else is, so that no device or file opened later can become one of them;
 * which were closed, in closed (bit fd). */
static unsigned int std_fds(void)
{
	unsigned int closed = 0;

	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
			if (open("/dev/null", fd ? O_WRONLY : O_RDONLY) != fd)
				exit(EXIT_IOERR);
			closed |= 1u << fd;
		}
	return closed;
}

int main(int argc, const char **argv)
{
	struct opts o = { .chunk = CHUNK_DEFAULT, .depth = DEPTH_DEFAULT };
	const struct region_arg *a;
	struct region *r;
	unsigned int n;
	int rc;

	o.std_closed = std_fds();
	a = options_parse(argc, argv, &o, &n);
	r = regions_new(&o, a, n);
	if (!r) {
		warnmsg("out of memory");
		return refused(EXIT_IOERR);
	}
	check_memory(&o, n);
	signals_init();
	rc = run(&o, r, n);
	regions_close(r, n);
	for (unsigned int i = 0; i < n; i++) {
		free(r[i].spec.device);
		free(r[i].shown);
		free(r[i].path);
		free(r[i].error);
		diffs_free(&r[i].diffs);
		bad_free(&r[i].bad);
	}
	free(r);
	digests_release();
	hash_log_release();
	options_free();
	return rc;
}
