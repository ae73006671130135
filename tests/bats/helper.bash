# SPDX-License-Identifier: GPL-2.0-or-later
# The one helper of the dmio Bats suites: the program under test, image
# files, loop devices, FUSE-exported nbdkit devices and mounts, all made in a
# per-test directory and always removed in teardown, whatever happened.

bats_require_minimum_version 1.5.0
load /usr/lib/bats/bats-support/load.bash
load /usr/lib/bats/bats-assert/load.bash

DMIO=${DMIO:-$BATS_TEST_DIRNAME/../../build/dmio}
HELPER_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

setup() {
	T=$(mktemp -d /var/tmp/dmio-bats.XXXXXX)
	: >"$T/.loops"
	: >"$T/.mounts"
	: >"$T/.fuse"
	: >"$T/.servers"
	: >"$T/.pids"
	cd "$T"
}

# Every JSON document that dmio printed under "run ... --json" (kept by
# run, below) is valid under the report's schema, or the test fails.
json_checked() {
	local docs=("$T"/.json-*)
	[ -e "${docs[0]}" ] || return 0
	"$HELPER_DIR/validate-json" "$HELPER_DIR/../../doc/dmio-report.schema.json" "${docs[@]}"
}

teardown() {
	local invalid=
	invalid=$(json_checked) || invalid=${invalid:-"the JSON could not be checked"}
	cd /
	# A gate still closed would hold reads of a gate_dev forever.
	if { true >&9; } 2>/dev/null; then
		flock -u 9 || true
		exec 9>&-
	fi
	while read -r m; do umount "$m" 2>/dev/null || true; done <"$T/.mounts"
	while read -r l; do losetup -d "$l" 2>/dev/null || true; done <"$T/.loops"
	while read -r m; do
		fusermount3 -u "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
	done <"$T/.fuse"
	if { true >&8; } 2>/dev/null; then exec 8>&-; fi
	while read -r p; do
		[ -e "$p" ] && kill "$(cat "$p")" 2>/dev/null || true
	done <"$T/.servers"
	while read -r p; do kill -9 "$p" 2>/dev/null || true; done <"$T/.pids"
	[ ! -e "$T/.made-run-sshd" ] || rmdir /run/sshd 2>/dev/null || true
	rm -rf "$T"
	[ -z "$invalid" ] || fail "JSON not valid under doc/dmio-report.schema.json: $invalid"
}

# Bats' run, which also keeps the JSON document of a dmio --json run (in
# its output or, with --separate-stderr, its stderr: read's report) for
# json_checked().
eval "bats_run_plain() $(declare -f run | sed 1d)"
run() {
	local a
	bats_run_plain "$@"
	for a in "$@"; do
		if [ "$a" = --json ]; then
			json_keep "$output"
			json_keep "${stderr:-}"
			break
		fi
	done
}

# json_keep TEXT: the pretty-printed document in TEXT (from a line "{" to
# a line "}"), if any, into $T/.json-N.
json_keep() {
	local doc
	doc=$(awk '/^\{$/ { on = 1 } on { print } on && /^\}$/ { exit }' <<<"$1")
	[ -n "$doc" ] || return 0
	JSON_N=$((${JSON_N:-0} + 1))
	printf '%s\n' "$doc" >"$T/.json-$JSON_N"
}

# need_root WHAT: the test needs root for WHAT; without it, it fails
# saying so.  Tests tagged "unprivileged" (make check-unprivileged) need
# none: they run dmio on image files.
need_root() {
	[ "$(id -u)" = 0 ] || fail "this test needs root: $*"
}

# img NAME SIZE: an image file of SIZE (truncate's syntax) of random bytes.
img() {
	truncate -s "$2" "$1"
	head -c "$(stat -c %s "$1")" /dev/urandom >"$1.tmp"
	mv "$1.tmp" "$1"
}

# loop FILE [LOSETUP-ARGS...]: attach FILE; prints the device.
loop() {
	local file=$1
	shift
	local dev
	need_root "a loop device"
	dev=$(losetup -f --show "$@" "$file")
	echo "$dev" >>"$T/.loops"
	echo "$dev"
}

# own_scan CMD...: CMD, whose scan of every block device (libblkid's, for
# a LABEL=, UUID=, PARTUUID= or PARTLABEL= region, or blkid with no
# device) finds only this test's loop devices and their partitions: CMD
# runs in a mount namespace of its own where /sys/block and /proc/partitions
# list only those (own-devices), with a blkid cache of its own.  So no test
# reads another's devices (a gate, a device that fails, one being written),
# not even when suites run side by side.  Without root, no device can be
# opened: CMD runs as it is.  OWN_LOOPS names another list of the test's
# loop devices than all of them ($T/.loops).
own_scan() {
	if [ "$(id -u)" != 0 ]; then
		BLKID_FILE=$T/blkid.tab "$@"
		return
	fi
	local names=() l
	while read -r l; do names+=("${l#/dev/}"); done <"${OWN_LOOPS:-$T/.loops}"
	BLKID_FILE=$T/blkid.tab unshare -m --propagation private \
		"$HELPER_DIR/own-devices" "${names[*]}" "$@"
}

