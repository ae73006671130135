// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The streams: read (the source to the output) and write (the input to
 * every destination), and a copy's "-": from stdin, it is a write that
 * reports its source; to stdout, a destination that gets each chunk as it
 * retires.  Read writes each chunk to the output as it retires, in order;
 * write fills each chunk from the input as the loop finds the input
 * readable, one chunk at a time, then writes it like a copy.  A stop
 * signal ends either at once: what is reported done is on the output or
 * on the destinations, whole sectors of it.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <linux/fs.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jobs/jobs.h"

/* ---- opening them ---- */

static const char *stream_name(const struct job *j)
{
	const char *path = j->o->shape.input ? j->o->input : j->o->output;

	if (!stream_is_std(j->o))
		return path;
	return j->o->shape.input ? "stdin" : "stdout";
}

/* The stream at e must be none of the regions' files or devices. */
static int stream_apart(const struct job *j, const struct extent *e)
{
	const struct region *r = j->src ? j->src : j->dst;
	unsigned int n = (j->src ? 1 : 0) + j->ndst;

	for (unsigned int i = 0; i < n; i++)
		if (extents_same(&r[i].dev.ext, e)) {
			warnmsg("%s: the %s is %s's %s", stream_name(j),
				j->o->shape.input ? "input" : "output", r[i].text, extent_kind(e));
			return -EINVAL;
		}
	return 0;
}

/* Whether a file could be made at path: 0 or -errno. */
static int dir_writable(const char *path)
{
	char *dir = strdup(path);
	int err = !dir ? -ENOMEM : access(dirname(dir), W_OK | X_OK) ? -errno : 0;

	free(dir);
	return err;
}

/* Open path for the stream: an fd; -1 under --dry-run for a file that the
 * real run would make; -EINTR when a signal came while it waited (a FIFO);
 * -EINVAL once said why it cannot.  --dry-run opens what is there
 * read-only and without waiting, claims a device as the real run would,
 * and opens nothing for writing. */
static int open_path(struct job *j, const char *path, bool in)
{
	const struct opts *o = j->o;
	bool dry = o->dry_run;
	struct stat st;
	bool exists = !stat(path, &st), blk_out = exists && S_ISBLK(st.st_mode) && !in;
	int flags = blk_out ? (dry ? O_RDONLY : O_WRONLY) | (o->force ? 0 : O_EXCL)
		    : in || dry ? O_RDONLY : O_WRONLY | O_CREAT | O_TRUNC;
	int fd, err = 0;

	if (dry && !exists && !in)
		err = dir_writable(path);
	else if (dry && !in && !blk_out && !S_ISDIR(st.st_mode) && access(path, W_OK))
		err = -errno;
	if (dry && !err && !exists && !in)
		return -1;
	fd = err ? err : open(path, flags | O_CLOEXEC | (dry ? O_NONBLOCK : 0), 0666);
	if (fd >= 0)
		return fd;
	if (!err)
		err = -errno;
	if (err == -EINTR && signal_stop())
		return -EINTR;
	warnmsg("%s: cannot open: %s", path, err == -EBUSY
		? "device is in use (mounted or held); --force overrides" : strerror(-err));
	return -EINVAL;
}

int stream_open(struct job *j)
{
	const struct opts *o = j->o;
	bool in = o->shape.input;
	struct extent e;
	struct stat st;
	int fd, ro;

	if (!o->shape.input && !o->shape.output)
		return 0;
	if (stream_is_std(o)) {
		fd = in ? 0 : 1;
		if (o->std_closed & 1u << fd) {
			warnmsg("%s: closed: no %s", stream_name(j), in ? "input" : "output");
			return -EINVAL;
		}
	} else {
		const char *path = in ? o->input : o->output;
		int err = path_extent(path, &e) ? 0 : stream_apart(j, &e);

		if (err)
			return err;
		fd = open_path(j, path, in);
		if (fd < -1)
			return fd;
		if (fd < 0)
			return 0; /* --dry-run: a new file */
	}
	if (in)
		j->infd = fd;
	else
		j->outfd = fd;
	if (!in && !fstat(fd, &st) && S_ISBLK(st.st_mode) && !ioctl(fd, BLKROGET, &ro) && ro) {
		warnmsg("%s: is read-only", stream_name(j));
		return -EINVAL;
	}
	if (fstat(fd, &st) || S_ISDIR(st.st_mode)) {
		warnmsg("%s: cannot %s it: %s", stream_name(j), in ? "read" : "write",
			strerror(S_ISDIR(st.st_mode) ? EISDIR : errno));
		return -EINVAL;
	}
	return fd_extent(fd, &e) ? 0 : stream_apart(j, &e);
}

void stream_close(struct job *j)
{
	if (j->outfd > 1 && close(j->outfd) && !j->res->stream_error) {
		warnmsg("%s: write error: %s", stream_name(j), strerror(errno));
		j->res->stream_error = true;
	}
	if (j->infd > 0)
		close(j->infd);
	j->infd = j->outfd = -1;
}

/* ---- read ---- */

static void read_start(struct job *j, struct slot *s)
{
	if (!s->unread)
		job_read(j, s, j->src, 0);
}

static void read_advance(struct job *j, struct slot *s)
{
	if (job_source_ok(j, s) && !job_data_final(j, s))
		return; /* a stage holds it: advanced again */
	slot_finish(s);
}

