#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# copy --keep-going, as ddrescue: a source that fails reads at chosen
# sectors (nbdkit's eval plugin, served over NBD or attached as a loop
# device) is copied around them, the bad sectors are zeroes on every
# destination and listed in the JSON report and the --map; a rerun with the
# map reads only the bad ranges (the server logs every read), and once they
# heal the copy completes; --retries reads them again within a run.
load helper

# rescue_eval NAME SIZE: an nbdkit eval plugin over the file $T/NAME.img of
# SIZE random bytes (kept in $T/NAME.data too).  A read fails with EIO when
# it touches a sector listed in $T/NAME.bad (one a line; emptied, they
# heal).  $T/NAME.flaky may hold "SECTOR K": reads of more than that sector
# always fail, and its first K reads alone.  $T/NAME.gone may hold
# "SECTOR ERRNO": reads that reach that sector fail with ERRNO (ESHUTDOWN,
# ENOMEM: not the medium's).  Every read is logged to $T/NAME.reads as
# "OFFSET COUNT" (bytes).  The arguments in RESCUE_EVAL.
rescue_eval() {
	local name=$1 d=$T/$1
	head -c "$2" /dev/urandom >"$d.img"
	cp "$d.img" "$d.data"
	: >"$d.bad"
	: >"$d.reads"
	cat >"$d.sh" <<EOF
#!/bin/sh
# pread HANDLE COUNT OFFSET FLAGS
echo "\$4 \$3" >>'$d.reads'
s=\$((\$4 / 512)) e=\$(((\$4 + \$3 + 511) / 512))
fail() { echo 'EIO injected by the test' >&2; exit 1; }
while read -r b; do
	[ "\$b" -lt "\$s" ] || [ "\$b" -ge "\$e" ] || fail
done <'$d.bad'
if [ -s '$d.gone' ]; then
	read -r gs ge <'$d.gone'
	[ "\$e" -le "\$gs" ] || { echo "\$ge injected by the test" >&2; exit 1; }
fi
if [ -s '$d.flaky' ]; then
	read -r fs fk <'$d.flaky'
	if [ "\$fs" -ge "\$s" ] && [ "\$fs" -lt "\$e" ]; then
		[ "\$3" -eq 512 ] || fail
		c=\$((\$(cat '$d.count' 2>/dev/null || echo 0) + 1))
		echo \$c >'$d.count'
		[ \$c -gt "\$fk" ] || fail
	fi
fi
exec dd if='$d.img' iflag=skip_bytes,count_bytes skip=\$4 count=\$3 status=none
EOF
	RESCUE_EVAL=(eval get_size="echo $(stat -c %s "$d.img")" pread="sh '$d.sh' \"\$@\"")
}

# rescue_server NAME SIZE: that source served over NBD; its URI in $NBD.
rescue_server() {
	rescue_eval "$@"
	nbd_server "$1" "${RESCUE_EVAL[@]}"
}

