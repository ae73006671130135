#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# --rate: a token bucket over chunks.  Each command that moves data is held
# to the rate (a lower bound on its duration: a check of the limiter, not of
# speed); holes onto a file cost nothing, zeroes onto a block device do;
# bad values are refused; SIGINT ends a rate-limited run at once, and its
# report is true.
load helper

# took CMD...: run CMD (run's $status and $output); its wall time in
# milliseconds in $ms.
took() {
	local t0
	t0=$(date +%s%N)
	run --separate-stderr "$@"
	ms=$((($(date +%s%N) - t0) / 1000000))
}

# at_least MS: the last took lasted MS milliseconds or more.
at_least() {
	[ "$ms" -ge "$1" ] || fail "took $ms ms, less than $1 ms: the rate did not hold"
}

# 8 MiB at 4 MiB/s in 64 KiB chunks: the bucket starts with a tenth of a
# second of the rate (0.4 MiB), so the last chunk cannot start before
# (8 - 0.4) / 4 = 1.9 s.
RATE=(--rate=4M --chunk=64K)
LEAST=1800

@test "--rate holds copy, verify, read, write and zero to the rate" {
	img src 8M
	truncate -s 8M dst
	took "$DMIO" "${RATE[@]}" copy src dst
	assert_success
	at_least $LEAST
	cmp src dst
	took "$DMIO" "${RATE[@]}" verify src dst
	assert_success
	at_least $LEAST
	took "$DMIO" "${RATE[@]}" read src -o out
	assert_success
	at_least $LEAST
	cmp src out
	img in 8M
	took "$DMIO" "${RATE[@]}" -i in write dst
	assert_success
	at_least $LEAST
	cmp in dst
	# zero on a block device: BLKZEROOUT may write every zero, so it counts.
	local dev
	dev=$(loop dst)
	took "$DMIO" "${RATE[@]}" zero "$dev"
	assert_success
	at_least $LEAST
	cmp dst <(head -c 8M /dev/zero)
}

# bats test_tags=unprivileged
@test "--rate paces a job shorter than a chunk too: no chunk goes unpaid" {
	img src 1M
	# One default chunk (1 MiB) at 256 KiB/s: (1 MiB - 25.6 KiB) / 256 KiB/s
	# is 3.9 s; it went at once before chunks were cut to the bucket.
	took "$DMIO" -q --rate=256K read src -o out
	assert_success
	at_least 3700
	cmp src out
	took "$DMIO" --json --rate=256K read src -o out
	at_least 3700
	[ "$(json .regions[0].status)" = ok ]
}

@test "--rate: a file source's holes cost nothing onto a file, their bytes onto a block device" {
	# 64 MiB of hole at 1 MiB/s would take a minute if it counted.
	truncate -s 64M hole dst
	took "$DMIO" --json --rate=1M copy hole dst
	assert_success
	[ "$ms" -lt 20000 ] || fail "took $ms ms: the holes were paced"
	[ "$(json .bytes_zeroed)" = $((64 << 20)) ]
	# Onto a loop device they are BLKZEROOUT, paced as data, in chunks no
	# larger than the bucket (not one 8 MiB write-zeroes, then a pause).
	truncate -s 8M hole8
	img dev.img 8M
	local dev
	dev=$(loop dev.img)
	took "$DMIO" "${RATE[@]}" copy hole8 "$dev"
	assert_success
	at_least $LEAST
	cmp hole8 dev.img
	# And zeroes written as data (--no-sparse) count on a file too.
	took "$DMIO" "${RATE[@]}" --no-sparse zero dst:0+8M
	assert_success
	at_least $LEAST
}

@test "--rate: 0, garbage and empty values are refused, exit 2, nothing written" {
	img src 1M
	truncate -s 1M dst
	local v
	for v in 0 0K abc -1 1X ''; do
		run --separate-stderr "$DMIO" --rate="$v" copy src dst
		assert_failure 2
		[[ $stderr == "dmio: --rate: '$v': "* ]] || fail "--rate=$v: $stderr"
	done
	cmp dst <(head -c 1M /dev/zero)
	run --separate-stderr "$DMIO" --json --rate=0 copy src dst
	assert_failure 2
	[ "$(json .exit_code)" = 2 ]
}

@test "SIGINT during a rate-limited copy: out at once, exit 130, the report and the stream true" {
	img src 8M
	truncate -s 8M dst
	mkfifo progress.fifo
	# At 1 KiB/s chunks are 4 KiB (the least), each one paid for over 4 s:
	# the first starts at once, the next waits, asleep in the loop's
	# poll(), which the signal must wake.
	"$DMIO" --json --rate=1K --progress=fd:6 copy src dst 6>progress.fifo >out 2>err &
	local pid=$! line sectors t0 ms rc=0
	exec 4<progress.fifo
	# Until the stream says the first chunk is done.
	while read -r -t 30 -u 4 line; do
		echo "$line" >>progress.jsonl
		[ "$(jq .bytes_done <<<"$line")" -lt 4096 ] || break
	done
	t0=$(date +%s%N)
	kill -INT "$pid"
	wait "$pid" || rc=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	[ "$(jq .bytes_done <<<"$line")" = 4096 ] || fail "stream: $line"
	cat <&4 >>progress.jsonl
	exec 4<&-
	[ "$rc" = 130 ] || fail "exit $rc: $(cat err)"
	[ "$ms" -lt 2500 ] || fail "$ms ms from SIGINT to exit: the rate's sleep was not woken"
	output=$(cat out)
	[ "$(json '.regions[1].status')" = interrupted ]
	sectors=$(json '.regions[1].sectors_done')
	[ "$sectors" = 8 ]
	cmp -n 4096 src dst
	cmp <(tail -c +$((4096 + 1)) dst) <(head -c $(((8 << 20) - 4096)) /dev/zero)
	# The stream's last line says the same.
	line=$(tail -n 1 progress.jsonl)
	[ "$(jq -c '[.final, .bytes_done, [.regions[].status]]' <<<"$line")" = \
		'[true,4096,["interrupted","interrupted"]]' ] || fail "last line: $line"
}
