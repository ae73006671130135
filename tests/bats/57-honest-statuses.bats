#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# Every status and exit code says what happened: "interrupted" only for
# signals, "stopped" with its reason otherwise; the end of a file is not an
# I/O error; partial sectors, short blocks and long input are handled and
# said; a report that cannot be written fails; and the JSON and option
# conventions (sizes in bytes, "-", conflicts, --quiet, info's columns,
# identities in maps).
load helper

@test "stopped, not interrupted: a source read error, every destination failing, every one differing" {
	local bad
	bad=$(bad_dev rsrc 4M pread 5000 1)
	img a 4M
	run --separate-stderr "$DMIO" --json copy "$bad" a
	assert_failure 3
	[ "$(json '.regions[1].status')" = stopped ]
	[ "$(json '.regions[1].error')" = "the source failed at sector 5000" ]
	run "$DMIO" copy "$bad" a
	assert_output --regexp "a +destination .* stopped: the source failed at sector 5000"
	# Every destination failed: the source says why it stopped.
	img src 1M
	bad=$(nbd_dev wf --filter=error memory 16M error-pwrite-rate=100% error-pwrite=EIO)
	run --separate-stderr "$DMIO" --json --chunk=64K copy src "$bad"
	assert_failure 3
	[ "$(json '.regions[0].status')" = stopped ]
	[ "$(json '.regions[0].error')" = "every destination failed" ]
	# Every destination differs (verify --first: a full verify goes on).
	img b 1M
	run --separate-stderr "$DMIO" --json --first --chunk=64K verify src b
	assert_failure 1
	[ "$(json '.regions[0].status')" = stopped ]
	[ "$(json '.regions[0].error')" = "every destination differs or failed" ]
	[ "$(json '.regions[1].status')" = mismatch ]
}

@test "stopped: the output closed (read | head), the output full; write -i a directory is refused" {
	img src 8M
	local rc
	"$DMIO" --json read src 2>err | head -c 1 >/dev/null || true
	rc=${PIPESTATUS[0]}
	[ "$rc" = 3 ] || fail "exit $rc"
	# The report shares stderr with the message: it is from its "{" on.
	output=$(sed -n '/^{/,$p' err)
	[ "$(json '.regions[0].status')" = stopped ]
	[ "$(json '.regions[0].error')" = "the output failed" ]
	grep -q "dmio: stdout: write error: Broken pipe" err
	run --separate-stderr "$DMIO" --json read src -o /dev/full
	assert_failure 3
	[ "$(json '.regions[0].status')" = stopped ]
	truncate -s 1M d
	run --separate-stderr "$DMIO" -i /tmp write d
	assert_failure 2
	[[ $stderr == *"/tmp: cannot read it: Is a directory"* ]] || fail "$stderr"
}

@test "the end of a file that shrank during a copy is said, not an I/O error" {
	head -c 4M /dev/urandom >src.img
	truncate -s 4M dst.img
	gate_dev dst pwrite
	gate_close
	"$DMIO" --json --chunk=64K copy src.img "$GATE_DEV" >out 2>err 8>&- 9>&- &
	pid=$!
	gate_wait
	truncate -s 3M src.img
	gate_open
	rc=0
	wait "$pid" || rc=$?
	output=$(cat out)
	[ "$rc" = 3 ] || fail "exit $rc: $(cat err)"
	[ "$(json '.regions[0].error')" = "read: the file ends at sector 6144" ]
	[ "$(json '.regions[1].sectors_done')" = 6144 ]
}

@test "a file whose size is not whole sectors: the tail is named; less than a sector is refused" {
	head -c 1000 /dev/urandom >f1000
	run --separate-stderr "$DMIO" read f1000 -o out
	assert_success
	[[ $stderr == *"the last 488 bytes of f1000 are less than a sector and left out"* ]] ||
		fail "$stderr"
	cmp out <(head -c 512 f1000)
	head -c 100 /dev/urandom >f100
	run --separate-stderr "$DMIO" read f100
	assert_failure 2
	[ "$stderr" = "dmio: f100: f100 holds 100 bytes, less than a sector" ]
}

