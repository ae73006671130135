#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# Incremental copies with real qemu: a qcow2 image, a full first copy, a
# persistent dirty bitmap (qemu-img bitmap), guest-like writes and a
# discard through qemu-io, then copy --dirty-bitmap from qemu-nbd -B onto
# the first copy: the backup equals a fresh full export, and qemu-nbd's own
# trace of the data it sent proves that only the dirty extents were read.
load helper

# bitmap_server NAME IMAGE BITMAP: qemu-nbd serving the qcow2 IMAGE with
# its dirty bitmap BITMAP (-B) on $T/NAME.sock to several clients, every
# data reply it sends traced to $T/NAME.trace; killed in teardown; its URI
# in $NBD.
bitmap_server() {
	rm -f "$T/$1.sock" "$T/$1.trace" "$T/$1.pid"
	# Not --fork: a daemon's trace would go nowhere.
	qemu-nbd --persistent --shared=8 --pid-file="$T/$1.pid" -k "$T/$1.sock" \
		-f qcow2 -B "$3" --trace nbd_co_send_structured_read "$2" 2>>"$T/$1.trace" &
	echo "$!" >"$T/$1.pid.tmp"
	echo "$T/$1.pid.tmp" >>"$T/.servers"
	local i=0
	until [ -S "$T/$1.sock" ]; do
		i=$((i + 1))
		[ $i -lt 100 ] && kill -0 "$(cat "$T/$1.pid.tmp")" 2>/dev/null ||
			fail "qemu-nbd did not start: $(cat "$T/$1.trace")"
		sleep 0.05
	done
	NBD="nbd+unix:///?socket=$T/$1.sock"
}

# served NAME: the bytes of data the server NAME has sent so far.
served() {
	awk '/nbd_co_send_structured_read / { for (i = 1; i <= NF; i++) if ($i == "len")
		{ v = $(i + 2); gsub(",", "", v); s += v } } END { print s + 0 }' "$T/$1.trace"
}

# dirty URI BITMAP: the bytes the bitmap marks dirty, as nbdinfo reads it.
dirty_total() {
	nbdinfo --map="qemu:dirty-bitmap:$2" "$1" | awk '$3 == 1 { s += $2 } END { print s + 0 }'
}

# disk_with_backup: disk.qcow2 (64 MiB, data in most of it) and backup,
# a full copy of it made by dmio; then the bitmap b0, and guest writes.
disk_with_backup() {
	qemu-img create -q -f qcow2 disk.qcow2 64M
	qemu-io -f qcow2 -c 'write -P 0x11 0 24M' -c 'write -P 0x22 32M 16M' disk.qcow2 >/dev/null
	qemu_server full disk.qcow2 qcow2
	truncate -s 64M backup
	"$DMIO" -q copy "$NBD" backup
	server_stop full
	qemu-img bitmap --add --enable disk.qcow2 b0
	qemu-io -f qcow2 -c 'write -P 0x5a 1M 64k' -c 'write -P 0x5b 10M 192k' \
		-c 'write -P 0x5c 33M 64k' -c 'write -P 0x5d 60M 128k' \
		-c 'discard 40M 1M' disk.qcow2 >/dev/null
	qemu-img convert -O raw disk.qcow2 want.raw
}

@test "copy --dirty-bitmap: only the dirty extents are read; the backup equals a fresh export" {
	disk_with_backup
	bitmap_server inc disk.qcow2 b0
	local dirty
	dirty=$(dirty_total "$NBD" b0)
	[ "$dirty" -gt 0 ] && [ "$dirty" -lt $((4 << 20)) ] || fail "dirty $dirty"
	run --separate-stderr "$DMIO" --json copy --dirty-bitmap=b0 "$NBD" backup
	assert_success
	cmp backup want.raw
	[ "$(json .dirty_bytes)" = "$dirty" ]
	[ "$(json .dirty_extents)" -ge 5 ]
	# What was read is what is dirty and data; the discarded MiB is
	# written as zeroes, not read.
	[ "$(json .bytes_read)" -le "$dirty" ]
	[ "$(json .bytes_zeroed)" -ge $((1 << 20)) ]
	local sent
	sent=$(served inc)
	[ "$sent" -le "$dirty" ] || fail "the server sent $sent bytes, $dirty are dirty"
	[ "$sent" = "$(json .bytes_read)" ] || fail "sent $sent, read $(json .bytes_read)"
	[ "$(json '.regions[1].sectors_done')" = $((64 << 11)) ]
	# verify --dirty-bitmap compares the dirty extents only.
	run --separate-stderr "$DMIO" --json verify --dirty-bitmap=b0 "$NBD" backup
	assert_success
	[ "$(json .bytes_read)" -le $((2 * dirty)) ]
}

