#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# Captive servers, "[ CMD ARGS... ]": NBD servers that dmio starts (socket
# activation) and stops, with real servers: qemu-nbd on qcow2 and raw
# files, nbdkit's file, memory, curl (file://) and ssh plugins (against an
# sshd the test starts on 127.0.0.1), and commands that fail.  Processes
# are checked by the PIDs that dmio -v says, never by name.  Image files
# named bare are refused.
load helper

# A 64 MiB raw file of random data at 8-16 MiB and 40-44 MiB, holes
# elsewhere; and the same as a qcow2 image, its holes unallocated.
images() {
	truncate -s 64M raw.img
	head -c 8M /dev/urandom | dd of=raw.img bs=1M seek=8 conv=notrunc status=none
	head -c 4M /dev/urandom | dd of=raw.img bs=1M seek=40 conv=notrunc status=none
	qemu-img convert -q -f raw -O qcow2 raw.img img.qcow2
}

# The server's messages say who wrote them; dmio's own, dmio.

@test "qcow2 -> raw through [ qemu-nbd ]: the holes are not read, qemu-img compare agrees" {
	images
	truncate -s 64M out.raw
	# --shared=8: qemu-nbd offers multi-conn, and dmio makes 4 connections.
	run --separate-stderr captive --json copy [ qemu-nbd --shared=8 -f qcow2 img.qcow2 ] out.raw
	assert_success
	[ "$(json '.regions[0].region')" = "[ qemu-nbd --shared=8 -f qcow2 img.qcow2 ]" ]
	[ "$(json '.regions[0].device')" = "[ qemu-nbd --shared=8 -f qcow2 img.qcow2 ]" ]
	[ "$(json '.regions | map(.status) | join(",")')" = ok,ok ]
	[ "$(json .bytes_read)" = $((12 << 20)) ]
	qemu-img compare -q -f raw -F qcow2 out.raw img.qcow2
	gone $(captive_pids <<<"$stderr")
	# Its socket and directory are gone with it.
	[ -z "$(find "$T" -mindepth 1 -name 'dmio-*')" ]
}

@test "a plain [ qemu-nbd -f qcow2 FILE ] source, one client at a time, as nbdcopy's users give it" {
	images
	truncate -s 64M out.raw
	run --separate-stderr captive --json copy [ qemu-nbd -f qcow2 img.qcow2 ] out.raw
	assert_success
	[ "$(json .bytes_read)" = $((12 << 20)) ]
	qemu-img compare -q -f raw -F qcow2 out.raw img.qcow2
	run -0 captive verify [ qemu-nbd -r -f qcow2 img.qcow2 ] out.raw
	gone $(captive_pids <<<"$output")
}

@test "raw -> a new qcow2 through a plain [ qemu-nbd -f qcow2 FILE ]: only the data is allocated" {
	images
	qemu-img create -q -f qcow2 new.qcow2 64M
	run captive copy raw.img [ qemu-nbd -f qcow2 new.qcow2 ]
	assert_success
	qemu-img compare -q -f raw -F qcow2 raw.img new.qcow2
	local allocated
	allocated=$(qemu-img map --output=json new.qcow2 | jq '[.[] | select(.data) | .length] | add')
	[ "$allocated" = $((12 << 20)) ]
	gone $(captive_pids <<<"$output")
}