@test "write of a partial block to a 4096-byte-sector device: padded and said, never a fabricated I/O error" {
	truncate -s 8M d4k.img
	local dev
	dev=$(loop d4k.img --sector-size 4096)
	head -c 1000 /dev/urandom >in
	run --separate-stderr "$DMIO" --json -i in write "$dev"
	assert_success
	[[ $stderr == *"the input ends 1000 bytes into a 4096-byte block of a destination: padded with 3096 zero bytes"* ]] ||
		fail "$stderr"
	[ "$(json '.regions[0].sectors_done')" = 8 ]
	cmp in <(head -c 1000 "$dev")
	cmp <(head -c 4096 "$dev" | tail -c 3096) <(head -c 3096 /dev/zero)
}

@test "input longer than the region: stopped at its end, the bytes not written said, exit 3" {
	head -c 2M /dev/urandom >in
	truncate -s 1M d
	run --separate-stderr "$DMIO" -i in write d:0+10
	assert_failure 3
	[[ $stderr == *"in: $((2097152 - 5120)) bytes more than the destinations hold were not written"* ]] ||
		fail "$stderr"
	cmp -n 5120 in d
	run --separate-stderr "$DMIO" write d:0+10 <in
	assert_failure 3
	run --separate-stderr bash -c "cat in | '$DMIO' write d:0+10"
	assert_failure 3
	[[ $stderr == *"more input than the destinations hold"* ]] || fail "$stderr"
}

@test "a report that cannot be written fails the run" {
	img src 1M
	truncate -s 1M d
	run --separate-stderr bash -c "'$DMIO' copy src d >/dev/full"
	assert_failure 3
	[[ $stderr == *"cannot write the report: No space left on device"* ]] || fail "$stderr"
	run --separate-stderr bash -c "'$DMIO' --json copy src d >/dev/full"
	assert_failure 3
	run --separate-stderr bash -c "'$DMIO' --json info src >/dev/full"
	assert_failure 3
}

@test "verify with a source read error: the source's sectors_done is where it failed, as for copy" {
	local bad
	bad=$(bad_dev vsrc 4M pread 3000 1)
	head -c 4M /dev/urandom >vsrc.img
	cp vsrc.img a
	for cmd in verify copy; do
		run --separate-stderr "$DMIO" --json "$cmd" "$bad" a
		assert_failure 3
		[ "$(json '.regions[0].error')" = "read: Input/output error at sector 3000" ]
		[ "$(json '.regions[0].sectors_done')" = 3000 ] || fail "$cmd: $output"
	done
}

@test "SIGTERM while write waits to open its -i FIFO: exit 143" {
	mkfifo in.fifo
	truncate -s 1M d
	"$DMIO" --json -i in.fifo write d >out 2>err &
	pid=$!
	local i=0
	until grep -q fifo_open "/proc/$pid/wchan" 2>/dev/null ||
		grep -q wait_for_partner "/proc/$pid/wchan" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 200 ] || fail "dmio never waited on the FIFO"
		sleep 0.05
	done
	kill -TERM "$pid"
	rc=0
	wait "$pid" || rc=$?
	[ "$rc" = 143 ] || fail "exit $rc: $(cat err)"
	[ "$(jq -r '.regions[0].status' out)" = interrupted ]
}

@test "JSON: names that are not UTF-8 are escaped; failed destinations are listed" {
	local name
	name=$(printf 'bad\xff\xfename')
	img "$name" 1M
	img src 1M
	run --separate-stderr "$DMIO" --json copy src "$name"
	assert_success
	jq -e . <<<"$output" >/dev/null
	[ "$(json '.regions[1].region')" = 'bad\xff\xfename' ]
	local bad
	bad=$(nbd_dev wf --filter=error memory 16M error-pwrite-rate=100% error-pwrite=EIO)
	truncate -s 1M a
	run --separate-stderr "$DMIO" --json copy src:0+100 a "$bad"
	assert_failure 3
	[ "$(json '.failed | join(",")')" = 1 ]
	[ "$(json '.error_bits')" = 2 ]
}