# nbd_dev NAME NBDKIT-ARGS...: an nbdkit device exported as a file by
# nbdfuse (nbd_file) and attached to a loop device; prints the device.  The
# nbdkit arguments follow "nbdkit -s", e.g. --filter=error memory 16M
# error-pwrite-rate=100%.
nbd_dev() {
	local file
	need_root "a FUSE mount and a loop device"
	file=$(nbd_file "$@") || return
	loop "$file" --direct-io=on
}

# nbd_file NAME NBDKIT-ARGS...: the same nbdkit export as the file
# $T/NAME/disk (nbdfuse), with no block device over it; prints the file.
# Only what opens that path reads it: no scan of the machine's block
# devices (libblkid's, udev's) ever does.
nbd_file() {
	local name=$1
	shift
	need_root "a FUSE mount"
	mkdir "$T/$name"
	echo "$T/$name" >>"$T/.fuse"
	nbdfuse "$T/$name/disk" --command nbdkit -s "$@" >>"$T/nbdkit.log" 2>&1 &
	local i=0
	until [ -e "$T/$name/disk" ]; do
		i=$((i + 1))
		[ $i -lt 100 ] || fail "nbdfuse did not start: $(cat "$T/nbdkit.log")"
		sleep 0.1
	done
	echo "$T/$name/disk"
}

# slow_dev: a 32 MiB device whose every write takes 40 ms (nbdkit's delay
# filter), for catching dmio mid-copy; prints the device.
slow_dev() {
	nbd_dev slow --filter=delay memory 32M delay-write=40ms
}

# nbd_server NAME NBDKIT-ARGS...: an nbdkit server on the Unix socket
# $T/NAME.sock, killed in teardown; its URI in $NBD.  The arguments follow
# "nbdkit -U SOCKET", e.g. --filter=error memory 16M error-pwrite-rate=100%.
nbd_server() {
	local name=$1
	shift
	rm -f "$T/$name.sock"
	nbdkit -U "$T/$name.sock" -P "$T/$name.pid" "$@" >>"$T/nbdkit.log" 2>&1 ||
		fail "nbdkit $* did not start: $(cat "$T/nbdkit.log")"
	echo "$T/$name.pid" >>"$T/.servers"
	NBD="nbd+unix:///?socket=$T/$name.sock"
}

# qemu_server NAME IMAGE FORMAT: qemu-nbd serving IMAGE (qcow2, raw) on the
# Unix socket $T/NAME.sock to up to 8 clients at once, killed in teardown;
# its URI in $NBD.
qemu_server() {
	rm -f "$T/$1.sock"
	qemu-nbd --fork --persistent --shared=8 --pid-file="$T/$1.pid" -k "$T/$1.sock" \
		-f "$3" "$2" 2>>"$T/nbdkit.log" || fail "qemu-nbd did not start: $(cat "$T/nbdkit.log")"
	echo "$T/$1.pid" >>"$T/.servers"
	NBD="nbd+unix:///?socket=$T/$1.sock"
}

# server_stop NAME: stop the server and wait until it is gone (its socket
# too, so that another may take the name).
server_stop() {
	local pid
	pid=$(cat "$T/$1.pid")
	kill "$pid" 2>/dev/null || true
	local i=0
	while kill -0 "$pid" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 100 ] || fail "server $1 did not stop"
		sleep 0.1
	done
	rm -f "$T/$1.sock"
}

# export_bytes URI FILE: what the export holds, copied to FILE by nbdcopy
# (libnbd's own tool: not dmio).
export_bytes() {
	nbdcopy "$1" "$2"
}

