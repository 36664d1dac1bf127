#!/usr/bin/env bats
# Kubernetes' path without a kubelet: containerd 1.7's CRI (Debian trixie's,
# private; conformance/k8s/lib.bash) with handlers runc and rcrun side by
# side, driven the way the kubelet drives it. The subject: an OOM-killed
# pod container's account reaches `kubectl describe pod` as its
# termination message (runtime/src/termination_message.rs). The kubelet
# creates an empty host file and asks for a bind mount of it at the
# container's terminationMessagePath (default /dev/termination-log); these
# tests do the same, and read the host file as the kubelet does.
# Skipped only when trixie's packages cannot be fetched (no network);
# RCRUN_TEST_REQUIRE_DOCKER=1 (CI) makes that a failure.

bats_require_minimum_version 1.5.0
load ../lib/common
# shellcheck source=../lib/containerd.bash
source "$CONF_LIB/containerd.bash"
# shellcheck source=../lib/trixie.bash
source "$CONF_LIB/trixie.bash"
# shellcheck source=../k8s/lib.bash
source "$CONF_LIB/../k8s/lib.bash"

MIB64=67108864
DD='["dd","if=/dev/zero","of=/dev/null","bs=200M","count=1"]'

setup_file() {
	suite_setup_file || return 1
	if ! cri_available; then
		if [[ ${RCRUN_TEST_REQUIRE_DOCKER:-0} == 1 ]]; then
			echo "CRI harness unavailable: $CRI_UNAVAILABLE_WHY (RCRUN_TEST_REQUIRE_DOCKER=1)" >&2
			return 1
		fi
		echo "$CRI_UNAVAILABLE_WHY" >"$BATS_FILE_TMPDIR/skip"
		return 0
	fi
	if ! cri_start "$RCRUN_TEST_TMP/cri" >"$BATS_FILE_TMPDIR/start.log" 2>&1; then
		cat "$BATS_FILE_TMPDIR/start.log" "$RCRUN_TEST_TMP/cri/containerd.log" >&2
		return 1
	fi
	POD_rcrun=$(cri_pod rcrun rcrun) && POD_runc=$(cri_pod runc runc) || {
		tail -n 30 "$CTD_DIR/containerd.log" >&2
		return 1
	}
	export CTD_DIR CTD_NS POD_rcrun POD_runc
}

teardown_file() {
	local rc=0
	[[ -d $RCRUN_TEST_TMP/cri ]] && { cri_stop "$RCRUN_TEST_TMP/cri" || rc=1; }
	suite_teardown_file || rc=1
	return $rc
}

setup() {
	[[ -f $BATS_FILE_TMPDIR/skip ]] && skip "CRI harness unavailable: $(cat "$BATS_FILE_TMPDIR/skip")"
	suite_setup
}

teardown() {
	[[ -f $BATS_FILE_TMPDIR/skip ]] && return 0
	local id
	for id in $(cri ps -a -q 2>/dev/null); do
		cri stop -t 0 "$id" >/dev/null 2>&1
		cri rm "$id" >/dev/null 2>&1
	done
	suite_teardown
}

# term_file NAME: an empty 0666 host file as the kubelet makes it
# (<pod dir>/containers/<name>/<random>); prints its path.
term_file() {
	local f=$BATS_TEST_TMPDIR/pods/uid/containers/$1/$(printf '%08x' $RANDOM$RANDOM)
	mkdir -p "$(dirname "$f")" && : >"$f" && chmod 0666 "$f" && echo "$f"
}

# ctr_create HANDLER NAME HOSTFILE CMD_JSON [PATH [EXTRA_JQ]]: a container in
# HANDLER's pod with a 64 MiB limit and HOSTFILE mounted at PATH (default
# /dev/termination-log), annotated as the kubelet does; prints its id.
ctr_create() {
	local handler=$1 name=$2 host=$3 cmd=$4 path=${5:-/dev/termination-log} extra=${6:-.} pod f
	pod=POD_$handler
	f=$BATS_TEST_TMPDIR/ctr-$name.json
	jq -n --arg name "$name" --arg img "$CRI_IMAGE" --arg host "$host" --arg path "$path" \
		--argjson cmd "$cmd" --argjson mem "$MIB64" '{
		metadata: {name: $name},
		image: {image: $img},
		command: $cmd,
		log_path: ($name + ".log"),
		annotations: {"io.kubernetes.container.terminationMessagePath": $path},
		mounts: [{container_path: $path, host_path: $host}],
		linux: {resources: {memory_limit_in_bytes: $mem}}
	}' | jq "$extra" >"$f" || return 1
	cri create "${!pod}" "$f" "$CTD_DIR/pod-$handler.json"
}

# wait_exited ID: until CRI says CONTAINER_EXITED (30 s); sets STATUS (json).
wait_exited() {
	local i
	for ((i = 0; i < 300; i++)); do
		STATUS=$(cri inspect "$1" | jq -c .status) || return 1
		[[ $(jq -r .state <<<"$STATUS") == CONTAINER_EXITED ]] && return 0
		sleep 0.1
	done
	echo "container $1 did not exit: $STATUS"
	return 1
}

