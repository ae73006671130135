#!/usr/bin/env bats
# What ships besides the program: man pages, completions, make install and
# pkg-config, the systemd units and the cron example.
load helper

REPO=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)

# The long options of the popt table, one per line, without "--".
popt_options() {
	sed -n 's/^[[:space:]]*{ "\([a-z-]*\)", .*POPT_ARG.*/\1/p' "$REPO/src/cli/cmd/options.c"
}

# bats test_tags=unprivileged
@test "every popt option is in dmio.1, in --help and in both completions" {
	local opts
	opts=$(popt_options)
	[ "$(wc -l <<<"$opts")" -ge 18 ]
	run "$DMIO" --help
	assert_success
	local help=$output o missing=
	for o in $opts; do
		grep -q -- "\\\\-\\\\-$o\\b" "$REPO/man/dmio.1" || missing+=" dmio.1:--$o"
		[[ $help == *"--$o"* ]] || missing+=" help:--$o"
		grep -q -- "--$o\\b" "$REPO/completions/dmio.bash" || missing+=" bash:--$o"
		grep -q -- "--$o\\b" "$REPO/completions/_dmio" || missing+=" zsh:--$o"
	done
	[ -z "$missing" ] || fail "not covered:$missing"
	# And every command, in the man page's COMMANDS and in both completions.
	for o in copy verify read write zero info; do
		grep -q "^\.B $o " "$REPO/man/dmio.1" || missing+=" dmio.1:$o"
		grep -q "\\b$o\\b" "$REPO/completions/dmio.bash" || missing+=" bash:$o"
		grep -q "'$o:" "$REPO/completions/_dmio" || missing+=" zsh:$o"
	done
	[ -z "$missing" ] || fail "not covered:$missing"
}

# bats test_tags=unprivileged
@test "the man pages pass mandoc -T lint and render" {
	run mandoc -T lint -W warning "$REPO/man/dmio.1" "$REPO/man/libdmio.3"
	assert_success
	assert_output ""
	run sh -c "mandoc -T ascii '$REPO/man/dmio.1' | sed 's/.\x08//g'"
	assert_success
	assert_output --partial "EXIT STATUS"
	assert_output --partial "dd(1), ddrescue(1), nbdcopy(1), nbdkit(1)"
}

# complete LINE: run the bash completion of dmio on LINE (the cursor at its
# end); the candidates, one per line, in $output, and what it asked of
# compopt (which works only inside real completion) in $COMPOPTS.
compopt() {
	local IFS=' '
	COMPOPTS+=" $*"
}

