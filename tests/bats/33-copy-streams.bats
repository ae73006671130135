#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# copy's streams and sink: "-" as the source (stdin) or as a destination
# (stdout), as dd and nbdcopy take it, and "null:", a destination that
# keeps nothing.
load helper

# bats test_tags=unprivileged
@test "copy - A B: stdin to two files; the source reports what it read" {
	img data 3M
	truncate -s 4M a b
	run --separate-stderr "$DMIO" --json copy - a b <data
	assert_success
	[ "$(json '.regions[0].region')" = - ]
	[ "$(json '.regions[0].device')" = stdin ]
	[ "$(json '.regions[0].sectors_done')" = 6144 ]
	[ "$(json '.regions | map(.status) | join(",")')" = ok,ok,ok ]
	same_range a 0 data 0 $((3 << 20))
	same_range b 0 data 0 $((3 << 20))
	# From a pipe, a short last sector padded, as write pads it.
	run "$DMIO" -q copy - a < <(head -c 1000 data)
	assert_success
	assert_output --partial "padded with 24 zero bytes"
	# More input than the destinations hold is an error.
	run -3 "$DMIO" -q copy - a:0+8 <data
	assert_output --partial "bytes more than the destinations hold were not written"
}

# bats test_tags=unprivileged
@test "copy SRC -: stdout gets the bytes in order, the report goes to stderr" {
	truncate -s 8M src
	head -c 2M /dev/urandom | dd of=src bs=1M seek=3 conv=notrunc status=none
	run -0 bash -c "'$DMIO' --json copy src - >out 2>report"
	cmp src out
	output=$(cat report)
	json_keep "$output"
	[ "$(json '.regions[1].device')" = stdout ]
	[ "$(json '.regions[1].sectors_done')" = 16384 ]
	# Beside a file destination: a mirror, one read.
	truncate -s 8M mirror
	"$DMIO" -q copy "src:2048+8192" - mirror:2048 >part
	same_range part 0 src $((1 << 20)) $((4 << 20))
	same_range mirror $((1 << 20)) src $((1 << 20)) $((4 << 20))
}

# bats test_tags=unprivileged
@test "a reader that goes away fails the stdout leg alone; the file leg is done" {
	img src 16M
	truncate -s 16M mirror
	run -3 bash -c "set -o pipefail; '$DMIO' --json copy src - mirror 2>report | head -c 1M >/dev/null"
	output=$(cat report)
	json_keep "$output"
	[ "$(json '.regions | map(.status) | join(",")')" = ok,error,ok ]
	[ "$(json '.failed | join(",")')" = 0 ]
	[[ $(json '.regions[1].error') == "write: Broken pipe at sector "* ]]
	cmp src mirror
}

# bats test_tags=unprivileged
@test "null: keeps nothing: a source's digest without writing it" {
	img src 8M
	run --separate-stderr "$DMIO" --json --hash=sha256 copy src null:
	assert_success
	[ "$(json '.regions[0].digests.sha256')" = "$(sha256sum <src | cut -d' ' -f1)" ]
	[ "$(json '.regions[1].device')" = "null:" ]
	[ "$(json '.bytes_written')" = $((8 << 20)) ]
	# stdin to null:, hashed: what was read.
	run --separate-stderr "$DMIO" --json --hash=md5 copy - null: <src
	assert_success
	[ "$(json '.regions[0].digests.md5')" = "$(md5sum <src | cut -d' ' -f1)" ]
}

# bats test_tags=unprivileged
@test "- and null: where they cannot be: refused, exit 2" {
	img src 1M
	run -2 "$DMIO" copy - -
	assert_output --partial "cat(1) does that"
	run -2 "$DMIO" copy src - -
	assert_output --partial "-: standard output is one destination, given twice"
	run -2 "$DMIO" read -
	assert_output --partial "-: only a copy's source or destination"
	run -2 "$DMIO" verify src -
	assert_output --partial "-: only a copy's source or destination"
	run -2 "$DMIO" copy null: src
	assert_output --partial "null:: only a copy's destination"
	run -2 "$DMIO" zero null:
	assert_output --partial "null:: only a copy's destination"
	run -2 "$DMIO" --map=m copy - src
	assert_output --partial "-: --map needs regions it can read or write again"
	run -2 "$DMIO" --write-changed copy src -
	assert_output --partial "-: --write-changed needs regions"
	# A file named - is ./-.
	cp src ./-
	run -0 "$DMIO" -q verify ./- src
}

# bats test_tags=unprivileged
@test "SIGINT while a copy from - waits for its input: exit 130, nothing more written" {
	truncate -s 4M dst
	mkfifo in
	exec 7<>in
	"$DMIO" --json copy - dst <in >out 2>err &
	local pid=$!
	head -c 1M /dev/urandom >&7
	local i=0
	until [ "$(stat -c %b dst)" -gt 0 ] || [ $i -ge 100 ]; do
		i=$((i + 1))
		sleep 0.05
	done
	kill -INT "$pid"
	local rc=0
	wait "$pid" || rc=$?
	exec 7>&-
	[ "$rc" = 130 ] || fail "exit $rc: $(cat err)"
	output=$(cat out)
	json_keep "$output"
	[ "$(json '.regions[0].status')" = interrupted ]
	[ "$(json '.regions[1].status')" = interrupted ]
}
