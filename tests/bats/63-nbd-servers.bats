#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# NBD servers that never answer: a Unix socket that accepts and says
# nothing.  A signal stops dmio while it waits for the handshake.
load helper

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

@test "SIGINT while an NBD server says nothing: dmio stops at once, exit 130" {
	img src 1M
	silent_server mute
	local uri=$NBD
	"$DMIO" copy src "$uri" >out 2>err &
	sleep 1
	stopped_by INT $!
	[ "$st" = 130 ] || fail "status $st, not 130: $(cat err)"
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
