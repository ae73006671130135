#!/usr/bin/env bats
# verify: every destination against the source.
load helper

# bats file_tags=unprivileged

@test "identical destinations: exit 0, all ok" {
	img src 2M
	cp src a
	cp src b
	run "$DMIO" verify src a b
	assert_success
	assert_output --partial "error bits: 0x0"
	refute_output --partial mismatch
}

@test "every differing destination and its first differing sector are reported, exit 1" {
	img src 4M
	cp src a
	cp src b
	cp src c
	printf 'X' | dd of=a bs=1 seek=$((777 * 512 + 3)) conv=notrunc status=none
	printf 'X' | dd of=a bs=1 seek=$((5000 * 512)) conv=notrunc status=none
	printf 'Y' | dd of=c bs=1 seek=$((8191 * 512 + 511)) conv=notrunc status=none
	cp a a.orig
	run "$DMIO" --json verify src a b c
	assert_failure 1
	[ "$(json '.regions[1].status')" = mismatch ]
	[ "$(json '.regions[1].error')" = "differs from the source at sector 777" ]
	[ "$(json '.regions[1].sectors_done')" = 777 ]
	[ "$(json '.regions[2].status')" = ok ]
	[ "$(json '.regions[3].status')" = mismatch ]
	[ "$(json '.regions[3].error')" = "differs from the source at sector 8191" ]
	[ "$(json '.error_bits')" = 0 ]
	cmp a a.orig
	run "$DMIO" verify src a b c
	assert_failure 1
	assert_output --regexp "a +destination .* mismatch at sector 777"
}

@test "verify of regions at offsets, with every engine and buffer type" {
	img src 1M
	img dst 2M
	dd if=src of=dst bs=512 seek=100 conv=notrunc status=none
	for e in --sync --async --engine=aio; do
		for b in vm pages bvec; do
			run "$DMIO" $e --buffer=$b --chunk=16K verify src dst:100
			assert_success
		done
	done
	printf 'Z' | dd of=dst bs=1 seek=$(((100 + 1500) * 512)) conv=notrunc status=none
	for b in vm pages bvec; do
		run "$DMIO" --buffer=$b --chunk=16K --json verify src dst:100
		assert_failure 1
		[ "$(json '.regions[1].error')" = "differs from the source at sector 1600" ]
	done
}
