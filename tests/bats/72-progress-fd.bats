#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# --progress=fd:N: JSON lines for programs.  The stream parses, its bytes
# only grow, its lines are half a second apart at least, and its last line
# says what the report says (also when a destination failed); bad values
# are refused; a reader that goes away stops the stream, not the copy; a
# bare --progress is still the bar, and takes no argument of its own.
load helper

# lines FILE: every line of FILE is one JSON object (jq -e fails on
# anything else); their number in $n.
lines() {
	n=$(wc -l <"$1")
	[ "$n" -ge 2 ] || fail "$n lines: $(cat "$1")"
	jq -e -c 'type == "object"' "$1" >/dev/null || fail "not JSON lines: $(cat "$1")"
	[ "$(jq -s length "$1")" = "$n" ] || fail "not one object per line"
}

# matches_report FILE: the last line of FILE is final, and its regions'
# statuses and bytes are the report's (in $output, --json).
matches_report() {
	local last
	last=$(tail -n 1 "$1")
	[ "$(jq -s '[.[] | .final] | index(true)' "$1")" = $((n - 1)) ] ||
		fail "final is not the last line only"
	[ "$(jq -c '[.regions[] | [.index, .status, .bytes_done]]' <<<"$last")" = \
		"$(json '[.regions[] | [.index, .status, .sectors_done * 512]]' | jq -c .)" ] ||
		fail "last line $last, report $output"
}

@test "--progress=fd:6: JSON lines, bytes growing, half a second apart, the last one the report's" {
	img src 4M
	truncate -s 4M d1 d2
	# Paced (--rate) so that the copy takes about a second: several lines.
	run --separate-stderr "$DMIO" --json --rate=4M --chunk=64K --progress=fd:6 \
		copy src d1 d2 6>progress.jsonl
	assert_success
	lines progress.jsonl
	[ "$n" -ge 3 ] || fail "$n lines in a second"
	# Every key, of the right type, on every line.
	jq -e '(.bytes_done | type) == "number" and .bytes_total == 4194304 and
		(.rate | type) == "number" and (.eta == null or (.eta | type) == "number") and
		(.elapsed | type) == "number" and (.final | type) == "boolean" and
		(.regions | length) == 3 and
		all(.regions[]; (.index | type) == "number" and (.bytes_done | type) == "number" and
			(.status | IN("running", "ok")))' progress.jsonl >/dev/null ||
		fail "keys: $(cat progress.jsonl)"
	# Growing, and at most one line every half second until the last.
	jq -s -e '. as $l | all(range(1; length); $l[.].bytes_done >= $l[. - 1].bytes_done and
		all($l[.].regions[]; .bytes_done <= 4194304))' progress.jsonl >/dev/null ||
		fail "bytes_done went back: $(cat progress.jsonl)"
	jq -s -e '.[:-1] as $l | all(range(1; $l | length); $l[.].elapsed - $l[. - 1].elapsed >= 0.49)' \
		progress.jsonl >/dev/null || fail "lines too close: $(cat progress.jsonl)"
	# The last: all done, the total, an ETA of 0, and the report's statuses.
	[ "$(tail -n 1 progress.jsonl | jq -c '[.final, .bytes_done, .eta]')" = '[true,4194304,0]' ]
	matches_report progress.jsonl
	cmp src d1
	cmp src d2
}

@test "--progress=fd:N: a failing destination: the last line says error where the report does" {
	img src 4M
	local bad
	bad=$(bad_dev bad 4M pwrite 3000 8)
	truncate -s 4M good
	run --separate-stderr "$DMIO" --json --chunk=64K --progress=fd:5 copy src good "$bad" \
		5>progress.jsonl
	assert_failure 3
	lines progress.jsonl
	matches_report progress.jsonl
	[ "$(tail -n 1 progress.jsonl | jq -c '[.regions[].status]')" = '["ok","ok","error"]' ]
	[ "$(tail -n 1 progress.jsonl | jq '.regions[2].bytes_done')" = $((3000 * 512)) ]
}

