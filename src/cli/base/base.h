/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What every layer of the dmio program may use: its messages (msg.c, the
 * util-linux style) and its signals (signal.c).  Nothing here knows of
 * regions or jobs.
 *
 * One error convention: functions return 0 or a negative errno and say why
 * through warnmsg(); exit codes exist only in main().
 */
#ifndef DMIO_BASE_H
#define DMIO_BASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define PROG "dmio"

#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

/* ---- messages (msg.c) ---- */

/* "dmio: " fmt, one line on stderr, control bytes shown as \xNN. */
void warnmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Another program's line (len bytes, no newline) on stderr, as "who: "
 * line, control bytes shown as \xNN; any thread; not a last_message(). */
void msgline(const char *who, const char *line, size_t len);
/* msg to f, control bytes shown as \xNN. */
void put_safe(FILE *f, const char *msg);
/* The last message warnmsg() printed, without "dmio: ", or NULL. */
const char *last_message(void);
/* s, allocated, as valid UTF-8: each byte that is not is written \xNN
 * (a backslash, x, two hex digits); NULL for NULL or out of memory. */
char *utf8_safe(const char *s);
double now_seconds(void);

/* ---- signals (signal.c) ---- */

/* SIGINT, SIGTERM and SIGHUP ask the job to stop; SIGUSR1 for a progress
 * line.  Handlers without SA_RESTART, so a blocked read or write returns. */
void signals_init(void);
/* The handlers also write to this eventfd (-1: none), to wake the job. */
void signals_wake(int fd);
/* An eventfd readable once a stop signal came (-1: none). */
int signals_stop_fd(void);
/* The stop signal received, or 0. */
int signal_stop(void);
/* Whether a SIGUSR1 came since the last call. */
bool signal_status_taken(void);

#endif