@test "a region of a server's export: :START+COUNT is the argument after ]" {
	img big 8M
	truncate -s 1M part
	run captive copy [ nbdkit file "$T/big" ] :2048+2048 part
	assert_success
	same_range part 0 big $((1 << 20)) $((1 << 20))
	run -2 captive copy [ nbdkit file "$T/big" ]:2048 part
	assert_output --partial "write ']' and ':START[+COUNT]' as two arguments"
	run -2 captive copy [ nbdkit file "$T/big" part
	assert_output --partial "[: no ']' after it"
	run -2 captive copy [ ] part
	assert_output --partial "no command between '[' and ']'"
}

@test "info on a captive region: the export's size, block sizes and what the server can do" {
	run --separate-stderr captive --json info [ nbdkit --filter=blocksize-policy memory 16M \
		blocksize-minimum=4096 blocksize-preferred=65536 ]
	assert_success
	[ "$(json '.regions[0].bytes')" = $((16 << 20)) ]
	[ "$(json '.regions[0].min_io')" = 4096 ]
	[ "$(json '.regions[0].optimal_io')" = 65536 ]
	[ "$(json '.regions[0].features | join(",")')" = "flush,zero,trim,multi-conn,extents" ]
	gone $(captive_pids <<<"$stderr")
	run captive info [ qemu-nbd -r -f qcow2 "$T/nothing-yet.qcow2" ]
	assert_failure 2
}

@test "three captive servers in one mirror: qemu-nbd on qcow2 and raw, nbdkit on a file" {
	img src 32M
	qemu-img create -q -f qcow2 a.qcow2 32M
	truncate -s 32M b.raw c.img
	run captive copy src [ qemu-nbd -f qcow2 a.qcow2 ] [ qemu-nbd -f raw b.raw ] \
		[ nbdkit file "$T/c.img" ]
	assert_success
	local pids
	pids=$(captive_pids <<<"$output")
	[ "$(wc -w <<<"$pids")" = 3 ]
	gone $pids
	qemu-img compare -q -f raw -F qcow2 src a.qcow2
	cmp src b.raw
	cmp src c.img
	run -0 captive verify src [ qemu-nbd -r --shared=8 -f qcow2 a.qcow2 ] \
		[ qemu-nbd -r --shared=8 -f raw b.raw ] [ nbdkit -r file "$T/c.img" ]
}

@test "an http image through [ nbdkit curl file:///... ]" {
	img web.img 16M
	truncate -s 16M out
	run captive copy [ nbdkit -r curl "file://$T/web.img" ] out
	assert_success
	cmp web.img out
	gone $(captive_pids <<<"$output")
}

@test "a remote device over ssh: [ nbdkit ssh ] against an sshd on 127.0.0.1" {
	sshd_start
	img remote.img 16M
	truncate -s 16M local.img
	local ssh=(nbdkit ssh host=127.0.0.1 port="$SSH_PORT" user=root identity="$T/ssh/id"
		known-hosts="$T/ssh/known_hosts" "$T/remote.img")
	run captive copy [ "${ssh[@]}" ] local.img
	assert_success
	cmp remote.img local.img
	# And back the other way, to a region of it.
	img other 1M
	run captive copy other [ "${ssh[@]}" ] :4096+2048
	assert_success
	same_range remote.img $((2 << 20)) other 0 $((1 << 20))
	gone $(captive_pids <<<"$output")
}

# Servers that fail: a refusal, nothing written, no process left.

@test "a command not found, one that exits at once, one that never answers: exit 2, nothing written" {
	img src 4M
	truncate -s 4M dst
	local before
	before=$(md5sum <dst)
	run captive copy src [ dmio-no-such-server x ]
	assert_failure 2
	assert_output --partial "[ dmio-no-such-server x ]: cannot start: dmio-no-such-server: command not found"
	run captive copy src [ sh -c 'echo "it went wrong" >&2; exit 3' ]
	assert_failure 2
	assert_line "[ sh -c 'echo \"it went wrong\" >&2; exit 3' ]: it went wrong"
	assert_output --partial "cannot start: the server exited with status 3 before it answered"
	gone $(captive_pids <<<"$output")
	run captive --server-timeout=1 copy src [ sleep 600 ]
	assert_failure 2
	assert_output --partial "[ sleep 600 ]: cannot start: the server did not answer within 1 s (--server-timeout)"
	gone $(captive_pids <<<"$output")
	run --separate-stderr captive --json copy src [ qemu-nbd -f qcow2 "$T/missing.qcow2" ]
	assert_failure 2
	[ "$(json .exit_code)" = 2 ]
	[[ $stderr == *"[ qemu-nbd -f qcow2 $T/missing.qcow2 ]: qemu-nbd: "*"missing.qcow2"* ]]
	gone $(captive_pids <<<"$stderr")
	[ "$(md5sum <dst)" = "$before" ]
	[ -z "$(find "$T" -mindepth 1 -name 'dmio-*')" ]
}

@test "a server killed mid-copy: its leg fails alone, the other is done, exit 3" {
	img src 64M
	truncate -s 64M loc exp.img
	# 8 chunks in flight, each write 500 ms: 4 s, of which it sees 0.5.
	TMPDIR=$T "$DMIO" -v --json copy src loc [ nbdkit --filter=delay file "$T/exp.img" \
		delay-write=500ms ] >out 2>err &
	local dmio=$! pid
	echo "$dmio" >>"$T/.pids"
	pid=$(server_pid err)
	sleep 0.5
	kill "$pid"
	local rc=0
	wait "$dmio" || rc=$?
	[ "$rc" = 3 ] || fail "exit $rc: $(cat err)"
	output=$(cat out)
	[ "$(json '.regions | map(.status) | join(",")')" = ok,ok,error ]
	[ "$(json '.failed | join(",")')" = 1 ]
	local done
	done=$(json '.regions[2].sectors_done')
	[ "$done" -lt 131072 ]
	[[ $(json '.regions[2].error') == "write: "*" at sector $done" ]]
	cmp src loc
	same_range src 0 exp.img 0 $((done * 512))
}

# Signals: dmio drains, reports, stops its servers; killed, it still takes
# them along.

@test "SIGINT and SIGTERM: dmio drains, reports, and stops its servers" {
	img src 32M
	for sig in INT TERM; do
		truncate -s 0 exp.img
		truncate -s 32M exp.img
		gate_eval exp pwrite
		gate_close
		TMPDIR=$T "$DMIO" -v --json copy src [ nbdkit "${GATE_EVAL[@]}" ] >out 2>err &
		local dmio=$!
		echo "$dmio" >>"$T/.pids"
		gate_wait
		kill -"$sig" "$dmio"
		gate_open
		local rc=0
		wait "$dmio" || rc=$?
		[ "$rc" = $((128 + $(kill -l "$sig"))) ] || fail "exit $rc: $(cat err)"
		output=$(cat out)
		[ "$(json '.regions[1].status')" = interrupted ]
		local done
		done=$(json '.regions[1].sectors_done')
		same_range src 0 exp.img 0 $((done * 512))
		gone $(captive_pids <err)
	done
}

@test "SIGKILL of dmio: its servers still end (they are sent SIGTERM), none is left" {
	img src 32M
	truncate -s 32M exp.img
	qemu-img create -q -f qcow2 q.qcow2 32M
	gate_eval exp pwrite
	gate_close
	TMPDIR=$T "$DMIO" -v copy src [ nbdkit "${GATE_EVAL[@]}" ] \
		[ qemu-nbd -f qcow2 q.qcow2 ] >out 2>err &
	local dmio=$!
	echo "$dmio" >>"$T/.pids"
	gate_wait
	local pids
	pids=$(captive_pids <err)
	[ "$(wc -w <<<"$pids")" = 2 ]
	kill -KILL "$dmio"
	wait "$dmio" || true
	gate_open
	gone $pids
}

# Image files are not their disks.

# bats test_tags=unprivileged
@test "an image file named bare is refused with the way to read it; --raw copies its bytes" {
	qemu-img create -q -f qcow2 img.qcow2 16M
	truncate -s 1M out
	local before
	before=$(md5sum <out)
	run -2 "$DMIO" copy img.qcow2:0+2048 out
	assert_output "dmio: img.qcow2:0+2048: a qcow2 image file: its bytes are not the disk it holds (that is [ qemu-nbd -f qcow2 img.qcow2 ]; --raw if the bytes are meant)"
	run -2 "$DMIO" copy out:0+1 img.qcow2:0+1
	assert_output --partial "img.qcow2:0+1: a qcow2 image file"
	[ "$(md5sum <out)" = "$before" ]
	for f in vmdk vhdx vpc qed; do
		qemu-img create -q -f $f "img.$f" 16M
		run -2 "$DMIO" info "img.$f"
		assert_output --partial "a $f image file"
	done
	truncate -s "$(stat -c %s img.qcow2)" bytes
	run -0 "$DMIO" -q --raw copy img.qcow2 bytes
	cmp img.qcow2 bytes
}

@test "SIGINT while a server has not answered yet: exit 130 at once, the server is gone" {
	truncate -s 1M dst
	TMPDIR=$T "$DMIO" -v --json copy [ sleep 600 ] dst >out 2>err &
	local dmio=$! pid
	echo "$dmio" >>"$T/.pids"
	pid=$(server_pid err)
	kill -INT "$dmio"
	local rc=0
	wait "$dmio" || rc=$?
	[ "$rc" = 130 ] || fail "exit $rc: $(cat err)"
	output=$(cat out)
	json_keep "$output"
	[ "$(json .error)" = "interrupted by Interrupt while starting [ sleep 600 ]" ]
	gone "$pid"
}
