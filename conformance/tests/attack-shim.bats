#!/usr/bin/env bats
# The container boundary through containerd: a PRIVATE containerd
# (lib/containerd.bash) driven with `ctr run` / `ctr task exec`, every attack
# run side by side under containerd's runc shim (io.containerd.runc.v2, when
# it and runc are installed) and under the rcrun shim (io.containerd.rcrun.v2).
# Both outcomes are reported (TAP comments); only the rcrun shim is asserted.
# The attacks (lib/boundary.bash), from the issue "container boundary":
#   (1) raise the container's own memory / memsw / pids limits by writing
#       /sys/fs/cgroup from inside (containerd's spec mounts it ro);
#   (2) escape the container's seccomp filter (`ctr run --seccomp`: the
#       default profile), capabilities, no_new_privs or rlimits through
#       `ctr task exec`;
#   (3) mknod + open a device outside the container's allow list.
# After every test: no shim process, shim socket, fifo, mount, cgroup or
# state left.  Skipped without containerd/ctr or without the shim build; a
# FAILURE then when RCRUN_TEST_REQUIRE_DOCKER=1 (conformance/ci.sh).
# RCRUN_TEST_SHIM picks the shim binary (lib/containerd.bash).

bats_require_minimum_version 1.5.0
load ../lib/common
load ../lib/boundary
# shellcheck source=../lib/containerd.bash
source "$CONF_LIB/containerd.bash"

MiB=1048576
# ctr's default spec has no /sys/fs/cgroup mount (CRI and docker add one):
# the one they add, read-only as the spec says
CG_MOUNT=(--mount "type=cgroup,src=cgroup,dst=/sys/fs/cgroup,options=ro:nosuid:noexec:nodev:relatime")

setup_file() {
	suite_setup_file || return 1
	# (bats 1.8 fails a file whose setup_file skips: setup() skips each test)
	containerd_available || return 0
	containerd_start "$RCRUN_TEST_TMP/actd" || return 1
	containerd_import_busybox || return 1
	export CTD_DIR CTD_NS
}

teardown_file() {
	containerd_stop "$RCRUN_TEST_TMP/actd" 2>/dev/null
	suite_teardown_file
}

setup() {
	containerd_available || { boundary_unavailable "$CONTAINERD_UNAVAILABLE_WHY"; return 1; }
	suite_setup
	FIFOS=$CTD_DIR/fifo
	mkdir -p "$FIFOS"
	RTS=("$CTD_RUNTIME")
	if [[ -n $(PATH="$CTD_DIR/bin:$PATH" command -v containerd-shim-runc-v2) ]] && command -v runc >/dev/null; then
		RTS=(io.containerd.runc.v2 "$CTD_RUNTIME")
	else
		note "containerd-shim-runc-v2 or runc not installed: rcrun shim only, no reference"
	fi
}

teardown() {
	containerd_available || return 0
	local id rc=0
	containerd_remove_all
	shims_gone || { [[ -n ${BATS_TEST_COMPLETED:-} ]] && rc=1; }
	# runc (and a runtime may) leave the namespace's parent cgroup /<ns>
	containerd_ns_cgroup_rmdir
	suite_teardown || rc=1
	return $rc
}

# shims_gone: no shim (rcrun's or runc's) of ours, no socket of our ids, no
# fifo, no shim state.
shims_gone() {
	local i p id left=""
	for ((i = 0; i < 50; i++)); do
		p=$(pgrep -f "^[^ ]*containerd-shim-(rcrun|runc)-v2 .*-address $CTD_DIR/containerd.sock( |\$)" || true)
		[[ -z $p ]] && break
		sleep 0.1
	done
	[[ -z $p ]] || { echo "shim process(es) left: $p"; return 1; }
	while read -r id; do
		[[ -n $id && -e $(containerd_shim_socket "$id") ]] && left+=" $id"
	done <"$CTD_DIR/ids"
	[[ -z $left ]] || { echo "shim socket(s) left for:$left"; return 1; }
	[[ -z $(find "$FIFOS" -mindepth 1 2>/dev/null) ]] || { echo "fifos left: $(find "$FIFOS" -mindepth 1)"; return 1; }
	[[ -z $(ls -A "/run/containerd/rcrun/$CTD_NS" 2>/dev/null | grep -v '^oom-journal\.') ]] || { echo "rcrun shim state left"; return 1; }
}

rtname() { [[ $1 == "$CTD_RUNTIME" ]] && echo rcrun-shim || echo runc-shim; }

# cstart RT ID ARGS...: detached `sleep 600` task under RT (ARGS: ctr run flags).
cstart() {
	local rt=$1 id=$2 out
	shift 2
	containerd_record_id "$id"
	out=$(cctr run -d --null-io --runtime "$rt" "$@" "$CTD_IMAGE" "$id" sleep 600 2>&1) ||
		{ echo "ctr run -d --runtime $rt $*: $out"; return 1; }
}

