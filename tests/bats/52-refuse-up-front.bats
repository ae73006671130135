#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# What would fail halfway is refused before anything is written (exit 2):
# read-only destinations (and --dry-run says so too), a map or a digest log
# that cannot be written, more memory than the bound, ambiguous tags, mirrors of unequal
# lengths, a bad environment; and the refusals say what is wrong.
load helper

# untouched FILES...: each FILE is what FILE.orig is.
untouched() {
	for f; do cmp "$f" "$f.orig" || fail "$f was written"; done
}

@test "a read-only loop device as a destination is refused before any leg is written" {
	img src 1M
	img a 1M
	img ro.img 1M
	cp a a.orig
	local dev
	dev=$(loop ro.img -r)
	for dry in "" --dry-run; do
		run --separate-stderr "$DMIO" $dry copy src a "$dev"
		assert_failure 2
		[[ $stderr == *"$dev is read-only"* ]] || fail "$dry: $stderr"
	done
	untouched a
}

@test "a file on a read-only mount, and an immutable file, are refused; --dry-run says the same" {
	img src 1M
	truncate -s 16M fs.img
	mkfs.ext4 -q fs.img
	local dev
	dev=$(loop fs.img)
	mkdir mnt
	mount "$dev" mnt
	echo "$T/mnt" >>"$T/.mounts"
	img mnt/d 1M
	img a 1M
	cp a a.orig
	cp mnt/d d.orig
	chattr +i mnt/d
	for dry in "" --dry-run; do
		run --separate-stderr "$DMIO" $dry copy src a mnt/d
		chattr -i mnt/d
		assert_failure 2
		[[ $stderr == *"mnt/d"* ]] || fail "immutable $dry: $stderr"
		chattr +i mnt/d
	done
	chattr -i mnt/d
	mount -o remount,ro mnt
	for dry in "" --dry-run; do
		run --separate-stderr "$DMIO" $dry copy src a mnt/d
		assert_failure 2
		[[ $stderr == *"mnt/d"* ]] || fail "read-only mount $dry: $stderr"
	done
	untouched a
	cmp mnt/d d.orig
}

@test "a --map that cannot be written is refused before any I/O" {
	img src 1M
	img d 1M
	cp d d.orig
	run --separate-stderr "$DMIO" --map /nonexistent/x.map copy src d
	assert_failure 2
	[[ $stderr == *"/nonexistent/x.map: cannot write the map: No such file or directory"* ]] ||
		fail "$stderr"
	untouched d
}

@test "a --hash-log that cannot be written is refused before any I/O, as a --map is; --dry-run says the same" {
	img src 1M
	truncate -s 1M dst
	cp dst dst.before
	mkdir adir ro
	mount -t tmpfs -o ro,size=1M none ro
	echo "$T/ro" >>"$T/.mounts"
	for log in "$T/no/such/dir/x.log" adir ro/x.log; do
		run --separate-stderr "$DMIO" --hash=md5 --hash-log="$log" copy src dst
		[ "$status" = 2 ] || fail "--hash-log=$log: status $status, after the copy: $stderr"
		cmp dst dst.before || fail "--hash-log=$log: dst written, then the run failed"
		[[ $stderr == "dmio: $log: cannot write the digests: "* ]] || fail "$stderr"
		run --separate-stderr "$DMIO" -n --hash=md5 --hash-log="$log" copy src dst
		[ "$status" = 2 ] || fail "--dry-run --hash-log=$log: status $status"
	done
	[ ! -e ro/x.log ]
}

@test "chunk x queue depth past the bound is refused, and --help says the bound" {
	img src 1M
	img d 1M
	cp d d.orig
	run --separate-stderr "$DMIO" --queue-depth=1024 --chunk=64M copy src d
	assert_failure 2
	[[ $stderr == *"more than 256M"* ]] || fail "$stderr"
	untouched d
	# A verify has a buffer per region when that is more than the depth.
	run "$DMIO" --queue-depth=2 --chunk=64M verify src d d d d d
	assert_failure 2
	run "$DMIO" --help
	assert_output --partial "chunk x depth at most"
}

