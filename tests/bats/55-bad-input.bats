#!/usr/bin/env bats
# Bad input, table-driven: each command line is refused with exit 2, one
# line that names what is wrong (and, for usage errors, the "Try" line),
# nothing on stdout, and no destination byte changed.
load helper

# bad WANT ARGS...: dmio ARGS must be refused, saying WANT.
bad() {
	local want=$1
	shift
	run --separate-stderr own_scan "$DMIO" "$@"
	[ "$status" = 2 ] || fail "dmio $*: exit $status, want 2: $stderr"
	[ -z "$output" ] || fail "dmio $*: wrote to stdout: $output"
	local first=${stderr%%$'\n'*} rest=${stderr#*$'\n'}
	[[ $first == "dmio: "*"$want"* ]] || fail "dmio $*: '$first' does not say '$want'"
	[[ $stderr != *$'\n'* || $rest == "Try 'dmio --help' for more information." ]] ||
		fail "dmio $*: more than one line: $stderr"
	for f in dst dst2; do
		cmp -s "$f" "$f.orig" || fail "dmio $*: $f changed"
	done
	tried=$((tried + 1))
}

@test "at least 40 malformed or dangerous command lines are refused, nothing written" {
	img src 1M
	img dst 1M
	img dst2 1M
	img small 4K
	truncate -s 16M mnt.img
	mkfs.ext4 -q -F -L "dmio-bad-$$" mnt.img
	local mdev
	mdev=$(loop mnt.img)
	mkdir mnt
	mount "$mdev" mnt
	echo "$T/mnt" >>"$T/.mounts"
	truncate -s 8M k4.img
	local k4
	k4=$(loop k4.img --sector-size 4096)
	for f in dst dst2; do cp $f $f.orig; done
	local big=18014398509481984
	tried=0

	# Commands and options.
	bad "no command given"
	bad "unknown command 'cp'" cp src dst
	bad "too few regions" copy src
	bad "too few regions" verify src
	bad "one source region only" read src dst
	bad "too few regions" write
	bad "unknown option" --frobnicate copy src dst
	bad "--buffer" --buffer=heap copy src dst
	bad "--engine" --engine=posix copy src dst
	bad "--engine" --engine= copy src dst
	bad "--chunk" --chunk=0 copy src dst
	bad "--chunk" --chunk=6K copy src dst
	bad "--chunk" --chunk=128M copy src dst
	bad "--chunk" --chunk=-4K copy src dst
	bad "--queue-depth" --queue-depth=0 copy src dst
	bad "--queue-depth" --queue-depth=1025 copy src dst
	bad "--queue-depth" --queue-depth=8x copy src dst
	bad "--queue-depth" --queue-depth=-1 copy src dst
	bad "--input is for write only" -i src copy src dst
	bad "--output is for read only" -o out copy src dst
	bad "--map is for copy only" --map m zero dst
	# Specs, sizes, suffixes, overflow.
	bad "src:x: invalid START 'x'" copy src:x dst
	bad "invalid COUNT" copy src:0+ dst
	bad "invalid COUNT" copy src:0+0 dst
	bad "invalid region: nothing after ':'" copy src: dst
	bad "invalid region: no device" copy :0+8 dst
	bad "invalid START" copy src:-1 dst
	bad "invalid COUNT" copy src:0+-8 dst
	bad "invalid START" copy src:1.5K dst
	bad "invalid START" copy src:1k dst
	bad "invalid START" copy src:0x10 dst
	bad "invalid START" copy src:1000B dst
	bad "invalid START" copy src:1K5 dst
	bad "invalid COUNT" copy src:0+1KB dst
	bad "invalid START" copy "src:$big" dst
	bad "invalid COUNT" copy "src:0+$big" dst
	bad "invalid START" copy src:99999999999999999999999 dst
	bad "invalid COUNT" copy src:1+18014398509481983 dst
	bad "invalid START" copy src:16777216T dst
	bad "invalid COUNT" copy "src:0+1 2" dst
	# Regions against devices.
	bad "starts at the end" copy src:2048 dst
	bad "past the end" copy src:2000+100 dst
	bad "past the end" zero dst:0+2049
	bad "past the end" copy small dst:2045
	bad "32 sectors, but the source has 16" copy src:0+16 dst:0+32
	bad "overlap" copy src:0+100 src:50+100
	bad "overlap" copy src:0+1000 dst:0+1000 dst:999+1000
	bad "overlap" copy src "$T/dst" ./dst
	bad "overlap" zero dst:0+10 dst:5+10
	# Devices: missing, not devices, tags, in use, mounted, alignment.
	bad "no-such-file" copy src no-such-file
	bad "no-such-dir" zero no-such-dir/x
	bad "$T" copy src "$T"
	bad "/dev/null" copy src /dev/null
	bad "UUID=00000000-0000-0000-0000-000000000000" copy src UUID=00000000-0000-0000-0000-000000000000
	bad "LABEL=no-such-label-$$" info LABEL=no-such-label-$$
	bad "FOO=bar" copy src FOO=bar
	bad "LABEL=" copy src LABEL=
	bad "$mdev" zero "$mdev"
	bad "$mdev" copy src "LABEL=dmio-bad-$$"
	bad "aligned" --direct copy src:8+8 "$k4:1+8"
	bad "aligned" --direct zero "$k4:1+8"
	# Too many destinations.
	local many=() i
	for i in $(seq 0 64); do many+=("dst:$i+1"); done
	bad "65 destinations; at most 64" zero "${many[@]}"
	# Maps that are not for these regions.
	printf 'not a map\n' >m
	bad "invalid map" --map m copy src dst
	bad "--map and --no-flush" --map m --no-flush copy src dst
	echo "$tried command lines refused" >&3
	[ "$tried" -ge 40 ]
	# And the mounted filesystem is still there, untouched.
	mountpoint -q mnt
}

@test "a region whose device changes between lookup and open is refused" {
	img src 1M
	img a.img 1M
	img b.img 1M
	for f in a.img b.img; do cp $f $f.orig; done
	ln -s a.img dev
	# strace holds dmio's second open of "dev" (the one for writing) for
	# 1.5 s; meanwhile the link moves to another file.
	strace -f -o /dev/null -P dev -e trace=openat \
		-e inject=openat:delay_enter=1500000:when=2 \
		"$DMIO" copy src dev >out 2>err &
	local pid=$!
	sleep 0.7
	ln -sfn b.img dev
	local rc=0
	wait "$pid" || rc=$?
	[ "$rc" = 2 ] || fail "exit $rc: $(cat err)"
	grep -qx "dmio: dev: dev changed between lookup and open" err
	cmp a.img a.img.orig
	cmp b.img b.img.orig
}