# cexec ID ARGS...: `ctr task exec` (fresh exec id); sets RC, OUT (stdout+stderr).
cexec() {
	local id=$1
	shift
	RC=0
	OUT=$(cctr task exec --fifo-dir "$FIFOS" --exec-id "x$RANDOM" "$id" "$@" </dev/null 2>&1 3>&-) || RC=$?
}

# crunrm RT ID ARGS... -- CMD...: `ctr run --rm` in the foreground; sets RC, OUT.
crunrm() {
	local rt=$1 id=$2 a=()
	shift 2
	while [[ $# -gt 0 && $1 != -- ]]; do a+=("$1"); shift; done
	shift
	containerd_record_id "$id"
	RC=0
	OUT=$(cctr run --rm --fifo-dir "$FIFOS" --runtime "$rt" "${a[@]}" "$CTD_IMAGE" "$id" "$@" </dev/null 2>&1 3>&-) || RC=$?
}

# cstop ID: kill, delete task and container.
cstop() {
	local i
	cctr task kill -s SIGKILL "$1" >/dev/null 2>&1
	for ((i = 0; i < 100; i++)); do
		cctr task delete "$1" >/dev/null 2>&1 && break
		sleep 0.05
	done
	cctr container delete "$1"
}

# ctask_value ID KEY: logical cgroup value of task ID, read on the host.
ctask_value() {
	local pid cf path
	pid=$(cctr task ls | awk -v id="$1" '$1 == id { print $2 }')
	[[ $pid -gt 0 ]] || { echo "task $1 has no pid" >&2; return 1; }
	cf=$(cg_logical "$2") || return 1
	path=$(cg_pid_path "$pid" "${cf%% *}") || return 1
	cg_value "$path" "$2"
}

# ------------------------------------------------- (1) cgroup limits ---

# Defence: the cgroup hierarchies are mounted READ-ONLY in the container, so
# the limit (--memory-limit 64 MiB) cannot be raised from a `ctr task exec`
# (memory, memsw, pids: EROFS); the host's files stay as set; a 200 MiB dd
# in an exec is still OOM-killed (137).
@test "shim: --memory-limit 64M: memory/memsw/pids not writable from ctr task exec (EROFS), host files unchanged, dd 200M OOM-killed (137)" {
	local rt n id keys=() k want fails=""
	for k in memory.limit memory.swap pids.limit; do cg_has "$k" && keys+=("$k"); done
	[[ ${#keys[@]} -gt 0 ]] || skip "$CG_LAYOUT: none of memory.limit/memory.swap/pids.limit here"
	local -A host=() verdict=() attack=()
	for rt in "${RTS[@]}"; do
		n=$(rtname "$rt") id=cg-$n
		cstart "$rt" "$id" --memory-limit $((64 * MiB)) "${CG_MOUNT[@]}"
		cexec "$id" sh -c "$BOUNDARY_CG_SCRIPT"
		attack[$n]=$OUT
		verdict[$n]=$(boundary_cg_verdict "$OUT")
		note "$n: attack from ctr task exec (rc=$RC): $(grep -E '^(WRITE|MOUNT)' <<<"$OUT" | grep -v absent | tr '\n' ';')"
		for k in "${keys[@]}"; do host[$n,$k]=$(ctask_value "$id" "$k"); done
		note "$n: host after the attack: $(for k in "${keys[@]}"; do printf '%s=%s ' "$k" "${host[$n,$k]}"; done)"
		cexec "$id" dd if=/dev/zero of=/dev/null bs=200M count=1
		host[$n,dd]=$RC
		note "$n: ctr task exec dd bs=200M: exit $RC"
		cstop "$id"
	done
	[[ -z ${verdict[runc-shim]:-} ]] || note "runc shim (reference) did not hold either: ${verdict[runc-shim]}"
	[[ -z ${verdict[rcrun-shim]} ]] || fails+="inside: ${verdict[rcrun-shim]}"$'\n'
	for k in "${keys[@]}"; do
		case $k in
		memory.limit) want=$(cg_expect memory.limit $((64 * MiB))) ;;
		memory.swap) want=$(cg_expect memory.swap -1) ;; # ctr sets no swap limit
		pids.limit) want=max ;;                          # nor a pids limit
		esac
		[[ ${host[rcrun-shim,$k]} == "$want" ]] || fails+="host $k: '${host[rcrun-shim,$k]}', wanted '$want'"$'\n'
	done
	[[ ${host[rcrun-shim,dd]} == 137 ]] || fails+="dd bs=200M in ctr task exec under 64 MiB: exit ${host[rcrun-shim,dd]}, wanted 137 (OOM kill)"$'\n'
	[[ -z $fails ]] || { echo "rcrun shim: the container raised its limits:"; echo "$fails"; echo "attack output:"; echo "${attack[rcrun-shim]}"; false; }
}

# Defence: the same from the container's init (`ctr run --rm`): EROFS, then
# the dd is OOM-killed and ctr run exits 137.
@test "shim: ctr run init raises memsw/memory/pids then dd bs=200M under 64M: EROFS, exit 137" {
	local rt n verdict=""
	local script="$BOUNDARY_CG_SCRIPT
dd if=/dev/zero of=/dev/null bs=200M count=1"
	for rt in "${RTS[@]}"; do
		n=$(rtname "$rt")
		crunrm "$rt" "init-$n" --memory-limit $((64 * MiB)) "${CG_MOUNT[@]}" -- sh -c "$script"
		verdict=$(boundary_cg_verdict "$OUT")
		note "$n: ctr run exit $RC; $(grep -E '^WRITE' <<<"$OUT" | grep -v absent | tr '\n' ';')"
		[[ -z $verdict ]] || note "$n: $verdict"
	done
	[[ -z $verdict ]] || { echo "rcrun shim: $verdict"; echo "$OUT"; false; }
	assert_eq "rcrun shim: ctr run exit status (dd OOM-killed)" 137 "$RC"
}

# -------------------------------------------- (2) exec's attributes ---

# exec_vs_init RT ID ARGS...: task with ctr run ARGS, the attribute script in
# `ctr task exec`; sets PROC_OUT, PROC_DIFF.
exec_vs_init() {
	local rt=$1 id=$2 n
	shift 2
	n=$(rtname "$rt")
	cstart "$rt" "$id" "$@" || return 1
	cexec "$id" sh -c "$BOUNDARY_PROC_SCRIPT"
	PROC_OUT=$OUT
	PROC_DIFF=$(boundary_proc_diff "$OUT")
	cstop "$id"
	[[ $PROC_OUT == *BOUNDARY-PROC-DONE* ]] || { echo "$n: ctr task exec failed (rc=$RC): $PROC_OUT"; return 1; }
	note "$n: init: $(boundary_proc_summary "$PROC_OUT" init)"
	note "$n: exec: $(boundary_proc_summary "$PROC_OUT" self)"
	[[ -z $PROC_DIFF ]] || note "$n: exec differs from init: $(tr '\n' ';' <<<"$PROC_DIFF")"
}

# Defence: the exec'd process joins the container's seccomp filter (ctr run
# --seccomp: containerd's default profile, mode 2), capability sets,
# no_new_privs (ctr's default: on) and rlimits (ctr's default spec: nofile
# 1024:1024, not the shim's own).
@test "shim: ctr task exec: same Seccomp mode/filters, capabilities, NoNewPrivs, ids and rlimits as the init (ctr run --seccomp)" {
	local rt
	for rt in "${RTS[@]}"; do exec_vs_init "$rt" "sc-$(rtname "$rt")" --seccomp; done
	assert_eq "rcrun shim: Seccomp of the init (--seccomp)" 2 "$(boundary_field "$PROC_OUT" init Seccomp)"
	[[ -z $PROC_DIFF ]] || { echo "rcrun shim: the exec'd process differs from the init:"; echo "$PROC_DIFF"; false; }
}

# Defence: the same with a reduced capability set and no_new_privs off:
# whatever the container's spec says is what the exec'd process gets.
@test "shim: ctr task exec: --cap-drop CAP_MKNOD,CAP_NET_RAW + --allow-new-privs + --seccomp are kept in the exec" {
	local rt
	for rt in "${RTS[@]}"; do
		exec_vs_init "$rt" "hc-$(rtname "$rt")" --seccomp --allow-new-privs --cap-drop CAP_MKNOD --cap-drop CAP_NET_RAW
	done
	assert_eq "rcrun shim: init NoNewPrivs" 0 "$(boundary_field "$PROC_OUT" init NoNewPrivs)"
	assert_eq "rcrun shim: init Seccomp" 2 "$(boundary_field "$PROC_OUT" init Seccomp)"
	[[ -z $PROC_DIFF ]] || { echo "rcrun shim: the exec'd process differs from the init:"; echo "$PROC_DIFF"; false; }
}

# ---------------------------------------------------- (3) devices ---

# Defence: the device cgroup (containerd: deny all, then its default allow
# list) stops a node made with CAP_MKNOD from being opened: /dev/kmsg and the
# host's root disk, in the init (ctr run) and in a ctr task exec.
@test "shim: mknod + open of /dev/kmsg (c 1 11) and of the host disk is refused (init and ctr task exec)" {
	local rt n disk hc v_init v_exec out_init
	disk=$(boundary_disk)
	hc=$(boundary_dev_host_check "$disk") || skip "$hc"
	note "$hc"
	for rt in "${RTS[@]}"; do
		n=$(rtname "$rt")
		crunrm "$rt" "dev-$n" --env "BOUNDARY_DISK=$disk" -- sh -c "$BOUNDARY_DEV_SCRIPT"
		out_init=$OUT
		v_init=$(boundary_dev_verdict "$OUT")
		note "$n: init: $(grep -E '^(MKNOD|OPEN)' <<<"$OUT" | tr '\n' ';')"
		cstart "$rt" "devx-$n" --env "BOUNDARY_DISK=$disk"
		cexec "devx-$n" sh -c "$BOUNDARY_DEV_SCRIPT"
		v_exec=$(boundary_dev_verdict "$OUT")
		note "$n: exec: $(grep -E '^(MKNOD|OPEN)' <<<"$OUT" | tr '\n' ';')"
		cstop "devx-$n"
	done
	[[ -z $v_init ]] || { echo "rcrun shim: init opened a device outside the allow list: $v_init"; echo "$out_init"; false; }
	[[ -z $v_exec ]] || { echo "rcrun shim: ctr task exec opened a device outside the allow list: $v_exec"; echo "$OUT"; false; }
}

# cspec ID ARGS_JSON: a containerd default spec (`ctr oci spec`) with
# linux.resources.devices = [] (no rule at all: nothing allowed beyond what
# the runtime itself must allow), our rootfs (a copy of the busybox one),
# ARGS_JSON as process.args, cgroupsPath /<ns>/ID; prints the file.
cspec() {
	local id=$1 args=$2 b=$BATS_TEST_TMPDIR/spec-$1
	make_bundle "$b" >/dev/null || return 1
	cctr oci spec | jq --arg root "$b/rootfs" --argjson args "$args" --arg cgp "/$CTD_NS/$id" --arg disk "BOUNDARY_DISK=$(boundary_disk)" '
		.root = {path: $root, readonly: false} | .process.args = $args | .process.env = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", $disk]
		| .linux.resources.devices = [] | .linux.cgroupsPath = $cgp' >"$b/spec.json" || return 1
	echo "$b/spec.json"
}

# Defence: a spec whose device rule list is EMPTY gives no access to any
# device beyond the runtime's default ones (/dev/null, zero, ...): the
# device cgroup is still set up deny-by-default, so /dev/kmsg and the host
# disk made with CAP_MKNOD cannot be opened, in the init and in an exec.
@test "shim: linux.resources.devices = [] (ctr run --config): mknod + open of /dev/kmsg and the host disk refused (init and exec)" {
	local rt n spec hc v_init v_exec out_init list
	hc=$(boundary_dev_host_check "$(boundary_disk)") || skip "$hc"
	note "$hc"
	for rt in "${RTS[@]}"; do
		n=$(rtname "$rt")
		spec=$(cspec "nodev-$n" "$(jq -nc --arg s "$BOUNDARY_DEV_SCRIPT" '["sh", "-c", $s]')")
		containerd_record_id "nodev-$n"
		RC=0
		OUT=$(cctr run --rm --fifo-dir "$FIFOS" --runtime "$rt" --config "$spec" "nodev-$n" </dev/null 2>&1 3>&-) || RC=$?
		out_init=$OUT
		v_init=$(boundary_dev_verdict "$OUT")
		note "$n: init (rc=$RC): $(grep -E '^(MKNOD|OPEN)' <<<"$OUT" | tr '\n' ';')"
		[[ $RC -eq 0 ]] || note "$n: ctr run --config: $OUT"
		spec=$(cspec "nodevx-$n" '["sleep", "600"]')
		containerd_record_id "nodevx-$n"
		run cctr run -d --null-io --runtime "$rt" --config "$spec" "nodevx-$n"
		[[ $status -eq 0 ]] || { echo "$n: ctr run -d --config: $output"; false; }
		cexec "nodevx-$n" sh -c "$BOUNDARY_DEV_SCRIPT"
		v_exec=$(boundary_dev_verdict "$OUT")
		note "$n: exec: $(grep -E '^(MKNOD|OPEN)' <<<"$OUT" | tr '\n' ';')"
		list=$(boundary_devices_list "$(cctr task ls | awk -v id="nodevx-$n" '$1 == id { print $2 }')")
		[[ -n $list ]] && note "$n: host devices.list: $list"
		[[ $list != *"a *:* rwm"* ]] || v_exec+="devices.list allows everything: $list"
		cstop "nodevx-$n"
	done
	[[ -z $v_init ]] || { echo "rcrun shim: init opened a device outside the allow list: $v_init"; echo "$out_init"; false; }
	[[ -z $v_exec ]] || { echo "rcrun shim: exec opened a device outside the allow list: $v_exec"; echo "$OUT"; false; }
}