# flip_byte FILE OFFSET: the byte at OFFSET of FILE (or a device) changed,
# whatever it was (XOR 0x5a): a damage that cannot happen to write the
# byte already there.
flip_byte() {
	local b
	b=$(od -An -tu1 -j "$2" -N 1 "$1")
	# shellcheck disable=SC2059 # an octal escape, built here
	printf "\\$(printf %03o $(((b ^ 0x5a) & 255)))" |
		dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# bytes FILE OFFSET COUNT: COUNT bytes of FILE from OFFSET, as hex.
bytes() {
	od -An -tx1 -v -j "$2" -N "$3" "$1" | tr -d ' \n'
}

# same_range A AOFF B BOFF LEN: byte ranges equal.
same_range() {
	cmp -s <(tail -c +$(($2 + 1)) "$1" | head -c "$5") \
		<(tail -c +$(($4 + 1)) "$3" | head -c "$5")
}

# json FILTER: jq FILTER applied to the JSON document in $output.
json() {
	jq -r "$1" <<<"$output"
}

# bad_dev NAME SIZE OPS FIRST COUNT: a device whose OPS ("pread", "pwrite"
# or "pread pwrite") fail with EIO on sectors [FIRST, FIRST+COUNT) only, and
# work elsewhere; "flush" in OPS makes every flush fail.  nbdkit's eval
# plugin over the file $T/NAME.img (what the device holds), exported by
# nbdfuse, attached with losetup; prints the device.
bad_dev() {
	bad_eval "$@"
	nbd_dev "$1" "${BAD_EVAL[@]}"
}

# bad_server NAME SIZE OPS FIRST COUNT: the same device, served over NBD
# (nbd_server); its URI in $NBD.
bad_server() {
	bad_eval "$@"
	nbd_server "$1" "${BAD_EVAL[@]}"
}

# bad_eval NAME SIZE OPS FIRST COUNT: the eval plugin's arguments of it.
bad_eval() {
	local name=$1 size=$2 ops=$3 first=$(($4 * 512)) end=$((($4 + $5) * 512))
	local disk=$T/$name.img
	truncate -s "$size" "$disk"
	local fail="echo 'EIO injected by the test' >&2; exit 1"
	local hit="[ \$4 -lt $end ] && [ \$((\$4 + \$3)) -gt $first ]"
	local rd="dd if='$disk' iflag=skip_bytes,count_bytes skip=\$4 count=\$3 status=none"
	local wr="dd of='$disk' oflag=seek_bytes iflag=count_bytes,fullblock seek=\$4 count=\$3 conv=notrunc status=none"
	[[ $ops == *pread* ]] && rd="if $hit; then $fail; fi; $rd"
	[[ $ops == *pwrite* ]] && wr="if $hit; then $fail; fi; $wr"
	local fl="exit 0"
	[[ $ops == *flush* ]] && fl=$fail
	BAD_EVAL=(eval get_size="echo $(stat -c %s "$disk")" pread="$rd" pwrite="$wr"
		can_write="exit 0" can_flush="exit 0" flush="$fl")
}

# The gates.  Sleep-free interrupts: close the gate, start dmio, wait until
# its I/O reaches the gate (its handlers installed, its I/O in flight),
# send the signal, open the gate.  A gate must be reached by the dmio
# under test and by nothing else, or the signal may come before dmio runs
# (to the shell that forks it, whose exit status is then 128+N too):
# - gate_file NAME [OP]: a file, $T/NAME/disk in $GATE_FILE (nbd_file):
#   only what opens its path reads it.  Every read gate is one of these:
#   a block device is read by whatever scans them all (a LABEL= or UUID=
#   lookup in any test running beside this one, udev), which would pass
#   the gate and be blocked by it.
# - gate_dev NAME pwrite: a loop device over such a file, in $GATE_DEV,
#   for a test that needs a block device (O_EXCL, busy devices): only
#   writes wait, and only the test writes it.
# - gate_server NAME [OP]: an NBD server on a Unix socket of the test's
#   (nbd_server); its URI in $NBD.
# Each is over the file $T/NAME.img (made by the caller); its reads (OP
# pread, the default) or writes (OP pwrite) at or past GATE_AT bytes wait
# while the gate is closed, and each one that reaches the gate first says
# so on the FIFO that gate_wait reads.  nbdkit's eval plugin, nbdfuse.
GATE_AT=$((2 << 20))
gate_file() {
	gate_eval "$@"
	GATE_FILE=$(nbd_file "$1" "${GATE_EVAL[@]}")
}

gate_dev() {
	[ "${2:-}" = pwrite ] ||
		fail "gate_dev $*: a read gate on a block device is reached by any scan of the devices; use gate_file"
	gate_eval "$@"
	GATE_DEV=$(nbd_dev "$1" "${GATE_EVAL[@]}")
}

gate_server() {
	gate_eval "$@"
	nbd_server "$1" "${GATE_EVAL[@]}"
}

# gate_eval NAME [OP]: the nbdkit eval plugin's arguments of the gate.
gate_eval() {
	local disk=$T/$1.img op=${2:-pread}
	local rd="dd if='$disk' iflag=skip_bytes,count_bytes skip=\$4 count=\$3 status=none"
	local wr="dd of='$disk' oflag=seek_bytes iflag=count_bytes,fullblock seek=\$4 count=\$3 conv=notrunc status=none"
	local gate="if [ \$4 -ge $GATE_AT ]; then echo \$4 >'$T/gate.fifo'; flock -s '$T/gate.lock' true; fi"
	if [ "$op" = pread ]; then rd="$gate; $rd"; else wr="$gate; $wr"; fi
	GATE_EVAL=(eval get_size="echo $(stat -c %s "$disk")" pread="$rd" pwrite="$wr"
		can_write="exit 0" can_flush="exit 0" flush="exit 0")
}

# gate_close: a new FIFO on fd 8 for gate_wait; the gate's lock on fd 9.
gate_close() {
	rm -f "$T/gate.fifo"
	mkfifo "$T/gate.fifo"
	exec 8<>"$T/gate.fifo" 9>"$T/gate.lock"
	flock 9
}

# gate_wait: until a read reaches the gate (a minute at most, then fail).
gate_wait() {
	read -r -t 60 -u 8 || fail "no read reached the gate"
}

# gone PID: until PID has ended (a minute at most, then fail), without
# reaping it: for a test that holds something open until then (a FIFO
# whose end must not come before the signal that was sent is seen).
gone() {
	local i
	for ((i = 0; i < 600; i++)); do
		grep -qs '^State:[[:space:]]*[^Z]' "/proc/$1/status" || return 0
		sleep 0.1
	done
	fail "process $1 did not end"
}

gate_open() {
	flock -u 9
	exec 9>&-
}

# ---- captive servers ([ CMD ARGS... ]) ----

# captive ARGS...: dmio with TMPDIR in the test's directory (where it
# makes its servers' sockets) and -v (each server's PID); captive_pids
# prints the PIDs that the messages on its stdin say, and puts them in
# $T/.pids for teardown.
captive() {
	local rc=0
	TMPDIR=$T "$DMIO" -v "$@" || rc=$?
	return $rc
}

captive_pids() {
	sed -n 's/.*: server PID \([0-9]*\) on .*/\1/p' | tee -a "$T/.pids"
}

# server_pid FILE: the PID of the first server that dmio -v, running
# with its stderr in FILE, says it started, once it says so (10 s at most).
server_pid() {
	local i=0 pid=
	until pid=$(captive_pids <"$1") && [ -n "$pid" ]; do
		i=$((i + 1))
		[ $i -lt 100 ] || fail "no server PID: $(cat "$1")"
		sleep 0.1
	done
	echo "$pid"
}

# gone PID...: each process has ended (a zombie counts: reaped by no one
# of ours), within 10 s, or the test fails.
gone() {
	local p i
	for p; do
		i=0
		while kill -0 "$p" 2>/dev/null && [ "$(ps -o stat= -p "$p")" != Z ]; do
			i=$((i + 1))
			[ $i -lt 100 ] || fail "process $p ($(ps -o args= -p "$p")) is still there"
			sleep 0.1
		done
	done
}

# free_port: a TCP port on 127.0.0.1 that nothing listens on now.
free_port() {
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 40000))
		ss -Hltn "sport = :$p" | grep -q . || { echo "$p"; return; }
	done
	fail "no free port"
}

