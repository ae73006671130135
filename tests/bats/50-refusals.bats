#!/usr/bin/env bats
# Every refusal of the contract: exit 2, the bad spec named, nothing written.
load helper

# refused WHAT ARGS...: dmio ARGS exits 2, names WHAT, leaves a, b, c as
# they were.
refused() {
	local what=$1
	shift
	run --separate-stderr own_scan "$DMIO" "$@"
	assert_failure 2
	[[ $stderr == *"$what"* ]] || fail "stderr does not name '$what': $stderr"
	[ -z "$output" ] || fail "stdout not empty: $output"
	for f in a b c; do cmp "$f" "$f.orig"; done
}

setup_files() {
	img src 1M
	for f in a b c; do img $f 1M; cp $f $f.orig; done
}

@test "malformed specs" {
	setup_files
	for spec in "a:" "a:x" "a:-1" "a:1+" "a:+5" "a:1+x" "a:1.5" "a: 1" "a:1+0" \
		"a:1K1" "a:1Q" "a:1k" "a:100B" "a:0x10" ":5" "a:99999999999999999999" \
		"a:1+18014398509481984" "a:3+1K1"; do
		refused "$spec" copy src "$spec"
	done
}

@test "empty regions and regions past the end" {
	setup_files
	refused "a:2048" zero a:2048
	refused "starts at the end of a (2048 sectors)" zero a:2048
	refused "starts past the end of a (2048 sectors)" zero a:3000
	refused "past the end" zero a:2000+100
	refused "src:2040+16" copy src:2040+16 a
	refused "past the end" copy src a:100
}

@test "tags: unknown, empty, and resolving to nothing" {
	setup_files
	refused "unknown tag 'FOO'" copy src FOO=bar
	refused "UUID has no value" copy src UUID=
	refused "no device has UUID=0c0c0c0c-dead-beef-0000-000000000000" \
		copy src UUID=0c0c0c0c-dead-beef-0000-000000000000
	refused "no device has LABEL=dmio-no-such-label" zero LABEL=dmio-no-such-label
}

@test "missing devices and things that are not devices" {
	setup_files
	refused "/nonexistent/x" copy src a /nonexistent/x
	refused "No such file" copy src a /nonexistent/x
	refused "not a block device or regular file" copy src a /dev/null
	refused "not a block device or regular file" copy src a .
}

@test "a destination whose count differs from the source's" {
	setup_files
	refused "a:0+11" copy src:0+10 a:0+11
	refused "the source has 10" verify src:0+10 b c:0+11
}

@test "overlaps: source and destination, two destinations, the same file by two names" {
	setup_files
	refused "overlaps" copy a:0+10 a:5+10
	refused "overlaps" copy src:0+10 a:0+10 b a:9+10
	refused "overlaps" zero b:0+10 b:5+10
	ln a a.link
	refused "a.link:5+10" copy src:0+10 a:0+10 a.link:5+10
	run "$DMIO" copy src:0+10 a:0+10 a:10+10
	assert_success
}

@test "65 destinations are refused" {
	setup_files
	local d=()
	for i in $(seq 65); do truncate -s 64K "d$i"; d+=("d$i"); done
	refused "65 destinations; at most 64" copy src:0+8 "${d[@]}"
	refused "65 destinations; at most 64" zero "${d[@]}"
	for i in $(seq 65); do cmp -s d$i <(head -c 64K /dev/zero); done
}

@test "a mounted block device is refused; --force overrides" {
	setup_files
	truncate -s 16M fs.img
	mkfs.ext4 -q -F fs.img
	local dev
	dev=$(loop fs.img)
	mkdir mnt
	mount "$dev" mnt
	echo "$T/mnt" >>"$T/.mounts"
	cp fs.img fs.before 2>/dev/null || true
	refused "in use: mounted on $T/mnt" copy src:0+2 "$dev:0+2"
	refused "$dev" zero "$dev:0+2"
	# The first KiB of ext4 is unused: safe to overwrite on purpose.
	run "$DMIO" --force zero "$dev:0+2"
	assert_success
	umount mnt
	[ "$(bytes fs.img 0 1024)" = "$(printf '%02048d' 0)" ]
}

@test "--direct and a region off a 4096-byte-sector device's blocks" {
	setup_files
	truncate -s 8M d.img
	local dev
	dev=$(loop d.img --sector-size 4096)
	refused "not aligned to the 4096-byte blocks" --direct copy src:0+8 "$dev:1+8"
	refused "not aligned" --direct zero "$dev:0+9"
	losetup -d "$dev"
	cmp d.img <(head -c 8M /dev/zero)
}

@test "--dry-run touches nothing and prints the plan" {
	setup_files
	for cmd in "copy src a b" "zero a b:8+8" "verify src a" "write a"; do
		run --separate-stderr "$DMIO" --dry-run $cmd </dev/null
		assert_success
		assert_output --partial planned
		for f in a b c; do cmp "$f" "$f.orig"; done
	done
	run "$DMIO" --dry-run --json copy src a
	assert_success
	[ "$(json '[.regions[].status] | unique | join(",")')" = planned ]
}
