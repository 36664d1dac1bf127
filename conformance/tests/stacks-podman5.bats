#!/usr/bin/env bats
# podman 5 (Debian unstable's, with conmon and netavark, unpacked privately:
# lib/sid.bash) with `--runtime <rcrun>` next to `--runtime <runc>`: OOM ->
# 137 + OOMKilled, lifecycle (run -d, exec, stop, rm) leaving nothing, and
# containers.conf's runtime_supports_json line making podman pass rcrun
# --log-format=json (a wrapper named rcrun logs its argv).  Private root,
# runroot, tmpdir and config (podman_setup), cgroupfs, --network none,
# --rootfs (no image store).  On this v1/hybrid host podman 5 runs, with a
# deprecation warning per call (silenced by PODMAN_IGNORE_CGROUPSV1_WARNING).
# FAILS under RCRUN_TEST_REQUIRE_DOCKER=1 (CI) when the packages cannot be
# fetched; otherwise skips with the reason.

bats_require_minimum_version 1.5.0
load ../lib/common
# shellcheck source=../lib/sid.bash
source "$CONF_LIB/sid.bash"

PM_CGP=/rcrun-test-$RCRUN_TEST_TAG-podman

setup_file() {
	suite_setup_file || return 1
	if [[ ${RCRUN_TEST_NO_DOCKER:-0} == 1 ]]; then
		echo "RCRUN_TEST_NO_DOCKER=1" >"$BATS_FILE_TMPDIR/skip"
		return 0
	fi
	sid_fetch || { stacks_unavailable "Debian unstable's podman 5: $SID_UNAVAILABLE_WHY"; return; }
	podman_setup "$RCRUN_TEST_TMP/pm" || return 1
	local rootfs
	rootfs=$(make_rootfs) || return 1
	cp -a "$rootfs" "$PODMAN_DIR/rootfs" || return 1
	# runtimes named rcrun and runc (the name is what runtime_supports_json
	# matches) that log their argv
	mkdir -p "$PODMAN_DIR/bin/rcrun" "$PODMAN_DIR/bin/runc" || return 1
	printf '#!/bin/sh\necho "$*" >>%q\nexec %q "$@"\n' "$PODMAN_DIR/argv.rcrun" "$RUNTIME" >"$PODMAN_DIR/bin/rcrun/rcrun"
	printf '#!/bin/sh\necho "$*" >>%q\nexec %q "$@"\n' "$PODMAN_DIR/argv.runc" "$REF_RUNTIME" >"$PODMAN_DIR/bin/runc/runc"
	chmod 755 "$PODMAN_DIR/bin/rcrun/rcrun" "$PODMAN_DIR/bin/runc/runc"
	# podman puts conmon in <cgroup-parent>/conmon and leaves it (shared by
	# all containers): both exist before the tests, teardown_file removes them
	CG_PARENT=$PM_CGP test_parent_cgroup_create || return 1
	CG_PARENT=$PM_CGP/conmon test_parent_cgroup_create || return 1
	# conmon also mkdirs <controller>/<cgroup-parent>/conmon for v1
	# controllers that are not mounted (hugetlb, net_cls, ...): plain
	# directories on /sys/fs/cgroup's tmpfs, which teardown_file removes.
	PM_TOPDIRS_BEFORE=$(ls /sys/fs/cgroup)
	export PODMAN_DIR PM_TOPDIRS_BEFORE
}

# pm_remove_plain_dirs: what conmon made under /sys/fs/cgroup outside any
# cgroup mount; a top-level directory only if it appeared during this file
# and is empty.
pm_remove_plain_dirs() {
	local d name
	for d in /sys/fs/cgroup/*/; do
		d=${d%/}
		mountpoint -q "$d" && continue
		[[ -d $d$PM_CGP ]] && rm -rf "${d:?}$PM_CGP"
		name=${d##*/}
		grep -qxF "$name" <<<"${PM_TOPDIRS_BEFORE:-}" || rmdir "$d" 2>/dev/null
	done
	return 0
}

teardown_file() {
	local m
	if [[ -n ${PODMAN_DIR:-} && -d $PODMAN_DIR ]]; then
		pm rm -af -t 0 >/dev/null 2>&1
		umount_under "$PODMAN_DIR"
		rm -rf "$PODMAN_DIR"
	fi
	for m in "${CG_HIERS[@]}"; do
		cg_kill_and_remove "$m$PM_CGP"
	done
	pm_remove_plain_dirs
	suite_teardown_file
}

setup() {
	stacks_skip_if_unavailable
	suite_setup
}