# sshd_start: an sshd of the test's own on 127.0.0.1:$SSH_PORT, with its
# own host key, config and an authorized key for root ($T/ssh/id, known
# host in $T/ssh/known_hosts), killed in teardown (by PID).
sshd_start() {
	local d=$T/ssh i
	need_root "sshd"
	mkdir -m 700 "$d"
	ssh-keygen -q -t ed25519 -N '' -f "$d/host" -C dmio-test-host
	ssh-keygen -q -t ed25519 -N '' -f "$d/id" -C dmio-test
	cp "$d/id.pub" "$d/authorized_keys"
	[ -d /run/sshd ] || { mkdir -m 755 /run/sshd && touch "$T/.made-run-sshd"; }
	SSH_PORT=$(free_port)
	cat >"$d/config" <<-EOC
		ListenAddress 127.0.0.1
		Port $SSH_PORT
		HostKey $d/host
		AuthorizedKeysFile $d/authorized_keys
		PidFile $d/sshd.pid
		PermitRootLogin prohibit-password
		PasswordAuthentication no
		KbdInteractiveAuthentication no
		UsePAM no
		StrictModes no
		Subsystem sftp internal-sftp
	EOC
	/usr/sbin/sshd -f "$d/config" -E "$d/sshd.log" || fail "sshd did not start: $(cat "$d/sshd.log")"
	i=0
	until [ -s "$d/sshd.pid" ] && ss -Hltn "sport = :$SSH_PORT" | grep -q .; do
		i=$((i + 1))
		[ $i -lt 100 ] || fail "sshd did not listen: $(cat "$d/sshd.log")"
		sleep 0.1
	done
	cat "$d/sshd.pid" >>"$T/.pids"
	echo "[127.0.0.1]:$SSH_PORT $(cut -d' ' -f1,2 "$d/host.pub")" >"$d/known_hosts"
}
