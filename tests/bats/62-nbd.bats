#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# NBD regions against real servers on Unix sockets, started and stopped
# here: nbdkit (memory, file, sparse-random, pattern, eval; the error,
# delay, checkwrite, blocksize-policy and nozero filters) and qemu-nbd
# serving a qcow2 file.  What an export holds is read back with nbdcopy,
# libnbd's own tool, not with dmio.
load helper

# The spec grammar: START after the path, never in host:port or the query.

@test "an NBD URI's START and COUNT come after its path: a ':' in the socket path is the path's" {
	mkdir "a:b"
	nbd_server "a:b/s" memory 16M
	local uri="nbd+unix:///:8+16?socket=$T/a:b/s.sock"
	run --separate-stderr "$DMIO" --json --dry-run zero "$uri"
	assert_success
	[ "$(json '.regions[0].sector')" = 8 ]
	[ "$(json '.regions[0].count')" = 16 ]
	[ "$(json '.regions[0].device')" = "nbd+unix:///?socket=$T/a:b/s.sock" ]
	run --separate-stderr "$DMIO" --json info "$NBD"
	assert_success
	[ "$(json '.regions[0].bytes')" = $((16 << 20)) ]
}

@test "a malformed START in an NBD URI is refused, naming it; a START after the query gets a hint" {
	nbd_server s memory 16M
	run -2 "$DMIO" zero "nbd+unix:///:x?socket=$T/s.sock"
	assert_failure 2
	assert_output --partial "invalid START 'x'"
	run -2 "$DMIO" zero "nbd+unix:///:8+0?socket=$T/s.sock"
	assert_failure 2
	assert_output --partial "count 0"
	run -2 "$DMIO" zero "$NBD:8+8"
	assert_failure 2
	assert_output --partial "write it before the '?'"
	run -2 "$DMIO" zero "nbd://h/e:"
	assert_failure 2
	assert_output --partial "nothing after ':'"
}

@test "info on an export: its size, block sizes and what the server can do" {
	nbd_server s --filter=blocksize-policy memory 16M blocksize-minimum=4096 \
		blocksize-preferred=65536 blocksize-maximum=8M
	run --separate-stderr "$DMIO" --json info "$NBD"
	assert_success
	[ "$(json '.regions[0].bytes')" = $((16 << 20)) ]
	[ "$(json '.regions[0].min_io')" = 4096 ]
	[ "$(json '.regions[0].optimal_io')" = 65536 ]
	[ "$(json '.regions[0].max_io')" = $((8 << 20)) ]
	[ "$(json '.regions[0].logical_sector_size')" = 4096 ]
	[ "$(json '.regions[0].read_only')" = false ]
	[ "$(json '.regions[0].features | join(",")')" = "flush,zero,trim,multi-conn,extents" ]
	nbd_server ro -r --filter=nozero --filter=multi-conn memory 16M zeromode=none \
		multi-conn-mode=disable
	run --separate-stderr "$DMIO" --json info "$NBD"
	assert_success
	[ "$(json '.regions[0].read_only')" = true ]
	[ "$(json '.regions[0].features | join(",")')" = "flush,extents,read-only" ]
	# The table says it too, beside a local file (which has no FEATURES).
	img local 1M
	run "$DMIO" info "$NBD" local
	assert_success
	assert_line --regexp "^REGION +DEVICE .* MIN-IO +OPT-IO +MAX-IO +FEATURES"
	assert_line --regexp "flush,extents,read-only"
}

# Copies and mirrors.

@test "a mirror local -> {local, NBD}: one read, both written, each as the source" {
	img src 48M
	truncate -s 48M loc
	nbd_server dst memory 48M
	run --separate-stderr "$DMIO" --json copy src loc "$NBD"
	assert_success
	[ "$(json '.regions | map(.status) | join(",")')" = ok,ok,ok ]
	[ "$(json .bytes_read)" = $((48 << 20)) ]
	cmp src loc
	export_bytes "$NBD" out
	cmp src out
}