@test "--progress: bad values, an fd that is not open or not for writing, fd 1 under --json: exit 2" {
	img src 1M
	truncate -s 1M dst
	local v
	for v in '' fd: fd:x fd:-1 fd:3x 3 stderr 'fd: 3'; do
		run --separate-stderr "$DMIO" --progress="$v" copy src dst
		assert_failure 2
		[[ $stderr == "dmio: --progress: '$v': not fd:N"* ]] || fail "--progress=$v: $stderr"
	done
	run --separate-stderr "$DMIO" --progress=fd:9 copy src dst 9>&-
	assert_failure 2
	[[ $stderr == "dmio: --progress: fd 9: not open"$'\n'* ]] || fail "$stderr"
	run --separate-stderr "$DMIO" --progress=fd:7 copy src dst 7</dev/null
	assert_failure 2
	[[ $stderr == "dmio: --progress: fd 7: not open for writing"$'\n'* ]] || fail "$stderr"
	# fds 0, 1 and 2 closed are /dev/null when dmio looks: refused as
	# closed, not written to /dev/null (fd 2's message is lost with it).
	local fd
	for fd in 0 1 2; do
		run bash -c "'$DMIO' -q --progress=fd:$fd copy src dst 2>err $fd>&-; echo \$? >st; cat err"
		[ "$(cat st)" = 2 ] || fail "fd $fd closed: status $(cat st)"
		[ $fd = 2 ] || [ "${lines[0]}" = "dmio: --progress: fd $fd: not open" ] ||
			fail "fd $fd closed: $output"
	done
	run --separate-stderr "$DMIO" --json --progress=fd:1 copy src dst
	assert_failure 2
	[ "$(json .error)" = "--progress: fd 1: standard output carries the JSON document" ]
	run --separate-stderr "$DMIO" --progress=fd:1 read src
	assert_failure 2
	cmp dst <(head -c 1M /dev/zero)
}

@test "--progress=fd:N on read's output or a destination's file is refused, as fd 1 is" {
	img src 1M
	truncate -s 1M dst
	local st=0
	"$DMIO" --progress=fd:3 read src >out 3>&1 2>err || st=$?
	[ "$st" = 2 ] || fail "status $st: progress lines in read's data ($(stat -c %s out) bytes, not 1048576)"
	[ ! -s out ]
	[ "$(cat err)" = "dmio: --progress: fd 3 is standard output, which carries read's data" ]
	cp dst dst.before
	st=0
	"$DMIO" --progress=fd:3 copy src dst 3<>dst >out 2>err || st=$?
	if [ "$st" = 0 ]; then
		cmp src dst || fail "dst reported ok, but the progress stream overwrote it after the copy"
	fi
	[ "$st" = 2 ] || fail "status $st"
	cmp dst dst.before
	[ "$(cat err)" = "dmio: --progress: fd 3 is dst's file" ]
	# The source, the output, the input, the map, the digest log, and
	# stdout under --json: each refused before any I/O, nothing written.
	cp src src.before
	: >map
	: >log
	for args in "copy src dst 3>>src" "-o out read src 3>>out" "-i src write dst 3>>src" \
		"--map=map copy src dst 3>>map" "--hash=md5 --hash-log=log copy src dst 3>>log" \
		"--json copy src dst 3>&1"; do
		st=0
		# The fd's redirection last: 3>&1 is rep.
		eval "\"\$DMIO\" --progress=fd:3 ${args% *} >rep 2>err ${args##* }" || st=$?
		[ "$st" = 2 ] || fail "$args: status $st"
		[[ "$(cat err rep)" == *"--progress: fd 3 is "* ]] || fail "$args: $(cat err rep)"
	done
	cmp src src.before
	cmp dst dst.before
	[ ! -s map ] && [ ! -s log ]
	# /dev/null loses nothing: allowed.
	"$DMIO" -q --progress=fd:3 -o /dev/null read src 3>/dev/null
}

@test "--progress=fd:N: a reader that went away: one warning, the copy finishes, exit 0" {
	img src 4M
	truncate -s 4M dst
	# fd 6: a FIFO's write end with no reader left, so the first line
	# meets EPIPE (and SIGPIPE, which must not kill dmio).
	mkfifo gone.fifo
	exec 7<>gone.fifo
	exec 6>gone.fifo
	exec 7<&-
	run --separate-stderr "$DMIO" --rate=8M --progress=fd:6 copy src dst
	exec 6>&-
	assert_success
	[ "$(grep -c 'progress fd 6' <<<"$stderr")" = 1 ] || fail "$stderr"
	[[ $stderr == *"dmio: progress fd 6: write error: Broken pipe; no more progress lines, the job goes on"* ]]
	cmp src dst
}

@test "a bare --progress is the plain lines and takes no argument; with fd:N beside it, both" {
	img src 1M
	truncate -s 1M dst
	run --separate-stderr "$DMIO" --progress copy src dst
	assert_success
	[[ $stderr == *"dmio: 1.0 MiB / 1.0 MiB (100%)"* ]]
	run --separate-stderr "$DMIO" copy src dst --progress
	assert_success
	[[ $stderr == *"(100%)"* ]]
	run --separate-stderr "$DMIO" --progress --progress=fd:6 copy src dst 6>p.jsonl
	assert_success
	[[ $stderr == *"(100%)"* ]]
	[ "$(tail -n 1 p.jsonl | jq -c '[.final, .bytes_done]')" = '[true,1048576]' ]
	# --quiet silences the bar, not the stream, which a program asked for.
	run --separate-stderr "$DMIO" --quiet --progress=fd:6 copy src dst 6>q.jsonl
	assert_success
	assert_output ""
	[ "$stderr" = "" ]
	[ "$(tail -n 1 q.jsonl | jq -c '[.final, .bytes_done]')" = '[true,1048576]' ]
}