complete_line() {
	COMPOPTS=
	# shellcheck disable=SC1091
	source /usr/share/bash-completion/bash_completion
	source "$REPO/completions/dmio.bash"
	COMP_LINE=$1
	COMP_POINT=${#COMP_LINE}
	read -ra COMP_WORDS <<<"$COMP_LINE"
	[[ $COMP_LINE == *" " ]] && COMP_WORDS+=("")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMPREPLY=()
	# As bash runs it: not under errexit (compgen fails when nothing matches).
	_dmio dmio "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}" || :
	output=$(printf '%s\n' "${COMPREPLY[@]}")
}

@test "bash completion: commands, options, values, files and blkid tags" {
	complete_line "dmio "
	[ "$(sort <<<"$output" | tr '\n' ' ')" = "copy info read verify write zero " ]
	complete_line "dmio --buf"
	[ "$output" = "--buffer=" ]
	[ "$COMPOPTS" = " -o nospace" ]
	complete_line "dmio --buffer="
	[ "$(tr '\n' ' ' <<<"$output")" = "vm pages bvec " ]
	complete_line "dmio --buffer=p"
	[ "$output" = pages ]
	complete_line "dmio --sync --q"
	[[ $output == *--queue-depth=* && $output == *--quiet* ]]
	complete_line "dmio --no-"
	[ "$(tr '\n' ' ' <<<"$output")" = "--no-direct --no-sparse --no-flush " ]
	# Regions: files and devices, and the tags.
	img mirror-a.img 1M
	img mirror-b.img 1M
	complete_line "dmio copy src.img mirror-"
	[ "$(sort <<<"$output" | tr "\n" " ")" = "mirror-a.img mirror-b.img " ]
	[ "$COMPOPTS" = " -o filenames" ]
	complete_line "dmio --chunk 4M copy LAB"
	[ "$output" = "LABEL=" ]
	[ "$COMPOPTS" = " -o nospace" ]
	# LABEL= values come from blkid: make one.  The completion's blkid
	# scans every device: only this test's (own_scan).
	truncate -s 16M fs.img
	mkfs.ext4 -q -F -L "dmio-comp-$$" fs.img
	loop fs.img >/dev/null
	BLKID=$(type -P blkid)
	blkid() { own_scan "$BLKID" "$@"; }
	complete_line "dmio verify LABEL=dmio-comp-"
	[ "$output" = "LABEL=dmio-comp-$$" ]
}

# bats test_tags=unprivileged
@test "zsh completion parses and defines _dmio" {
	run zsh -n "$REPO/completions/_dmio"
	assert_success
	run zsh -fc "autoload -U compinit; compinit -u -d '$T/zcd'; fpath=('$REPO/completions' \$fpath);
		autoload -U _dmio; whence -w _dmio"
	assert_success
	assert_output "_dmio: function"
}

@test "make install into DESTDIR, build the example with pkg-config, run it, uninstall" {
	local root=$T/root
	run make -C "$REPO" -s install DESTDIR="$root" PREFIX=/usr
	assert_success
	for f in usr/bin/dmio usr/lib/libdmio.so.0 usr/lib/libdmio.a usr/include/dmio.h \
		usr/lib/pkgconfig/dmio.pc usr/share/man/man1/dmio.1 usr/share/man/man3/libdmio.3 \
		usr/share/bash-completion/completions/dmio usr/share/zsh/site-functions/_dmio \
		usr/share/dmio/dmio-report.schema.json; do
		[ -e "$root/$f" ] || fail "$f not installed"
	done
	[ "$(readlink "$root/usr/lib/libdmio.so")" = libdmio.so.0 ]
	run objdump -p "$root/usr/lib/libdmio.so.0"
	assert_output --regexp "SONAME +libdmio.so.0"
	export PKG_CONFIG_PATH=$root/usr/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$root
	run pkg-config --modversion dmio
	assert_success
	[ "$output" = "$("$REPO/scripts/version")" ]
	# shellcheck disable=SC2046
	cc -Wall -Wextra -Werror -o mirror "$REPO/examples/mirror.c" $(pkg-config --cflags --libs dmio)
	img src 1M
	truncate -s 2M a b
	run env LD_LIBRARY_PATH="$root/usr/lib" ./mirror src a b
	assert_success
	assert_output "a: ok
b: ok"
	cmp src <(head -c 1M a)
	cmp src <(head -c 1M b)
	run env LD_LIBRARY_PATH="$root/usr/lib" ldd ./mirror
	assert_output --partial "$root/usr/lib/libdmio.so.0"
	# The installed program links the shared library, and works.
	run env LD_LIBRARY_PATH="$root/usr/lib" ldd "$root/usr/bin/dmio"
	assert_output --partial "$root/usr/lib/libdmio.so.0"
	run env LD_LIBRARY_PATH="$root/usr/lib" "$root/usr/bin/dmio" --version
	assert_output "dmio $("$REPO/scripts/version")"
	run man -l "$root/usr/share/man/man3/libdmio.3"
	assert_output --partial "dmio_sync_vm"
	run make -C "$REPO" -s uninstall DESTDIR="$root" PREFIX=/usr
	assert_success
	run find "$root" -not -type d
	assert_output ""
}

# bats test_tags=unprivileged
@test "systemd units verify, and their command lines give dmio's exit codes" {
	mkdir units man1
	cp "$REPO"/contrib/systemd/* units/
	sed -i "s|/usr/local/bin/dmio|$DMIO|" units/*.service
	ln -s "$REPO/man/dmio.1" man1/dmio.1
	run env MANPATH="$T" systemd-analyze verify units/*.service units/*.timer
	assert_success
	assert_output ""
	# Run each ExecStart= as systemd would, with a test mirror.conf.
	img src.img 2M
	truncate -s 2M d1.img d2.img
	printf 'DMIO_SOURCE=%s\nDMIO_DESTINATIONS="%s %s"\nDMIO_LOG=%s\n' "$T/src.img" "$T/d1.img" \
		"$T/d2.img" "$T/m.log" >mirror.conf
	# Each paces itself (--rate, from Environment=, which mirror.conf may
	# override) and yields the disks to others (the idle I/O class).
	local u
	for u in units/*.service; do
		grep -qx 'IOSchedulingClass=idle' "$u" || fail "$u: not IOSchedulingClass=idle"
		grep -q '^ExecStart=.* --rate=${DMIO_RATE} ' "$u" || fail "$u: no --rate"
		grep -qx 'Environment=DMIO_RATE=100M' "$u" || fail "$u: no DMIO_RATE"
	done
	unit_run() {
		local cmd env
		cmd=$(sed -n 's/^ExecStart=//p' "units/$1")
		env=$(sed -n 's/^Environment=//p' "units/$1")
		(set -a && eval "$env" && . ./mirror.conf && eval "$cmd")
	}
	run unit_run dmio-mirror.service
	assert_success
	[ "$(json .operation)" = copy ]
	run unit_run dmio-verify.service
	assert_success
	flip_byte d2.img 5000
	run unit_run dmio-verify.service
	assert_failure 1
	[ "$(json .error_bits)" = 0 ]
	[ "$(json '.regions[2].status')" = mismatch ]
	# The delta: refused until a full copy made its log; then it writes
	# what changed, and the mirrors are the source again.
	run unit_run dmio-delta.service
	assert_failure 2
	"$DMIO" -q --hash=xxh128 --hash-window=1M --hash-log=m.log copy "$T/src.img" "$T/d1.img" \
		"$T/d2.img"
	flip_byte src.img 1500000
	run unit_run dmio-delta.service
	assert_success
	[ "$(json .bytes_written)" = $((2 << 20)) ]
	cmp src.img d1.img
	cmp src.img d2.img
}

# bats test_tags=unprivileged
@test "the cron example is a valid cron.d file whose lines run" {
	local f=$REPO/contrib/cron/dmio
	# Each job: five time fields, the user, the command.
	run grep -cE '^[0-9*,/-]+\s+[0-9*,/-]+\s+[0-9*,/-]+\s+[0-9*,/-]+\s+[0-9*,/-]+\s+root\s+dmio ' "$f"
	[ "$output" = 2 ]
	img src.img 1M
	truncate -s 1M d1.img d2.img
	run sh -c "SRC=src.img; DSTS='d1.img d2.img'; PATH=$(dirname "$DMIO"):\$PATH;
		$(grep -E 'dmio --quiet copy' "$f" | cut -f3)"
	assert_success
	assert_output ""
	run sh -c "SRC=src.img; DSTS='d1.img d2.img'; PATH=$(dirname "$DMIO"):\$PATH;
		$(grep -E 'dmio --quiet verify' "$f" | cut -f3)"
	assert_success
	assert_output ""
}

# bats test_tags=unprivileged
@test "scripts/deps installs nothing when every package is there, and says nothing is missing" {
	mkdir bin
	printf '#!/bin/sh\necho "$0 $*" >>%s/apt.log\nexit 1\n' "$T" >bin/apt-get
	chmod +x bin/apt-get
	cp bin/apt-get bin/apt
	for i in 1 2; do
		run env PATH="$T/bin:$PATH" "$REPO/scripts/deps"
		assert_success
		assert_output ""
	done
	[ ! -e apt.log ] || fail "apt was called: $(cat apt.log)"
	# Every name is a real package (dpkg-query knows it installed), none
	# virtual as nbdfuse is.
	run grep -w nbdfuse "$REPO/scripts/deps"
	assert_failure
}

# bats test_tags=unprivileged
@test "the builder's CPPFLAGS, CFLAGS and LDFLAGS reach every compile and link; -Werror only with WERROR=1" {
	# (Not the WERROR=1 of a make check that runs this.)
	unset MAKEFLAGS MFLAGS MAKELEVEL WERROR
	run make -C "$REPO" -n -B all V=1 CPPFLAGS=-DDMIO_T_CPP CFLAGS="-O1 -DDMIO_T_C" LDFLAGS=-Wl,-z,now
	assert_success
	local compiles links
	compiles=$(grep -E '^(cc|clang) .* -c ' <<<"$output")
	links=$(grep -E '^(cc|clang) ' <<<"$output" | grep -v ' -c ')
	[ "$(wc -l <<<"$compiles")" -ge 20 ]
	[ "$(wc -l <<<"$links")" -ge 3 ]
	! grep -v -- '-DDMIO_T_CPP' <<<"$compiles" || fail "a compile without CPPFLAGS"
	! grep -v -- '-DDMIO_T_C\b' <<<"$compiles" || fail "a compile without CFLAGS"
	! grep -v -- '-Wl,-z,now' <<<"$links" || fail "a link without LDFLAGS"
	! grep -- '-Werror\b' <<<"$output" || fail "-Werror without WERROR=1"
	run make -C "$REPO" -n -B all V=1 WERROR=1
	[ "$(grep -E '^(cc|clang) .* -c ' <<<"$output" | grep -c -- '-Werror\b')" -ge 20 ]
}

# bats test_tags=unprivileged
@test "the report's schema is JSON Schema 2020-12, and what breaks it is caught" {
	local v=$REPO/tests/bats/validate-json schema=$REPO/doc/dmio-report.schema.json
	img src 1M
	truncate -s 1M dst
	"$DMIO" --json --hash=md5 copy src dst >report.json
	"$DMIO" --json info src >info.json
	"$DMIO" --json copy src missing >refusal.json 2>/dev/null || true
	run "$v" "$schema" report.json info.json refusal.json
	assert_success
	[ "$(jq .schema report.json info.json refusal.json | sort -u)" = 1 ]
	# A key left out, a key not in the schema, a wrong type, a bad status.
	jq 'del(.bytes_read)' report.json >a.json
	jq '.regions[0].surprise = 1' report.json >b.json
	jq '.regions[0].digests.md5 = 5' report.json >c.json
	jq '.regions[1].status = "fine"' report.json >d.json
	jq '.schema = 2' info.json >e.json
	for f in a b c d e; do
		run "$v" "$schema" $f.json
		assert_failure
	done
}
