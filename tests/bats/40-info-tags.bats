#!/usr/bin/env bats
# info, and regions named by UUID= and LABEL= (libblkid).  Every lookup by a
# tag runs under own_scan: it reads this test's devices and no other's.
load helper

# A UUID of this test's own: a suite running beside it has another.
UUID=$(cat /proc/sys/kernel/random/uuid)

fs_loop() {
	truncate -s 16M fs.img
	mkfs.ext4 -q -F -L "dmio-$BATS_TEST_NUMBER-$$" -U "$UUID" fs.img
	loop fs.img
}

@test "info on an image file: size, sector sizes, no filesystem" {
	img f 1M
	run --separate-stderr "$DMIO" --json info f f:8+16
	assert_success
	[ "$(json '.regions[0].count')" = 2048 ]
	[ "$(json '.regions[0].bytes')" = 1048576 ]
	[ "$(json '.regions[0].logical_sector_size')" = 512 ]
	[ "$(json '.regions[0].type')" = null ]
	[ "$(json '.regions[1].sector')" = 8 ]
	[ "$(json '.regions[1].bytes')" = 8192 ]
	[ "$(json '.regions[1] | keys_unsorted | join(",")')" = \
		"index,region,device,sector,count,bytes,logical_sector_size,physical_sector_size,read_only,type,uuid,label,ptuuid,partuuid,partlabel,mountpoint,holder" ]
}

@test "info on a loop device with ext4: TYPE, UUID and LABEL" {
	local dev
	dev=$(fs_loop)
	run "$DMIO" --json info "$dev"
	assert_success
	[ "$(json '.regions[0].device')" = "$dev" ]
	[ "$(json '.regions[0].type')" = ext4 ]
	[ "$(json '.regions[0].uuid')" = "$UUID" ]
	[ "$(json '.regions[0].label')" = "dmio-$BATS_TEST_NUMBER-$$" ]
	[ "$(json '.regions[0].count')" = 32768 ]
	run "$DMIO" info "$dev"
	assert_success
	assert_output --partial ext4
	assert_output --partial "$UUID"
}

@test "UUID= and LABEL= resolve to the loop device, for info and copy" {
	local dev
	dev=$(fs_loop)
	run own_scan "$DMIO" --json info "UUID=$UUID" "LABEL=dmio-$BATS_TEST_NUMBER-$$:2+2"
	assert_success
	[ "$(json '.regions[0].device')" = "$dev" ]
	[ "$(json '.regions[1].device')" = "$dev" ]
	[ "$(json '.regions[1].sector')" = 2 ]
	truncate -s 16M copy.img
	run own_scan "$DMIO" copy "UUID=$UUID" copy.img
	assert_success
	cmp <(head -c 16M "$dev") copy.img
}

@test "info on a 4096-byte-sector loop device" {
	truncate -s 8M d.img
	local dev
	dev=$(loop d.img --sector-size 4096)
	run "$DMIO" --json info "$dev"
	assert_success
	[ "$(json '.regions[0].logical_sector_size')" = 4096 ]
	[ "$(json '.regions[0].count')" = 16384 ]
}

@test "PARTUUID= and PARTLABEL= resolve to a GPT partition of a loop device" {
	truncate -s 16M gpt.img
	printf 'label: gpt\n\nstart=2048, size=8M, type=L, name=dmio-part-%s\n' "$$" |
		sfdisk -q gpt.img
	local dev
	dev=$(loop gpt.img --partscan)
	# Without udev the kernel's scan may not be done yet: ask for it.
	[ -b "${dev}p1" ] || partx -a "$dev"
	[ -b "${dev}p1" ]
	local partuuid
	partuuid=$(blkid -p -s PART_ENTRY_UUID -o value "${dev}p1")
	[ -n "$partuuid" ]
	run own_scan "$DMIO" --json info "PARTLABEL=dmio-part-$$" "PARTUUID=$partuuid:8+8"
	assert_success
	[ "$(json '.regions[0].device')" = "${dev}p1" ]
	[ "$(json '.regions[0].count')" = 16384 ]
	[ "$(json '.regions[1].device')" = "${dev}p1" ]
	[ "$(json '.regions[1].sector')" = 8 ]
	# A copy into the partition lands at the partition's start on the disk.
	img s 4K
	cp gpt.img before.img
	run own_scan "$DMIO" copy s "PARTLABEL=dmio-part-$$:8"
	assert_success
	local off=$(((2048 + 8) * 512))
	same_range s 0 gpt.img $off 4096
	same_range before.img 0 gpt.img 0 $off
	same_range before.img $((off + 4096)) gpt.img $((off + 4096)) $((16 * 1048576 - off - 4096))
}

@test "a tag lookup under own_scan probes this test's devices only, and still finds them" {
	local label=dmio-own-$$ a b
	truncate -s 8M a.img b.img
	mkfs.ext4 -q -L "$label" a.img
	mkfs.ext4 -q -L "$label" b.img
	a=$(loop a.img)
	b=$(loop b.img)
	# b stands for another test's device: the scan does not read it (an
	# unconfined one would find both, and is never run here: it reads
	# every device of the machine).
	echo "$a" >own.list
	OWN_LOOPS=own.list run --separate-stderr own_scan strace -f -qq -e trace=openat \
		-o trace "$DMIO" --json info "LABEL=$label"
	assert_success
	[ "$(json '.regions[0].device')" = "$a" ]
	grep -q "\"$a\"" trace
	! grep -q "\"$b\"" trace || fail "$b was opened: $(grep "$b" trace)"
	! grep -Eq '"/dev/(loop|vd|sd|nvme|zram|nbd|dm-)' <(grep -v "\"$a\"" trace) ||
		fail "another device was opened: $(grep /dev/ trace)"
}