@test "copy --dirty-bitmap: an empty bitmap reads nothing, writes nothing, exit 0" {
	qemu-img create -q -f qcow2 disk.qcow2 16M
	qemu-io -f qcow2 -c 'write -P 0x33 0 16M' disk.qcow2 >/dev/null
	qemu-img bitmap --add --enable disk.qcow2 b0
	qemu-img convert -O raw disk.qcow2 backup
	cp backup backup.before
	bitmap_server inc disk.qcow2 b0
	run --separate-stderr "$DMIO" --json copy --dirty-bitmap=b0 "$NBD" backup
	assert_success
	[ "$(json .dirty_bytes)" = 0 ]
	[ "$(json .bytes_read)" = 0 ]
	[ "$(json .bytes_written)" = 0 ]
	[ "$(served inc)" = 0 ]
	cmp backup backup.before
}

@test "--dirty-bitmap refusals: no such bitmap, a source that is not NBD, --hash; nothing written" {
	qemu-img create -q -f qcow2 disk.qcow2 16M
	qemu-img bitmap --add --enable disk.qcow2 b0
	img backup 16M
	cp backup backup.before
	bitmap_server inc disk.qcow2 b0
	# info says what the server offers.
	run --separate-stderr "$DMIO" --json info "$NBD"
	assert_success
	[ "$(json '.regions[0].meta_contexts | join(",")')" = "base:allocation,qemu:dirty-bitmap:b0" ]
	run --separate-stderr "$DMIO" --json copy --dirty-bitmap=nosuch "$NBD" backup
	assert_failure 2
	[[ $(json .error) == *"no dirty bitmap nosuch"*"qemu:dirty-bitmap:b0"* ]] || fail "$(json .error)"
	qemu-img convert -U -O raw disk.qcow2 raw.img
	run --separate-stderr "$DMIO" copy --dirty-bitmap=b0 raw.img backup
	assert_failure 2
	[[ $stderr == *"raw.img: --dirty-bitmap needs an NBD export as the source"* ]] || fail "$stderr"
	run --separate-stderr "$DMIO" copy --dirty-bitmap=b0 --hash=sha256 "$NBD" backup
	assert_failure 2
	[[ $stderr == *"--hash and --dirty-bitmap: only the dirty extents are read"* ]] || fail "$stderr"
	run --separate-stderr "$DMIO" zero --dirty-bitmap=b0 backup
	assert_failure 2
	[[ $stderr == *"--dirty-bitmap is for copy and verify only"* ]] || fail "$stderr"
	# An export with no bitmaps at all.
	nbd_server plain memory 16M
	run --separate-stderr "$DMIO" copy --dirty-bitmap=b0 "$NBD" backup
	assert_failure 2
	[[ $stderr == *"no dirty bitmap b0"* ]] || fail "$stderr"
	cmp backup backup.before
	[ "$(served inc)" = 0 ]
}

@test "--dry-run --dirty-bitmap: the dirty extents' count and total, nothing read or written" {
	disk_with_backup
	cp backup backup.before
	bitmap_server inc disk.qcow2 b0
	local dirty
	dirty=$(dirty_total "$NBD" b0)
	run --separate-stderr "$DMIO" --json --dry-run copy --dirty-bitmap=b0 "$NBD" backup
	assert_success
	[ "$(json .dirty_bytes)" = "$dirty" ]
	[ "$(json '.regions[1].status')" = planned ]
	run --separate-stderr "$DMIO" --dry-run copy --dirty-bitmap=b0 "$NBD" backup
	assert_success
	assert_output --regexp "dirty bitmap b0: [0-9]+ extents, $dirty bytes"
	cmp backup backup.before
	[ "$(served inc)" = 0 ]
}

