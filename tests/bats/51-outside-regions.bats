#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# Nothing outside the named regions is ever written: not by a report that
# lands in a destination, not through a partition or a loop device that
# overlaps another region, not through -o or -i; and dmio does not get in
# its own way (one device named twice, a device a killed run still holds,
# two runs on one file).
load helper

# unchanged FILE ORIG: FILE is byte for byte what it was.
unchanged() {
	cmp "$1" "$2" || fail "$1 was written"
}

# part_disk: a 64 MiB GPT disk image with one partition at sector 2048 of
# 40960 sectors, attached with its partitions: the disk in $DISK, the
# partition in $PART.
part_disk() {
	truncate -s 64M disk.img
	printf 'label: gpt\nstart=2048, size=40960, name=dmio-part\n' | sfdisk -q disk.img
	DISK=$(loop disk.img -P)
	PART=${DISK}p1
	# The scan at attach may not see the table yet: ask again.
	partx -a "$DISK" 2>/dev/null || true
	local i=0
	until [ -b "$PART" ]; do
		i=$((i + 1))
		[ $i -lt 50 ] || fail "$PART did not appear"
		sleep 0.1
	done
}

@test "closed stdout or stderr: the report never lands in a destination" {
	img zz.img 1M
	cp zz.img orig
	"$DMIO" zero zz.img:100+8 >&- 2>/dev/null
	unchanged <(head -c 51200 zz.img) <(head -c 51200 orig)
	cmp -n 4096 <(tail -c +51201 zz.img) /dev/zero
	unchanged <(tail -c +55297 zz.img) <(tail -c +55297 orig)
	# On a 4096-byte-sector loop device with the default options, and
	# with stderr closed under --verbose.
	img z4.img 1M
	cp z4.img orig4
	local dev
	dev=$(loop z4.img --sector-size 4096)
	"$DMIO" zero "$dev:8+8" >&-
	"$DMIO" -v --no-direct zero "$dev:16+8" 2>&-
	unchanged <(head -c 4096 z4.img) <(head -c 4096 orig4)
	unchanged <(tail -c +12289 z4.img) <(tail -c +12289 orig4)
}

@test "a partition and its disk that overlap are refused; apart they are not" {
	part_disk
	cp disk.img orig
	run --separate-stderr "$DMIO" copy "$DISK:2048+20000" "$PART:50"
	assert_failure 2
	[[ $stderr == *"$PART:50: overlaps $DISK:2048+20000"* ]] || fail "$stderr"
	run "$DMIO" copy "$PART:0+100" "$DISK:2100"
	assert_failure 2
	unchanged disk.img orig
	# The partition starts at disk sector 2048: sectors 0..999 are apart.
	run "$DMIO" -q copy "$DISK:0+1000" "$PART:0"
	assert_success
}

@test "a loop device and the file behind it that overlap are refused" {
	img back.img 8M
	cp back.img orig
	local dev
	dev=$(loop back.img)
	run --separate-stderr "$DMIO" copy "$dev:0+100" back.img:50
	assert_failure 2
	[[ $stderr == *"back.img:50: overlaps"* ]] || fail "$stderr"
	run "$DMIO" zero back.img:0+8 "$dev:4"
	assert_failure 2
	unchanged back.img orig
	# With an offset: the loop device's sector 0 is the file's sector 2048.
	dev=$(loop back.img --offset $((2048 * 512)))
	run "$DMIO" -q copy back.img:0+100 "$dev:0"
	assert_success
	run "$DMIO" copy back.img:2000+100 "$dev:0"
	assert_failure 2
}

@test "read -o and write -i that are a region's own file are refused, the file untouched" {
	img r.img 1M
	cp r.img x.img
	run --separate-stderr "$DMIO" read x.img:0+10 -o x.img
	assert_failure 2
	[[ $stderr == *"the output is x.img:0+10's file"* ]] || fail "$stderr"
	unchanged x.img r.img
	run "$DMIO" write x.img:0+10 -i x.img
	assert_failure 2
	run "$DMIO" write x.img:0+10 <x.img
	assert_failure 2
	unchanged x.img r.img
	# The file behind a loop device is that device's file.
	local dev
	dev=$(loop x.img)
	run "$DMIO" read "$dev:0+10" -o x.img
	assert_failure 2
	unchanged x.img r.img
}

@test "read -o a mounted device is refused as a destination would be" {
	truncate -s 32M fs.img
	mkfs.ext4 -q fs.img
	local dev
	dev=$(loop fs.img)
	mkdir mnt
	mount "$dev" mnt
	echo "$T/mnt" >>"$T/.mounts"
	img src 1M
	run --separate-stderr "$DMIO" read src -o "$dev"
	assert_failure 2
	[[ $stderr == *"in use"* ]] || fail "$stderr"
	umount mnt
	run "$DMIO" -q read src -o "$dev"
	assert_success
	cmp src <(head -c 1M "$dev")
}

