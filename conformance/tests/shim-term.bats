#!/usr/bin/env bats
# Terminals through containerd-shim-rcrun-v2 (issue "a true drop-in for
# runc", item Terminals): `ctr task exec -t` prints all of its output, every
# time (crictl exec -it ... echo hello lost it 8 times in 20: the exit was
# reported, and the exec's stdio torn down, before the shim had copied what
# was still in the pty).  Private containerd (lib/containerd.bash).

bats_require_minimum_version 1.5.0
load ../lib/common
# shellcheck source=../lib/containerd.bash
source "$CONF_LIB/containerd.bash"

setup_file() {
	suite_setup_file || return 1
	containerd_available || return 0
	containerd_start "$RCRUN_TEST_TMP/ctdt" || return 1
	containerd_import_busybox || return 1
	export CTD_DIR CTD_NS
}

teardown_file() {
	containerd_stop "$RCRUN_TEST_TMP/ctdt" 2>/dev/null
	suite_teardown_file
}

setup() {
	containerd_available || skip "$CONTAINERD_UNAVAILABLE_WHY"
	command -v script >/dev/null || skip "script (util-linux) not installed"
	suite_setup
	FIFOS=$CTD_DIR/fifo
	mkdir -p "$FIFOS"
}

teardown() {
	containerd_available || return 0
	containerd_remove_all
	suite_teardown
}

# in_tty CMD: CMD under a pty of its own (ctr -t wants a terminal).
in_tty() { timeout 30 script -qec "$1" /dev/null </dev/null; }

@test "shim: exec -t prints all of its output, 20 times in 20" {
	local id=tx1 i lost=() out c
	containerd_record_id "$id"
	cctr run -d --null-io --runtime "$CTD_RUNTIME" "$CTD_IMAGE" "$id" sleep 600
	c="$CTR_BIN -a $CTD_DIR/containerd.sock -n $CTD_NS task exec -t --fifo-dir $FIFOS"
	for ((i = 1; i <= 20; i++)); do
		out=$(in_tty "$c --exec-id e$i $id echo hello-$i")
		[[ $out == *hello-$i* ]] || lost+=("$i: '$(tr -d '\r' <<<"$out")'")
	done
	# Output, then exit status, in the same exec, under the same load.
	out=$(in_tty "$c --exec-id st $id sh -c 'echo last; exit 7'"; echo "rc=$?")
	[[ $out == *last*rc=7* ]] || lost+=("status: $out")
	[[ ${#lost[@]} -eq 0 ]] || { printf 'lost: %s\n' "${lost[@]}"; return 1; }
}

@test "shim: exec -t of a process that prints a lot and exits at once: nothing lost" {
	local id=tx2 out n
	containerd_record_id "$id"
	cctr run -d --null-io --runtime "$CTD_RUNTIME" "$CTD_IMAGE" "$id" sleep 600
	out=$(in_tty "$CTR_BIN -a $CTD_DIR/containerd.sock -n $CTD_NS task exec -t --fifo-dir $FIFOS --exec-id big $id seq 1 20000")
	n=$(tr -d '\r' <<<"$out" | grep -c '[0-9]$')
	[[ $n -eq 20000 ]] || { echo "$n lines of 20000; last: $(tail -c 200 <<<"$out")"; return 1; }
}
