#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# The ThreadSanitizer build (make check-tsan sets DMIO to it): copy, verify,
# read and write with every engine, each once to its end and once
# interrupted mid-run by SIGINT, SIGTERM and SIGHUP, without sleeps: the
# source waits at a gate (gate_file: a FUSE file that only this dmio reads,
# so nothing else can open the gate before dmio runs) until the signal is
# sent, and write's input is a FIFO that the test holds open.  Each run
# starts with no out or err left by the one before, and an interrupted
# one must say which signal stopped it: a report of another run, or no
# report, fails.  TSan exits 66 on a report; either way a report fails the
# test and is shown.
load ../bats/helper

ENGINES="uring aio sync"
SIGNALS="none INT TERM HUP"

# signame SIG: what dmio says stopped it (strsignal(3)).
signame() {
	case $1 in
	INT) echo Interrupt ;;
	TERM) echo Terminated ;;
	HUP) echo Hangup ;;
	esac
}

# check SIG: the run in out, err and rc ended as SIG says, with no report:
# one JSON document in out, whose last region, when SIG is a signal, was
# interrupted by that signal.
check() {
	local want=0
	[ "$1" = none ] || want=$((128 + $(kill -l "$1")))
	if grep -q ThreadSanitizer err; then
		cat err >&3
		fail "$label: ThreadSanitizer reported"
	fi
	[ "$rc" = "$want" ] || fail "$label: exit $rc, want $want: $(head -5 err)"
	[ "$(jq -s length out)" = 1 ] || fail "$label: not one JSON document: $(cat out)"
	[ "$1" = none ] || [ "$(jq -r '.regions[-1].status' out)" = interrupted ] ||
		fail "$label: $(cat out)"
	[ "$1" = none ] || [ "$(jq -r '.regions[-1].error' out)" = "interrupted by $(signame "$1")" ] ||
		fail "$label: not stopped by SIG$1: $(cat out)"
}

# gated SIG ARGS...: dmio ARGS, reading the gate file; SIG (or none) is
# sent once its read waits at the gate.
gated() {
	local sig=$1 pid
	shift
	rm -f out err
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

# each_run SETUP AFTER ARGS...: with every engine and signal, SETUP, dmio
# ARGS on the gate file (gated), then check and AFTER.
each_run() {
	local setup=$1 after=$2 e sig
	shift 2
	for e in $ENGINES; do
		for sig in $SIGNALS; do
			label="$1 --engine=$e, $sig"
			$setup
			gated "$sig" --engine="$e" "$@"
			check "$sig"
			$after
		done
	done
}

new_dst() {
	rm -f dst
	truncate -s 4M dst
}

@test "copy: every engine, to the end and interrupted by SIGINT, SIGTERM and SIGHUP" {
	head -c 4M /dev/urandom >src.img
	gate_file src
	each_run new_dst "prefix dst" copy "$GATE_FILE" dst
}

@test "verify: every engine, to the end and interrupted by SIGINT, SIGTERM and SIGHUP" {
	head -c 4M /dev/urandom >src.img
	cp src.img dst
	gate_file src
	each_run : : verify "$GATE_FILE" dst
}

@test "read: every engine, to the end and interrupted by SIGINT, SIGTERM and SIGHUP" {
	head -c 4M /dev/urandom >src.img
	gate_file src
	each_run "rm -f data" "prefix data" read "$GATE_FILE" -o data
}

@test "write: every engine, to the end and interrupted by SIGINT, SIGTERM and SIGHUP" {
	local pid
	for e in $ENGINES; do
		for sig in $SIGNALS; do
			label="write --engine=$e, $sig"
			new_dst
			rm -f in.fifo
			mkfifo in.fifo
			rm -f out err
			"$DMIO" --json --chunk=64K --engine="$e" write dst <in.fifo >out 2>err &
			pid=$!
			exec 7>in.fifo
			# Returns once dmio has read all but a pipe's worth of it.
			head -c 1M /dev/urandom | tee src.img >&7
			# Interrupted, the input stays open until dmio is gone: its
			# end must not come first.
			[ "$sig" = none ] || { kill -"$sig" "$pid" && gone "$pid"; }
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
		rm -f out err
		rc=0
		"$DMIO" --json --chunk=64K --engine="$e" zero dst >out 2>err || rc=$?
		check none
		cmp -n 4M dst /dev/zero
	done
}

# The hasher's thread takes each chunk's buffer at retirement and gives
# it back through the job's eventfd.  A run to its end has the digest of
# the whole source; an interrupted one has none.
hash_ok() {
	if [ "$sig" = none ]; then
		[ "$(jq -r '.regions[0].digests.sha256' out)" = "$(sha256sum <src.img | cut -d' ' -f1)" ] ||
			fail "$label: $(cat out)"
	else
		[ "$(jq -r '.regions[0].digests' out)" = null ] || fail "$label: $(cat out)"
	fi
}

@test "copy --hash with windows, verify --hash: every engine, to the end and interrupted" {
	head -c 4M /dev/urandom >src.img
	gate_file src
	# The hasher's thread spools each window for the log as it completes.
	each_run new_dst hash_ok copy --hash=sha256,xxh128 --hash-window=256K --hash-log=log \
		"$GATE_FILE" dst
	[ "$(grep -c '^# window ' log)" = 32 ]
	cp src.img dst
	each_run : hash_ok verify --hash=sha256 "$GATE_FILE" dst
	# And holds each window against the log's, read on from the file.
	each_run : hash_ok verify --digest-file=log "$GATE_FILE"
}

@test "captive servers: a mirror to two, one whose lines are read, one that times out, SIGINT while one starts" {
	img src 8M
	truncate -s 8M a.img b.img
	TMPDIR=$T "$DMIO" --json copy src [ nbdkit file "$T/a.img" ] [ qemu-nbd -f raw "$T/b.img" ] \
		>out 2>err && rc=0 || rc=$?
	label=mirror check none
	cmp src a.img
	cmp src b.img
	for cmd in "sh -c 'echo a line >&2; exit 3'" "sleep 600"; do
		rc=0
		eval "TMPDIR=\$T \"\$DMIO\" --server-timeout=1 copy src [ $cmd ] >out 2>err" || rc=$?
		! grep -q ThreadSanitizer err || { cat err >&3; fail "$cmd: ThreadSanitizer reported"; }
		[ "$rc" = 2 ] || fail "$cmd: exit $rc: $(cat err)"
	done
	TMPDIR=$T "$DMIO" -v copy src [ sleep 600 ] >out 2>err &
	local pid=$! i=0
	until grep -q "server PID" err; do
		i=$((i + 1))
		[ $i -lt 300 ] || fail "no server: $(cat err)"
		sleep 0.1
	done
	kill -INT "$pid"
	rc=0
	wait "$pid" || rc=$?
	! grep -q ThreadSanitizer err || { cat err >&3; fail "SIGINT: ThreadSanitizer reported"; }
	[ "$rc" = 130 ] || fail "SIGINT: exit $rc: $(cat err)"
}