@test "a tag that several devices have is refused where it is written, and read only with --force" {
	local label=dmio$RANDOM$RANDOM a b
	truncate -s 8M a.img b.img
	mkfs.ext4 -q -L "$label" a.img
	mkfs.ext4 -q -L "$label" b.img
	a=$(loop a.img)
	b=$(loop b.img)
	cp a.img a.img.orig
	cp b.img b.img.orig
	run --separate-stderr "$DMIO" zero "LABEL=$label"
	assert_failure 2
	[[ $stderr == *"2 devices have LABEL=$label"* ]] || fail "$stderr"
	[[ $stderr == *"$a"* && $stderr == *"$b"* ]] || fail "$stderr"
	untouched a.img b.img
	run "$DMIO" read "LABEL=$label:0+1" -o out
	assert_failure 2
	run "$DMIO" -q --force read "LABEL=$label:0+1" -o out
	assert_success
}

@test "write to destinations of different lengths is refused unless each has a COUNT" {
	truncate -s 1M small
	truncate -s 2M big
	cp small small.orig
	cp big big.orig
	run --separate-stderr "$DMIO" -i /dev/zero write small big
	assert_failure 2
	[[ $stderr == *"big: 4096 sectors, but small has 2048"* ]] || fail "$stderr"
	untouched small big
	head -c 1M /dev/urandom >in
	run "$DMIO" -q -i in write small:0+2048 big:0+4096
	assert_success
	cmp in small
}

@test "DMIO_ENGINE and DMIO_QUEUE_DEPTH set the defaults; bogus values are refused" {
	img src 1M
	truncate -s 1M d
	run env DMIO_ENGINE=bogus "$DMIO" copy src d
	assert_failure 2
	assert_output --partial "DMIO_ENGINE: 'bogus': not uring, aio or sync"
	run env DMIO_QUEUE_DEPTH=0 "$DMIO" copy src d
	assert_failure 2
	run env DMIO_ENGINE=sync DMIO_QUEUE_DEPTH=2 "$DMIO" -v copy src d
	assert_success
	assert_output --partial "sync engine, 2 chunks of 1024 KiB in flight at most"
	# Options win over the environment.
	run env DMIO_ENGINE=sync "$DMIO" -v --engine=aio --queue-depth=3 copy src d
	assert_output --partial "aio engine, 3 chunks"
}

@test "the same region twice, and a start past the end, are named as such" {
	img s.img 2M
	truncate -s 2M d.img
	run --separate-stderr "$DMIO" copy s.img:0+100 d.img:2000 d.img:2000
	assert_failure 2
	[ "$stderr" = "dmio: d.img:2000: the same region as d.img:2000" ]
	run --separate-stderr "$DMIO" zero d.img:5000
	assert_failure 2
	[ "$stderr" = "dmio: d.img:5000: starts past the end of d.img (4096 sectors)" ]
}

@test "--dry-run refuses what the run would: the map, -i, -o" {
	img s.img 1M
	truncate -s 1M d.img
	local dev
	dev=$(loop d.img -r)
	run "$DMIO" -q --map m.map copy s.img:0+100 d.img
	assert_success
	for args in "--map /nonexistent/m copy s.img d.img" "--map m.map copy s.img d.img" \
		"-o /nonexistent/o read s.img" "-o s.img read s.img" "-i /nonexistent write d.img" \
		"-i d.img write d.img" "-o $dev read s.img" "-i $T write d.img"; do
		# shellcheck disable=SC2086
		run "$DMIO" -q -n $args
		assert_failure 2
		# shellcheck disable=SC2086
		run "$DMIO" -q $args </dev/null
		assert_failure 2
	done
}

@test "-o a read-only block device is refused" {
	img s.img 1M
	truncate -s 1M d.img
	local dev
	dev=$(loop d.img -r)
	run --separate-stderr "$DMIO" -o "$dev" read s.img:0+1
	assert_failure 2
	[[ $stderr == *"is read-only"* ]] || fail "$stderr"
}

@test "two --engine options that differ conflict" {
	img s.img 1M
	truncate -s 1M d.img
	run --separate-stderr "$DMIO" --engine=aio --engine=sync copy s.img d.img
	assert_failure 2
	[[ $stderr == *"--engine and --engine: conflicting options"* ]] || fail "$stderr"
	run "$DMIO" -q --engine=aio --engine=aio copy s.img d.img
	assert_success
}

@test "read with stdout closed, write with stdin closed: refused, not to /dev/null" {
	img s.img 1M
	truncate -s 1M d.img
	run bash -c "'$DMIO' read s.img >&-"
	assert_failure 2
	assert_output --partial "stdout: closed: no output"
	run bash -c "'$DMIO' write d.img <&-"
	assert_failure 2
	assert_output --partial "stdin: closed: no input"
}
