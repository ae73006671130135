#!/usr/bin/env bats
# verify: every destination against the source.
load helper


# bats test_tags=unprivileged
@test "identical destinations: exit 0, all ok" {
	img src 2M
	cp src a
	cp src b
	run "$DMIO" verify src a b
	assert_success
	assert_output --partial "error bits: 0x0"
	refute_output --partial mismatch
}

# bats test_tags=unprivileged
@test "every differing destination and its first differing sector are reported, exit 1" {
	img src 4M
	cp src a
	cp src b
	cp src c
	flip_byte a "$((777 * 512 + 3))"
	flip_byte a "$((5000 * 512))"
	flip_byte c "$((8191 * 512 + 511))"
	cp a a.orig
	for first in "" --first; do
		run "$DMIO" --json $first verify src a b c
		assert_failure 1
		[ "$(json '.regions[1].status')" = mismatch ]
		[ "$(json '.regions[1].error')" = "differs from the source at sector 777" ]
		[ "$(json '.regions[2].status')" = ok ]
		[ "$(json '.regions[3].status')" = mismatch ]
		[ "$(json '.regions[3].error')" = "differs from the source at sector 8191" ]
		[ "$(json '.error_bits')" = 0 ]
		run "$DMIO" $first verify src a b c
		assert_failure 1
		assert_output --regexp "a +destination .* mismatch at sector 777"
	done
	cmp a a.orig
}

# bats test_tags=unprivileged
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
	flip_byte dst "$(((100 + 1500) * 512))"
	for b in vm pages bvec; do
		run "$DMIO" --buffer=$b --chunk=16K --json verify src dst:100
		assert_failure 1
		[ "$(json '.regions[1].error')" = "differs from the source at sector 1600" ]
	done
}

# flip FILE SECTOR...: one byte of each SECTOR of FILE changed (XORed).
flip() {
	local f=$1 s b
	shift
	for s; do
		b=$(od -An -tu1 -j $((s * 512 + 100)) -N 1 "$f")
		printf "\\$(printf %03o $(((b ^ 0x5a) & 255)))" |
			dd of="$f" bs=1 seek=$((s * 512 + 100)) conv=notrunc status=none
	done
}

@test "a verify report lists every damaged range of a loop device: merged, absolute, to the last sector" {
	img src 8M
	# The region starts at sector 2048 of the device: ranges are absolute.
	truncate -s 9M d.img
	dd if=src of=d.img bs=1M seek=1 conv=notrunc status=none
	# 127..129 cross a 64 KiB chunk's end and 2175..2177 a 1 MiB one; 18431
	# is the last sector.
	flip d.img $((2048 + 3)) $((2048 + 127)) $((2048 + 128)) $((2048 + 129)) \
		$((2048 + 2175)) $((2048 + 2176)) $((2048 + 2177)) $((2048 + 9000)) 18431
	cmp -s src <(tail -c +$((2048 * 512 + 1)) d.img) && fail "nothing flipped"
	local dev
	dev=$(loop d.img)
	for chunk in 64K 1M; do
		run --separate-stderr "$DMIO" --json --chunk=$chunk verify src "$dev:2048"
		assert_failure 1
		[ "$(json '.regions[1].status')" = mismatch ]
		[ "$(json '.regions[1].error')" = "differs from the source at sector 2051" ]
		[ "$(json '.regions[1].sectors_done')" = 16384 ]
		[ "$(json '.regions[1].differing_sectors')" = 9 ]
		[ "$(json '.regions[1].differing_ranges | tojson')" = \
			"[[2051,1],[2175,3],[4223,3],[11048,1],[18431,1]]" ]
		[ "$(json '.regions[1].differing_ranges_total')" = 5 ]
		[ "$(json '.regions[1].differing_ranges_truncated')" = false ]
		[ "$(json '.regions[0] | has("differing_sectors")')" = false ]
		[ "$(json .bytes_read)" = $((2 * 8 << 20)) ]
	done
	run --separate-stderr "$DMIO" verify src "$dev:2048"
	assert_failure 1
	assert_output --regexp "$dev:2048 +destination .* 16384 mismatch at sector 2051"
	assert_line "$dev:2048: 9 sectors differ, in 5 ranges: 2051+1, 2175+3, 4223+3 and 2 more"
	# The destination was only read.
	run -0 losetup -d "$dev"
	flip d.img $((2048 + 3)) $((2048 + 127)) $((2048 + 128)) $((2048 + 129)) \
		$((2048 + 2175)) $((2048 + 2176)) $((2048 + 2177)) $((2048 + 9000)) 18431
	cmp src <(tail -c +$((2048 * 512 + 1)) d.img)
}

