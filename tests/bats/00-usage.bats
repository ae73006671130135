#!/usr/bin/env bats
# Options, help, version and usage errors.
load helper

# bats file_tags=unprivileged

@test "--help lists every command and every option, on stdout, exit 0" {
	run --separate-stderr "$DMIO" --help
	assert_success
	[ -z "$stderr" ]
	for w in copy verify read write zero info --sync --async --engine= --buffer= --chunk= \
		--queue-depth= --direct --no-direct --input= --output= --progress --json \
		--force --dry-run --no-flush --quiet --verbose --help --version; do
		assert_output --partial -- "$w"
	done
}

@test "--version prints the version" {
	run "$DMIO" --version
	assert_success
	assert_output --regexp '^dmio [0-9a-g.-]+'
}

@test "an unknown option says so and points to --help, exit 2" {
	run --separate-stderr "$DMIO" --bogus copy a b
	assert_failure 2
	[[ $stderr == *"--bogus"* ]]
	[[ $stderr == *"Try 'dmio --help'"* ]]
}

@test "no command, an unknown command and missing regions are usage errors" {
	run "$DMIO"
	assert_failure 2
	assert_output --partial "no command"
	run "$DMIO" mirror a b
	assert_failure 2
	assert_output --partial "unknown command 'mirror'"
	run "$DMIO" copy a
	assert_failure 2
	assert_output --partial "too few regions"
	run "$DMIO" read a b
	assert_failure 2
	run "$DMIO" -o x write a
	assert_failure 2
	assert_output --partial "--output is for read only"
}

@test "bad option values are refused with the value named" {
	img s 1M
	for bad in --buffer=heap --chunk=3K --chunk=0 --chunk=128M --chunk=x \
		--queue-depth=0 --queue-depth=-1 --queue-depth=99999 --queue-depth=4x; do
		run "$DMIO" "$bad" read s -o /dev/null
		assert_failure 2
		assert_output --partial "${bad#--*=}"
	done
}
