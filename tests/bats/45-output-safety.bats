#!/usr/bin/env bats
# Names with quotes, backslashes, newlines and control bytes: the JSON stays
# valid and exact, the table and the messages stay one line per row.
load helper

NAME=$'we"ird\\ \nna\tme\e[31m'

# bats test_tags=unprivileged
@test "a path with quotes, a newline and an escape: exact JSON, escaped table" {
	img src 1M
	img "$NAME" 1M
	run --separate-stderr "$DMIO" --json copy src "$NAME:0"
	assert_success
	[ "$(jq -r '.regions[1].device' <<<"$output")" = "$NAME" ]
	[ "$(jq -r '.regions[1].region' <<<"$output")" = "$NAME:0" ]
	run --separate-stderr "$DMIO" copy src "$NAME:0"
	assert_success
	[ "${#lines[@]}" = 4 ]
	[[ ${lines[2]} == 'we"ird\ \x0ana\x09me\x1b[31m:0 destination'* ]]
	[[ $output != *$'\e'* ]]
	run --separate-stderr "$DMIO" --json info "$NAME"
	assert_success
	[ "$(jq -r '.regions[0].device' <<<"$output")" = "$NAME" ]
}

@test "an ext4 label with a quote, a tab and a backslash" {
	truncate -s 16M fs.img
	local label=$'q"\tx\\y'
	mkfs.ext4 -q -F -L "$label" fs.img
	local dev
	dev=$(loop fs.img)
	run --separate-stderr "$DMIO" --json info "$dev"
	assert_success
	[ "$(jq -r '.regions[0].label' <<<"$output")" = "$label" ]
	run --separate-stderr "$DMIO" info "$dev"
	assert_success
	[ "${#lines[@]}" = 2 ]
	[[ ${lines[1]} == *' q"\x09x\y'* ]]
}

# bats test_tags=unprivileged
@test "messages about such names stay on one line" {
	img src 1M
	run --separate-stderr "$DMIO" copy src "$NAME"
	assert_failure 2
	[ "$stderr" = 'dmio: we"ird\ \x0ana\x09me\x1b[31m: cannot open: No such file or directory' ]
	run --separate-stderr "$DMIO" --chunk="$NAME" copy src src
	assert_failure 2
	[ "${#stderr_lines[@]}" = 2 ]
	[[ ${stderr_lines[0]} == "dmio: --chunk: 'we\"ird\\ \\x0ana"* ]]
}
