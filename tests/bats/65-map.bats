#!/usr/bin/env bats
# copy --map: a durable, per-destination record of what is done, so that a
# rerun copies only what is missing, and only where it is missing.
load helper

@test "a map records every destination; a rerun copies nothing and touches nothing" {
	img src 2M
	img a 2M
	img b 3M
	run "$DMIO" --map m copy src a b:100
	assert_success
	# The paths as realpath(3) gives them, each with what it is.
	run sed -E 's/ (file|blk):[^ ]*$/ ID/' m
	assert_output "dmio-map 2
source $T/src 0 4096 ID
destination $T/a 0 4096 ID
destination $T/b 100 4096 ID
done 0 0 4096
done 1 0 4096"
	# Change a destination: a rerun must not write it again.
	flip_byte a 1000
	cp a a.changed
	run --separate-stderr "$DMIO" --json --map m copy src a b:100
	assert_success
	[ "$(json .bytes)" = 0 ]
	[ "$(json '[.regions[].sectors_done] | join(",")')" = "4096,4096,4096" ]
	cmp a a.changed
}

@test "an empty file (mktemp's) is a new map; a map with only part of a line is refused" {
	img src 2M
	img a 2M
	: >m
	run --separate-stderr "$DMIO" --json --map m copy src a
	assert_success
	cmp src a
	[ "$(head -1 m)" = "dmio-map 2" ]
	grep -q '^done 0 0 4096$' m
	# Not a map dmio wrote: a torn one is not taken for a new one.
	printf 'dmio-map 2' >m
	img b 2M
	cp b b.before
	run --separate-stderr "$DMIO" --map m copy src b
	assert_failure 2
	[[ $stderr == *"m:1: invalid map"* ]] || fail "$stderr"
	cmp b b.before
}

@test "a destination that failed is the only one written by the rerun" {
	img src 2M
	img a 2M
	img c 2M
	touch inject
	local bad
	bad=$(nbd_dev bad --filter=error memory 2M error-pwrite=EIO error-pwrite-rate=100% \
		error-pwrite-file="$T/inject")
	run --separate-stderr "$DMIO" --json --map m copy src a "$bad" c
	assert_failure 3
	[ "$(json .error_bits)" = 2 ]
	grep -qx "failed 1 0 1" m
	grep -qx "done 0 0 4096" m
	grep -qx "done 2 0 4096" m
	! grep -q "^done 1 " m
	# The device is mended; a and c are changed behind dmio's back.
	rm inject
	flip_byte a 7
	flip_byte c 9
	cp a a.changed
	cp c c.changed
	run --separate-stderr "$DMIO" --json --map m copy src a "$bad" c
	assert_success
	[ "$(json .bytes)" = 2097152 ]
	cmp a a.changed
	cmp c c.changed
	cmp src <(dd if="$bad" bs=1M count=2 iflag=direct status=none)
	grep -qx "done 1 0 4096" m
	! grep -q "^failed" m
}

@test "SIGKILL mid-copy, then a rerun with the map completes and verifies" {
	img src 16M
	local dev
	dev=$(slow_dev)
	"$DMIO" --map m --chunk=64K copy src "$dev:8" >out 2>err &
	local pid=$!
	# Wait until the map records some progress, then kill without warning.
	local i=0
	until grep -q '^done 0 ' m 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 200 ] || fail "no progress in the map: $(cat err)"
		sleep 0.05
	done
	kill -KILL "$pid"
	wait "$pid" || true
	local done
	done=$(awk '$1 == "done" && $2 == 0 { print $4 }' m)
	[ "$done" -gt 0 ] && [ "$done" -lt 32768 ] || fail "done $done"
	# What the map says is done is on the device.
	cmp <(head -c $((done * 512)) src) \
		<(dd if="$dev" bs=512 skip=8 count="$done" iflag=direct status=none)
	run --separate-stderr "$DMIO" --json --map m --chunk=64K copy src "$dev:8"
	assert_success
	[ "$(json .bytes)" = $(((32768 - done) * 512)) ]
	run "$DMIO" verify src "$dev:8"
	assert_success
}

