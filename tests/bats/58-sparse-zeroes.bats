#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# Holes and zeroes, on files, tmpfs and loop devices: a file source's holes
# are not read, zero chunks are written as zeroes (a hole in a file, zeroes
# on a device), --no-sparse writes every byte, --target-is-zero skips
# zeroes, a destination that cannot write zeroes falls back, zero keeps a
# file sparse, verify compares holes without reading them, and
# --write-changed writes only what differs.
load helper

# sparse FILE: a 64 MiB sparse file with 3 MiB of random data at 8 MiB and
# 1 MiB at 40 MiB; the data also in FILE.data (what it holds, densely).
sparse() {
	truncate -s 64M "$1"
	head -c 3M /dev/urandom | dd of="$1" bs=1M seek=8 conv=notrunc status=none
	head -c 1M /dev/urandom | dd of="$1" bs=1M seek=40 conv=notrunc status=none
}

# kib FILE: the KiB FILE has allocated.
kib() {
	du -k "$1" | cut -f1
}

# zeroes_and_data FILE: 16 MiB, no holes: 1 MiB chunks of data and of
# written zeroes in turn.
zeroes_and_data() {
	: >"$1"
	for i in $(seq 8); do
		head -c 1M /dev/urandom >>"$1"
		head -c 1M /dev/zero >>"$1"
	done
}

@test "a sparse file copies to a sparse file: its holes are not read, and stay holes" {
	sparse src
	truncate -s 64M dst
	run --separate-stderr "$DMIO" --json copy src dst
	assert_success
	cmp src dst
	[ "$(json .bytes_read)" = $((4 << 20)) ]
	[ "$(json .bytes_written)" = $((4 << 20)) ]
	[ "$(json .bytes_zeroed)" = $((60 << 20)) ]
	[ "$(kib dst)" -le $((4096 + 1024)) ] || fail "dst allocates $(kib dst) KiB"
	# To a loop device: the holes are zeroes there (BLKZEROOUT).
	img dev.img 64M
	local dev
	dev=$(loop dev.img)
	run "$DMIO" -q copy src "$dev"
	assert_success
	cmp src dev.img
}

# bats test_tags=unprivileged
@test "zeroes that were written become holes in a file destination, zeroes on a device" {
	zeroes_and_data src
	truncate -s 16M dst
	run --separate-stderr "$DMIO" --json copy src dst
	assert_success
	cmp src dst
	[ "$(json .bytes_zeroed)" = $((8 << 20)) ]
	[ "$(kib dst)" -le $((8192 + 1024)) ] || fail "dst allocates $(kib dst) KiB"
	# stdin to a file: the same.
	head -c 4M /dev/zero | "$DMIO" -q write dst:0+8192
	[ "$(kib dst)" -le $((6144 + 1024)) ] || fail "after write: $(kib dst) KiB"
	cmp <(head -c 4M dst) <(head -c 4M /dev/zero)
}

# bats test_tags=unprivileged
@test "--no-sparse writes every byte" {
	sparse src
	truncate -s 64M dst
	run --separate-stderr "$DMIO" --json --no-sparse copy src dst
	assert_success
	cmp src dst
	[ "$(json .bytes_zeroed)" = 0 ]
	[ "$(json .bytes_written)" = $((64 << 20)) ]
	[ "$(kib dst)" -ge $((64 * 1024)) ] || fail "dst allocates $(kib dst) KiB"
}

# bats test_tags=unprivileged
@test "--target-is-zero skips zeroes: they are not written at all" {
	sparse src
	img dst 64M
	cp dst dst.orig
	run --separate-stderr "$DMIO" --json --target-is-zero copy src dst
	assert_success
	[ "$(json .bytes_skipped)" = $((60 << 20)) ]
	[ "$(json '.regions[1].sectors_done')" = 131072 ]
	# The data is there; where the source has zeroes, nothing changed.
	same_range src $((8 << 20)) dst $((8 << 20)) $((3 << 20))
	same_range dst.orig 0 dst 0 $((8 << 20))
	# Onto a new sparse file, as promised: the same bytes.
	truncate -s 64M new
	run "$DMIO" -q --target-is-zero copy src new
	cmp src new
}

@test "on tmpfs a destination stays sparse too" {
	mkdir t
	mount -t tmpfs -o size=80M tmpfs t
	echo "$T/t" >>"$T/.mounts"
	sparse src
	truncate -s 64M t/dst
	run "$DMIO" -q copy src t/dst
	assert_success
	cmp src t/dst
	[ "$(kib t/dst)" -le $((4096 + 1024)) ] || fail "t/dst allocates $(kib t/dst) KiB"
}