@test "NBD -> local and NBD -> NBD, from a read-only file export, on every engine" {
	img src 24M
	nbd_server src -r file "$T/src"
	local from=$NBD
	nbd_server dst memory 24M
	for e in uring aio sync; do
		truncate -s 0 loc
		truncate -s 24M loc
		run -0 "$DMIO" -q --engine=$e copy "$from" loc "$NBD"
		cmp src loc
		export_bytes "$NBD" out
		cmp src out
		rm out
		run -0 "$DMIO" -q --engine=$e verify "$from" loc "$NBD"
	done
}

@test "read, write and zero on an export; a region of it only" {
	img data 4M
	nbd_server s memory 16M
	run -0 "$DMIO" -q write "$NBD" <data
	run -0 "$DMIO" -q write -i data "nbd+unix:///:16384+8192?socket=$T/s.sock"
	"$DMIO" read "nbd+unix:///:0+8192?socket=$T/s.sock" >back
	cmp data back
	export_bytes "$NBD" out
	same_range out $((8 << 20)) data 0 $((4 << 20))
	run --separate-stderr "$DMIO" --json zero "nbd+unix:///:16384+4096?socket=$T/s.sock"
	assert_success
	[ "$(json .bytes_zeroed)" = $((2 << 20)) ]
	export_bytes "$NBD" out2
	cmp <(head -c 2M /dev/zero) <(tail -c +$(((8 << 20) + 1)) out2 | head -c 2M)
	same_range out2 $((10 << 20)) data $((2 << 20)) $((2 << 20))
	same_range out2 0 data 0 $((4 << 20))
}

@test "writes land exactly where they should: nbdkit's checkwrite filter checks each one" {
	nbd_server pat -r pattern 32M
	export_bytes "$NBD" want
	nbd_server check --filter=checkwrite pattern 32M
	run -0 "$DMIO" -q copy want "$NBD"
	run -0 "$DMIO" -q --chunk=64K --queue-depth=3 copy \
		"$T/want:1000+30000" "nbd+unix:///:1000+30000?socket=$T/check.sock"
	# A byte that differs is a write checkwrite refuses: the copy fails.
	printf '\x01' | dd of=want bs=1 seek=$((5 << 20)) conv=notrunc status=none
	run -3 --separate-stderr "$DMIO" --json copy want "$NBD"
	[ "$(json '.regions[1].status')" = error ]
	[ "$(json '.regions[1].sectors_done')" = $((5 << 11)) ]
}

@test "qemu-nbd serving a qcow2 image: a sparse copy stays sparse there, and verifies" {
	truncate -s 64M src
	head -c 3M /dev/urandom | dd of=src bs=1M seek=10 conv=notrunc status=none
	qemu-img create -q -f qcow2 img.qcow2 64M
	qemu_server q img.qcow2 qcow2
	run --separate-stderr "$DMIO" --json copy src "$NBD"
	assert_success
	[ "$(json .bytes_written)" = $((3 << 20)) ]
	run -0 "$DMIO" -q verify src "$NBD"
	server_stop q
	qemu-img compare -q src img.qcow2
	# Only the data was allocated in the image.
	local allocated
	allocated=$(qemu-img map --output=json img.qcow2 | jq '[.[] | select(.data) | .length] | add')
	[ "$allocated" = $((3 << 20)) ]
}

@test "an export's holes (block status) are not read: sparse-random to a file" {
	nbd_server sr sparse-random 256M seed=7
	truncate -s 256M dst
	run --separate-stderr "$DMIO" --json copy "$NBD" dst
	assert_success
	local read
	read=$(json .bytes_read)
	[ "$read" -lt $((64 << 20)) ]
	[ "$(json .bytes_zeroed)" -gt $((128 << 20)) ]
	export_bytes "$NBD" want
	cmp want dst
	[ "$(du -k dst | cut -f1)" -lt $((read / 1024 + 4096)) ]
	run -0 "$DMIO" -q verify "$NBD" dst
}