# bad NAME SECTOR[+COUNT]...: the sectors that fail from now on.
bad() {
	local name=$1 r
	shift
	: >"$T/$name.bad"
	for r in "$@"; do
		seq "${r%+*}" $((${r%+*} + ${r#*+} - 1)) >>"$T/$name.bad"
	done
}

# expect NAME OUT SECTOR+COUNT...: OUT is NAME's data with zeroes at those
# sectors.
expect() {
	local name=$1 out=$2 r
	shift 2
	cp "$T/$name.data" "$out"
	for r in "$@"; do
		dd if=/dev/zero of="$out" bs=512 seek="${r%+*}" count="${r#*+}" conv=notrunc status=none
	done
}

# reads_within NAME SECTOR+COUNT...: every read the server logged is inside
# one of these ranges, and each range was read.
reads_within() {
	local name=$1
	shift
	[ -s "$T/$name.reads" ] || fail "no reads logged"
	awk -v ranges="$*" '
		BEGIN { n = split(ranges, r, " ")
			for (i = 1; i <= n; i++) { split(r[i], p, "+"); s[i] = p[1]; e[i] = p[1] + p[2] } }
		{ a = $1 / 512; b = ($1 + $2) / 512; ok = 0
		  for (i = 1; i <= n; i++) if (a >= s[i] && b <= e[i]) { ok = 1; seen[i] = 1 }
		  if (!ok) { print "a read outside the bad ranges: " $0; bad = 1 } }
		END { for (i = 1; i <= n; i++) if (!seen[i]) { print "not read: " r[i]; bad = 1 }
		      exit bad }' "$T/$name.reads"
}

# jsonc FILTER: jq's compact output of FILTER on the JSON document in $output.
jsonc() {
	jq -c "$1" <<<"$output"
}

BAD="1000+3 2048+128 5000+1 8191+1"

# The first run over a 4 MiB source with bad sectors: two destinations,
# b at an offset, both full of other data; the map in m.
first_run() {
	rescue_server src 4M
	# shellcheck disable=SC2086
	bad src $BAD
	img a 4M
	img b 5M
	run -3 --separate-stderr "$DMIO" --json --keep-going --chunk=64K --map m \
		copy "$NBD" a b:100
}

@test "--keep-going: every readable sector copied, zeroes at the bad ones, each listed; exit 3" {
	first_run
	[ "$(json .read_error)" = true ]
	[ "$(json .error_bits)" = 0 ]
	[ "$(json '.regions[0].status')" = error ]
	[ "$(json '.regions[0].error')" = "read: Input/output error at sector 1000" ]
	[ "$(json '.regions[0].sectors_done')" = 8192 ]
	[ "$(json '.regions[0].bad_sectors')" = 133 ]
	[ "$(jsonc '.regions[0].bad_ranges')" = "[[1000,3],[2048,128],[5000,1],[8191,1]]" ]
	# The destinations have all of it: the data, and zeroes where there was none.
	for i in 1 2; do
		[ "$(json ".regions[$i].status")" = ok ]
		[ "$(json ".regions[$i].sectors_done")" = 8192 ]
		[ "$(json ".regions[$i].bad_sectors")" = 133 ]
	done
	[ "$(jsonc '.regions[2].bad_ranges')" = "[[1100,3],[2148,128],[5100,1],[8291,1]]" ]
	# shellcheck disable=SC2086
	expect src want $BAD
	cmp want a
	same_range want 0 b $((100 * 512)) $((4 << 20))
	# The map says where.
	[ "$(head -1 m)" = "dmio-map 3" ]
	[ "$(grep '^bad ' m | tr '\n' ,)" = "bad 1000 3,bad 2048 128,bad 5000 1,bad 8191 1," ]
	grep -qx "done 0 0 8192" m
	grep -qx "done 1 0 8192" m
	! grep -q "^failed" m
}

@test "--keep-going: the table says how many sectors are unreadable, and zeroes where" {
	rescue_server src 1M
	bad src 7+2
	img a 1M
	run -3 --separate-stderr "$DMIO" --keep-going copy "$NBD" a
	assert_line --partial "error: read: Input/output error at sector 7; 2 sectors unreadable"
	assert_line --partial "ok; 2 sectors of zeroes, unreadable on the source"
	expect src want 7+2
	cmp want a
}

@test "a rerun with the map reads only the bad ranges; healed, the copy completes: exit 0" {
	first_run
	bad src
	: >"$T/src.reads"
	run --separate-stderr "$DMIO" --json --chunk=64K --map m copy "$NBD" a b:100
	assert_success
	# shellcheck disable=SC2086
	reads_within src $BAD
	[ "$(json .bytes)" = $((133 * 512)) ]
	[ "$(json .read_error)" = false ]
	for i in 0 1 2; do
		[ "$(json ".regions[$i].status")" = ok ]
		[ "$(json ".regions[$i].bad_sectors")" = 0 ]
	done
	cmp src.data a
	same_range src.data 0 b $((100 * 512)) $((4 << 20))
	[ "$(head -1 m)" = "dmio-map 2" ]
	! grep -q "^bad " m
	# Nothing left: a third run reads nothing.
	: >"$T/src.reads"
	run --separate-stderr "$DMIO" --json --map m copy "$NBD" a b:100
	assert_success
	[ "$(json .bytes)" = 0 ]
	[ ! -s "$T/src.reads" ]
}

@test "a rerun whose sectors are still bad reads only those; without --keep-going it stops at the first" {
	first_run
	bad src 1001+1 5000+1
	: >"$T/src.reads"
	run -3 --separate-stderr "$DMIO" --json --keep-going --chunk=64K --map m copy "$NBD" a b:100
	# shellcheck disable=SC2086
	reads_within src $BAD
	[ "$(jsonc '.regions[0].bad_ranges')" = "[[1001,1],[5000,1]]" ]
	[ "$(json .bytes)" = $((133 * 512)) ]
	expect src want 1001+1 5000+1
	cmp want a
	[ "$(grep '^bad ' m | tr '\n' ,)" = "bad 1001 1,bad 5000 1," ]
	# Without --keep-going: the first that still fails stops the run; what
	# is recorded stays, and the destinations say what they hold.
	bad src 5000+1
	: >"$T/src.reads"
	run -3 --separate-stderr "$DMIO" --json --chunk=64K --map m copy "$NBD" a b:100
	reads_within src 1001+1 5000+1
	[ "$(json '.regions[0].status')" = error ]
	[ "$(json '.regions[0].error')" = "read: Input/output error at sector 5000" ]
	[ "$(jsonc '.regions[0].bad_ranges')" = "[[5000,1]]" ]
	for i in 1 2; do
		[ "$(json ".regions[$i].status")" = ok ]
		[ "$(json ".regions[$i].bad_sectors")" = 1 ]
	done
	expect src want 5000+1
	cmp want a
	[ "$(grep '^bad ' m)" = "bad 5000 1" ]
}

@test "--retries: a sector whose first read alone fails is read again by a second pass" {
	rescue_server src 2M
	echo "3000 1" >"$T/src.flaky"
	img a 2M
	run -3 --separate-stderr "$DMIO" --json --keep-going --chunk=64K copy "$NBD" a
	[ "$(jsonc '.regions[0].bad_ranges')" = "[[3000,1]]" ]
	rm "$T/src.count"
	img a 2M
	run --separate-stderr "$DMIO" --json --keep-going --retries=1 --chunk=64K copy "$NBD" a
	assert_success
	[ "$(json '.regions[0].status')" = ok ]
	[ "$(jsonc '.regions[0].bad_ranges')" = "[]" ]
	cmp src.data a
	# Two failures alone: one more pass is not enough, two are.
	echo "3000 2" >"$T/src.flaky"
	rm "$T/src.count"
	run -3 --separate-stderr "$DMIO" --json --keep-going --retries=1 --chunk=64K copy "$NBD" a
	[ "$(jsonc '.regions[0].bad_ranges')" = "[[3000,1]]" ]
	[ "$(cat "$T/src.count")" = 2 ]
	rm "$T/src.count"
	run --separate-stderr "$DMIO" --json --keep-going --retries=2 --chunk=64K copy "$NBD" a
	assert_success
	[ "$(cat "$T/src.count")" = 3 ]
	cmp src.data a
}

@test "without --keep-going a source read error still stops the copy there" {
	rescue_server src 4M
	bad src 5000+1
	img a 4M
	cp a a.orig
	run -3 --separate-stderr "$DMIO" --json --chunk=64K copy "$NBD" a
	[ "$(json '.regions[0].error')" = "read: Input/output error at sector 5000" ]
	[ "$(json '.regions[0] | has("bad_sectors") or has("bad_ranges")')" = false ]
	[ "$(json '.regions[1].status')" = stopped ]
	[ "$(json '.regions[1].sectors_done')" = 5000 ]
	same_range src.data 0 a 0 $((5000 * 512))
	same_range a.orig $((5000 * 512)) a $((5000 * 512)) $(((8192 - 5000) * 512))
}

@test "--keep-going: an error that is not the medium's stops the copy there, nothing zeroed past it" {
	local e
	for e in ESHUTDOWN ENOMEM; do
		rescue_server "src$e" 4M
		bad "src$e" 1000+3
		echo "5000 $e" >"src$e.gone"
		# A good mirror: it holds the source's data already.
		cp "src$e.data" a
		run -3 --separate-stderr "$DMIO" --json --keep-going --chunk=64K copy "$NBD" a
		[ "$(json '.regions[0].status')" = error ]
		[[ "$(json '.regions[0].error')" == "read: "*" at sector 5000" ]] || fail "$e: $output"
		[ "$(jsonc '.regions[0].bad_ranges')" = "[[1000,3]]" ]
		[ "$(json '.regions[1].status')" = stopped ]
		[ "$(json '.regions[1].sectors_done')" = 5000 ]
		[ "$(json '.regions[1].error')" = "the source failed at sector 5000" ]
		# Zeroes at the bad sectors only; the rest is the source's still.
		expect "src$e" want 1000+3
		cmp want a || fail "$e: zeroes past sector 5000"
	done
}

@test "--keep-going: a source connection lost mid-copy does not zero the rest of a good mirror" {
	img src 16M
	cp src mirror
	nbd_server s --filter=delay file "$T/src" delay-read=100ms
	local uri=$NBD
	(
		i=0
		until grep -q '^done 0 ' map 2>/dev/null; do
			i=$((i + 1))
			[ $i -lt 600 ] || exit 1
			sleep 0.05
		done
		kill "$(cat "$T/s.pid")"
	) &
	local killer=$!
	run --separate-stderr "$DMIO" --json --keep-going --chunk=256K --map=map copy "$uri" mirror
	wait "$killer" || fail "the map recorded no progress in 30 s"
	assert_failure 3
	# Not a bad sector: the server went away.  The mirror held the
	# source's data; after the run it must still (no zeroes written for
	# sectors that were never read).
	cmp src mirror || fail "the mirror was zeroed past the lost connection: \
$(json '.regions[] | [.status, .sectors_done, .bad_sectors] | tojson')"
	[ "$(json '.regions[0].bad_sectors')" = 0 ]
	[ "$(json '.regions[1].status')" = stopped ]
}

@test "--keep-going on a block device source: past requests the kernel merged with a bad one" {
	rescue_eval dev 4M
	bad dev 1000+2 4000+1
	local src
	src=$(nbd_dev devfs "${RESCUE_EVAL[@]}")
	img a 4M
	run -3 --separate-stderr "$DMIO" --json --keep-going copy "$src" a
	[ "$(jsonc '.regions[0].bad_ranges')" = "[[1000,2],[4000,1]]" ]
	[ "$(json '.regions[1].status')" = ok ]
	expect dev want 1000+2 4000+1
	cmp want a
}

@test "a destination that failed beside bad source sectors: the rerun gives each what it lacks" {
	rescue_server src 2M
	bad src 3000+1
	img a 2M
	touch inject
	local dev
	dev=$(nbd_dev bad --filter=error memory 2M error-pwrite=EIO error-pwrite-rate=100% \
		error-pwrite-file="$T/inject")
	run -3 --separate-stderr "$DMIO" --json --keep-going --map m copy "$NBD" a "$dev"
	[ "$(json .error_bits)" = 2 ]
	[ "$(json '.regions[1].bad_sectors')" = 1 ]
	[ "$(json '.regions[2].status')" = error ]
	[ "$(json '.regions[2].bad_sectors')" = 0 ]
	grep -qx "bad 3000 1" m
	rm inject
	bad src
	run --separate-stderr "$DMIO" --json --keep-going --map m copy "$NBD" a "$dev"
	assert_success
	cmp src.data a
	cmp src.data <(dd if="$dev" bs=1M count=2 iflag=direct status=none)
	! grep -q "^bad " m
}

@test "--keep-going is for copy only; --retries needs it; bad values refused; nothing written" {
	img a 1M
	cp a a.orig
	for args in "verify a a" "read a" "write a" "zero a"; do
		# shellcheck disable=SC2086
		run -2 --separate-stderr "$DMIO" --keep-going $args
		[ "$stderr" = "dmio: --keep-going is for copy only
Try 'dmio --help' for more information." ] || fail "$args: $stderr"
	done
	img src 1M
	run -2 --separate-stderr "$DMIO" --retries=1 copy src a
	[[ $stderr == "dmio: --retries needs --keep-going"* ]]
	for v in x -1 101 ""; do
		run -2 --separate-stderr "$DMIO" --keep-going --retries="$v" copy src a
		[[ $stderr == "dmio: --retries: '$v': not a number from 0 to 100"* ]] || fail "$v: $stderr"
	done
	cmp a a.orig
}

@test "a map's bad lines: version 3 only, inside the source" {
	img src 1M
	img a 1M
	run "$DMIO" --map m copy src a
	assert_success
	cp a a.orig
	local head
	head=$(sed -n 2,3p m)
	for bad in "dmio-map 2
$head
bad 0 1" "dmio-map 3
$head
bad 2047 2" "dmio-map 3
$head
bad 5 0" "dmio-map 3
bad 5 1
$head"; do
		printf '%s\n' "$bad" >m
		run -2 --separate-stderr "$DMIO" --map m copy src a
		[[ $stderr == "dmio: m:"*"invalid map: "* ]] || fail "'$bad': $stderr"
		cmp a a.orig
	done
	# A good one: the range is read again and written, nothing else.
	printf '%s\n' "dmio-map 3" "$head" "done 0 0 2048" "bad 10 2" >m
	printf 'XXXX' | dd of=a bs=1 seek=$((10 * 512)) conv=notrunc status=none
	run --separate-stderr "$DMIO" --json --map m copy src a
	assert_success
	[ "$(json .bytes)" = 1024 ]
	cmp src a
	[ "$(head -1 m)" = "dmio-map 2" ]
}