/* Write s to the output: the bytes written; errno says why when fewer. */
static size_t put(struct job *j, const struct slot *s)
{
	const char *p = s->unread ? j->zeroes->mem : s->buf[0].mem;
	size_t len = s->len << DMIO_SECTOR_SHIFT, done = 0;

	while (done < len) {
		ssize_t n = write(j->outfd, p + done, len - done);

		if (n >= 0)
			done += (size_t)n;
		else if (errno != EINTR)
			break;
		if (done < len && signal_stop()) {
			errno = EINTR;
			break;
		}
	}
	return done;
}

void stream_put(struct job *j, struct slot *s)
{
	struct region *d = NULL;
	size_t len = s->len << DMIO_SECTOR_SHIFT, done;

	for (unsigned int i = 0; i < j->ndst; i++)
		if (j->dst[i].dev.caps.stream)
			d = &j->dst[i];
	if (!d || !dest_active(d))
		return;
	done = put(j, s);
	d->done += done >> DMIO_SECTOR_SHIFT;
	j->res->bytes_written += done >> DMIO_SECTOR_SHIFT << DMIO_SECTOR_SHIFT;
	if (done < len && errno == EINTR)
		job_stop_at(j, s->off + (done >> DMIO_SECTOR_SHIFT), STOP_SIGNAL);
	else if (done < len)
		region_fail(d, d->sector + d->done, errno, "write");
}

static void read_retire(struct job *j, struct slot *s)
{
	size_t len = s->len << DMIO_SECTOR_SHIFT, done = put(j, s);

	if (done < len && errno != EINTR) {
		warnmsg("%s: write error: %s", stream_name(j), strerror(errno));
		j->res->stream_error = true;
	}
	if (done < len) {
		/* Count only the whole sectors that reached the output. */
		job_stop_at(j, s->off + (done >> DMIO_SECTOR_SHIFT),
			    j->res->stream_error ? STOP_OUTPUT : STOP_SIGNAL);
		plan_trim(j, s);
	}
}

const struct job_ops read_ops = {
	.final_at_advance = true,
	.start = read_start,
	.advance = read_advance,
	.retire = read_retire,
};

/* ---- write ---- */

static void write_start(struct job *j, struct slot *s)
{
	(void)j;
	s->state = SLOT_FILL;
}

/* The largest block a destination of s must be written in (O_DIRECT on a
 * device with 4096-byte sectors: 4096), in bytes. */
static size_t block_of(const struct job *j, const struct slot *s)
{
	size_t most = DMIO_SECTOR_SIZE;

	for (unsigned int i = 0; i < j->ndst; i++)
		if (dest_active(&j->dst[i]) && dest_len(&j->dst[i], s) &&
		    region_block(&j->dst[i]) << DMIO_SECTOR_SHIFT > most)
			most = region_block(&j->dst[i]) << DMIO_SECTOR_SHIFT;
	return most;
}

/* The input ended inside s: pad it to a whole block with zeroes, and say
 * so; s ends there, and the job with it. */
static void input_ended(struct job *j, struct slot *s)
{
	size_t block = block_of(j, s), pad = -s->filled & (block - 1);

	j->input_ended = true;
	if (pad)
		warnmsg("%s: the input ends %zu bytes into a %zu-byte %s: padded with %zu zero bytes",
			stream_name(j), block - pad, block,
			block > DMIO_SECTOR_SIZE ? "block of a destination" : "sector", pad);
	memset(s->buf[0].mem + s->filled, 0, pad);
	job_stop_at(j, s->off + ((s->filled + pad) >> DMIO_SECTOR_SHIFT), STOP_NONE);
	plan_trim(j, s);
}

/* The input is readable: take what it has; write the chunk once full, or
 * at the input's end. */
static void write_fill(struct job *j, struct slot *s)
{
	size_t want = s->len << DMIO_SECTOR_SHIFT;
	ssize_t n = read(j->infd, s->buf[0].mem + s->filled, want - s->filled);

	if (n < 0) {
		if (errno == EINTR || errno == EAGAIN)
			return; /* the loop looks at signals first */
		warnmsg("%s: read error: %s", stream_name(j), strerror(errno));
		j->res->stream_error = true;
		job_stop_at(j, s->off, STOP_INPUT);
		slot_finish(s);
		return;
	}
	s->filled += (size_t)n;
	if (n && s->filled < want)
		return;
	if (s->filled < want)
		input_ended(j, s);
	if (!s->len) {
		slot_finish(s);
		return;
	}
	if (!j->o->no_sparse || j->o->target_is_zero)
		s->zero = is_zero(s->buf[0].mem, s->len << DMIO_SECTOR_SHIFT);
	job_write(j, s, ~0UL);
}

void stream_input_left(struct job *j)
{
	struct pollfd p = { j->infd, POLLIN, 0 };
	char buf[65536];
	struct stat st;
	off_t at;
	ssize_t n;

	if (j->input_ended)
		return;
	/* A file says how much is left; anything else is read to see. */
	at = lseek(j->infd, 0, SEEK_CUR);
	if (!fstat(j->infd, &st) && S_ISREG(st.st_mode) && at >= 0) {
		if (st.st_size > at) {
			warnmsg("%s: %lld bytes more than the destinations hold were not written",
				stream_name(j), (long long)(st.st_size - at));
			j->res->stream_error = true;
		}
		return;
	}
	/* A signal (no SA_RESTART) ends the wait. */
	if (poll(&p, 1, -1) < 1 || signal_stop())
		return;
	n = read(j->infd, buf, sizeof(buf));
	if (n > 0) {
		warnmsg("%s: more input than the destinations hold (at least %zd bytes more) "
			"was not written", stream_name(j), n);
		j->res->stream_error = true;
	}
}

const struct job_ops write_ops = {
	.start = write_start,
	.fill = write_fill,
	.advance = job_writes_done,
	.retire = job_retire_writes,
};