@test "an export that cannot zero gets the zeroes as data; --connections and the queue depth" {
	truncate -s 32M src
	head -c 1M /dev/urandom | dd of=src bs=1M seek=3 conv=notrunc status=none
	nbd_server nz --filter=nozero --filter=multi-conn memory 32M zeromode=none \
		multi-conn-mode=disable
	nbdcopy <(head -c 32M /dev/urandom) "$NBD"
	run --separate-stderr "$DMIO" --json --connections=1 --queue-depth=1 copy src "$NBD"
	assert_success
	export_bytes "$NBD" out
	cmp src out
	run -2 "$DMIO" --connections=17 zero "$NBD"
	assert_output --partial "--connections: '17': not a number from 1 to 16"
}

# Refusals up front: nothing is written.

@test "a read-only export, one too small, or a region off its minimum block is refused up front" {
	img src 8M
	truncate -s 8M loc
	local before
	before=$(md5sum <loc)
	nbd_server ro -r memory 8M
	run -2 "$DMIO" copy src loc "$NBD"
	assert_output --partial "is read-only"
	nbd_server small memory 4M
	run -2 "$DMIO" copy src loc "$NBD"
	assert_output --partial "region ends past the end"
	nbd_server k4 --filter=blocksize-policy memory 8M blocksize-minimum=4096 \
		blocksize-error-policy=error
	run -2 "$DMIO" copy "$T/src:0+7" loc "nbd+unix:///:1+7?socket=$T/k4.sock"
	assert_output --partial "not aligned to the 4096-byte minimum block"
	[ "$(md5sum <loc)" = "$before" ]
	run -2 "$DMIO" copy src loc "nbd+unix:///?socket=$T/nothing.sock"
	assert_output --partial "cannot connect"
	[ "$(md5sum <loc)" = "$before" ]
	# The same export twice, overlapping, is one device to dmio.
	nbd_server m memory 8M
	run -2 "$DMIO" copy "nbd+unix:///:0+8?socket=$T/m.sock" "nbd+unix:///:4+8?socket=$T/m.sock"
	assert_output --partial "overlaps"
}

# Failures: the region that fails, alone, with the sector reached.

@test "a failing export beside a healthy local leg: that leg fails alone, the local one is done" {
	img src 16M
	truncate -s 16M loc
	nbd_server bad --filter=error memory 16M error-pwrite=EIO error-pwrite-rate=100%
	run -3 --separate-stderr "$DMIO" --json copy src loc "$NBD"
	[ "$(json '.regions | map(.status) | join(",")')" = ok,ok,error ]
	[ "$(json '.failed | join(",")')" = 1 ]
	[ "$(json '.regions[2].sectors_done')" = 0 ]
	[ "$(json '.regions[2].error')" = "write: Input/output error at sector 0" ]
	cmp src loc
}

@test "a server that fails writes at a sector: the export's region fails there, and has all before it" {
	img src 16M
	truncate -s 16M loc
	bad_server bad 16M pwrite 20000 8
	run -3 --separate-stderr "$DMIO" --json copy src "$NBD" loc
	[ "$(json '.regions[1].status')" = error ]
	[ "$(json '.regions[1].sectors_done')" = 20000 ]
	[ "$(json '.regions[1].error')" = "write: Input/output error at sector 20000" ]
	[ "$(json '.regions[2].status')" = ok ]
	same_range src 0 bad.img 0 $((20000 * 512))
	cmp src loc
}

@test "the server killed mid-copy: that leg fails, the local one completes, the map resumes it" {
	img src 64M
	truncate -s 64M loc exp.img
	nbd_server exp --filter=delay file "$T/exp.img" delay-write=300ms
	local uri=$NBD
	(
		until grep -q '^done 1 ' map 2>/dev/null; do sleep 0.05; done
		kill "$(cat "$T/exp.pid")"
	) &
	local killer=$!
	run -3 --separate-stderr "$DMIO" --json --map=map copy src loc "$uri"
	wait "$killer"
	[ "$(json '.regions[1].status')" = ok ]
	[ "$(json '.regions[2].status')" = error ]
	local durable
	durable=$(awk '$1 == "done" && $2 == 1 { print $4 }' map)
	[ "$durable" -gt 0 ]
	[ "$durable" -lt 131072 ]
	grep -q "^destination nbd+unix:///?socket=$T/exp.sock 0 131072 nbd:" map
	cmp src loc
	server_stop exp
	nbd_server exp file "$T/exp.img"
	run --separate-stderr "$DMIO" --json --map=map copy src loc "$uri"
	assert_success
	# Only what the export missed was copied again.
	[ "$(json .bytes_written)" = $(((131072 - durable) * 512)) ]
	cmp src exp.img
}

