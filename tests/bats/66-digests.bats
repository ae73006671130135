#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# Digests in the same pass (--hash, --hash-window, --hash-log) on loop
# devices and files, each equal to what the standard tools say of the same
# bytes (sha256sum, md5sum, sha1sum, sha512sum, b2sum, xxhsum, openssl for
# sha3-256); verify --hash; verify --digest-file against a --hash-log or a
# sha256sum file, with no source; and the refusals.
load helper

# sum TOOL FILE: the hex digest TOOL gives of FILE.
sum() {
	case $1 in
	sha3-256) openssl dgst -sha3-256 -r "$2" | cut -d' ' -f1 ;;
	xxh128) xxhsum -H2 "$2" | cut -d' ' -f1 ;;
	blake2b-512) b2sum "$2" | cut -d' ' -f1 ;;
	*) "${1}sum" "$2" | cut -d' ' -f1 ;;
	esac
}

ALGS="md5 sha1 sha256 sha512 sha3-256 blake2b-512 xxh128"

@test "copy --hash: every algorithm equals its standard tool on the region read, in one pass" {
	img src.img 12M
	truncate -s 12M dst.img
	local src dst
	src=$(loop src.img)
	dst=$(loop dst.img)
	run --separate-stderr "$DMIO" --json --hash="${ALGS// /,}" copy "$src" "$dst"
	assert_success
	[ "$(json .bytes_read)" = $((12 << 20)) ]
	for a in $ALGS; do
		[ "$(json ".regions[0].digests[\"$a\"]")" = "$(sum "$a" src.img)" ] || fail "$a: $output"
	done
	# Only the source has digests: nothing was read back from the copy.
	[ "$(json '.regions[1].digests')" = null ]
	# A part of a device: sectors 2048+4096 (1 MiB on, 2 MiB long).
	dd if=src.img of=part bs=1M skip=1 count=2 status=none
	run --separate-stderr "$DMIO" --json --hash=sha256,xxh128 copy "$src:2048+4096" "$dst:0+4096"
	assert_success
	[ "$(json '.regions[0].digests.sha256')" = "$(sum sha256 part)" ]
	[ "$(json '.regions[0].digests.xxh128')" = "$(sum xxh128 part)" ]
}

# bats test_tags=unprivileged
@test "the status table shows each region's digests" {
	img src.img 2M
	truncate -s 2M dst.img
	run --separate-stderr "$DMIO" --hash=sha256,md5 copy src.img dst.img
	assert_success
	assert_line --regexp "^REGION +MD5 +SHA256$"
	assert_line --regexp "^src.img +$(sum md5 src.img) +$(sum sha256 src.img)$"
}

# bats test_tags=unprivileged
@test "--hash-log: sha256sum -c and cksum -c check it; sizes and windows ride in comments" {
	img src.img 3M
	truncate -s 3M dst.img
	run --separate-stderr "$DMIO" -q --hash=sha256,md5 --hash-window=1M --hash-log=log copy src.img dst.img
	assert_success
	assert_output ""
	run sha256sum -c log
	assert_success
	assert_line "src.img: OK"
	run cksum -c log
	assert_success
	[ "$(grep -c ': OK$' <<<"$output")" = 2 ]
	grep -qx "# size $((3 << 20)) src.img" log
	for w in 0 1 2; do
		dd if=src.img of=w bs=1M skip=$w count=1 status=none
		grep -qx "# window $((w << 20)) $((1 << 20)) sha256 $(sum sha256 w) src.img" log ||
			fail "window $w: $(cat log)"
	done
	# The damage sha256sum -c sees.
	flip_byte src.img 5
	run sha256sum -c log
	assert_failure
}

# bats test_tags=unprivileged
@test "--hash-window: a digest of every window in JSON, the last one short" {
	img src.img 2600K
	truncate -s 2600K dst.img
	run --separate-stderr "$DMIO" --json --hash=sha1 --hash-window=1M copy src.img dst.img
	assert_success
	[ "$(json '.regions[0].windows | length')" = 3 ]
	for w in 0 1 2; do
		dd if=src.img of=w bs=1M skip=$w count=1 status=none
		[ "$(json ".regions[0].windows[$w].offset")" = $((w << 20)) ]
		[ "$(json ".regions[0].windows[$w].digests.sha1")" = "$(sum sha1 w)" ]
	done
	[ "$(json '.regions[0].windows[2].length')" = $(((2600 - 2048) << 10)) ]
}

# bats test_tags=unprivileged
@test "holes of a sparse source are hashed as the zeroes they read as" {
	truncate -s 64M src.img
	head -c 1M /dev/urandom | dd of=src.img bs=1M seek=20 conv=notrunc status=none
	truncate -s 64M dst.img
	run --separate-stderr "$DMIO" --json --hash=sha256 copy src.img dst.img
	assert_success
	[ "$(json .bytes_read)" = $((1 << 20)) ]
	[ "$(json '.regions[0].digests.sha256')" = "$(sum sha256 src.img)" ]
}

# bats test_tags=unprivileged
@test "read --hash and write --hash: what was read, what was written" {
	img src.img 4M
	truncate -s 4M dst.img
	run --separate-stderr "$DMIO" --json --hash=blake2b-512 read -o out src.img
	assert_success
	[ "$(json '.regions[0].digests["blake2b-512"]')" = "$(sum blake2b-512 src.img)" ]
	run --separate-stderr "$DMIO" --json --hash=sha3-256 --hash-log=log -i src.img write dst.img
	assert_success
	[ "$(json '.regions[0].digests["sha3-256"]')" = "$(sum sha3-256 src.img)" ]
	grep -qx "SHA3-256 (dst.img) = $(sum sha3-256 src.img)" log
	grep -qx "# size $((4 << 20)) dst.img" log
	# An empty input: the digest of nothing, of 0 bytes.
	run --separate-stderr "$DMIO" --json --hash=sha256 --hash-log=log0 write dst.img </dev/null
	assert_success
	[ "$(json '.regions[0].digests.sha256')" = "$(sha256sum </dev/null | cut -d' ' -f1)" ]
	grep -qx "# size 0 dst.img" log0
}

@test "verify --hash: each region's digest as read back; a damaged copy's differs" {
	img src.img 4M
	cp src.img a.img
	cp src.img b.img
	flip_byte b.img "$((3 << 20))"
	local a b
	a=$(loop a.img)
	b=$(loop b.img)
	run --separate-stderr "$DMIO" --json --hash=sha256 verify src.img "$a" "$b"
	assert_failure 1
	[ "$(json '.regions[0].digests.sha256')" = "$(sum sha256 src.img)" ]
	[ "$(json '.regions[1].digests.sha256')" = "$(sum sha256 a.img)" ]
	[ "$(json '.regions[1].status')" = ok ]
	[ "$(json '.regions[2].status')" = mismatch ]
}

@test "verify --digest-file: the copy alone is checked against the source's log; a flipped byte is caught" {
	img src.img 4M
	truncate -s 8M backup.img # larger than the source: the log's size says how much
	"$DMIO" -q --hash=sha256,xxh128 --hash-window=1M --hash-log=log copy src.img backup.img:0+4M
	local dev
	dev=$(loop backup.img)
	run --separate-stderr "$DMIO" --json verify --digest-file=log "$dev"
	assert_success
	[ "$(json '.regions[0].count')" = 8192 ]
	[ "$(json '.regions[0].status')" = ok ]
	[ "$(json '.regions[0].digests.sha256')" = "$(json '.regions[0].expected_digests.sha256')" ]
	# One byte in the third MiB.
	flip_byte "$dev" "$(((2 << 20) + 77))"
	run --separate-stderr "$DMIO" --json verify --digest-file=log "$dev"
	assert_failure 1
	[ "$(json '.regions[0].status')" = mismatch ]
	[ "$(json '.regions[0].error')" = "its digest differs; the first window that differs starts at sector 4096" ]
	[ "$(jq -c '.regions[0].differing_windows' <<<"$output")" = "[[4096,2048]]" ]
	[ "$(json '.regions[0].digests.sha256')" != "$(json '.regions[0].expected_digests.sha256')" ]
}

# bats test_tags=unprivileged
@test "verify --digest-file: several entries match by name; a sha256sum file works" {
	img a.img 1M
	img b.img 1M
	sha256sum a.img b.img >sums
	run --separate-stderr "$DMIO" verify --digest-file=sums b.img a.img
	assert_success
	cp a.img b.img
	run --separate-stderr "$DMIO" --json verify --digest-file=sums a.img b.img
	assert_failure 1
	[ "$(json '.regions[0].status')" = ok ]
	[ "$(json '.regions[1].status')" = mismatch ]
	# A length that two algorithms share: held against both, never a guess
	# that calls a good copy damaged.
	b2sum a.img >b2
	run --separate-stderr "$DMIO" verify --digest-file=b2 a.img
	assert_success
	xxhsum -H2 a.img >x2
	openssl dgst -sha3-256 -r a.img >s3
	for f in x2 s3; do
		run --separate-stderr "$DMIO" verify --digest-file=$f a.img
		assert_success
	done
	run --separate-stderr "$DMIO" verify --hash=blake2b-512 --digest-file=b2 a.img
	assert_success
	md5sum a.img >m5
	run --separate-stderr "$DMIO" verify --hash=sha256 --digest-file=m5 a.img
	assert_failure 2
	[ "$stderr" = "dmio: m5:1: a 32-digit digest, not sha256's 64 digits (--hash)" ]
	# No window: the table and JSON do not name a sector.
	flip_byte a.img 4000
	run --separate-stderr "$DMIO" verify --digest-file=sums a.img
	assert_failure 1
	assert_output --regexp "a.img +destination .* mismatch: its digest differs"
	refute_output --partial "at sector"
}

# bats test_tags=unprivileged
@test "verify --digest-file refuses what it cannot check, up front" {
	img a.img 1M
	sha256sum a.img >sums
	run --separate-stderr "$DMIO" verify --digest-file=sums other.img
	assert_failure 2
	img other.img 1M
	printf '%s  a.img\n%s  b.img\n' "$(sum sha256 a.img)" "$(sum sha256 a.img)" >two
	run --separate-stderr "$DMIO" verify --digest-file=two other.img
	assert_failure 2
	[ "$stderr" = "dmio: other.img: no digest for it in two" ]
	printf '# size %d a.img\n' $((2 << 20)) >big
	sha256sum a.img >>big
	run --separate-stderr "$DMIO" verify --digest-file=big a.img
	assert_failure 2
	[ "$stderr" = "dmio: a.img: 1048576 bytes, fewer than the 2097152 of its digest" ]
	# A count that says less (or more) than the digest's size is refused too.
	printf '# size %d a.img\n' $((1 << 20)) >exact
	sha256sum a.img >>exact
	run --separate-stderr "$DMIO" verify --digest-file=exact a.img:0+512K
	assert_failure 2
	[ "$stderr" = "dmio: a.img:0+512K: 524288 bytes, fewer than the 1048576 of its digest" ]
	printf "# size %d a.img\n" $((512 << 10)) >half
	sha256sum a.img >>half
	run --separate-stderr "$DMIO" verify --digest-file=half a.img:0+1M
	assert_failure 2
	[ "$stderr" = "dmio: a.img:0+1M: 1048576 bytes, but its digest is of 524288" ]
	printf 'not a digest\n' >junk
	run --separate-stderr "$DMIO" verify --digest-file=junk a.img
	assert_failure 2
	[ "$stderr" = "dmio: junk:1: not a digest line" ]
	: >empty
	run --separate-stderr "$DMIO" verify --digest-file=empty a.img
	assert_failure 2
	[ "$stderr" = "dmio: empty: no digests in it" ]
}

# bats test_tags=unprivileged
@test "digest options: bad values and misplaced ones are refused with exit 2" {
	img a.img 1M
	run --separate-stderr "$DMIO" --hash=sha256,crc32 read -o /dev/null a.img
	assert_failure 2
	[ "${stderr_lines[0]}" = "dmio: --hash: 'crc32': not md5, sha1, sha256, sha512, sha3-256, blake2b-512 or xxh128" ]
	run --separate-stderr "$DMIO" --hash=sha256 --hash-window=100 read -o /dev/null a.img
	assert_failure 2
	[ "${stderr_lines[0]}" = "dmio: --hash-window: '100': not a multiple of 512 bytes" ]
	run --separate-stderr "$DMIO" --hash-log=x read -o /dev/null a.img
	assert_failure 2
	[ "${stderr_lines[0]}" = "dmio: --hash-log needs --hash" ]
	run --separate-stderr "$DMIO" --digest-file=x copy a.img b.img
	assert_failure 2
	[ "${stderr_lines[0]}" = "dmio: --digest-file is for verify only" ]
	run --separate-stderr "$DMIO" --hash=md5 --keep-going copy a.img b.img
	assert_failure 2
	[ "${stderr_lines[0]}" = "dmio: --hash and --keep-going: a rescue reads bad ranges again, out of order" ]
	run --separate-stderr "$DMIO" --hash=md5 zero a.img
	assert_failure 2
	[ "${stderr_lines[0]}" = "dmio: --hash is for copy, read, write and verify only" ]
	[ ! -e x ]
}

# bats test_tags=unprivileged
@test "--hash refuses a copy that a map resumes: the digest would miss what was copied before" {
	img src.img 4M
	truncate -s 4M dst.img
	run --separate-stderr "$DMIO" -q --map=map copy src.img dst.img
	assert_success
	cp dst.img before
	run --separate-stderr "$DMIO" --hash=sha256 --map=map copy src.img dst.img
	assert_failure 2
	[ "$stderr" = "dmio: map: --hash needs every byte in one pass, but the map says 8192 sectors were copied before" ]
	cmp dst.img before
	# A new map is a whole pass.
	run --separate-stderr "$DMIO" --json --hash=sha256 --map=map2 copy src.img dst.img
	assert_success
	[ "$(json '.regions[0].digests.sha256')" = "$(sum sha256 src.img)" ]
}

@test "--hash-log is never one of the job's files: refused up front, nothing written" {
	img src.img 1M
	img dst.img 1M
	cp src.img src.orig
	cp dst.img dst.orig
	ln -s dst.img link
	for log in src.img dst.img link; do
		run --separate-stderr "$DMIO" --hash=md5 --hash-log=$log copy src.img dst.img
		assert_failure 2
	done
	[ "$stderr" = "dmio: link: the digest log is dst.img's file" ]
	run --separate-stderr "$DMIO" --hash=md5 --hash-log=out -o out read src.img
	assert_failure 2
	[ "$stderr" = "dmio: out: the digest log is the output" ]
	cmp src.img src.orig
	cmp dst.img dst.orig
}

@test "a name with a newline: sha256sum -c reads every line of the log, comments included" {
	img "$(printf 'a\nb')" 1M
	truncate -s 1M dst
	run --separate-stderr "$DMIO" -q --hash=sha256 --hash-window=512K --hash-log=log copy "$(printf 'a\nb')" dst
	assert_success
	run sha256sum -c --strict log
	assert_success
	refute_output --partial "improperly formatted"
	grep -qx '# size 1048576 a\\nb' log
	run --separate-stderr "$DMIO" verify --digest-file=log dst
	assert_success
}

@test "an interrupted run leaves an earlier --hash-log as it was, and says so" {
	img src.img 4M
	truncate -s 4M dst
	echo "earlier" >log
	gate_file src
	gate_close
	"$DMIO" -q --chunk=64K --hash=sha256 --hash-log=log copy "$GATE_FILE" dst >out 2>err 8>&- 9>&- &
	local pid=$! rc=0
	gate_wait
	kill -INT "$pid"
	gate_open
	wait "$pid" || rc=$?
	[ "$rc" = 130 ] || fail "exit $rc: $(cat err)"
	[ "$(cat log)" = earlier ]
	grep -qx "dmio: log: not written: no region was hashed whole" err
}
