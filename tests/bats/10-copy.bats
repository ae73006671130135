#!/usr/bin/env bats
# copy: one source, one or many destinations.
load helper

# bats test_tags=unprivileged
@test "copy to one destination, whole file" {
	img src 4M
	img dst 4M
	run "$DMIO" copy src dst
	assert_success
	assert_output --partial "error bits: 0x0"
	cmp src dst
}

# bats test_tags=unprivileged
@test "mirror to three destinations; bytes around every region unchanged" {
	img src 2M
	for d in a b c; do img $d 3M; cp $d $d.orig; done
	run "$DMIO" copy src:100+2000 a:7+2000 b:0+2000 c:4000+2000
	assert_success
	same_range src $((100 * 512)) a $((7 * 512)) $((2000 * 512))
	same_range src $((100 * 512)) b 0 $((2000 * 512))
	same_range src $((100 * 512)) c $((4000 * 512)) $((2000 * 512))
	same_range a.orig 0 a 0 $((7 * 512))
	same_range a.orig $((2007 * 512)) a $((2007 * 512)) $((3 * 1024 * 1024 - 2007 * 512))
	same_range b.orig $((2000 * 512)) b $((2000 * 512)) $((3 * 1024 * 1024 - 2000 * 512))
	same_range c.orig 0 c 0 $((4000 * 512))
	same_range c.orig $((6000 * 512)) c $((6000 * 512)) $((3 * 1024 * 1024 - 6000 * 512))
}

# bats test_tags=unprivileged
@test "every engine and buffer type gives the same bytes" {
	img src 3M
	img base 4M
	for e in --sync --async --engine=aio; do
		for b in vm pages bvec; do
			cp base "d$e-$b"
			run "$DMIO" $e --buffer=$b --chunk=64K copy src:3+5000 "d$e-$b:11"
			assert_success
		done
	done
	[ "$(ls d--* | wc -l)" = 9 ]
	for f in d--*; do cmp d--sync-vm "$f"; done
	same_range src $((3 * 512)) d--async-bvec $((11 * 512)) $((5000 * 512))
}

# bats test_tags=unprivileged
@test "sizes with suffixes are bytes; a destination's count defaults to the source's" {
	img src 2M
	img dst 2M
	cp dst dst.orig
	run "$DMIO" --json copy src:1K+1MiB dst:512K
	assert_success
	[ "$(json '.regions[1].count')" = 2048 ]
	[ "$(json '.regions[1].sector')" = 1024 ]
	same_range src 1024 dst $((512 * 1024)) $((1024 * 1024))
	same_range dst.orig 0 dst 0 $((512 * 1024))
	same_range dst.orig $((1536 * 1024)) dst $((1536 * 1024)) $((512 * 1024))
}

# bats test_tags=unprivileged
@test "--json is one document with exactly the documented keys" {
	img src 1M
	img a 1M
	img b 1M
	run --separate-stderr "$DMIO" --json copy src a b
	assert_success
	[ "$(json 'keys_unsorted | join(",")')" = "schema,operation,read_error,error_bits,failed,bytes,bytes_read,bytes_written,bytes_zeroed,bytes_skipped,seconds,regions" ]
	[ "$(json '.operation')" = copy ]
	[ "$(json '.read_error')" = false ]
	[ "$(json '.error_bits')" = 0 ]
	[ "$(json '.bytes')" = 1048576 ]
	[ "$(json '.regions | length')" = 3 ]
	[ "$(json '.regions[0] | keys_unsorted | join(",")')" = \
		"index,role,region,device,sector,count,status,sectors_done" ]
	[ "$(json '[.regions[].role] | join(",")')" = "source,destination,destination" ]
	[ "$(json '[.regions[].status] | unique | join(",")')" = ok ]
	[ "$(json '[.regions[].sectors_done] | unique | join(",")')" = 2048 ]
}

@test "copy between loop devices, with 4096-byte logical sectors, O_DIRECT" {
	img s.img 8M
	truncate -s 8M d.img
	local s d
	s=$(loop s.img --sector-size 4096)
	d=$(loop d.img --sector-size 4096)
	run "$DMIO" --verbose --direct copy "$s:8+4096" "$d:16"
	assert_success
	assert_output --partial "O_DIRECT"
	losetup -d "$d"
	same_range s.img 4096 d.img 8192 $((4096 * 512))
}

# bats test_tags=unprivileged
@test "--quiet prints nothing on success; --no-flush still copies" {
	img src 1M
	img dst 1M
	run "$DMIO" --quiet --no-flush copy src dst
	assert_success
	assert_output ""
	cmp src dst
}

# bats test_tags=unprivileged
@test "64 destinations are accepted" {
	img src 64K
	local d=()
	for i in $(seq 64); do truncate -s 64K "d$i"; d+=("d$i"); done
	run "$DMIO" --json copy src "${d[@]}"
	assert_success
	[ "$(json '.regions | length')" = 65 ]
	for i in 1 33 64; do cmp src "d$i"; done
}

# bats test_tags=unprivileged
@test "--progress writes progress lines to stderr, nothing else to stdout" {
	img src 4M
	img dst 4M
	run --separate-stderr "$DMIO" --progress --json copy src dst
	assert_success
	[[ $stderr == *"4.0 MiB / 4.0 MiB"* ]]
	jq -e . <<<"$output" >/dev/null
}

# bats test_tags=unprivileged
@test "a path holding ':' is named with an explicit :START" {
	img 'src:a' 1M
	img 'dst:b' 1M
	run "$DMIO" copy 'src:a' 'dst:b:0'
	assert_failure 2
	assert_output --partial "src:a: invalid START 'a'"
	run "$DMIO" copy 'src:a:0' 'dst:b:0'
	assert_success
	cmp 'src:a' 'dst:b'
	run "$DMIO" --json copy 'src:a:8+8' 'dst:b:16'
	assert_success
	[ "$(json '.regions[0].device')" = "src:a" ]
	[ "$(json '.regions[1].device')" = "dst:b" ]
	same_range 'src:a' 4096 'dst:b' 8192 4096
}

# bats test_tags=unprivileged
@test "--verbose shows each region as resolved, and the bytes moved" {
	img src 1M
	img dst 1M
	run --separate-stderr "$DMIO" --verbose copy src:0+64 dst:64
	assert_success
	[[ $stderr == *"src:0+64 -> src, sectors 0+64, "* ]]
	[[ $stderr == *"dst:64 -> dst, sectors 64+64, "* ]]
	assert_output --partial "32768 bytes in"
}

@test "memory stays bounded by chunk x depth: 1 GiB and 8 GiB peak under 64 MiB at the defaults" {
	truncate -s 8G a b
	local kib A B
	# Loop devices: every chunk is read into a buffer (a file's holes are
	# not), and found to be zeroes.
	A=$(loop a)
	B=$(loop b)
	for cmd in "verify a b" "verify $A:0+1G $B:0" "copy $A:0+1G $B:0" \
		"--chunk=4M --queue-depth=4 copy $A:0+1G $B:0" "--no-sparse copy a:0+1G b:0"; do
		# shellcheck disable=SC2086
		run /usr/bin/time -f "%M" "$DMIO" -q $cmd
		assert_success
		kib=${lines[-1]}
		echo "$cmd: peak RSS ${kib} KiB" >&3
		[ "$kib" -lt $((64 * 1024)) ]
	done
}