@test "verify over NBD finds a flipped byte" {
	img src 16M
	cp src exp.img
	nbd_server exp file "$T/exp.img"
	run -0 "$DMIO" -q verify src "$NBD"
	flip_byte exp.img "$((9 << 20 | 77))"
	run -1 --separate-stderr "$DMIO" --json verify src "$NBD"
	[ "$(json '.regions[1].status')" = mismatch ]
	[ "$(json '.regions[1].sectors_done')" = $((16 << 11)) ]
	[ "$(json '.regions[1].differing_ranges | tojson')" = "[[$((9 << 11)),1]]" ]
	assert_output --partial "differs from the source at sector $((9 << 11))"
	run -1 --separate-stderr "$DMIO" --json --first verify src "$NBD"
	[ "$(json '.regions[1].sectors_done')" = $((9 << 11)) ]
}

@test "SIGINT drains the NBD requests in flight: the export holds every sector reported done" {
	img src 32M
	truncate -s 32M exp.img
	gate_server exp pwrite
	gate_close
	"$DMIO" --json copy src "$NBD" >out 2>err &
	local pid=$!
	gate_wait
	kill -INT "$pid"
	gate_open
	local rc=0
	wait "$pid" || rc=$?
	[ "$rc" = 130 ] || fail "exit $rc: $(cat err)"
	output=$(cat out)
	[ "$(json '.regions[1].status')" = interrupted ]
	local done
	done=$(json '.regions[1].sectors_done')
	[ "$done" -ge $((GATE_AT / 512)) ]
	same_range src 0 exp.img 0 $((done * 512))
}

# TLS, and passwords.

@test "TLS with a pre-shared key; a wrong key is refused with a clear message" {
	img src 8M
	printf 'root:%s\n' "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" >keys.psk
	printf 'root:%s\n' "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" >wrong.psk
	chmod 600 keys.psk wrong.psk
	nbd_server tls --tls=require --tls-psk="$T/keys.psk" memory 8M
	local uri="nbds+unix:///?socket=$T/tls.sock"
	run -0 "$DMIO" -q --tls-psk=keys.psk copy src "$uri"
	run -0 "$DMIO" -q --tls-psk=keys.psk verify src "$uri"
	run -2 "$DMIO" --tls-psk=wrong.psk verify src "$uri"
	assert_output --partial "cannot connect: the TLS handshake failed"
	run -2 "$DMIO" verify src "$NBD"
	assert_output --partial "server requires TLS"
	run -2 "$DMIO" --tls-psk=keys.psk verify src src
	assert_output --partial "--tls-psk: no region is an nbds:// or nbds+unix:// URI"
}

@test "a URI's password is never printed: not in the table, JSON, messages or the map" {
	img src 8M
	nbd_server s memory 8M
	local uri="nbd+unix://alice:s3cr3t@/?socket=$T/s.sock"
	run --separate-stderr "$DMIO" --json --map=map copy src "$uri"
	assert_success
	[[ "$output$stderr" != *s3cr3t* ]]
	[[ "$output" == *"alice:***@"* ]]
	! grep -q s3cr3t map
	run "$DMIO" -v copy src "$uri"
	assert_success
	[[ "$output" != *s3cr3t* ]]
	assert_output --partial "alice:***@"
	run "$DMIO" --json copy src "nbd+unix://alice:s3cr3t@/?socket=$T/none.sock"
	assert_failure 2
	[[ "$output" != *s3cr3t* ]]
	run "$DMIO" copy src "nbd+unix://alice:s3cr3t@/:x?socket=$T/none.sock"
	assert_failure 2
	[[ "$output" != *s3cr3t* ]]
}