@test "--dirty-bitmap with --map: an interrupted incremental copy resumes; a changed bitmap is refused" {
	disk_with_backup
	bitmap_server inc disk.qcow2 b0
	local dirty
	dirty=$(dirty_total "$NBD" b0)
	# Slowly, so that SIGINT finds it mid-copy; chunks of 16 KiB at 64 KiB/s.
	"$DMIO" --json --map=m --chunk=16K --rate=64K copy --dirty-bitmap=b0 "$NBD" backup \
		>out 2>err &
	local pid=$! i=0
	until grep -q '^done 0 ' m 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 300 ] || fail "no progress in the map: $(cat err)"
		sleep 0.05
	done
	kill -INT "$pid"
	wait "$pid" || true
	[ "$(jq -r '.regions[1].status' out)" = interrupted ]
	grep -q '^dmio-map 4$' m
	grep -q "^dirty b0 " m
	run --separate-stderr "$DMIO" --json --map=m copy --dirty-bitmap=b0 "$NBD" backup
	assert_success
	cmp backup want.raw
	[ "$(json .bytes_read)" -lt "$dirty" ]
	# The bitmap marks more now: the map is refused, nothing is written.
	server_stop inc
	qemu-io -f qcow2 -c 'write -P 0x77 50M 64k' disk.qcow2 >/dev/null
	bitmap_server inc disk.qcow2 b0
	cp backup backup.before
	run --separate-stderr "$DMIO" --map=m copy --dirty-bitmap=b0 "$NBD" backup
	assert_failure 2
	[[ $stderr == *"m: the dirty bitmap b0 changed since the map was written"* ]] || fail "$stderr"
	run --separate-stderr "$DMIO" --map=m copy "$NBD" backup
	assert_failure 2
	[[ $stderr == *"m: the map is of a copy with --dirty-bitmap=b0"* ]] || fail "$stderr"
	cmp backup backup.before
}

@test "--dirty-bitmap with --write-changed and with --keep-going: still the dirty extents only" {
	disk_with_backup
	cp backup backup.first
	bitmap_server inc disk.qcow2 b0
	local dirty
	dirty=$(dirty_total "$NBD" b0)
	# --write-changed reads the backup's dirty extents too, and writes
	# only what differs: at most the dirty bytes, then nothing.
	run --separate-stderr "$DMIO" --json --write-changed copy --dirty-bitmap=b0 "$NBD" backup
	assert_success
	cmp backup want.raw
	[ "$(json .dirty_bytes)" = "$dirty" ]
	[ "$(json .bytes_read)" -le $((2 * dirty)) ]
	[ "$(json .bytes_written)" -gt 0 ] && [ "$(json .bytes_written)" -le "$dirty" ]
	[ "$(served inc)" -le "$dirty" ]
	run --separate-stderr "$DMIO" --json --write-changed copy --dirty-bitmap=b0 "$NBD" backup
	assert_success
	[ "$(json .bytes_written)" = 0 ] && [ "$(json .bytes_zeroed)" = 0 ]
	# --keep-going on a source that reads well: the same copy.
	cp backup.first backup
	run --separate-stderr "$DMIO" --json --keep-going copy --dirty-bitmap=b0 "$NBD" backup
	assert_success
	cmp backup want.raw
	[ "$(json .bytes_read)" -le "$dirty" ]
}

# written LOG: the bytes written, as nbdkit's log filter logged them in LOG.
written() {
	local c s=0
	for c in $(sed -n 's/.* Write .* count=\(0x[0-9a-f]*\) .*/\1/p' "$1"); do
		s=$((s + c))
	done
	echo "$s"
}

# change SRC WINDOW...: one byte of each 1 MiB window WINDOW of SRC changed.
change() {
	local src=$1 w
	shift
	for w; do flip_byte "$src" $((w * 1048576 + 4321)); done
}