teardown() {
	[[ -f $BATS_FILE_TMPDIR/skip ]] && return 0
	local rc=0 left
	left=$(pm ps -aq 2>/dev/null)
	if [[ -n $left ]]; then
		echo "podman containers left behind: $left"
		pm rm -af -t 0 >/dev/null 2>&1
		[[ -n ${BATS_TEST_COMPLETED:-} ]] && rc=1
	fi
	suite_teardown || rc=1
	return $rc
}

rt_path() { echo "$PODMAN_DIR/bin/$1/$1"; }

# prun RT ARGS...: podman run with runtime RT (rcrun|runc), no network, our
# cgroup parent and rootfs; sets status/output (bats run).
prun() {
	local rt=$1
	shift
	run pm run --runtime "$(rt_path "$rt")" --network none --cgroup-parent "$PM_CGP" "$@"
}

# nothing_left ID: no cgroup, mount, process or runtime state of container ID.
nothing_left() {
	local id=$1 m
	for m in "${CG_HIERS[@]}"; do
		[[ ! -d $m$PM_CGP/libpod-$id && ! -d $m$PM_CGP/$id ]] || { echo "cgroup left for $id under $m$PM_CGP"; return 1; }
	done
	if grep -F "$id" /proc/self/mountinfo; then
		echo "mount(s) of $id left (above)"
		return 1
	fi
	if pgrep -f "$id" >/dev/null; then
		echo "process(es) of $id left: $(pgrep -af "$id")"
		return 1
	fi
	[[ ! -e $PODMAN_DIR/rtroot/$id ]] || { echo "runtime state left: $PODMAN_DIR/rtroot/$id"; return 1; }
}

@test "podman 5: version and info on this host (cgroupfs; what it says about cgroup v1)" {
	run -0 pm version --format '{{.Client.Version}}'
	note "podman $output (Debian unstable, unpacked in $SID_ROOT; conmon $("$SID_DIR/bin/conmon" --version | head -1 | awk '{ print $3 }'))"
	[[ ${output%%.*} -ge 5 ]]
	run -0 pm info --format '{{.Host.CgroupManager}} {{.Host.CgroupsVersion}}'
	note "podman info: CgroupManager CgroupsVersion: $output"
	[[ $output == "cgroupfs "* ]]
	if [[ $CG_LAYOUT != v2 ]]; then
		# podman 5 runs on v1/hybrid but warns on every call
		run -0 env -u PODMAN_IGNORE_CGROUPSV1_WARNING CONTAINERS_CONF="$PODMAN_DIR/containers.conf" \
			CONTAINERS_STORAGE_CONF="$PODMAN_DIR/storage.conf" "$SID_DIR/bin/podman" --root "$PODMAN_DIR/root" \
			--runroot "$PODMAN_DIR/run" --tmpdir "$PODMAN_DIR/tmp" info --format '{{.Host.CgroupsVersion}}'
		note "podman on $CG_LAYOUT: $(grep -o 'Using cgroups-v1[^.]*' <<<"$output")"
		[[ $output == *"Using cgroups-v1 which is deprecated"* ]]
	fi
}

@test "podman 5: run -m 128m dd bs=200M: exit 137 and State.OOMKilled=true (rcrun, runc)" {
	local rt name
	for rt in rcrun runc; do
		name=rct$RCRUN_TEST_TAG-oom-$rt
		prun "$rt" --name "$name" -m 128m --memory-swap 128m --rootfs "$PODMAN_DIR/rootfs" \
			dd if=/dev/zero of=/dev/null bs=200M count=1
		assert_eq "$rt: podman run exit status" 137 "$status"
		run -0 pm inspect "$name" --format '{{.State.OOMKilled}} {{.State.ExitCode}}'
		assert_eq "$rt: OOMKilled ExitCode" "true 137" "$output"
		note "$rt: exit 137, OOMKilled=true"
		run -0 pm inspect "$name" --format '{{.Id}}'
		local id=$output
		run -0 pm rm "$name"
		nothing_left "$id"
	done
}