@test "a flush that fails at a periodic checkpoint fails its destination once: status, error_bits and failed agree" {
	img src 3M
	img a 3M
	bad_server bad 3M flush 0 0
	run --separate-stderr "$DMIO" --json --rate=1M --map m copy src a "$NBD"
	assert_failure 3
	[ "$(json '.regions[2].status')" = error ]
	[ "$(json '.regions[2].error')" = "flush: Input/output error at sector 0" ]
	[ "$(json .error_bits)" = 2 ]
	[ "$(json '.failed | join(",")')" = 1 ]
	[ "$(json '.regions[1].status')" = ok ]
	cmp src a
	grep -qx "failed 1 0 1" m
	grep -qx "done 0 0 6144" m
}

# map_fails_midway ARGS...: dmio ARGS (a 2-second copy with --map=mdir/m)
# in the background, stdout in out and stderr in err, with mdir a tmpfs
# made read-only once the map is there; its status in $st.
map_fails_midway() {
	mkdir -p mdir
	mount -t tmpfs -o size=1M none mdir
	echo "$T/mdir" >>"$T/.mounts"
	"$DMIO" "$@" >out 2>err &
	local pid=$! i=0
	until [ -s mdir/m ]; do
		i=$((i + 1))
		[ $i -lt 200 ] || fail "no map: $(cat err)"
		sleep 0.01
	done
	# Busy while the map is being replaced: again.
	until mount -o remount,ro mdir 2>/dev/null; do sleep 0.01; done
	st=0
	wait "$pid" || st=$?
	umount mdir
}

@test "a map that cannot be written mid-run is in the report, not only on stderr" {
	img src 8M
	truncate -s 8M dst
	local why="mdir/m: cannot write the map: Read-only file system"
	map_fails_midway --json --rate=4M --map=mdir/m copy src dst
	[ "$st" = 3 ] || fail "status $st: $(cat err)"
	[ "$(cat err)" = "dmio: $why" ]
	[ "$(jq -r .map_error out)" = "$why" ] || fail "$(cat out)"
	json_keep "$(cat out)"
	cmp src dst
	map_fails_midway --rate=4M --map=mdir/m copy src dst
	[ "$st" = 3 ]
	grep -qx "$why" out || fail "the table: $(cat out)"
	# A map that is written has no such key.
	run --separate-stderr "$DMIO" --json --map=m copy src dst
	assert_success
	[ "$(json 'has("map_error")')" = false ]
}

@test "a map that does not match the regions is refused, nothing written" {
	img src 1M
	img a 1M
	img b 1M
	run "$DMIO" --map m copy src a
	assert_success
	cp m m.orig
	img a 1M
	cp a a.orig
	for args in "src:8 a:8" "src a b" "src:0+100 a" "b a"; do
		# shellcheck disable=SC2086
		run --separate-stderr "$DMIO" --map m copy $args
		assert_failure 2
		[[ $stderr == "dmio: m: the map"* ]] || fail "$args: $stderr"
		[ "$(wc -l <<<"$stderr")" = 1 ]
		cmp a a.orig
		cmp m m.orig
	done
	for bad in "" "dmio-map 4" "dmio-map 1
source src 0 2048
destination a 0 2048
done 0 0 4097" "dmio-map 1
source src 0 2048
done 0 0 1" "dmio-map 1
source src 0 2048
destination a 0 2048
done 1 0 1" "garbage"; do
		printf '%s\n' "$bad" >m
		run --separate-stderr "$DMIO" --map m copy src a
		assert_failure 2
		[[ $stderr == "dmio: m:"*"invalid map: "* ]] || fail "'$bad': $stderr"
		cmp a a.orig
	done
	run --separate-stderr "$DMIO" --map . copy src a
	assert_failure 2
	[[ $stderr == "dmio: .: cannot read the map: "* ]]
}

@test "--map is for copy, and not with --no-flush" {
	img src 1M
	img a 1M
	run "$DMIO" --map m verify src a
	assert_failure 2
	assert_output --partial "--map is for copy only"
	run "$DMIO" --map m --no-flush copy src a
	assert_failure 2
	assert_output --partial "--map and --no-flush"
	[ ! -e m ]
}

@test "paths with spaces and backslashes survive the map" {
	img 'my src' 1M
	img 'a\b c' 1M
	run "$DMIO" --map m copy 'my src' 'a\b c'
	assert_success
	grep -q "^source $T/my\\\\040src 0 2048 file:" m
	grep -q "^destination $T/a\\\\134b\\\\040c 0 2048 file:" m
	run "$DMIO" --json --map m copy 'my src' 'a\b c'
	assert_success
	[ "$(json .bytes)" = 0 ]
}
