#!/usr/bin/env bats
# rcrun as a drop-in for runc with a user namespace (issue "a true drop-in
# for runc", item 7), side by side with REF_RUNTIME. The container's root is
# host uid/gid 100000 (as runc's own userns tests map it):
#   - bind mounts whose sources the container's root may not reach (under a
#     0700 directory of root's) work: the runtime opens them before the
#     init switches user (runc: mount fds; rcrun: userns_binds.rs), and the
#     mount's flags still hold ("ro");
#   - `exec` into such a container sees them;
#   - a bind mount right before the cgroup mount, no cgroup namespace;
#   - no pid namespace (runc's "host pidns" rootless shape, /proc bound from
#     the host): runs; the init's death stops the container, `delete`
#     kills what is left; a fresh proc mount there is refused by the kernel
#     for both;
#   - a bind source that does not exist fails the create for both, with
#     nothing left behind;
#   - createRuntime hooks run.
# Nothing here skips: a host that cannot make user namespaces fails.

bats_require_minimum_version 1.5.0
load ../lib/common

setup_file() {
	suite_setup_file
	# The bundles need a path the container's root (host uid 100000) may
	# search: the run's scratch dir is 0700, its parent is not.
	UNS_DIR=$(mktemp -d "$(dirname "$RCRUN_TEST_TMP")/rct-userns-$RCRUN_TEST_TAG.XXXXXX")
	chmod 0711 "$UNS_DIR"
	export UNS_DIR
}
teardown_file() {
	rm -rf "${UNS_DIR:?}"
	suite_teardown_file
}
setup() { suite_setup; }
teardown() { suite_teardown; }

# The user namespace of every container here (runc's userns.bats mapping).
USERNS='.linux.namespaces += [{"type":"user"}]
	| .linux.uidMappings = [{"containerID":0,"hostID":100000,"size":65536}]
	| .linux.gidMappings = [{"containerID":0,"hostID":100000,"size":65536}]'

# No pid namespace; /proc bound from the host (runc's kill.bats "host
# pidns" shape: a fresh proc mount needs a pid namespace of the user
# namespace's).
HOST_PIDNS='.linux.namespaces -= [{"type":"pid"}]'
PROC_BOUND='.mounts |= map((select(.type == "proc") | .type = "none" | .source = "/proc"
	| .options = ["rbind", "nosuid", "nodev", "noexec"]) // .)'

# uns_bundle NAME FILTER: a userns bundle in $UNS_DIR named after NAME, with
# source-inaccessible-{1,2}/dir/foo.txt (parents 0700, root's) and
# source-accessible/dir/foo.txt next to the rootfs, and rootfs/tmp/mount-{1,2};
# sets ID and DIR.
uns_bundle() {
	ID=$(ctr_id "$1")
	DIR=$UNS_DIR/$ID
	make_bundle "$DIR" "$USERNS | $2" >/dev/null || return 1
	local s
	for s in accessible inaccessible-1 inaccessible-2; do
		mkdir -p "$DIR/source-$s/dir" && echo "$s" >"$DIR/source-$s/dir/foo.txt" || return 1
	done
	chmod 0700 "$DIR/source-inaccessible-1" "$DIR/source-inaccessible-2"
	mkdir -p "$DIR/rootfs/tmp/mount-1" "$DIR/rootfs/tmp/mount-2"
}

# The two inaccessible sources: one relative to the bundle ("bind"), one
# absolute ("rbind", "ro").
TWO_INACCESSIBLE='.mounts += [
	{"source": "source-inaccessible-1/dir", "destination": "/tmp/mount-1", "options": ["bind"]},
	{"source": ($bundle + "/source-inaccessible-2/dir"), "destination": "/tmp/mount-2", "type": "bind",
	 "options": ["rbind", "ro"]}]'

# no_staging_mount: the host's mount table shows nothing of rcrun's staging.
no_staging_mount() {
	if grep -q rcrun-userns /proc/self/mountinfo; then
		echo "a staging mount is visible on the host:" >&2
		grep rcrun-userns /proc/self/mountinfo >&2
		return 1
	fi
}

