#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# Power loss under copy --map, tested the way CrashMonkey tests file
# systems.  The destination is an NBD export whose writes are durable only
# once flushed (power-loss-plugin, an nbdkit sh plugin); the power is cut
# as a chosen write or flush comes, dmio dies with the machine (SIGKILL),
# and what survives is the durable image plus any subset of the writes not
# yet flushed.  Every map dmio wrote must name as done only sectors that
# survived, and a rerun with the map on disk, or with the one before it
# (what a crash during the map's rename may leave), must make the
# destination byte-exact.  The cuts: at every flush of the run in turn
# (the periodic checkpoints and the final flush), then at writes spread
# over the whole run.  The writes chosen and the subsets kept come from a
# seed, printed; DMIO_POWER_SEED=N makes the same choices where the runs'
# timing (the machine's) is the same.  No root: a server on a Unix socket
# (but nbdkit, so not tagged unprivileged).
load helper

PLUGIN=$BATS_TEST_DIRNAME/power-loss-plugin
# 1 MiB in 64 chunks at 256 KiB/s: about 4 s, so 3 periodic checkpoints
# (one a second) and the final flush.
SECTORS=2048
COPY=(--chunk=16K --rate=256K)

eval "helper_teardown() $(declare -f teardown | sed 1d)"
teardown() {
	# A dmio that a failed test left running, then what the helper made.
	if [ -s "$T/dmio.pid" ]; then
		kill -KILL "$(cat "$T/dmio.pid")" 2>/dev/null || true
	fi
	helper_teardown
}

# The source (random data, a run of written zeroes and a hole: the export
# gets both as NBD_CMD_WRITE_ZEROES) and what the destinations hold before
# the copy: random too, so that no lost write can go unseen.
make_data() {
	truncate -s 1M src
	dd if=/dev/urandom of=src bs=64K count=10 conv=notrunc status=none
	dd if=/dev/zero of=src bs=64K seek=6 count=1 conv=notrunc status=none
	dd if=/dev/urandom of=src bs=64K seek=12 count=4 conv=notrunc status=none
	img dst.init 1M
	img loc.init 1M
	cp loc.init loc
}

seed_init() {
	SEED=${DMIO_POWER_SEED:-$((SRANDOM % 1000000))}
	RANDOM=$SEED
	echo "# seed $SEED (DMIO_POWER_SEED=$SEED makes the same choices)" >&3
	T0=$SECONDS CUTS=0 LOST=0 CLAIMED=0
}

# power_on: the export's server, up for the whole test (teardown stops
# it); its URI in $NBD.  What it serves is the run that new_run made last.
power_on() {
	mkdir "$T/pl"
	mkfifo "$T/pl/fifo"
	RUNS=0
	new_run dst.init ""
	nbd_server exp sh "$PLUGIN" dir="$T/pl"
}

# new_run IMAGE CUT [MAP]: what the next connections to the export get: a
# copy of IMAGE, the power to go as CUT comes ("write N", "flush N", or ""
# for never), and each flush copying the map MAP as it then is into
# $RUN/maps.  Its directory in $RUN.
new_run() {
	RUNS=$((RUNS + 1))
	RUN=$T/pl/$RUNS
	mkdir -p "$RUN/log" "$RUN/maps"
	cp "$1" "$RUN/image"
	echo 0 >"$RUN/writes"
	echo 0 >"$RUN/flushes"
	echo "$2" >"$RUN/cut"
	[ -z "${3:-}" ] || ln -s "$T/$3" "$RUN/map"
	echo "$RUN" >"$T/pl/current"
}

