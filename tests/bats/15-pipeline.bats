#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# The copy pipeline (dm-kcopyd's shape), seen from outside: many chunks in
# flight between real loop devices, each read once and written from that
# same buffer to every destination, reads overlapping writes, io_submit
# batched, and a main loop that never waits on its timeout to move on.
# Nothing here is timed: speed is bench/run's business.
load helper

# loops N SIZE: a source of random bytes and N zeroed destinations on loop
# devices, in $S and ${D[@]}; their files are src, d1..dN.
loops() {
	img src "$2"
	S=$(loop src)
	D=()
	for i in $(seq "$1"); do
		truncate -s "$2" "d$i"
		D+=("$(loop "d$i")")
	done
}

# iocbs TRACE: from an strace of io_submit and io_getevents, one line per
# iocb, in order: "submit BATCH OP DATA" or "done DATA" (aio_data names the
# request, so a completion is matched to its submission).
iocbs() {
	awk '
	function upto_comma(s) { sub(/[,}].*/, "", s); return s }
	/io_submit\(/ {
		n = split($0, parts, /\{aio_data=/)
		for (i = 2; i <= n; i++) {
			op = parts[i]
			sub(/.*aio_lio_opcode=IOCB_CMD_/, "", op)
			print "submit", n - 1, upto_comma(op), upto_comma(parts[i])
		}
	}
	/io_getevents\(/ {
		n = split($0, parts, /\{data=/)
		for (i = 2; i <= n; i++) print "done", upto_comma(parts[i])
	}
	' "$1"
}

@test "a mirror of many chunks between loop devices is exact, with every engine and buffer type" {
	loops 2 24M
	for engine in --async --engine=aio --sync; do
		for buffer in vm pages bvec; do
			dd if=/dev/zero of="${D[0]}" bs=1M count=24 oflag=direct status=none
			dd if=/dev/zero of="${D[1]}" bs=1M count=24 oflag=direct status=none
			run "$DMIO" -q "$engine" --buffer="$buffer" --chunk=256K copy "$S" "${D[@]}"
			assert_success
			# The files under the loop devices, not a page cache above them.
			cmp src d1 || fail "$engine $buffer: d1 differs"
			cmp src d2 || fail "$engine $buffer: d2 differs"
		done
	done
	run "$DMIO" -q verify "$S" "${D[@]}"
	assert_success
}

@test "the source is read once per chunk and every destination written from that buffer" {
	loops 3 16M
	run --separate-stderr "$DMIO" --verbose copy "$S" "${D[@]}"
	assert_success
	# 16 chunks of 1 MiB: 16 reads and 3 x 16 writes, none through bounce
	# pages, so none copied: the write is the read's own buffer.
	assert_output --partial "16777216 bytes in"
	assert_output --partial "8 chunks of 1024 KiB in flight at most, 64 requests issued, 0 through bounce pages"
	# The same with page lists: their pages are contiguous, so still one
	# request per chunk and destination.
	run --separate-stderr "$DMIO" --verbose --buffer=pages --chunk=512K copy "$S" "${D[@]}"
	assert_success
	assert_output --partial ", 128 requests issued, 0 through bounce pages"
	cmp src d1 && cmp src d2 && cmp src d3
}

@test "reads of later chunks overlap the writes of earlier ones; io_submit takes batches" {
	# One destination slow to write (40 ms a request, nbdkit's delay
	# filter): the source is read ahead while its writes are in flight.
	loops 1 32M
	D+=("$(slow_dev)")
	# libaio, whose iocbs strace shows (io_uring's are in shared memory);
	# the pipeline above the engine is the same for both.
	strace -f -qq -v -e trace=io_submit,io_getevents -o trace \
		"$DMIO" -q --engine=aio --chunk=256K copy "$S" "${D[@]}"
	iocbs trace >events
	# Replay the trace: what is in flight at every submission.
	run awk '
	$1 == "submit" {
		if ($2 > 1) batched++
		if ($3 == "PREADV") { reads++; if (writing > 0) overlap++ } else { writes++; writing++ }
		op[$4] = $3; inflight++; if (inflight > most) most = inflight
	}
	$1 == "done" { inflight--; if (op[$2] == "PWRITEV") writing-- }
	END { printf "reads %d writes %d batched %d overlap %d most %d\n", reads, writes, batched, overlap, most }
	' events
	assert_success
	echo "$output" >&3
	read -r _ reads _ writes _ batched _ overlap _ most <<<"$output"
	[ "$reads" = 128 ] && [ "$writes" = 256 ]
	# Some reads were submitted while writes were in flight.
	[ "$overlap" -gt 0 ]
	# Several iocbs went to the kernel in one io_submit.
	[ "$batched" -gt 0 ]
	# Bounded: 8 chunks in flight at most, each one read or two writes.
	[ "$most" -le 16 ] && [ "$most" -gt 2 ]
	cmp src d1 && cmp src <(head -c 32M "${D[1]}")
}

@test "one chunk in flight: each chunk starts when the last retires; the loop never sleeps on a timeout" {
	# The main loop sleeps in poll() on its eventfd, which completions and
	# signals write: with no --progress and no --map it has no deadline, so
	# every poll waits without a timeout (-1), or only looks (0).  A loop
	# that slept after retiring a chunk would show as a poll that timed out.
	loops 1 32M
	cp src d1
	strace -f -qq -e trace=poll -o trace "$DMIO" -q --queue-depth=2 verify "$S" "${D[0]}"
	local polls timed
	polls=$(grep -c 'poll(' trace || true)
	timed=$(grep -Ec 'poll\(.*, [1-9][0-9]*\)|= 0 \(Timeout\)' trace || true)
	echo "polls: $polls, with a timeout: $timed (32 chunks)" >&3
	[ "$polls" -gt 0 ] && [ "$timed" = 0 ]
}

@test "a destination file's run of data is asked for once, not at every chunk (SEEK_HOLE walks a tmpfs file)" {
	# dst: 8M of data, an 8M hole, 16M of data; src the same bytes.  Each
	# chunk that verify reads of dst asks whether it is a hole: a run of
	# data answers for all the chunks in it, a hole is asked each time.
	# Asking at every chunk was 2 lseeks x 32 chunks, and quadratic on
	# tmpfs (a 1 GiB verify took 3.4 s of system time; cmp 0.7 s).
	img src 32M
	dd if=/dev/zero of=src bs=1M seek=8 count=8 conv=notrunc status=none
	cp --sparse=always src dst
	strace -f -qq -e trace=lseek -o trace "$DMIO" -q --chunk=1M verify src dst
	local seeks
	seeks=$(grep -c 'lseek(' trace || true)
	echo "lseeks: $seeks (32 chunks, 3 runs)" >&3
	[ "$seeks" -le 20 ]
	# ... and a difference past the first run of data is still found.
	printf 'x' | dd of=dst bs=1 seek=$((20 * 1048576 + 7)) conv=notrunc status=none
	run "$DMIO" -q --json --chunk=1M verify src dst
	[ "$status" -eq 1 ]
	[ "$(jq -c '.regions[1].differing_ranges' <<<"$output")" = "[[$((20 * 2048)),1]]" ]
}

@test "the default engine is io_uring where the kernel has it, else libaio; --engine names one" {
	img src 4M
	truncate -s 4M dst
	local want=aio
	# io_uring works here when an explicit --engine=uring copy does.
	if "$DMIO" -q --engine=uring copy src dst; then want=uring; fi
	run "$DMIO" --verbose copy src dst
	assert_success
	assert_output --partial "; $want engine,"
	run "$DMIO" --verbose --async copy src dst
	assert_output --partial "; $want engine,"
	for e in aio sync; do
		run "$DMIO" --verbose --engine=$e copy src dst
		assert_success
		assert_output --partial "; $e engine,"
	done
	cmp src dst
}
