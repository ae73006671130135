/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A captive server, as server.c runs it and monitor.c watches it: the
 * two files' contract, no one else's (regions.h has what the backends
 * use).
 */
#ifndef DMIO_SERVER_H
#define DMIO_SERVER_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

#define LINE_MAX_SHOWN 4096	/* a longer line is cut into lines this long */

struct server {
	struct server *next;		/* the monitor's list */
	char *name;			/* the region, as shown */
	pid_t pid;			/* its process and process group */
	int pidfd;			/* readable once it has exited; -1: none */
	int err_fd;			/* its stdout and stderr */
	char dir[PATH_MAX], *uri;
	unsigned int timeout;		/* seconds it had to answer */
	bool listed;			/* on the monitor's list (the main thread's) */
	bool ended;			/* it ended before the job did */
	/* The monitor's, under lock: */
	double deadline;		/* to answer by; 0: answered */
	bool timed_out, interrupted;	/* killed for that, before it answered */
	bool eof;			/* its pipe is closed: every line said */
	size_t used;
	char line[LINE_MAX_SHOWN];
};

/* ---- the monitor (monitor.c): one thread for every server ---- */

/* Put s on the monitor's list, its deadline set; start the monitor for
 * the first.  0 or -errno. */
int monitor_add(struct server *s);
/* Take s off the list once its last lines were said; the monitor ends
 * with the last server. */
void monitor_remove(struct server *s);
/* s answered: no more deadline. */
void monitor_answered(struct server *s);
/* Whether the monitor killed s before it answered: for its deadline
 * (*timed_out) or for a stop signal. */
bool monitor_killed(struct server *s, bool *timed_out);

#endif