@test "userns: bind mounts of sources the container's root cannot reach run as with runc" {
	local which out=()
	for which in rt ref; do
		uns_bundle "inacc-$which" "$TWO_INACCESSIBLE
			| .process.args = [\"sh\", \"-c\", \"cat /tmp/mount-1/foo.txt /tmp/mount-2/foo.txt; id -u; cat /proc/self/uid_map\"]"
		# The sources really are out of reach of host uid 100000.
		run setpriv --reuid=100000 --regid=100000 --clear-groups cat "$DIR/source-inaccessible-1/dir/foo.txt"
		[[ $status -ne 0 ]] || { echo "setup: uid 100000 can read the inaccessible source"; return 1; }
		rc_of "$which" run --bundle "$DIR" "$ID"
		[[ $RC -eq 0 ]] || { echo "$which run: rc=$RC $ERR"; return 1; }
		note "$which: $(tr -s ' \n' ' |' <<<"$OUT")"
		out+=("$OUT")
		no_staging_mount
	done
	assert_eq "rcrun's output vs runc's" "${out[1]}" "${out[0]}"
	[[ ${out[0]} == $'inaccessible-1\ninaccessible-2\n0\n'* ]] || { echo "unexpected output: ${out[0]}"; return 1; }
}

@test "userns: exec joins the user namespace and sees the bind mounts of inaccessible sources; \"ro\" holds" {
	local which outs=()
	for which in rt ref; do
		uns_bundle "inacc-exec-$which" "$TWO_INACCESSIBLE"
		ctr_run_d "$which" "$ID" "$DIR"
		no_staging_mount
		rc_of "$which" exec "$ID" cat /tmp/mount-1/foo.txt /tmp/mount-2/foo.txt
		assert_eq "$which exec cat" $'inaccessible-1\ninaccessible-2' "$OUT"
		# The exec'd process is in the container's user namespace, as the
		# process's user (not the host's root).
		rc_of "$which" exec "$ID" sh -c 'cat /proc/self/uid_map; id -u'
		[[ $RC -eq 0 && $(tr -s ' ' <<<"$OUT") == $' 0 100000 65536\n0' ]] || { echo "$which exec uid_map: rc=$RC $OUT $ERR"; return 1; }
		rc_of "$which" exec --user 1000:1000 --additional-gids 5 "$ID" sh -c 'id; echo "HOME=$HOME"; grep -E "^Cap(Inh|Prm|Eff|Bnd|Amb)" /proc/self/status'
		[[ $RC -eq 0 ]] || { echo "$which exec --user: rc=$RC $ERR"; return 1; }
		note "$which exec --user: $(tr -s '\t\n' ' |' <<<"$OUT")"
		outs+=("$OUT")
		# mount-2 is "ro"; mount-1 is not, but its files are root's (not
		# mapped): neither is writable for the container's root.
		rc_of "$which" exec "$ID" sh -c 'touch /tmp/mount-2/x 2>&1'
		[[ $RC -ne 0 && $OUT == *"Read-only file system"* ]] || { echo "$which: ro mount writable? rc=$RC $OUT"; return 1; }
		rc_of "$which" exec "$ID" sh -c 'touch /tmp/mount-1/x 2>&1'
		[[ $RC -ne 0 ]] || { echo "$which: wrote into a directory of the host's root"; return 1; }
		ctr_kill_delete "$which" "$ID"
	done
	assert_eq "exec --user: rcrun vs runc" "${outs[1]}" "${outs[0]}"
}

@test "userns: a bind mount right before the cgroup mount, no cgroup namespace (runc's userns.bats)" {
	local which f=/sys/fs/cgroup/pids/tasks
	[[ $CG_LAYOUT != v2 ]] || f=/sys/fs/cgroup/cgroup.procs
	for which in rt ref; do
		uns_bundle "cgmnt-$which" '.mounts |= map(if .destination == "/sys/fs/cgroup" then
				({"source": "source-accessible/dir", "destination": "/tmp/mount-1", "options": ["bind"]}, .)
				else . end)
			| .linux.namespaces -= [{"type": "cgroup"}]'
		ctr_run_d "$which" "$ID" "$DIR"
		rc_of "$which" exec "$ID" cat "$f" /tmp/mount-1/foo.txt
		[[ $RC -eq 0 && $OUT == *accessible ]] || { echo "$which exec cat $f: rc=$RC $OUT $ERR"; return 1; }
		[[ $(head -1 <<<"$OUT") =~ ^[0-9]+$ ]] || { echo "$which: $f lists no process: $OUT"; return 1; }
		ctr_kill_delete "$which" "$ID"
	done
}

@test "userns, no pid namespace, /proc bound from the host: runs; init's death stops it; delete kills the rest" {
	local which pid others p
	for which in rt ref; do
		uns_bundle "hostpid-$which" "$HOST_PIDNS | $PROC_BOUND"
		ctr_run_d "$which" "$ID" "$DIR"
		rc_of "$which" exec -d "$ID" sleep 3600
		[[ $RC -eq 0 ]] || { echo "$which exec -d: rc=$RC $ERR"; return 1; }
		# The host's pid namespace: the exec'd process sees the host's pid 1.
		rc_of "$which" exec "$ID" sh -c 'test -e /proc/1/comm && echo host-pids'
		assert_eq "$which: /proc is the host's" host-pids "$OUT"
		pid=$(ctr_pid "$which" "$ID")
		others=$(grep -vx "$pid" "$(cg_dir pids "$CG_CUR")/cgroup.procs")
		[[ -n $others ]] || { echo "$which: no exec'd process in the cgroup"; return 1; }
		kill -9 "$pid"
		wait_status "$which" "$ID" stopped
		rc_of "$which" delete "$ID"
		[[ $RC -eq 0 ]] || { echo "$which delete: rc=$RC $ERR"; return 1; }
		for p in $others; do
			for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
			! kill -0 "$p" 2>/dev/null || { echo "$which: process $p survived delete"; return 1; }
		done
	done
}