# copy_until_cut CUT DST...: a new run of the export that loses power as
# CUT comes, and "dmio --map=m copy src DST..." in the background until
# the power goes or dmio ends; $CUT says which ("write N", "flush N",
# "exit STATUS").  At the cut dmio is SIGKILLed, as the machine dies: the
# plugin holds the request that cut until it is dead.  With LIAR set, the
# export's flushes keep nothing.
copy_until_cut() {
	new_run dst.init "$1" m
	shift
	[ -z "${LIAR:-}" ] || : >"$RUN/lie"
	rm -f m
	cp loc.init loc
	exec 8<>"$T/pl/fifo" 9>"$T/pl/lock"
	flock 9
	(
		# The pid is written before dmio runs, so before any cut.
		# shellcheck disable=SC2016
		sh -c 'echo $$ >"$0"; exec "$@"' "$T/dmio.pid" \
			"$DMIO" --map=m "${COPY[@]}" copy src "$@" >dmio.out 2>dmio.err 8>&- &
		rc=0
		# Quiet: bash would say "Killed".
		{ wait $! || rc=$?; } 2>/dev/null
		rm -f "$T/dmio.pid"
		echo "exit $rc" >&8
	) 3>&- 9>&- &
	local sub=$! rc
	read -r -t 60 -u 8 CUT || fail "neither a power cut nor dmio's end in 60 s"
	if [ "${CUT%% *}" != exit ]; then
		kill -KILL "$(cat "$T/dmio.pid")"
		read -r -t 60 -u 8 rc || fail "dmio did not die"
		[ "$rc" = "exit 137" ] || fail "dmio ended by itself at the cut: $rc: $(cat dmio.err)"
	fi
	wait "$sub"
	flock -u 9
	exec 9>&- 8>&-
}

# survive random|none: what the export of the run $RUN holds after the
# cut, into dst.img: the durable image and, in the order they came, each
# write not flushed with odds of one in two, or none of them.
survive() {
	local f rest kept=0 lost=0
	cp "$RUN/image" dst.img
	for f in "$RUN"/log/*; do
		[ -e "$f" ] || break
		if [ "$1" = random ] && ((RANDOM % 2)); then
			rest=${f##*/}
			rest=${rest#*.}
			dd if="$f" of=dst.img oflag=seek_bytes seek="${rest%.*}" conv=notrunc \
				status=none
			kept=$((kept + 1))
		else
			lost=$((lost + 1))
		fi
	done
	LOST=$((LOST + lost))
	WHERE="cut at $CUT, seed $SEED, $kept of $((kept + lost)) unflushed writes kept"
}

# claims_hold MAP I IMAGE: every range that MAP names done on destination
# I holds in IMAGE what the source holds there.
claims_hold() {
	local kind dst start count
	while read -r kind dst start count; do
		if [ "$kind" != "done" ] || [ "$dst" != "$2" ]; then continue; fi
		cmp -s -i $((start * 512)) -n $((count * 512)) src "$3" || {
			fail "$1 names sectors [$start, $((start + count))) of destination $2 done," \
				"but $3 does not hold them ($WHERE)"
			return 1
		}
		if [ "$count" -gt "$CLAIMED" ]; then CLAIMED=$count; fi
	done <"$1"
}

# rerun MAP IMAGE [LOCAL]: the copy again with MAP, at full speed, to the
# export (at the same URI: an export's identity in a map is its URI and
# size) over a copy of IMAGE that keeps its power: it succeeds, and every
# destination is exact, the export durably.
rerun() {
	new_run "$2" ""
	run --separate-stderr "$DMIO" --map="$1" --chunk=16K copy src "$NBD" ${3:+"$3"}
	[ "$status" = 0 ] || {
		fail "the rerun with $1 exits $status: $stderr ($WHERE)"
		return 1
	}
	cmp -s src "$RUN/image" || {
		fail "the rerun with $1 left the export different ($WHERE)"
		return 1
	}
	[ -z "${3:-}" ] || cmp -s src "$3" || {
		fail "the rerun with $1 left $3 different ($WHERE)"
		return 1
	}
	grep -qx "done 0 0 $SECTORS" "$1" || fail "$1 after the rerun: $(cat "$1")"
}

