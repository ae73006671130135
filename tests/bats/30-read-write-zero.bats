#!/usr/bin/env bats
# read, write and zero.
load helper

# bats file_tags=unprivileged

@test "read a region to stdout and to a file" {
	img src 1M
	run --separate-stderr bash -c "'$DMIO' --quiet read src:10+100 >out"
	assert_success
	[ "$(stat -c %s out)" = 51200 ]
	same_range src 5120 out 0 51200
	run "$DMIO" read -o out2 src:1K+4K
	assert_success
	assert_output --partial ok
	same_range src 1024 out2 0 4096
}

@test "read to stdout keeps the status off stdout" {
	img src 64K
	run --separate-stderr bash -c "'$DMIO' read src | cmp - src"
	assert_success
}

@test "write stdin to two destinations; the rest of each stays" {
	img a 1M
	img b 1M
	img data 40K
	cp a a.orig
	cp b b.orig
	run bash -c "'$DMIO' write a:8+1000 b:100+1000 <data"
	assert_success
	same_range data 0 a 4096 40960
	same_range data 0 b 51200 40960
	same_range a.orig 0 a 0 4096
	same_range a.orig $((4096 + 40960)) a $((4096 + 40960)) $((1048576 - 4096 - 40960))
	same_range b.orig $((51200 + 40960)) b $((51200 + 40960)) 100000
}

@test "write -i FILE, stopping at the region's end; a short last sector is padded" {
	img a 64K
	img data 10000
	# Longer than the region: written to its end, and an error.
	run --separate-stderr "$DMIO" --json write -i data a:0+4
	assert_failure 3
	[ "$(json '.regions[0].status')" = ok ]
	[ "$(json '.regions[0].sectors_done')" = 4 ]
	same_range data 0 a 0 2048
	run --separate-stderr "$DMIO" --json write -i data a:16
	assert_success
	[ "$(json '.regions[0].sectors_done')" = 20 ]
	same_range data 0 a 8192 10000
	[ "$(bytes a $((8192 + 10000)) 240)" = "$(printf '%0480d' 0)" ]
}

@test "zero regions on two destinations, with each engine and buffer type" {
	for e in --sync --async --engine=aio; do
		for b in vm pages bvec; do
			img a 1M
			img b 1M
			cp a a.orig
			cp b b.orig
			run "$DMIO" $e --buffer=$b --chunk=8K zero a:1+7 b:100+1000
			assert_success
			cmp -s <(head -c 3584 /dev/zero) <(tail -c +513 a | head -c 3584)
			cmp -s <(head -c 512000 /dev/zero) <(tail -c +51201 b | head -c 512000)
			same_range a.orig 0 a 0 512
			same_range a.orig 4096 a 4096 $((1048576 - 4096))
			same_range b.orig 0 b 0 51200
			same_range b.orig $((1100 * 512)) b $((1100 * 512)) $((1048576 - 1100 * 512))
		done
	done
}

@test "zero with the count omitted runs to the end of each device" {
	img a 64K
	img b 32K
	run "$DMIO" --json zero a:64 b
	assert_success
	[ "$(json '.regions[0].count')" = 64 ]
	[ "$(json '.regions[1].count')" = 64 ]
	cmp <(head -c 32768 /dev/zero) <(tail -c +32769 a)
	cmp <(head -c 32768 /dev/zero) b
}
