#!/usr/bin/env bats
# Real I/O errors from real devices: nbdkit's error filter, exported by
# nbdfuse, attached with losetup.  Failing regions are reported with the
# sector, the healthy ones finished.
load helper

wfail() {
	nbd_dev "$1" --filter=error memory 16M error-pwrite-rate=100% error-pwrite=EIO
}

rfail() {
	nbd_dev "$1" --filter=error memory 16M error-pread-rate=100% error-pread=EIO
}

@test "a failing destination in the middle: bit 1, the others identical, exit 3" {
	img src 2M
	img a 2M
	img c 2M
	local bad
	bad=$(wfail bad)
	run --separate-stderr "$DMIO" --json copy src a "$bad:2048" c
	assert_failure 3
	[ "$(json '.error_bits')" = 2 ]
	[ "$(json '.read_error')" = false ]
	[ "$(json '.regions[2].status')" = error ]
	[ "$(json '.regions[2].sectors_done')" = 0 ]
	[ "$(json '.regions[2].error')" = "write: Input/output error at sector 2048" ]
	[ "$(json '.regions[1].status')" = ok ]
	[ "$(json '.regions[3].status')" = ok ]
	cmp src a
	cmp src c
}

@test "failing destinations first and last, with each engine and buffer type" {
	img src 1M
	img mid 1M
	local b1 b2
	b1=$(wfail b1)
	b2=$(wfail b2)
	for e in --sync --async; do
		for b in vm pages bvec; do
			truncate -s 0 mid
			truncate -s 1M mid
			run "$DMIO" $e --buffer=$b --chunk=64K copy src "$b1" mid "$b2:8"
			assert_failure 3
			assert_output --partial "error bits: 0x5"
			assert_output --regexp "$b1 +destination .*error: write: Input/output error at sector 0"
			assert_output --regexp "$b2:8 +destination .*error: write: Input/output error at sector 8"
			cmp src mid
		done
	done
}

@test "a source read error stops the copy, exit 3, read_error true" {
	img a 1M
	local bad
	bad=$(rfail rsrc)
	run "$DMIO" --json copy "$bad:100+2048" a
	assert_failure 3
	[ "$(json '.read_error')" = true ]
	[ "$(json '.error_bits')" = 0 ]
	[ "$(json '.regions[0].status')" = error ]
	[ "$(json '.regions[0].error')" = "read: Input/output error at sector 100" ]
	[ "$(json '.regions[0].sectors_done')" = 0 ]
	[ "$(json '.regions[1].status')" = interrupted ]
	[ "$(json '.regions[1].sectors_done')" = 0 ]
}

@test "verify with a destination that cannot be read: exit 3, the others compared" {
	img src 1M
	cp src a
	local bad
	bad=$(rfail rdst)
	run "$DMIO" --json verify src:0+2048 "$bad" a
	assert_failure 3
	[ "$(json '.error_bits')" = 1 ]
	[ "$(json '.regions[1].status')" = error ]
	[ "$(json '.regions[2].status')" = ok ]
}
