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
	for e in --sync --async --engine=aio; do
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
	[ "$(json '.regions[1].status')" = stopped ]
	[ "$(json '.regions[1].error')" = "the source failed at sector 100" ]
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

# copy_fault POS: a destination that fails writes at sectors 3000..3007
# only, at position POS (0, 1 or 2) among three.
copy_fault() {
	local pos=$1 dests=() i
	img src 4M
	local bad
	bad=$(bad_dev bad 6M pwrite 3000 8)
	for i in 0 1 2; do
		if [ "$i" = "$pos" ]; then
			dests+=("$bad:1024")
		else
			img "d$i" 5M
			cp "d$i" "d$i.orig"
			dests+=("d$i:16")
		fi
	done
	cp bad.img bad.orig
	run --separate-stderr "$DMIO" --json --chunk=256K copy src "${dests[@]}"
	assert_failure 3
	[ "$(json .error_bits)" = $((1 << pos)) ]
	[ "$(json .read_error)" = false ]
	[ "$(json ".regions[$((pos + 1))].status")" = error ]
	[ "$(json ".regions[$((pos + 1))].error")" = "write: Input/output error at sector 3000" ]
	[ "$(json ".regions[$((pos + 1))].sectors_done")" = $((3000 - 1024)) ]
	for i in 0 1 2; do
		if [ "$i" = "$pos" ]; then
			# Everything before the bad sector is there; nothing
			# outside the region changed.  (Past the bad sector, a
			# failed request may have written some of its parts.)
			same_range src 0 bad.img $((1024 * 512)) $(((3000 - 1024) * 512))
			same_range bad.orig 0 bad.img 0 $((1024 * 512))
			same_range bad.orig $(((1024 + 8192) * 512)) bad.img $(((1024 + 8192) * 512)) \
				$((6 * 1048576 - (1024 + 8192) * 512))
		else
			[ "$(json ".regions[$((i + 1))].status")" = ok ]
			same_range src 0 "d$i" $((16 * 512)) $((4 * 1048576))
			same_range "d$i.orig" 0 "d$i" 0 $((16 * 512))
			same_range "d$i.orig" $((16 * 512 + 4 * 1048576)) "d$i" $((16 * 512 + 4 * 1048576)) \
				$((1048576 - 16 * 512))
		fi
	done
}

@test "a destination failing at chosen sectors, first: the sector named, the rest whole" {
	copy_fault 0
}

@test "a destination failing at chosen sectors, in the middle" {
	copy_fault 1
}

@test "a destination failing at chosen sectors, last" {
	copy_fault 2
}

@test "a source failing at chosen sectors: the copy stops there, what is done is right" {
	local bad
	bad=$(bad_dev src 4M pread 5000 1)
	head -c 4M /dev/urandom >src.img.data
	# Fill the source through its backing file, then read it via the device.
	cp src.img.data src.img
	img a 4M
	img b 4M
	cp a a.orig
	cp b b.orig
	run --separate-stderr "$DMIO" --json --chunk=64K copy "$bad" a b
	assert_failure 3
	[ "$(json .read_error)" = true ]
	[ "$(json .error_bits)" = 0 ]
	[ "$(json '.regions[0].status')" = error ]
	[ "$(json '.regions[0].error')" = "read: Input/output error at sector 5000" ]
	for i in 0 1 2; do
		[ "$(json ".regions[$i].sectors_done")" = 5000 ]
	done
	for f in a b; do
		same_range src.img.data 0 $f 0 $((5000 * 512))
		same_range $f.orig $((5000 * 512)) $f $((5000 * 512)) $((4 * 1048576 - 5000 * 512))
	done
}

@test "a destination whose flush fails is an I/O error on that region" {
	local bad
	bad=$(bad_dev fl 2M "flush" 0 0)
	img src 1M
	img a 1M
	run --separate-stderr "$DMIO" --json copy src a "$bad"
	assert_failure 3
	[ "$(json .error_bits)" = 2 ]
	[ "$(json '.regions[2].status')" = error ]
	[[ $(json '.regions[2].error') == "flush: Input/output error"* ]]
	[ "$(json '.regions[2].sectors_done')" = 0 ]
	[ "$(json '.regions[1].status')" = ok ]
	cmp src a
	# --no-flush does not flush, so nothing fails.
	run "$DMIO" --no-flush copy src "$bad"
	assert_success
}

@test "a destination on a full filesystem (tmpfs ENOSPC mid-copy)" {
	mkdir small
	mount -t tmpfs -o size=1M tmpfs small
	echo "$T/small" >>"$T/.mounts"
	img src 2M
	img a 2M
	truncate -s 2M small/d
	run --separate-stderr "$DMIO" --json --chunk=64K copy src a small/d
	assert_failure 3
	[ "$(json .error_bits)" = 2 ]
	[ "$(json '.regions[2].status')" = error ]
	[[ $(json '.regions[2].error') == "write: No space left on device at sector "* ]]
	local done
	done=$(json '.regions[2].sectors_done')
	[ "$done" -gt 0 ] && [ "$done" -lt 4096 ] || fail "sectors_done $done"
	[ "$(json '.regions[2].error')" = "write: No space left on device at sector $done" ]
	same_range src 0 small/d 0 $((done * 512))
	[ "$(json '.regions[1].status')" = ok ]
	cmp src a
}
