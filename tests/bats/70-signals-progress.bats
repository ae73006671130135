#!/usr/bin/env bats
# Signals, each sent once dmio's I/O waits at a gate (no sleeps): SIGINT,
# SIGTERM and SIGHUP drain, flush, report and exit 128+N; SIGUSR1 prints a
# status line and the copy goes on.  The progress display, on a slow device
# (nbdkit's delay filter).
load helper

finish() {
	rc=0
	wait "$pid" || rc=$?
	output=$(cat out)
}

# interrupted I CODE NAME: the run ended with CODE, region I interrupted
# by NAME; its sectors_done in $done.
interrupted() {
	[ "$rc" = "$2" ] || fail "exit $rc, want $2: $(cat err)"
	[ "$(json ".regions[$1].status")" = interrupted ]
	[ "$(json ".regions[$1].error")" = "interrupted by $3" ]
	done=$(json ".regions[$1].sectors_done")
}

# exactly DATA FILE SIZE: FILE (of SIZE bytes, zeroes before the run) holds
# the first $done sectors of DATA, and nothing after them.
exactly() {
	cmp -n $((done * 512)) "$1" "$2"
	cmp <(tail -c +$((done * 512 + 1)) "$2") <(head -c $(($3 - done * 512)) /dev/zero)
}

# interrupt_case SIG CODE NAME: a copy from a source whose reads past 2 MiB
# wait at a gate, sent SIG once a read waits there (no sleeps).
interrupt_case() {
	local sig=$1 code=$2 name=$3 done
	head -c 16M /dev/urandom >src.img
	gate_file src
	truncate -s 16M dst
	gate_close
	"$DMIO" --json --chunk=64K copy "$GATE_FILE" dst >out 2>err 8>&- 9>&- &
	pid=$!
	gate_wait
	kill -"$sig" "$pid"
	gate_open
	finish
	interrupted 1 "$code" "$name"
	[ "$done" -gt 0 ] && [ "$done" -lt 32768 ] || fail "sectors_done $done"
	# What was reported done is on the destination, and nothing after it.
	exactly src.img dst $((16 << 20))
}

@test "SIGINT mid-copy: drained, flushed, reported, exit 130" {
	interrupt_case INT 130 Interrupt
}

@test "SIGTERM mid-copy: exit 143" {
	interrupt_case TERM 143 Terminated
}

@test "SIGHUP mid-copy: as SIGTERM, exit 129" {
	interrupt_case HUP 129 Hangup
}

@test "an interrupted write: exit 130, sectors_done is exactly what is on the destination" {
	local done
	truncate -s 4M dst
	mkfifo in.fifo
	"$DMIO" --json --chunk=64K write dst <in.fifo >out 2>err &
	pid=$!
	exec 7>in.fifo
	# Returns once dmio has read all but a pipe's worth; then a part of a
	# chunk, ending in a part of a sector, that the signal finds unwritten.
	head -c 1M /dev/urandom | tee in.data >&7
	head -c 1000 /dev/urandom | tee -a in.data >&7
	kill -INT "$pid"
	# The input stays open until dmio is gone: were its end to come first,
	# dmio would rightly write the partial chunk as the input's last.
	gone "$pid"
	exec 7>&-
	finish
	interrupted 0 130 Interrupt
	[ "$done" -gt 0 ] && [ "$done" -le 2048 ] || fail "sectors_done $done"
	exactly in.data dst $((4 << 20))
}

@test "an interrupted read: exit 130, sectors_done is exactly what reached the output" {
	local done
	img src 8M
	mkfifo data.fifo
	"$DMIO" --json --chunk=64K read src -o data.fifo >out 2>err &
	pid=$!
	exec 4<data.fifo
	# dmio is writing to the FIFO and this reader stops: it blocks there.
	head -c 1M <&4 >got
	kill -INT "$pid"
	cat <&4 >>got
	exec 4<&-
	finish
	interrupted 0 130 Interrupt
	local size
	size=$(stat -c %s got)
	[ "$done" -ge 2048 ] && [ "$done" -lt 16384 ] || fail "sectors_done $done"
	# The output holds the sectors reported, and at most a part of the next.
	[ "$size" -ge $((done * 512)) ] && [ "$size" -lt $(((done + 1) * 512)) ] ||
		fail "$size bytes out, $done sectors reported"
	cmp -n "$size" src got
}

@test "SIGUSR1 prints a progress line and the copy finishes" {
	img src 4M
	truncate -s 4M dst.img
	gate_file dst pwrite
	gate_close
	# One chunk at a time, and the writes past 2 MiB wait at the gate: the
	# signal comes once dmio's handlers are in place, with half the copy
	# still to go.
	"$DMIO" --chunk=64K --queue-depth=1 copy src "$GATE_FILE" >out 2>err 8>&- 9>&- &
	pid=$!
	gate_wait
	kill -USR1 "$pid"
	gate_open
	finish
	[ "$rc" = 0 ] || fail "exit $rc: $(cat err)"
	grep -E '^dmio: [0-9.]+ [KMG]?i?B / 4.0 MiB' err
	cmp src dst.img
}

@test "--progress on a pipe prints plain lines" {
	img src 4M
	local dev
	dev=$(slow_dev)
	run --separate-stderr "$DMIO" --progress --chunk=64K copy src "$dev"
	assert_success
	[[ $stderr == *"dmio: 4.0 MiB / 4.0 MiB (100%)"* ]]
}

@test "--progress on a terminal draws a bar with bytes, rate and ETA" {
	img src 4M
	local dev
	dev=$(slow_dev)
	# script(1) gives dmio a terminal; what it drew comes back in tty.out.
	script -qec "'$DMIO' --progress --chunk=64K copy src '$dev' 2>&1 >/dev/null" tty.out \
		>/dev/null
	grep -aE '\[#+\.*\] +[0-9]+% [0-9.]+ [KM]?i?B / 4.0 MiB  [0-9.]+ [KM]?i?B/s  ETA [0-9]+:[0-9]{2}:[0-9]{2}' tty.out
	grep -aF '[##############################] 100% 4.0 MiB / 4.0 MiB' tty.out
	grep -aF 'ETA done' tty.out
	cmp src <(head -c 4M "$dev")
}