@test "a refused run with --json prints one document with the error and the exit status" {
	run --separate-stderr "$DMIO" --json copy missing.img d
	assert_failure 2
	[ "$(json '.exit_code')" = 2 ]
	[ "$(json '.operation')" = copy ]
	[[ $(json '.error') == "missing.img: cannot open: No such file or directory" ]]
	run --separate-stderr "$DMIO" --bogus --json copy a b
	assert_failure 2
	[ "$(json '.exit_code')" = 2 ]
	[ "$(json '.operation')" = null ]
	[[ $(json '.error') == *"--bogus"* ]]
}

@test "size options are bytes, with K, M, KB, KiB in any case" {
	img src 4M
	truncate -s 4M d
	for c in 131072:128 128k:128 128KB:128 128KiB:128 1M:1024 1mib:1024; do
		run "$DMIO" -v --chunk="${c%:*}" copy src d
		assert_success
		assert_output --partial "of ${c#*:} KiB in flight"
	done
	run "$DMIO" --chunk=1k copy src d
	assert_failure 2
	run "$DMIO" --chunk=12x copy src d
	assert_failure 2
}

@test "- is stdin for -i and stdout for -o" {
	img src 1M
	truncate -s 1M d
	run --separate-stderr "$DMIO" read src:0+4 -o -
	assert_success
	[ ! -e ./- ]
	[ "${#output}" -gt 0 ]
	cmp <("$DMIO" read src:0+4 -o - 2>/dev/null) <(head -c 2048 src)
	head -c 2048 src | "$DMIO" -q -i - write d:0+4
	cmp -n 2048 src d
}

@test "conflicting options are refused" {
	img src 1M
	truncate -s 1M d
	for o in "--direct --no-direct" "--engine=aio --async" "--sync --async" "--sync --engine=uring"; do
		run --separate-stderr "$DMIO" $o copy src d
		assert_failure 2
		[[ $stderr == *"conflicting options"* ]] || fail "$o: $stderr"
	done
	run "$DMIO" -q --sync --engine=sync copy src d
	assert_success
}

@test "--json always prints its document; --quiet silences the table only" {
	img src 1M
	truncate -s 1M d
	run --separate-stderr "$DMIO" -q --json copy src d
	assert_success
	[ "$(json '.operation')" = copy ]
	run --separate-stderr "$DMIO" -q copy src d
	assert_success
	assert_output ""
}

@test "info: PTUUID of a disk apart from UUID; PARTUUID and PARTLABEL of a partition; mounted, read-only" {
	truncate -s 64M disk.img
	printf 'label: gpt\nstart=2048, size=40960, name=dmio-part\n' | sfdisk -q disk.img
	local disk part ptuuid partuuid
	disk=$(loop disk.img -P)
	part=${disk}p1
	partx -a "$disk" 2>/dev/null || true
	local i=0
	until [ -b "$part" ]; do
		i=$((i + 1))
		[ $i -lt 50 ] || fail "$part did not appear"
		sleep 0.1
	done
	ptuuid=$(blkid -p -s PTUUID -o value disk.img)
	partuuid=$(sfdisk --part-uuid disk.img 1 | tr 'A-F' 'a-f')
	mkfs.ext4 -q -L dmio-fs "$part"
	mkdir mnt
	mount -o ro "$part" mnt
	echo "$T/mnt" >>"$T/.mounts"
	run --separate-stderr "$DMIO" --json info "$disk" "$part"
	assert_success
	[ "$(json '.regions[0].ptuuid')" = "$ptuuid" ]
	[ "$(json '.regions[0].uuid')" = null ]
	[ "$(json '.regions[1].partuuid')" = "$partuuid" ]
	[ "$(json '.regions[1].partlabel')" = dmio-part ]
	[ "$(json '.regions[1].label')" = dmio-fs ]
	[ "$(json '.regions[1].mountpoint')" = "$T/mnt" ]
	[ "$(json '.regions[0].mountpoint')" = "$T/mnt" ]
	local ro
	ro=$(loop disk.img -r)
	run --separate-stderr "$DMIO" --json info "$ro"
	[ "$(json '.regions[0].read_only')" = true ]
	run "$DMIO" info "$part"
	assert_output --partial "PARTUUID"
}