# after_cut [LOCAL]: after a cut of a copy to the export (and to LOCAL, a
# file, which loses nothing here: its page cache cannot be cut): what
# survives; the claims of every map the run wrote (the copies the flushes
# took, and m as the kill left it); a rerun with m, and one with the map
# before it, on the same surviving bytes.
after_cut() {
	local map k older='' maps=$RUN/maps
	CUTS=$((CUTS + 1))
	survive random
	for ((k = 0; ; k++)); do
		map=$maps/$k
		[ "$k" != 0 ] || map=m
		[ -e "$map" ] || break
		claims_hold "$map" 0 dst.img
		[ -z "${1:-}" ] || claims_hold "$map" 1 "$1"
		cmp -s "$map" m || older=$map
	done
	[ -z "${1:-}" ] || cp "$1" loc.saved
	cp m m.rerun
	rerun m.rerun dst.img "$@"
	if [ -n "$older" ]; then
		# In place: a file's identity is its inode.
		[ -z "${1:-}" ] || cp loc.saved "$1"
		cp "$older" m.older
		rerun m.older dst.img "$@"
	fi
}

# power_cuts CUTS [LOCAL]: cut at every flush of the run in turn, until a
# run has no such flush (it ends, whole and exact); then at CUTS writes,
# one in each stretch of the run.
power_cuts() {
	# Not i: bats' run --separate-stderr sets a caller's i (bats_version_lt).
	local k=1 cuts=$1 nth n w stretch
	shift
	power_on
	while :; do
		copy_until_cut "flush $k" "$NBD" "$@"
		[ "$CUT" != "exit 0" ] || break
		[ "$CUT" = "flush $k" ] || fail "at flush $k: $CUT: $(cat dmio.err)"
		after_cut "$@"
		k=$((k + 1))
	done
	[ "$k" -ge 4 ] || fail "only $((k - 1)) flushes: the copy did not last enough checkpoints"
	# The run that went to its end: every byte durable, every sector done.
	cmp src "$RUN/image"
	[ -z "$(ls "$RUN/log")" ]
	[ -z "${1:-}" ] || cmp src "$1"
	grep -qx "done 0 0 $SECTORS" m
	w=$(cat "$RUN/writes")
	stretch=$((w / cuts))
	for ((nth = 0; nth < cuts; nth++)); do
		n=$((1 + nth * stretch + RANDOM % stretch))
		copy_until_cut "write $n" "$NBD" "$@"
		[ "$CUT" = "write $n" ] || fail "at write $n of $w: $CUT: $(cat dmio.err)"
		after_cut "$@"
	done
	# Not vacuous: maps named sectors done, and unflushed writes were lost.
	[ "$CLAIMED" -gt 0 ] || fail "no map named any sector done"
	[ "$LOST" -gt 0 ] || fail "no cut lost an unflushed write"
	echo "# $CUTS cuts ($((k - 1)) flushes, $cuts of $w writes)," \
		"$LOST unflushed writes lost, $((SECONDS - T0)) s" >&3
}

@test "power cuts at every flush and at writes over the run: the maps name only what survived, and a rerun makes the export exact" {
	make_data
	seed_init
	power_cuts 5
}

@test "power cuts under a mirror to the export and a file: the same, for both destinations" {
	make_data
	seed_init
	power_cuts 3 loc
}

@test "the checks catch a device that loses writes it said were flushed" {
	make_data
	seed_init
	power_on
	LIAR=1 copy_until_cut "flush 2" "$NBD"
	[ "$CUT" = "flush 2" ]
	survive none
	grep -q "^done 0 0 " m
	run claims_hold m 0 dst.img
	assert_failure
	assert_output --partial "m names sectors [0, "
	cp m m.rerun
	run rerun m.rerun dst.img
	assert_failure
	assert_output --partial "the rerun with m.rerun left the export different"
}