# oom_run HANDLER NAME HOSTFILE CMD_JSON [PATH [EXTRA_JQ]]: create, start,
# wait for the exit; asserts exitCode 137 and reason OOMKilled. Sets ID.
oom_run() {
	ID=$(ctr_create "$@") || return 1
	cri start "$ID" || return 1
	wait_exited "$ID" || return 1
	assert_eq "exitCode ($1)" 137 "$(jq -r .exitCode <<<"$STATUS")"
	assert_eq "reason ($1)" OOMKilled "$(jq -r .reason <<<"$STATUS")"
}

assert_account() { # FILE: the OOM account, as the kubelet will read it
	local m
	m=$(cat "$1")
	echo "termination message: $m"
	[[ $m == *"victim: host pid "*" (dd), the container's init process"* ]]
	[[ $m == *"limit hit: the container's own memory limit"* ]]
	[[ $m == *"usage: "*" of limit 64.0 MiB"* ]]
	[[ $(stat -c %s "$1") -le 4096 ]]
}

@test "cri rcrun: an OOM-killed container: EXITED, 137, OOMKilled, and its termination file holds the account" {
	local f
	f=$(term_file oom)
	oom_run rcrun oom "$f" "$DD"
	assert_account "$f"
	cri rm "$ID"
}

@test "cri runc: an OOM-killed container: EXITED, 137, OOMKilled; runc writes no termination message (the file stays empty)" {
	local f
	f=$(term_file oom)
	oom_run runc oom "$f" "$DD"
	assert_eq "termination file size (runc)" 0 "$(stat -c %s "$f")"
	cri rm "$ID"
}

@test "cri rcrun: a custom terminationMessagePath (annotation passed by container_annotations) gets the account" {
	local f
	f=$(term_file custom)
	oom_run rcrun custom "$f" "$DD" /tmp/my-termination-msg
	assert_account "$f"
	cri rm "$ID"
}

@test "cri rcrun, runc: a container that wrote its own termination message keeps it" {
	local f h
	for h in rcrun runc; do
		f=$(term_file "own-$h")
		oom_run "$h" "own-$h" "$f" \
			'["sh","-c","echo my own last words >/dev/termination-log; exec dd if=/dev/zero of=/dev/null bs=200M count=1"]'
		assert_eq "termination message ($h)" "my own last words" "$(cat "$f")"
		cri rm "$ID"
	done
}

@test "cri rcrun, runc: a plain SIGKILL (no OOM) writes nothing" {
	local f h
	for h in rcrun runc; do
		f=$(term_file "kill-$h")
		ID=$(ctr_create "$h" "kill-$h" "$f" '["sleep","600"]')
		cri start "$ID"
		cri stop -t 0 "$ID"
		wait_exited "$ID"
		assert_eq "exitCode ($h)" 137 "$(jq -r .exitCode <<<"$STATUS")"
		[[ $(jq -r .reason <<<"$STATUS") != OOMKilled ]]
		assert_eq "termination file size ($h)" 0 "$(stat -c %s "$f")"
		cri rm "$ID"
	done
}

# A container that reaches its termination file's host directory (as a pod
# with a hostPath volume of the kubelet's directory would) replaces the
# file with a symlink to a host file it cannot reach, then gets OOM-killed:
# the runtime (root) must not write through it.
@test "cri rcrun: attack: the termination file swapped for a symlink to a host file: nothing is written" {
	local f dir secret
	f=$(term_file attack)
	dir=$(dirname "$f")
	secret=$BATS_TEST_TMPDIR/host-secret
	: >"$secret"
	oom_run rcrun attack "$f" \
		"[\"sh\",\"-c\",\"rm /hostdir/$(basename "$f") && ln -s $secret /hostdir/$(basename "$f") && exec dd if=/dev/zero of=/dev/null bs=200M count=1\"]" \
		/dev/termination-log ".mounts += [{container_path: \"/hostdir\", host_path: \"$dir\"}]"
	[[ -L $f ]]
	assert_eq "host file written through the symlink" 0 "$(stat -c %s "$secret")"
	grep -q "termination message not written: $f: not a regular file" "$CTD_DIR/containerd.log" || {
		grep -i "termination" "$CTD_DIR/containerd.log" | tail -n 5
		false
	}
	cri rm "$ID"
}

# Needs the bounded OOM journal of the `oomjournal` branch (issue 19):
# fails until it is merged.
@test "cri rcrun: 10 s after crictl rm, rcrun oom-report <id> still prints the account" {
	local f
	f=$(term_file gone)
	oom_run rcrun gone "$f" "$DD"
	cri rm "$ID"
	sleep 10
	run "$RUNTIME" --root "/run/containerd/rcrun/$CRI_NS" oom-report "$ID"
	echo "$output"
	assert_eq "oom-report exit status" 0 "$status"
	[[ $output == *"(dd), the container's init process"* ]]
	[[ $output == *"limit hit: the container's own memory limit"* ]]
	[[ $output == *"limit 64.0 MiB"* ]]
}