@test "copying from a source mounted read-write warns how to get a consistent copy" {
	truncate -s 16M fs.img
	mkfs.ext4 -q fs.img
	local dev
	dev=$(loop fs.img)
	mkdir mnt
	mount "$dev" mnt
	echo "$T/mnt" >>"$T/.mounts"
	truncate -s 16M copy.img
	run --separate-stderr "$DMIO" -q copy "$dev" copy.img
	assert_success
	[[ $stderr == *"$dev is mounted read-write on $T/mnt: what is read may change"* ]] ||
		fail "$stderr"
	mount -o remount,ro mnt
	run --separate-stderr "$DMIO" -q copy "$dev" copy.img
	assert_success
	[ -z "$stderr" ]
}

@test "--map knows its devices: a re-created destination is refused; ./d.img and d.img are one" {
	img r.img 4M
	truncate -s 4M d.img
	run "$DMIO" -q --map m copy r.img d.img
	assert_success
	grep -q '^destination .*/d.img 0 8192 file:' m
	rm d.img
	truncate -s 4M d.img
	run --separate-stderr "$DMIO" -q --map m copy r.img d.img
	assert_failure 2
	[[ $stderr == *"the map is not for d.img: its identity"* ]] || fail "$stderr"
	cmp d.img <(head -c 4M /dev/zero)
	rm m
	run "$DMIO" -q --map m copy r.img d.img
	assert_success
	run "$DMIO" -q --map m copy ./r.img ./d.img
	assert_success
}

@test "a refused read --json puts its document where the report goes, not into the data" {
	run --separate-stderr "$DMIO" --json read missing.img
	assert_failure 2
	assert_output ""
	output=$stderr
	[ "$(sed -n '/^{/,$p' <<<"$stderr" | jq -r .exit_code)" = 2 ]
	run --separate-stderr "$DMIO" --json read missing.img -o out
	assert_failure 2
	[ "$(json .exit_code)" = 2 ]
}

@test "a signal that comes when nothing is left to do interrupts nothing: ok, exit 0" {
	img src.img 4M
	truncate -s 4M dst.img
	gate_dev dst pwrite
	gate_close
	# One chunk, written past the gate: it waits there, the signal comes.
	"$DMIO" --json copy src.img:0+8 "$GATE_DEV:4096" >out 2>err 8>&- 9>&- &
	pid=$!
	gate_wait
	kill -INT "$pid"
	gate_open
	rc=0
	wait "$pid" || rc=$?
	output=$(cat out)
	[ "$rc" = 0 ] || fail "exit $rc: $(cat err)"
	[ "$(json '[.regions[].status] | join(",")')" = ok,ok ]
}

@test "a signal while dmio waits for a busy device: exit 130" {
	img src.img 8M
	truncate -s 8M dst.img
	gate_dev dst pwrite
	gate_close
	# A first run holds the device, its writes waiting at the gate.
	"$DMIO" -q --chunk=64K copy src.img "$GATE_DEV" 8>&- 9>&- &
	local first=$!
	gate_wait
	mkfifo said
	"$DMIO" -v --json zero "$GATE_DEV:0+8" 2>said >out 8>&- 9>&- &
	pid=$!
	local line
	while read -r line; do
		[[ $line == *"trying again"* ]] && break
	done <said
	kill -INT "$pid"
	rc=0
	wait "$pid" || rc=$?
	gate_open
	wait "$first"
	[ "$rc" = 130 ] || fail "exit $rc"
	output=$(cat out)
	[ "$(json .exit_code)" = 130 ]
}

@test "write to destinations of explicit, different counts: the shorter one says what it did not get" {
	head -c 1M /dev/urandom >in
	truncate -s 8M a.img
	truncate -s 4M b.img
	run --separate-stderr "$DMIO" -i in write a.img:0+2048 b.img:100+1024
	assert_failure 3
	[[ $stderr == *"b.img:100+1024: the input is longer: its last 524288 bytes were not written here"* ]] ||
		fail "$stderr"
	cmp -n 1M in a.img
}