@test "two regions on one block device: opened once, claimed once" {
	img r.img 1M
	truncate -s 4M d.img
	local dev
	dev=$(loop d.img)
	run "$DMIO" -q copy r.img:0+100 "$dev:0" "$dev:1000"
	assert_success
	same_range r.img 0 d.img 0 51200
	same_range r.img 0 d.img 512000 51200
	# And a source and a destination on one device, apart.
	run "$DMIO" -q copy "$dev:0+100" "$dev:5000"
	assert_success
	same_range r.img 0 d.img $((5000 * 512)) 51200
}

@test "a device that a killed run still holds is waited for, not refused; a mounted one is refused at once" {
	img src.img 8M
	truncate -s 8M dst.img
	gate_dev dst pwrite
	gate_close
	"$DMIO" -q --chunk=64K copy src.img "$GATE_DEV" 8>&- 9>&- &
	local pid=$!
	gate_wait
	# Its writes stay in flight, holding the device, after it is gone.
	kill -KILL "$pid"
	wait "$pid" || true
	mkfifo said
	"$DMIO" -v -q copy src.img:0+8 "$GATE_DEV" 2>said 8>&- 9>&- &
	pid=$!
	local line
	while read -r line; do
		[[ $line == *"trying again"* ]] && break
	done <said
	[[ $line == *"busy, but neither mounted nor held: trying again"* ]] || fail "said: $line"
	gate_open
	rc=0
	wait "$pid" || rc=$?
	[ "$rc" = 0 ] || fail "exit $rc"
	# Mounted: no waiting, and no --verbose line that says so.
	truncate -s 32M fs.img
	mkfs.ext4 -q fs.img
	local dev
	dev=$(loop fs.img)
	mkdir mnt
	mount "$dev" mnt
	echo "$T/mnt" >>"$T/.mounts"
	run --separate-stderr "$DMIO" -v zero "$dev:0+8"
	assert_failure 2
	[[ $stderr == *"in use: mounted on $T/mnt"* ]] || fail "$stderr"
	[[ $stderr != *"trying again"* ]] || fail "$stderr"
}

@test "a file that another writer holds is refused; --force writes it anyway" {
	img src 1M
	img d.img 1M
	cp d.img orig
	exec 5<d.img
	flock 5
	run --separate-stderr "$DMIO" copy src d.img
	assert_failure 2
	[[ $stderr == *"d.img: in use (locked by another writer); --force overrides"* ]] ||
		fail "$stderr"
	unchanged d.img orig
	run "$DMIO" -q --force copy src d.img
	assert_success
	exec 5<&-
	cmp src d.img
}

@test "a file whose lock is let go a moment later (a killed writer's io_uring requests ending) is waited for" {
	# After SIGKILL the kernel may hold a writer's file, and its flock, until
	# its io_uring requests end: a rerun at once found it "in use" (the soak,
	# 2 in 40 kills).  The lock here is let go after a second.
	img src 1M
	img d.img 1M
	flock d.img sleep 1 &
	local holder=$!
	while flock -n d.img true; do sleep 0.01; done
	run --separate-stderr "$DMIO" -v copy src d.img
	wait "$holder"
	assert_success
	[[ $stderr == *"d.img: locked, perhaps by a killed writer's last requests: trying again"* ]] ||
		fail "$stderr"
	cmp src d.img
}

@test "regions apart on a disk and on its partition: the disk is claimed, the partition with it" {
	part_disk
	img s.img 1M
	cp disk.img orig
	run --separate-stderr "$DMIO" -q copy s.img:0+10 "$PART:0" "$DISK:100"
	assert_success
	same_range s.img 0 disk.img $((2048 * 512)) 5120
	same_range s.img 0 disk.img $((100 * 512)) 5120
	same_range orig 0 disk.img 0 $((100 * 512))
}

@test "the --map's temporary file is a new one: a file or link by its name is left alone" {
	img s.img 1M
	truncate -s 1M d.img
	echo precious >victim.txt
	ln -s victim.txt m.map.tmp
	echo mine >m2.map.tmp
	run "$DMIO" -q --map m.map copy s.img d.img
	assert_success
	[ "$(cat victim.txt)" = precious ]
	run "$DMIO" -q --map m2.map copy s.img d.img
	assert_success
	[ "$(cat m2.map.tmp)" = mine ]
	[ "$(ls m.map.* m2.map.* | sort | tr '\n' ' ')" = "m.map.tmp m2.map.tmp " ]
}
