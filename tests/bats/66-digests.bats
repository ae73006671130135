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
@test "--hash-window: memory stays bounded whatever the number of windows" {
	truncate -s 512M big
	# 1048576 windows of 512 bytes to a log; 131072 of 4 KiB in JSON.
	/usr/bin/time -f %M -o rss1 "$DMIO" --quiet --hash=md5 --hash-window=512 \
		--hash-log=big.log read -o /dev/null big
	/usr/bin/time -f %M -o rss2 "$DMIO" --json --hash=md5 --hash-window=4K \
		read -o /dev/null big >big.json
	# The log's windows read back, each held against the stream's.
	/usr/bin/time -f %M -o rss3 "$DMIO" --json verify --digest-file=big.log big >verify.json
	local a b c
	a=$(tail -n 1 rss1)
	b=$(tail -n 1 rss2)
	c=$(tail -n 1 rss3)
	[ "$a" -lt 65536 ] || fail "peak RSS ${a} KiB with --hash-log"
	[ "$b" -lt 65536 ] || fail "peak RSS ${b} KiB with --json"
	[ "$c" -lt 65536 ] || fail "peak RSS ${c} KiB with verify --digest-file"
	[ "$(grep -c '^# window ' big.log)" = 1048576 ]
	grep -qx "# window 536870400 512 md5 $(head -c 512 /dev/zero | md5sum | cut -d' ' -f1) big" big.log
	# The first --max-ranges (1000) in JSON, and how many there are.
	[ "$(jq -c '.regions[0] | [(.windows | length), .windows_total, .windows_truncated]' big.json)" = \
		"[1000,131072,true]" ]
	[ "$(jq -r '.regions[0].status' verify.json)" = ok ]
	json_keep "$(cat big.json)"
	json_keep "$(cat verify.json)"
	rm -f big big.log big.json
}

# bats test_tags=unprivileged
@test "--max-ranges bounds the windows in JSON, and verify --digest-file's differing windows" {
	img src.img 1M
	run --separate-stderr "$DMIO" --json --hash=sha256 --hash-window=64K --max-ranges=3 \
		--hash-log=log read -o /dev/null src.img
	assert_success
	[ "$(json '.regions[0] | [(.windows | length), .windows_total, .windows_truncated] | tojson')" = \
		"[3,16,true]" ]
	[ "$(json '.regions[0].windows[2].offset')" = $((128 << 10)) ]
	[ "$(grep -c '^# window ' log)" = 16 ]
	# Three windows damaged: two listed, three counted, the first named.
	for at in 70000 300000 900000; do flip_byte src.img $at; done
	run --separate-stderr "$DMIO" --json --max-ranges=2 verify --digest-file=log src.img
	assert_failure 1
	[ "$(json '.regions[0].differing_windows | tojson')" = "[[128,128],[512,128]]" ]
	[ "$(json '.regions[0] | [.differing_windows_total, .differing_windows_truncated] | tojson')" = \
		"[3,true]" ]
	[ "$(json '.regions[0].error')" = "its digest differs; the first window that differs starts at sector 128" ]
	run --separate-stderr "$DMIO" --json verify --digest-file=log src.img
	[ "$(json '.regions[0] | [(.differing_windows | length), .differing_windows_truncated] | tojson')" = \
		"[3,false]" ]
	# Windows out of order: refused, as a window cannot be found again.
	{ grep -v '^# window 65536 ' log; grep '^# window 65536 ' log; } >shuffled
	run --separate-stderr "$DMIO" verify --digest-file=shuffled src.img
	assert_failure 2
	[[ $stderr == "dmio: shuffled:"*": a window out of order" ]] || fail "$stderr"
	run --separate-stderr "$DMIO" --max-ranges=2 copy src.img src2.img
	assert_failure 2
	[ "${stderr_lines[0]}" = "dmio: --max-ranges needs verify or --hash-window" ]
}