@test "a destination that cannot write zeroes falls back to writes, the other leg keeps its holes" {
	# A file on FUSE (nbdfuse) whose nbdkit plugin can neither trim nor
	# zero: punching a hole there is EOPNOTSUPP.
	bad_dev nz 16M "" 0 0 >/dev/null
	zeroes_and_data src
	truncate -s 16M d4
	run --separate-stderr "$DMIO" --json copy src "$T/nz/disk" d4
	assert_success
	cmp src nz.img
	cmp src d4
	# nz's 8 MiB of zeroes were written as data, d4's are holes.
	[ "$(json .bytes_zeroed)" = $((8 << 20)) ]
	[ "$(json .bytes_written)" = $((24 << 20)) ]
	[ "$(kib d4)" -le $((8192 + 1024)) ] || fail "d4 allocates $(kib d4) KiB"
	run "$DMIO" -q verify src "$T/nz/disk" d4
	assert_success
}

@test "zero keeps a file sparse, zeroes a loop device, and --discard discards" {
	img f 32M
	run "$DMIO" -q zero f:2048+16384
	assert_success
	cmp <(head -c 8M f | tail -c 7M) <(head -c 7M /dev/zero)
	[ "$(kib f)" -le $((24 * 1024 + 1024)) ] || fail "f allocates $(kib f) KiB"
	img d.img 16M
	local dev
	dev=$(loop d.img)
	run --separate-stderr "$DMIO" --json zero "$dev:0+8192"
	assert_success
	[ "$(json .bytes_zeroed)" = $((4 << 20)) ]
	cmp <(head -c 4M d.img) <(head -c 4M /dev/zero)
	img e.img 16M
	dev=$(loop e.img)
	run --separate-stderr "$DMIO" --json --discard zero "$dev"
	assert_success
	cmp e.img <(head -c 16M /dev/zero)
	[ "$(kib e.img)" -le 1024 ] || fail "e.img allocates $(kib e.img) KiB"
	run "$DMIO" --discard --no-sparse zero f
	assert_failure 2
}

# bats test_tags=unprivileged
@test "verify does not read holes; a byte that differs inside a hole is found" {
	sparse src
	cp --sparse=always src dst
	run --separate-stderr "$DMIO" --json verify src dst
	assert_success
	[ "$(json .bytes_read)" = $((8 << 20)) ]
	flip_byte dst "$((20 << 20))"
	run --separate-stderr "$DMIO" --json verify src dst
	assert_failure 1
	[ "$(json '.regions[1].error')" = "differs from the source at sector 40960" ]
	# A hole against written zeroes is equal, against data it is not.
	cp src dense
	dd if=/dev/zero of=dense bs=1M seek=20 count=1 conv=notrunc status=none
	run "$DMIO" -q verify src dense
	assert_success
	run "$DMIO" -q verify dense src
	assert_success
}

# bats test_tags=unprivileged
@test "--write-changed writes only the chunks that differ; the rest is skipped" {
	img src 16M
	cp src a
	cp src b
	flip_byte a "$((5 << 20))"
	flip_byte b "$((9 << 20))"
	flip_byte b "$((12 << 20))"
	run --separate-stderr "$DMIO" --json --write-changed copy src a b
	assert_success
	cmp src a
	cmp src b
	[ "$(json .bytes_written)" = $((3 << 20)) ]
	[ "$(json .bytes_skipped)" = $((29 << 20)) ]
	[ "$(json .bytes_read)" = $((48 << 20)) ]
	# Nothing differs: nothing written.
	run --separate-stderr "$DMIO" --json --write-changed copy src a b
	[ "$(json .bytes_written)" = 0 ]
}

# bats test_tags=unprivileged
@test "--map counts zeroed and skipped chunks as done; SIGUSR1 and --progress count each kind" {
	sparse src
	truncate -s 64M dst
	run "$DMIO" -q --map m copy src dst
	assert_success
	grep -qx "done 0 0 131072" m
	run --separate-stderr "$DMIO" --progress --write-changed copy src dst
	assert_success
	[[ $stderr == *"read 8.0 MiB, written 0 B, zeroed 0 B, skipped 64.0 MiB"* ]] || fail "$stderr"
}

@test "zeroes on a 4096-byte-sector device, in a region not on its blocks: written as data" {
	img b.img 4M
	cp b.img orig
	local dev
	dev=$(loop b.img --sector-size 4096)
	run --separate-stderr "$DMIO" --json zero "$dev:1+1"
	assert_success
	cmp <(head -c 1024 b.img | tail -c 512) <(head -c 512 /dev/zero)
	same_range orig 0 b.img 0 512
	same_range orig 1024 b.img 1024 $((4 * 1048576 - 1024))
	head -c 1M /dev/zero >z
	run "$DMIO" -q copy z "$dev:9"
	assert_success
	run "$DMIO" -q --discard zero "$dev:1+1"
	assert_success
	cmp <(head -c 1024 b.img | tail -c 512) <(head -c 512 /dev/zero)
}
