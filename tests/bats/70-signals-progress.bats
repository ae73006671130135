#!/usr/bin/env bats
# Signals on a slow device (nbdkit's delay filter): SIGINT and SIGTERM drain,
# flush, report and exit 128+N; SIGUSR1 prints a status line and the copy
# goes on.
load helper

# start ARGS...: dmio ARGS in the background, stdout in out, stderr in err.
start() {
	"$DMIO" "$@" >out 2>err &
	pid=$!
	sleep 0.5
}

finish() {
	rc=0
	wait "$pid" || rc=$?
	output=$(cat out)
}

interrupt_case() {
	local sig=$1 code=$2 name=$3
	img src 16M
	local dev
	dev=$(slow_dev)
	start --json --chunk=64K copy src "$dev"
	kill -"$sig" "$pid"
	finish
	[ "$rc" = "$code" ] || fail "exit $rc, want $code: $(cat err)"
	[ "$(json '.regions[1].status')" = interrupted ]
	[ "$(json '.regions[1].error')" = "interrupted by $name" ]
	local done
	done=$(json '.regions[1].sectors_done')
	[ "$done" -gt 0 ] && [ "$done" -lt 32768 ] || fail "sectors_done $done"
	# What was reported done is on the device.
	cmp <(head -c $((done * 512)) src) <(dd if="$dev" bs=512 count="$done" iflag=direct status=none)
}

@test "SIGINT mid-copy: drained, flushed, reported, exit 130" {
	interrupt_case INT 130 Interrupt
}

@test "SIGTERM mid-copy: exit 143" {
	interrupt_case TERM 143 Terminated
}

@test "SIGUSR1 prints a progress line and the copy finishes" {
	img src 4M
	local dev
	dev=$(slow_dev)
	# One 40 ms write at a time: 64 of them, so the signal lands mid-copy
	# however fast the pipeline is.
	start --chunk=64K --queue-depth=1 copy src "$dev"
	kill -USR1 "$pid"
	finish
	[ "$rc" = 0 ] || fail "exit $rc: $(cat err)"
	grep -E '^dmio: [0-9.]+ [KMG]?i?B / 4.0 MiB' err
	cmp src <(head -c 4M "$dev")
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