@test "copy --changed-since: only the windows that changed are written; the new log checks" {
	img src 8M
	truncate -s 8M local
	nbd_server mirror --filter=log memory 8M logfile="$T/w.log"
	"$DMIO" -q --hash=sha256 --hash-window=1M --hash-log=log copy src "$NBD" local
	grep -qx "# destination local" log
	change src 1 4 6
	: >"$T/w.log"
	run --separate-stderr "$DMIO" --json copy --changed-since=log src "$NBD" local
	assert_success
	# Three windows, to each destination; the source read once, the
	# destinations never.
	[ "$(json .bytes_written)" = $((2 * 3 << 20)) ]
	[ "$(json .bytes_read)" = $((8 << 20)) ]
	[ "$(written "$T/w.log")" = $((3 << 20)) ]
	! grep -q ' Read ' "$T/w.log"
	cmp src local
	export_bytes "$NBD" got
	cmp src got
	# The new log is the source's now: a second run writes nothing, and
	# each destination checks against it.
	run --separate-stderr "$DMIO" --json copy --changed-since=log src "$NBD" local
	assert_success
	[ "$(json .bytes_written)" = 0 ]
	run "$DMIO" verify --digest-file=log local
	assert_success
	run "$DMIO" verify --digest-file=log "$NBD"
	assert_success
}

# bats test_tags=unprivileged
@test "copy --changed-since: a log of another source, size, window or set of destinations is refused" {
	img src 4M
	truncate -s 4M a b
	"$DMIO" -q --hash=sha256 --hash-log=nowin copy src a b
	"$DMIO" -q --hash=sha256 --hash-window=1M --hash-log=log copy src a b
	cp log log.orig
	cp src other
	cp a a.orig
	refuse() {
		run --separate-stderr "$DMIO" "$@"
		assert_failure 2
		[[ $stderr == "dmio: $want"* ]] || fail "$*: $stderr"
		cmp a a.orig
		cmp log log.orig
	}
	change src 2
	want="log: no digest of other in it" refuse copy --changed-since=log other a b
	want="log: no digest of src:0+4096 in it" refuse copy --changed-since=log src:0+4096 a:0+4096 b:0+4096
	want="log: windows of 1048576 bytes, not 65536 (--hash-window)" \
		refuse copy --changed-since=log --hash-window=64K src a b
	want="log: windows of sha256, not of what --hash names" \
		refuse copy --changed-since=log --hash=md5 src a b
	truncate -s 4M c
	want="log: c: not one of the destinations it was written for" \
		refuse copy --changed-since=log src a c
	want="log: of a copy to 2 destinations, not 1" refuse copy --changed-since=log src a
	want="--changed-since and --write-changed: the destinations are not read" \
		refuse --write-changed copy --changed-since=log src a b
	want="--changed-since is for copy only" refuse verify --changed-since=log src a b
	want="nowin: src: no windows (a log made with --hash-window)" \
		refuse copy --changed-since=nowin src a b
}

# interrupted ARGS...: dmio --json --rate=1M --progress=fd:3 ARGS, sent
# SIGINT once its progress stream says a MiB is done; out and err kept.
interrupted() {
	rm -f prog
	mkfifo prog
	"$DMIO" --json --rate=1M --progress=fd:3 "$@" >out 2>err 3>prog &
	local pid=$! line
	exec 4<prog
	while read -r -u 4 line; do
		[ "$(jq -r .bytes_done <<<"$line")" -ge 1048576 ] && break
	done
	kill -INT "$pid"
	cat <&4 >/dev/null
	exec 4<&-
	wait "$pid" || true
	[ "$(jq -r '.regions[0].status' out)" = interrupted ] || fail "$(cat out err)"
}

@test "copy --changed-since interrupted: a log the destinations no longer match is moved aside" {
	img src 8M
	truncate -s 8M a
	"$DMIO" -q --hash=xxh128 --hash-window=1M --hash-log=log copy src a
	cp log log.orig
	# Only the last window changed: stopped before it, nothing was
	# written, and the log still says what a holds.
	change src 7
	interrupted copy --changed-since=log src a
	cmp log log.orig
	# Every window changed: stopped past the first, a no longer matches
	# the log, which is moved aside so that no later run trusts it.
	change src 0 1 2 3 4 5 6
	interrupted copy --changed-since=log src a
	[ ! -e log ]
	cmp log.stale log.orig
	grep -q "log: moved to log.stale" err
	run --separate-stderr "$DMIO" copy --changed-since=log src a
	assert_failure 2
}