# A fresh proc mount in a user namespace without a pid namespace of its own:
# the kernel refuses it (EPERM), whichever runtime asks.
sc_fresh_proc_host_pidns() {
	uns_bundle "freshproc-$1" "$HOST_PIDNS"
	ctr_create "$1" "$ID" "$DIR"
	SC_RC=$RC SC_ERR=$ERR
	ctr_force_delete "$1" "$ID"
}

@test "userns, no pid namespace, a fresh proc mount: refused for both" {
	compare_failure sc_fresh_proc_host_pidns
	# libcontainer's init reports this one (several lines, the last one
	# rcrun's): it names the rootfs step that failed.
	[[ $(tail -1 <<<"$SC_ERR_RT") == *"prepare rootfs"* ]] || { echo "rcrun's error: $SC_ERR_RT"; return 1; }
}

sc_missing_source() {
	uns_bundle "nosrc-$1" '.mounts += [{"source": "/nonexistent-rcrun-userns-source", "destination": "/tmp/mount-1", "options": ["rbind"]}]'
	ctr_create "$1" "$ID" "$DIR"
	SC_RC=$RC SC_ERR=$ERR
	ctr_force_delete "$1" "$ID"
}

@test "userns: a bind source that does not exist fails the create, nothing left" {
	compare_failure sc_missing_source
	assert_one_line_error "$SC_ERR_RT" 'mounts\[[0-9]+\]\.source' "/nonexistent-rcrun-userns-source" "no such file"
}

@test "userns: createRuntime hooks run, in the runtime's namespaces" {
	local which
	for which in rt ref; do
		uns_bundle "hook-$which" "$TWO_INACCESSIBLE
			| .hooks.createRuntime = [{\"path\": \"/bin/sh\", \"args\": [\"sh\", \"-c\", \"cat > \\\"$UNS_DIR/hook-$which.state\\\"\"]}]
			| .process.args = [\"true\"]"
		rc_of "$which" run --bundle "$DIR" "$ID"
		[[ $RC -eq 0 ]] || { echo "$which run: rc=$RC $ERR"; return 1; }
		[[ $(jq -r .id "$UNS_DIR/hook-$which.state") == "$ID" ]] || { echo "$which: hook did not run"; return 1; }
	done
}

# sc_hook_fails_own_memcg rt|ref: libcontainer's setup (a user namespace) of
# a container with a relative cgroupsPath, created from a memory cgroup of
# the test's own (the caller's v1 cgroups then differ per hierarchy), whose
# createContainer hook fails. libcontainer's cleanup SIGKILLs every process
# in the container's cgroups: rcrun was in them (exit 137, state and
# cgroups left behind) until its setup ran in a child (lc_isolated.rs).
sc_hook_fails_own_memcg() {
	local mem own caller rel
	mem=$(awk '$5 == "/sys/fs/cgroup/memory" { print $5 }' /proc/self/mountinfo | head -n1)
	[[ -n $mem ]] || { echo "no v1 memory hierarchy: the scenario needs one" >&2; return 1; }
	own=$(awk -F: '$2 == "memory" { print $3 }' /proc/self/cgroup)
	caller=$mem${own%/}/rcrun-test-$RCRUN_TEST_TAG-caller-$1
	rel=rcrun-test-$RCRUN_TEST_TAG-rel-$1
	uns_bundle "hookfail-$1" ".hooks.createContainer = [{\"path\": \"/bin/false\"}]
		| .linux.cgroupsPath = (\"$rel/\" + \$id) | .process.args = [\"true\"]"
	mkdir "$caller" || return 1
	SC_RC=0
	(
		echo "$BASHPID" >"$caller/cgroup.procs" || exit 99
		"$(rtbin "$1")" --root "$(rtroot "$1")" run --bundle "$DIR" "$ID" </dev/null >/dev/null 2>"$BATS_TEST_TMPDIR/hookfail.err"
	) || SC_RC=$?
	SC_ERR=$(cat "$BATS_TEST_TMPDIR/hookfail.err")
	local left
	left=$(find /sys/fs/cgroup -name "$ID" -type d 2>/dev/null)
	[[ -z $left ]] || { echo "$1 left cgroups: $left" >&2; return 1; }
	if [[ $1 == rt ]]; then
		left=$(find /sys/fs/cgroup -name "$rel" -type d 2>/dev/null)
		[[ -z $left ]] || { echo "rt left parent cgroups: $left" >&2; return 1; }
		[[ ! -e $RT_ROOT/$ID ]] || { echo "rt left its state: $RT_ROOT/$ID" >&2; return 1; }
	fi
	# runc leaves the empty parents; the memory one is inside $caller.
	find /sys/fs/cgroup -depth -name "$rel" -type d -exec rmdir {} + 2>/dev/null
	rmdir "$caller" || { echo "$caller still busy" >&2; return 1; }
	[[ $SC_RC -ne 137 ]] || { echo "$1 was SIGKILLed (137): $SC_ERR" >&2; return 1; }
}

@test "userns: a failing createContainer hook, relative cgroupsPath, caller's cgroups differ per hierarchy: the runtime survives, nothing left" {
	compare_failure sc_hook_fails_own_memcg
}