# bats test_tags=unprivileged
@test "a hole against data: every differing sector inside it is found" {
	truncate -s 8M src
	cp --sparse=always src dst
	flip dst 10 11 4000 16383
	run --separate-stderr "$DMIO" --json verify src dst
	assert_failure 1
	[ "$(json '.regions[1].differing_ranges | tojson')" = "[[10,2],[4000,1],[16383,1]]" ]
	[ "$(json '.regions[1].differing_sectors')" = 4 ]
	# And the other way round: data against a hole.
	run --separate-stderr "$DMIO" --json verify dst src
	assert_failure 1
	[ "$(json '.regions[1].differing_ranges | tojson')" = "[[10,2],[4000,1],[16383,1]]" ]
}

# bats test_tags=unprivileged
@test "--max-ranges: the list is cut, the counts stay exact; refused where it means nothing" {
	img src 4M
	cp src a
	flip a 1 3 5 6 7 9 100 8191
	run --separate-stderr "$DMIO" --json --max-ranges=2 verify src a
	assert_failure 1
	[ "$(json '.regions[1].differing_sectors')" = 8 ]
	[ "$(json '.regions[1].differing_ranges | tojson')" = "[[1,1],[3,1]]" ]
	[ "$(json '.regions[1].differing_ranges_total')" = 6 ]
	[ "$(json '.regions[1].differing_ranges_truncated')" = true ]
	# The last listed run still grows when the next differing sector follows it.
	run --separate-stderr "$DMIO" --json --max-ranges=3 verify src a
	[ "$(json '.regions[1].differing_ranges | tojson')" = "[[1,1],[3,1],[5,3]]" ]
	[ "$(json '.regions[1].differing_ranges_truncated')" = true ]
	run --separate-stderr "$DMIO" --json --max-ranges=6 verify src a
	[ "$(json '.regions[1].differing_ranges | tojson')" = "[[1,1],[3,1],[5,3],[9,1],[100,1],[8191,1]]" ]
	[ "$(json '.regions[1].differing_ranges_truncated')" = false ]
	run --separate-stderr "$DMIO" --json --max-ranges=0 verify src a
	assert_failure 1
	[ "$(json '.regions[1].differing_ranges | tojson')" = "[]" ]
	[ "$(json '.regions[1].differing_sectors')" = 8 ]
	[ "$(json '.regions[1].differing_ranges_truncated')" = true ]
	# The table shows the first three of those listed, and how many more.
	run --separate-stderr "$DMIO" --max-ranges=2 verify src a
	assert_failure 1
	assert_line "a: 8 sectors differ, in 6 ranges: 1+1, 3+1 and 4 more"
	run --separate-stderr "$DMIO" verify src a
	assert_line "a: 8 sectors differ, in 6 ranges: 1+1, 3+1, 5+3 and 3 more"
	# Refused: exit 2, said why.
	for bad in "--max-ranges=x verify" "--max-ranges=-1 verify" "--max-ranges=1000001 verify" \
		"--max-ranges=5 copy" "--first copy" "--first --max-ranges=5 verify"; do
		run --separate-stderr "$DMIO" $bad src a
		assert_failure 2
		[[ $stderr == *"--max-ranges"* || $stderr == *"--first"* ]] || fail "$bad: $stderr"
	done
}

# bats test_tags=unprivileged
@test "--first stops each destination at its first difference, and the job when all differ" {
	img src 4M
	cp src a
	flip a 300 301 5000
	run --separate-stderr "$DMIO" --json --first --chunk=64K verify src a
	assert_failure 1
	[ "$(json '.regions[1].status')" = mismatch ]
	[ "$(json '.regions[1].error')" = "differs from the source at sector 300" ]
	[ "$(json '.regions[1].sectors_done')" = 300 ]
	[ "$(json '.regions[1] | has("differing_sectors") or has("differing_ranges")')" = false ]
	# Nothing after the chunk of the difference was compared.
	[ "$(json '.regions[0].status')" = stopped ]
	[ "$(json '.regions[0].error')" = "every destination differs or failed" ]
	[ "$(json '.regions[0].sectors_done')" = 384 ]
	[ "$(json .bytes_read)" -lt $((1 << 20)) ]
	run --separate-stderr "$DMIO" --first verify src a
	assert_failure 1
	refute_output --partial "sectors differ"
	# Without it, the same run goes to the end.
	run --separate-stderr "$DMIO" --json --chunk=64K verify src a
	assert_failure 1
	[ "$(json '.regions[0].status')" = ok ]
	[ "$(json '.regions[0].sectors_done')" = 8192 ]
	[ "$(json '.regions[1].differing_ranges | tojson')" = "[[300,2],[5000,1]]" ]
}