@test "--hash-log of a verify whose destination fails: its windows stay out, the others' are in" {
	img src.img 1M
	cp src.img a.img
	local bad
	bad=$(bad_dev bad 1M pread 1500 1)
	dd if=src.img of="$bad" bs=64K status=none
	run --separate-stderr "$DMIO" -q --hash=md5 --hash-window=64K --hash-log=log verify src.img a.img "$bad"
	assert_failure 3
	[ "$(grep -c '^# window .* src.img$' log)" = 16 ]
	[ "$(grep -c '^# window .* a.img$' log)" = 16 ]
	! grep -q "$bad" log || fail "the failed destination is in the log: $(grep "$bad" log | head -3)"
	run --separate-stderr "$DMIO" verify --digest-file=log a.img
	assert_success
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

# bats test_tags=unprivileged
@test "write: a destination filled to its end gets its digest, beside a longer one" {
	truncate -s 1M w1 w2
	head -c $((150 * 512)) /dev/urandom >in
	run --separate-stderr "$DMIO" --json --hash=sha256 -i in write w1:0+100 w2:0+200
	assert_failure 3
	[ "$(json '.regions[0].status')" = ok ]
	[ "$(json '.regions[0].sectors_done')" = 100 ]
	local want
	want=$(head -c $((100 * 512)) in | sha256sum | cut -d' ' -f1)
	# As when it is written alone (it is, there).
	[ "$(json '.regions[0].digests.sha256')" = "$want" ] ||
		fail "w1, written to its end, has no digest: $(json '.regions[0]')"
	[ "$(json '.regions[1].digests.sha256')" = "$(sha256sum <in | cut -d' ' -f1)" ]
	# The log: each its own size and windows; verify reads w1 back.
	run --separate-stderr "$DMIO" -q --hash=sha256 --hash-window=16K --hash-log=log -i in \
		write w1:0+100 w2:0+200
	assert_failure 3
	grep -qx "# size $((100 * 512)) w1:0+100" log
	grep -qx "SHA256 (w1:0+100) = $want" log
	grep -qx "# size $((150 * 512)) w2:0+200" log
	[ "$(grep -c '^# window .* w1:0+100$' log)" = 4 ]
	grep -qx "# window 49152 2048 sha256 $(tail -c +49153 in | head -c 2048 | sha256sum | cut -d' ' -f1) w1:0+100" log
	run --separate-stderr "$DMIO" verify --digest-file=log w1:0+100
	assert_success
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
@test "verify --digest-file: regions of different sizes, each its own entry's length (no source sizes them)" {
	img a.img 1M
	img b.img 2M
	"$DMIO" --hash=sha256 --hash-log=la read a.img -o /dev/null
	"$DMIO" --hash=sha256 --hash-log=lb read b.img -o /dev/null
	cat la lb >log
	run --separate-stderr "$DMIO" --json verify --digest-file=log a.img b.img
	assert_success
	[ "$(json '[.regions[].count] | join(",")')" = "2048,4096" ]
	[ "$(json '[.regions[].role] | join(",")')" = "destination,destination" ]
	# An explicit count is held against the entry's size, not a source's.
	"$DMIO" --hash=sha256 --hash-log=lb read b.img:0+4096 -o /dev/null
	cat la lb >log
	run --separate-stderr "$DMIO" verify --digest-file=log a.img b.img:0+4096
	assert_success
	sed 's/b.img:0+4096/b.img:0+2048/' log >log2
	run --separate-stderr "$DMIO" verify --digest-file=log2 a.img b.img:0+2048
	assert_failure 2
	[ "$stderr" = "dmio: b.img:0+2048: 1048576 bytes, fewer than the 2097152 of its digest" ]
}

# bats test_tags=unprivileged
@test "verify --digest-file: each destination is checked over its own entry's length" {
	img a 3M
	img b 5M
	# A sha256sum file: no sizes; each destination to its end.
	sha256sum a b >sums
	run --separate-stderr "$DMIO" --json verify --digest-file=sums a b
	assert_success
	[ "$(json '[.regions[] | .count] | tojson')" = "[6144,10240]" ]
	# dmio's own logs: each entry's size.
	"$DMIO" --quiet --hash=sha256 --hash-log=a.log read -o /dev/null a
	"$DMIO" --quiet --hash=sha256 --hash-log=b.log read -o /dev/null b
	cat a.log b.log >both.log
	run --separate-stderr "$DMIO" --json verify --digest-file=both.log a b
	assert_success
	[ "$(json '[.regions[] | .status] | tojson')" = '["ok","ok"]' ]
	run --separate-stderr "$DMIO" --json verify --digest-file=both.log b a
	assert_success
	[ "$(json '[.regions[] | .count] | tojson')" = "[10240,6144]" ]
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
	# 0 is a multiple of 512: what is wrong with it is that it is empty.
	run --separate-stderr "$DMIO" --hash=sha256 --hash-window=0 read -o /dev/null a.img
	assert_failure 2
	[ "${stderr_lines[0]}" = "dmio: --hash-window: '0': an empty window: 512 bytes at least" ]
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
	[ "$stderr" = "dmio: map: --hash needs every byte in one pass, but the map says the first 8192 sectors were copied to every destination before" ]
	cmp dst.img before
	# A new map is a whole pass.
	run --separate-stderr "$DMIO" --json --hash=sha256 --map=map2 copy src.img dst.img
	assert_success
	[ "$(json '.regions[0].digests.sha256')" = "$(sum sha256 src.img)" ]
	# Two destinations: the pass skips what both have (4096), however far
	# the other is; when one has nothing, it reads all, and may hash.
	truncate -s 4M d2.img
	run --separate-stderr "$DMIO" -q --map=map3 copy src.img dst.img d2.img
	assert_success
	sed -i 's/^done 1 0 8192$/done 1 0 4096/' map3
	run --separate-stderr "$DMIO" --hash=sha256 --map=map3 copy src.img dst.img d2.img
	assert_failure 2
	[ "$stderr" = "dmio: map3: --hash needs every byte in one pass, but the map says the first 4096 sectors were copied to every destination before" ]
	sed -i '/^done 1 /d' map3
	run --separate-stderr "$DMIO" --json --hash=sha256 --map=map3 copy src.img dst.img d2.img
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

# bats test_tags=unprivileged
@test "--hash-log=/dev/stdout while read writes its data to stdout: refused, the data intact" {
	img src 1M
	# As -o out --hash-log=out is: the log would replace the data in out
	# (opened with O_TRUNC at the end), and exit 0.
	local st=0
	"$DMIO" --hash=md5 --hash-log=/dev/stdout read src >out 2>err || st=$?
	[ "$st" = 2 ] || fail "status $st; out holds $(stat -c %s out) bytes, not the data: $(head -c 100 out)"
	[ ! -s out ]
	[ "$(cat err)" = "dmio: /dev/stdout: the digest log is standard output, which carries read's data" ]
	# Over a pipe, the log's lines would be appended to the data.
	local n
	n=$("$DMIO" --quiet --hash=md5 --hash-log=/dev/stdout read src 2>/dev/null | wc -c) || true
	[ "$n" != $(((1 << 20) + 89)) ] || fail "the digest log went into read's data on the pipe"
	# The report would overwrite the log; with -q and no --json, stdout
	# is the log's alone.
	truncate -s 1M dst
	st=0
	"$DMIO" --json --hash=md5 --hash-log=/dev/stdout copy src dst >rep 2>err || st=$?
	[ "$st" = 2 ] || fail "status $st: $(cat rep)"
	[ "$(jq -r .error rep)" = "/dev/stdout: the digest log is standard output, which carries the report" ]
	cmp -s src dst && fail "dst written by a refused run"
	"$DMIO" -q --hash=md5 --hash-log=/dev/stdout copy src dst >log
	grep -qx "MD5 (src) = $(sum md5 src)" log
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
	img src 32M
	truncate -s 32M dst
	echo "earlier" >log
	"$DMIO" -q --rate=4M --hash=sha256 --hash-log=log copy src dst >out 2>err &
	local pid=$! rc=0
	sleep 1
	kill -INT "$pid"
	wait "$pid" || rc=$?
	[ "$rc" = 130 ] || fail "exit $rc: $(cat err)"
	[ "$(cat log)" = earlier ]
	grep -qx "dmio: log: not written: no region was hashed whole" err
}
