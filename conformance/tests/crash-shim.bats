#!/usr/bin/env bats
# The shim SIGKILLed during its Start (issue 19): the shim starts the
# container in-process (rcrun's Container::start), so a crash-points build
# of the shim (cargo feature crash-points, forwarded to the runtime) kills
# itself at a step of start, RCRUN_TEST_CRASH_AT = the step in
# $CTD_DIR/crash-at (read by a wrapper registered as the shim).  A PRIVATE
# containerd (lib/containerd.bash) runs `ctr run -d`; the dead shim is
# cleaned up by containerd with the shim's `delete` action (a forced
# delete).  Then: `ctr run` failed, no task, no process in the container's
# cgroup, no cgroup, no rcrun state, no shim.
# Skipped without containerd or the crash-points build; a FAILURE then
# when RCRUN_TEST_REQUIRE_DOCKER=1 (conformance/ci.sh).

bats_require_minimum_version 1.5.0
load ../lib/common
load ../lib/reliability
load ../lib/boundary
# shellcheck source=../lib/containerd.bash
source "$CONF_LIB/containerd.bash"

setup_file() {
	suite_setup_file || return 1
	local shim d=$RCRUN_TEST_TMP/cshim
	if ! shim=$(crash_shim 2>"$BATS_FILE_TMPDIR/crash-build.log"); then
		echo "no crash-points shim: $(tail -n 3 "$BATS_FILE_TMPDIR/crash-build.log" | tr '\n' ' ')" >"$BATS_FILE_TMPDIR/missing"
		return 0
	fi
	crash_wrapper "$d/shim-crash" "$shim" "$d" || return 1
	export RCRUN_TEST_SHIM=$d/shim-crash
	containerd_available || { echo "$CONTAINERD_UNAVAILABLE_WHY" >"$BATS_FILE_TMPDIR/missing"; return 0; }
	containerd_start "$d" || return 1
	containerd_import_busybox || return 1
	export CTD_DIR CTD_NS
}

teardown_file() {
	containerd_stop "$RCRUN_TEST_TMP/cshim" 2>/dev/null
	suite_teardown_file
}

setup() {
	if [[ -f $BATS_FILE_TMPDIR/missing ]]; then
		boundary_unavailable "$(cat "$BATS_FILE_TMPDIR/missing")" || return 1
	fi
	export RCRUN_TEST_SHIM=$CTD_DIR/shim-crash
	containerd_available || { boundary_unavailable "$CONTAINERD_UNAVAILABLE_WHY"; return 1; }
	: >"$CTD_DIR/crash-at"
	suite_setup
}

teardown() {
	[[ -f $BATS_FILE_TMPDIR/missing ]] && return 0
	: >"$CTD_DIR/crash-at"
	containerd_remove_all
	containerd_ns_cgroup_rmdir
	suite_teardown
}

# shim_start_crash STEP: `ctr run -d ... sleep 1000` with the shim killed
# at STEP of its Start; then what containerd and rcrun must have left:
# nothing.
shim_start_crash() {
	local step=$1 id out rc=0 i p m left
	id=$(ctr_id "cshim-${step//:/-}")
	containerd_record_id "$id"
	echo "$step" >"$CTD_DIR/crash-at"
	out=$(cctr run -d --null-io --runtime "$CTD_RUNTIME" "$CTD_IMAGE" "$id" sleep 1000 2>&1) || rc=$?
	: >"$CTD_DIR/crash-at"
	note "$step: ctr run rc=$rc: $out"
	[ "$rc" -ne 0 ] || { echo "$step: ctr run succeeded"; return 1; }
	# containerd cleans up the dead shim (its `delete` action) on its own
	for ((i = 0; i < 100; i++)); do
		cctr task ls -q 2>/dev/null | grep -qxF "$id" || break
		sleep 0.1
	done
	note "$step: task after the crash: $(cctr task ls 2>&1 | grep -F "$id" || echo none)"
	! cctr task ls -q 2>/dev/null | grep -qxF "$id" || { echo "$step: containerd still has the task: $(cctr task ls)"; return 1; }
	cctr container delete "$id" >/dev/null 2>&1
	# (the dead shim's `delete` action may still be killing: bounded wait)
	for ((i = 0; i < 50; i++)); do
		left=$(grep -lF "/$id" /proc/[0-9]*/cgroup 2>/dev/null | awk -F/ '{ print $3 }' | grep -vx "$$" || true)
		[[ -z $left ]] && break
		sleep 0.1
	done
	[[ -z $left ]] || {
		for p in $left; do echo "$step: left: pid $p $(awk '{ print $2, $3 }' "/proc/$p/stat" 2>/dev/null) $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)"; done
		return 1
	}
	for m in "${CG_HIERS[@]}"; do
		left=$(find "$m" -type d -name "$id" 2>/dev/null)
		[[ -z $left ]] || { echo "$step: cgroup left: $left"; return 1; }
	done
	[[ ! -e /run/containerd/rcrun/$CTD_NS/$id ]] || { echo "$step: rcrun state left"; return 1; }
	[[ -z $(containerd_shim_pid "$id") ]] || { echo "$step: shim left"; return 1; }
}

@test "shim killed in Start before the release: containerd cleans up, nothing runs" {
	shim_start_crash start:before-release
}

@test "shim killed in Start after the release (program exec'd), before the save: nothing survives" {
	shim_start_crash start:after-release
}

@test "shim killed in Start after the final save: the shim's delete action removes it" {
	shim_start_crash start:after-save
}