# bats test_tags=unprivileged
@test "several destinations, each with its own damage; an identical one lists nothing" {
	img src 4M
	cp src a
	cp src b
	cp src c
	flip a 0 1 2 3
	flip c 4095 4096 8191
	run --separate-stderr "$DMIO" --json --chunk=1M verify src a b c
	assert_failure 1
	[ "$(json .error_bits)" = 0 ]
	[ "$(json '[.regions[].status] | join(" ")')" = "ok mismatch ok mismatch" ]
	[ "$(json '[.regions[1:][].differing_sectors] | join(" ")')" = "4 0 3" ]
	[ "$(json '.regions[1].differing_ranges | tojson')" = "[[0,4]]" ]
	[ "$(json '.regions[2].differing_ranges | tojson')" = "[]" ]
	[ "$(json '.regions[2].differing_ranges_truncated')" = false ]
	[ "$(json '.regions[3].differing_ranges | tojson')" = "[[4095,2],[8191,1]]" ]
	[ "$(json '.regions[3].error')" = "differs from the source at sector 4095" ]
	run --separate-stderr "$DMIO" verify src a b c
	assert_failure 1
	assert_line "a: 4 sectors differ, in 1 range: 0+4"
	assert_line "c: 3 sectors differ, in 2 ranges: 4095+2, 8191+1"
	refute_line --regexp "^b: "
	# Identical: exit 0, no line.
	run --separate-stderr "$DMIO" verify src b
	assert_success
	refute_output --partial differ
	run -0 "$DMIO" -q verify src b
	assert_output ""
}

@test "a destination that differs, then fails a read: error, exit 3, what differed before still reported" {
	img src 4M
	cp src vd.img
	cp src a
	flip vd.img 100 3000 3001 7000
	flip a 7000
	local bad
	bad=$(bad_dev vd 4M pread 6000 1)
	run --separate-stderr "$DMIO" --json --chunk=256K verify src "$bad" a
	assert_failure 3
	[ "$(json .error_bits)" = 1 ]
	[ "$(json '.regions[1].status')" = error ]
	[ "$(json '.regions[1].error')" = "read: Input/output error at sector 6000" ]
	[ "$(json '.regions[1].sectors_done')" = 6000 ]
	[ "$(json '.regions[1].differing_sectors')" = 3 ]
	[ "$(json '.regions[1].differing_ranges | tojson')" = "[[100,1],[3000,2]]" ]
	# The other destination is compared to its end.
	[ "$(json '.regions[2].status')" = mismatch ]
	[ "$(json '.regions[2].differing_ranges | tojson')" = "[[7000,1]]" ]
	run --separate-stderr "$DMIO" --chunk=256K verify src "$bad" a
	assert_failure 3
	assert_output --regexp "$bad +destination .* 6000 error: read: Input/output error at sector 6000"
	assert_line "$bad: 3 sectors differ, in 2 ranges: 100+1, 3000+2"
	assert_line "a: 1 sector differs, in 1 range: 7000+1"
}

@test "a destination that differs, then a SIGINT: interrupted, exit 130, what differed before still reported" {
	img g.img 4M
	cp g.img src
	flip g.img 100 101 8000
	gate_file g
	gate_close
	"$DMIO" --json --chunk=64K verify src "$GATE_FILE" >out 2>err 8>&- 9>&- &
	local pid=$! rc=0
	gate_wait
	kill -INT "$pid"
	gate_open
	wait "$pid" || rc=$?
	[ "$rc" = 130 ] || fail "exit $rc: $(cat err)"
	output=$(cat out)
	[ "$(json '.regions[1].status')" = interrupted ]
	# The gate is at 2 MiB (sector 4096): sector 8000 was never compared.
	# (Reads past the gate may complete before dmio sees the signal, on a
	# busy machine: at most a queue's depth of 64K chunks, to sector 5120.)
	[ "$(json '.regions[1].sectors_done')" -le 5120 ]
	[ "$(json '.regions[1].differing_ranges | tojson')" = "[[100,2]]" ]
	[ "$(json '.regions[1].differing_sectors')" = 2 ]
}