@test "podman 5: run -d, inspect, limits in the cgroup, exec, stop, rm: nothing left (rcrun, runc)" {
	local rt id
	for rt in rcrun runc; do
		prun "$rt" -d -m 64m --pids-limit 20 --rootfs "$PODMAN_DIR/rootfs" sleep 600
		[[ $status -eq 0 ]] || { echo "$rt: $output"; false; }
		id=${output##*$'\n'}
		run -0 pm inspect "$id" --format '{{.State.Status}} {{.State.Pid}}'
		[[ $output == "running "* ]] || { echo "$rt: $output"; false; }
		local pid=${output#* }
		# the limits reach the container's cgroup
		assert_eq "$rt: memory.limit" $((64 << 20)) "$(cg_value "$(cg_pid_path "$pid" memory)" memory.limit)"
		assert_eq "$rt: pids.limit" 20 "$(cg_value "$(cg_pid_path "$pid" pids)" pids.limit)"
		run pm exec "$id" sh -c 'echo from-exec; exit 3'
		[[ $status -eq 3 && $output == *from-exec* ]] || { echo "$rt: exec: $status $output"; false; }
		run -0 pm stop -t 1 "$id"
		run -0 pm inspect "$id" --format '{{.State.Status}}'
		assert_eq "$rt: status after stop" exited "$output"
		run -0 pm rm "$id"
		nothing_left "$id"
	done
}

# runtime_supports_json (podman_setup's containers.conf) lists rcrun: podman
# (conmon) runs `rcrun --log-format=json --log <file> create ...` and reads
# the runtime's error as JSON, so the user sees rcrun's one line.
@test "podman 5: runtime_supports_json: podman passes rcrun --log-format=json; a bad process.args[0] is one clean line" {
	: >"$PODMAN_DIR/argv.rcrun"
	prun rcrun --rm --rootfs "$PODMAN_DIR/rootfs" true
	assert_eq "podman run true" 0 "$status"
	run -0 grep -E '(^| )create ' "$PODMAN_DIR/argv.rcrun"
	[[ $output == *"--log-format=json --log "*" create "* ]] || { echo "rcrun create argv: $output"; false; }
	prun rcrun --rm --rootfs "$PODMAN_DIR/rootfs" /nonexistent
	echo "$output"
	[[ $status -eq 126 || $status -eq 127 ]]
	[[ $output == *'Error: OCI runtime error: '*'rcrun: process.args[0]: "/nonexistent" does not exist in the rootfs'* ]]
	[[ $output != *'level=error'* ]]
	# without the line: no --log-format=json, podman shows the raw log line
	sed '/^runtime_supports_json/d' "$PODMAN_DIR/containers.conf" >"$PODMAN_DIR/nojson.conf"
	: >"$PODMAN_DIR/argv.rcrun"
	run env CONTAINERS_CONF="$PODMAN_DIR/nojson.conf" CONTAINERS_STORAGE_CONF="$PODMAN_DIR/storage.conf" \
		PODMAN_IGNORE_CGROUPSV1_WARNING=1 "$SID_DIR/bin/podman" --root "$PODMAN_DIR/root" --runroot "$PODMAN_DIR/run" \
		--tmpdir "$PODMAN_DIR/tmp" --runtime-flag "root=$PODMAN_DIR/rtroot" run --rm --runtime "$(rt_path rcrun)" --network none --cgroup-parent "$PM_CGP" \
		--rootfs "$PODMAN_DIR/rootfs" true
	assert_eq "podman run true without runtime_supports_json" 0 "$status"
	run -0 grep -E '(^| )create ' "$PODMAN_DIR/argv.rcrun"
	[[ $output != *--log-format=json* ]] || { echo "$output"; false; }
}

# The snippet the README points podman users to, as shipped (the path
# rewritten to the argv-logging wrapper), on top of a containers.conf
# without the line: `--runtime rcrun` by name, with --log-format=json.
@test "podman 5: packaging/podman/containers.conf as a drop-in: --runtime rcrun by name gets --log-format=json" {
	sed '/^runtime_supports_json/d' "$PODMAN_DIR/containers.conf" >"$PODMAN_DIR/base.conf"
	sed "s|/usr/local/bin/rcrun|$(rt_path rcrun)|" "$REPO/packaging/podman/containers.conf" >"$PODMAN_DIR/snippet.conf"
	: >"$PODMAN_DIR/argv.rcrun"
	run env CONTAINERS_CONF="$PODMAN_DIR/base.conf" CONTAINERS_CONF_OVERRIDE="$PODMAN_DIR/snippet.conf" \
		CONTAINERS_STORAGE_CONF="$PODMAN_DIR/storage.conf" PODMAN_IGNORE_CGROUPSV1_WARNING=1 \
		"$SID_DIR/bin/podman" --root "$PODMAN_DIR/root" --runroot "$PODMAN_DIR/run" --tmpdir "$PODMAN_DIR/tmp" --runtime-flag "root=$PODMAN_DIR/rtroot" \
		run --rm --runtime rcrun --network none --cgroup-parent "$PM_CGP" --rootfs "$PODMAN_DIR/rootfs" echo by-name
	assert_eq "podman run --runtime rcrun (by name)" "0 by-name" "$status $output"
	run -0 grep -E '(^| )create ' "$PODMAN_DIR/argv.rcrun"
	[[ $output == *"--log-format=json --log "*" create "* ]] || { echo "rcrun create argv: $output"; false; }
}
