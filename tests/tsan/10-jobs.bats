#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# The ThreadSanitizer build (make check-tsan sets DMIO to it): copy, verify,
# read and write with every engine, each once to its end and once
# interrupted mid-run by SIGINT, SIGTERM and SIGHUP, without sleeps: the
# source waits at a gate (gate_dev) until the signal is sent, and write's
# input is a FIFO that the test holds open.  TSan exits 66 on a report;
# either way a report fails the test and is shown.
load ../bats/helper

ENGINES="uring aio sync"
SIGNALS="none INT TERM HUP"

# check SIG: the run in out, err and rc ended as SIG says, with no report.
check() {
	local want=0
	[ "$1" = none ] || want=$((128 + $(kill -l "$1")))
	if grep -q ThreadSanitizer err; then
		cat err >&3
		fail "$label: ThreadSanitizer reported"
	fi
	[ "$rc" = "$want" ] || fail "$label: exit $rc, want $want: $(head -5 err)"
	[ "$1" = none ] || [ "$(jq -r '.regions[-1].status' out)" = interrupted ] ||
		fail "$label: $(cat out)"
}

# gated SIG ARGS...: dmio ARGS, reading the gate device; SIG (or none) is
# sent once a read waits at the gate.
gated() {
	local sig=$1 pid
	shift
	gate_close
	"$DMIO" --json --chunk=64K "$@" >out 2>err 8>&- 9>&- &
	pid=$!
	gate_wait
	[ "$sig" = none ] || kill -"$sig" "$pid"
	gate_open
	rc=0
	wait "$pid" || rc=$?
}

# prefix FILE: the sectors out says its last region did are FILE's first.
prefix() {
	local done
	done=$(jq -r '.regions[-1].sectors_done' out)
	cmp -n $((done * 512)) src.img "$1" || fail "$label: $1 differs within $done sectors"
}

@test "copy: every engine, to the end and interrupted by SIGINT, SIGTERM and SIGHUP" {
	head -c 4M /dev/urandom >src.img
	gate_dev src
	for e in $ENGINES; do
		for sig in $SIGNALS; do
			label="copy --engine=$e, $sig"
			rm -f dst
			truncate -s 4M dst
			gated "$sig" --engine="$e" copy "$GATE_DEV" dst
			check "$sig"
			prefix dst
		done
	done
}

@test "verify: every engine, to the end and interrupted by SIGINT, SIGTERM and SIGHUP" {
	head -c 4M /dev/urandom >src.img
	cp src.img dst
	gate_dev src
	for e in $ENGINES; do
		for sig in $SIGNALS; do
			label="verify --engine=$e, $sig"
			gated "$sig" --engine="$e" verify "$GATE_DEV" dst
			check "$sig"
		done
	done
}

@test "read: every engine, to the end and interrupted by SIGINT, SIGTERM and SIGHUP" {
	head -c 4M /dev/urandom >src.img
	gate_dev src
	for e in $ENGINES; do
		for sig in $SIGNALS; do
			label="read --engine=$e, $sig"
			gated "$sig" --engine="$e" read "$GATE_DEV" -o data
			check "$sig"
			prefix data
		done
	done
}

@test "write: every engine, to the end and interrupted by SIGINT, SIGTERM and SIGHUP" {
	local pid
	for e in $ENGINES; do
		for sig in $SIGNALS; do
			label="write --engine=$e, $sig"
			rm -f dst in.fifo
			truncate -s 4M dst
			mkfifo in.fifo
			"$DMIO" --json --chunk=64K --engine="$e" write dst <in.fifo >out 2>err &
			pid=$!
			exec 7>in.fifo
			# Returns once dmio has read all but a pipe's worth of it.
			head -c 1M /dev/urandom | tee src.img >&7
			[ "$sig" = none ] || kill -"$sig" "$pid"
			exec 7>&-
			rc=0
			wait "$pid" || rc=$?
			check "$sig"
			prefix dst
		done
	done
}

@test "zero: every engine" {
	for e in $ENGINES; do
		label="zero --engine=$e"
		head -c 4M /dev/urandom >dst
		rc=0
		"$DMIO" --json --chunk=64K --engine="$e" zero dst >out 2>err || rc=$?
		check none
		cmp -n 4M dst /dev/zero
	done
}
