#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# NBD servers that take fewer clients than dmio could open connections, or
# that never answer: qemu-nbd as it serves by default (one client at a
# time), qemu-nbd taking two clients while it offers multi-conn, nbdkit
# taking one (its limit filter), and a Unix socket that accepts and says
# nothing.  Every command runs under a deadline: a hang fails the test.
load helper

# qemu_default NAME FILE: qemu-nbd serving FILE (raw) as it does by
# default, to one client at a time (--shared=1, as without the option),
# on $T/NAME.sock, killed in teardown; its URI in $NBD.
qemu_default() {
	rm -f "$T/$1.sock"
	qemu-nbd --fork --persistent --pid-file="$T/$1.pid" -k "$T/$1.sock" -f raw "$2" \
		2>>"$T/nbdkit.log" || fail "qemu-nbd did not start: $(cat "$T/nbdkit.log")"
	echo "$T/$1.pid" >>"$T/.servers"
	NBD="nbd+unix:///?socket=$T/$1.sock"
}

# silent_server NAME: a Unix socket $T/NAME.sock that accepts connections
# and never says a word (a server that hangs in the handshake), killed in
# teardown; its URI in $NBD.
silent_server() {
	rm -f "$T/$1.sock"
	python3 -c '
import os, socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(16)
with open(sys.argv[2], "w") as f:
    f.write(str(os.getpid()))
held = []
while True:
    held.append(s.accept())
' "$T/$1.sock" "$T/$1.pid" >/dev/null 2>&1 &
	echo "$T/$1.pid" >>"$T/.servers"
	local i=0
	until [ -S "$T/$1.sock" ] && [ -s "$T/$1.pid" ]; do
		i=$((i + 1))
		[ $i -lt 100 ] || fail "the silent server did not start"
		sleep 0.05
	done
	NBD="nbd+unix:///?socket=$T/$1.sock"
}

# stopped_by SIG PID: SIG sent to PID (a dmio started in the background),
# which must end within 5 s (else it is killed and the test fails); its
# status in $st.
stopped_by() {
	local pid=$2 i=0
	kill -"$1" "$pid"
	while kill -0 "$pid" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -ge 50 ]; then
			kill -KILL "$pid"
			wait "$pid" || true
			fail "SIG$1 did not stop dmio in 5 s while it waited for the server"
		fi
		sleep 0.1
	done
	st=0
	wait "$pid" || st=$?
}

# within SECONDS CMD...: CMD, killed (SIGKILL) if it runs longer; its
# status in $rc, 137 when it had to be killed.
within() {
	local secs=$1
	shift
	rc=0
	timeout -s KILL "$secs" "$@" || rc=$?
}

@test "an export of qemu-nbd as it serves by default (one client) is read to the end, no hang" {
	img src 4M
	truncate -s 4M dst
	qemu_default q src
	# dmio opened a second connection for block status while its first was
	# held: qemu-nbd queues it until the first goes, and dmio waited
	# forever (SIGINT and SIGTERM did not end it).  nbdcopy copies it.
	within 30 "$DMIO" --quiet copy "$NBD" dst
	[ "$rc" = 0 ] || fail "copy from qemu-nbd's export: status $rc (137: hung, killed)"
	cmp src dst
	within 30 "$DMIO" --quiet verify src "$NBD"
	[ "$rc" = 0 ] || fail "verify against qemu-nbd's export: status $rc (137: hung, killed)"
}

@test "SIGINT while an NBD server says nothing: dmio stops at once, exit 130" {
	img src 1M
	silent_server mute
	local uri=$NBD
	"$DMIO" copy src "$uri" >out 2>err &
	sleep 1
	stopped_by INT $!
	[ "$st" = 130 ] || fail "status $st, not 130: $(cat err)"
}

@test "qemu-nbd's default export: holes skipped, read, info and --write-changed, each to its end" {
	truncate -s 8M src dst
	head -c 2M /dev/urandom | dd of=src bs=1M seek=3 conv=notrunc status=none
	qemu_default q src
	# Block status goes on the one connection qemu-nbd takes.
	within 30 "$DMIO" --json copy "$NBD" dst >copy.json
	[ "$rc" = 0 ] || fail "copy: status $rc (137: hung, killed)"
	output=$(cat copy.json)
	[ "$(json .bytes_read)" = $((2 << 20)) ]
	cmp src dst
	within 30 "$DMIO" read -o out "$NBD"
	[ "$rc" = 0 ] || fail "read: status $rc"
	cmp src out
	within 30 "$DMIO" --json info "$NBD" >info.json
	[ "$rc" = 0 ] || fail "info: status $rc"
	output=$(cat info.json)
	[ "$(json '.regions[0].bytes')" = $((8 << 20)) ]
	# The destination's holes come from block status too.
	img new 8M
	within 30 "$DMIO" --json --write-changed copy new "$NBD" >wc.json
	[ "$rc" = 0 ] || fail "--write-changed: status $rc"
	output=$(cat wc.json)
	[ "$(json .bytes_read)" = $((10 << 20)) ]
	cmp new src
}

@test "qemu-nbd taking two clients while it allows multi-conn: dmio goes on with two connections" {
	img src 8M
	truncate -s 8M exp
	rm -f "$T/q.sock"
	qemu-nbd --fork --persistent --shared=2 --pid-file="$T/q.pid" -k "$T/q.sock" -f raw exp \
		2>>"$T/nbdkit.log" || fail "qemu-nbd did not start: $(cat "$T/nbdkit.log")"
	echo "$T/q.pid" >>"$T/.servers"
	local uri="nbd+unix:///?socket=$T/q.sock"
	# The third of the four connections waited forever in the handshake.
	within 30 "$DMIO" --quiet copy src "$uri"
	[ "$rc" = 0 ] || fail "copy: status $rc (137: hung, killed)"
	within 30 "$DMIO" --quiet verify src "$uri"
	[ "$rc" = 0 ] || fail "verify: status $rc"
	cmp src exp
}

@test "nbdkit refusing a second client while it allows multi-conn: one connection does it all" {
	img src 8M
	truncate -s 8M dst
	nbd_server one --filter=limit memory 8M limit=1
	run -0 "$DMIO" --quiet copy src "$NBD"
	run -0 "$DMIO" --quiet verify src "$NBD"
	run -0 "$DMIO" --quiet copy "$NBD" dst
	cmp src dst
}

@test "SIGTERM while an NBD server says nothing: info stops at once, exit 143, with its JSON" {
	silent_server mute
	"$DMIO" --json info "$NBD" >out 2>err &
	sleep 1
	stopped_by TERM $!
	[ "$st" = 143 ] || fail "status $st, not 143: $(cat err)"
	output=$(cat out)
	[ "$(json .exit_code)" = 143 ]
}
