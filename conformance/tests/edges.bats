#!/usr/bin/env bats
# Resource values at the edges: 0, 1, u64::MAX, i64::MAX, -1 ("unlimited"),
# a memory limit below the current usage on `update`, swap below the limit,
# cpus "0-999", devices that do not exist.
#
# Every case runs RUNTIME and REF_RUNTIME on the same spec (one bundle each,
# identical but for the id and its cgroupsPath).  RUNTIME must either write
# the right value (read back from the host's cgroup files through the
# layout-independent keys of lib/cgroup.bash: v1 memory.limit_in_bytes,
# cpu.shares, ... or v2 memory.max, cpu.weight, cpu.max, ...) or fail with
# ONE line naming the field and the value, leaving nothing behind.  REF is
# held to the same result where runc agrees (that guards the expectation);
# where they differ the test says so.  Each test notes what both runtimes
# did, for docs/resources.md ("where rcrun is better").
#
# Numbers that jq cannot hold exactly (it uses doubles: i64::MAX would become
# 9223372036854776000) are spliced into config.json as raw text: a jq filter
# writes "@@N@@" and edge_bundle replaces it with the bare number N.

bats_require_minimum_version 1.5.0
load ../lib/common
load ../lib/reliability

setup_file() { suite_setup_file; }
teardown_file() { suite_teardown_file; }
setup() { suite_setup; }
teardown() { suite_teardown; }

MiB=1048576
I64_MAX=9223372036854775807
U64_MAX=18446744073709551615

# need KEY...: skip unless this layout has every KEY under the test parent.
need() {
	local k
	for k in "$@"; do
		cg_has "$k" || skip "$CG_LAYOUT layout: $k not available here"
	done
}

# raw N: a JSON string that edge_bundle turns into the bare number N.
raw() { printf '"@@%s@@"' "$1"; }

# edge_bundle DIR FILTER: make_bundle, then the "@@N@@" strings become N.
edge_bundle() {
	make_bundle "$1" "$2" || return 1
	sed -i -E 's/"@@(-?[0-9]+)@@"/\1/g' "$1/config.json"
}

# lbl WHICH: the binary's name, for notes.
lbl() { basename "$(rtbin "$1")"; }

# msg_of STDERR: the error message (logrus "msg" of the last error line, or
# the last line), shortened for a note.
msg_of() {
	local line
	line=$(grep 'level=error' <<<"$1" | tail -n1)
	[[ -n $line ]] || line=$(tail -n1 <<<"$1")
	if [[ $line =~ msg=\"(.*)\"$ ]]; then
		line=${BASH_REMATCH[1]//\\\"/\"}
	fi
	printf '%s' "${line:0:230}"
}

# num_re N: regex matching the number N on its own (not inside a longer one).
num_re() { printf '(^|[^0-9])%s([^0-9]|$)' "$1"; }

declare -gA E_RC=() E_ERR=() E_VAL=() E_LEFT=()

# edge_try WHICH NAME FILTER KEY...: create a container from FILTER; on
# success read every logical KEY on the host, then kill + delete (which must
# work); on failure record what is left of it.  Sets E_RC[WHICH],
# E_ERR[WHICH], E_VAL[WHICH,KEY], E_LEFT[WHICH] and notes the outcome.
edge_try() {
	local which=$1 name=$2 filter=$3 id key vals=""
	shift 3
	id=$(ctr_id "$name-$which")
	edge_bundle "$BATS_TEST_TMPDIR/$id" "$filter" || return 1
	ctr_create "$which" "$id"
	E_RC[$which]=$RC E_ERR[$which]=$ERR E_LEFT[$which]=""
	if [[ $RC -eq 0 ]]; then
		for key in "$@"; do
			E_VAL[$which,$key]=$(cg_value "$CG_PARENT/$id" "$key") || E_VAL[$which,$key]="<unreadable>"
			vals+=" $key=${E_VAL[$which,$key]}"
		done
		note "$(lbl "$which"): created,$vals"
		ctr_kill_delete "$which" "$id" || return 1
	else
		note "$(lbl "$which"): rc=${E_RC[$which]}: $(msg_of "${E_ERR[$which]}")"
		E_LEFT[$which]=$(nothing_left_of "$which" "$id") || true
		ctr_force_delete "$which" "$id"
	fi
}

# expect_values NAME FILTER KEY=EXPECTED...: both runtimes create the
# container and every KEY reads EXPECTED.
expect_values() {
	local name=$1 filter=$2 which kv keys=() rc=0
	shift 2
	for kv in "$@"; do keys+=("${kv%%=*}"); done
	for which in rt ref; do
		edge_try "$which" "$name" "$filter" "${keys[@]}" || return 1
	done
	for which in rt ref; do
		if [[ ${E_RC[$which]} -ne 0 ]]; then
			echo "$(lbl "$which") failed (rc ${E_RC[$which]}): ${E_ERR[$which]}"
			rc=1
			continue
		fi
		for kv in "$@"; do
			if [[ ${E_VAL[$which,${kv%%=*}]} != "${kv#*=}" ]]; then
				echo "$(lbl "$which"): ${kv%%=*} ($(cg_logical "${kv%%=*}")): expected '${kv#*=}', got '${E_VAL[$which,${kv%%=*}]}'"
				rc=1
			fi
		done
	done
	return $rc
}

# expect_error NAME FILTER REGEX...: RUNTIME fails with one error line that
# matches every REGEX and leaves nothing; REF fails as well, with the same
# exit status (unless EDGE_REF=any: then REF's result is only noted).
expect_error() {
	local name=$1 filter=$2 which
	shift 2
	for which in rt ref; do
		edge_try "$which" "$name" "$filter" || return 1
	done
	if [[ ${E_RC[rt]} -eq 0 ]]; then
		echo "$(lbl rt) succeeded; expected a failure naming the field"
		return 1
	fi
	[[ -z ${E_LEFT[rt]} ]] || { echo "${E_LEFT[rt]}"; return 1; }
	assert_one_line_error "${E_ERR[rt]}" "$@"
	if [[ ${EDGE_REF:-same} == same ]]; then
		if [[ ${E_RC[ref]} -eq 0 ]]; then
			echo "$(lbl ref) succeeded: the scenario is not an error for the reference"
			return 1
		fi
		assert_eq "exit status $(lbl rt) vs $(lbl ref)" "${E_RC[ref]}" "${E_RC[rt]}"
	fi
}

# unlimited KEY: the value an unlimited memory / memory+swap reads back as.
unlimited() { cg_expect "$1" -1; }

# parent_value KEY: the kernel's default for a new cgroup, as our freshly
# made test parent shows it.
parent_value() { cg_value "$CG_PARENT" "$1"; }

# ---------------------------------------------------------------- memory ---

@test "memory.limit = 0: unset (as runc), the limit stays unlimited" {
	need memory.limit
	expect_values mem0 '.linux.resources.memory = {"limit": 0}' \
		"memory.limit=$(unlimited memory.limit)"
}

@test "memory.limit = 1: below one page, one line naming the field (runc: EBUSY from the kernel)" {
	need memory.limit
	expect_error mem1 '.linux.resources.memory = {"limit": 1}' \
		'linux\.resources\.memory\.limit' "$(num_re 1)" 'page'
}

@test "memory.limit = 4096 (one page): create fails, one line, nothing left" {
	need memory.limit
	expect_error mempage '.linux.resources.memory = {"limit": 4096}'
	# the init is OOM-killed while being set up: the error says so, naming the field
	if ! runtime_is_runc "$RUNTIME"; then
		grep -qE 'memory\.limit.*too low.*OOM-killed' <<<"${E_ERR[rt]}" || { echo "error does not name memory.limit and the OOM kill: ${E_ERR[rt]}"; false; }
	fi
}

@test "memory.limit = -1: unlimited, memory+swap unlimited too" {
	need memory.limit
	local kv=("memory.limit=$(unlimited memory.limit)")
	cg_has memory.swap && kv+=("memory.swap=$(unlimited memory.swap)")
	expect_values memneg '.linux.resources.memory = {"limit": -1}' "${kv[@]}"
}

@test "memory.limit = u64::MAX: parse error naming the field (oci-spec: i64)" {
	expect_error memu64 ".linux.resources.memory = {\"limit\": $(raw $U64_MAX)}" \
		'linux\.resources\.memory\.limit' "$U64_MAX"
}

@test "memory.limit = i64::MAX: accepted as unlimited (the kernel keeps whole pages)" {
	need memory.limit
	expect_values memi64 ".linux.resources.memory = {\"limit\": $(raw $I64_MAX)}" \
		"memory.limit=$(unlimited memory.limit)"
}

@test "memory.swap below memory.limit: one line naming swap (runc: EINVAL from the kernel)" {
	need memory.limit memory.swap
	expect_error swaplow ".linux.resources.memory = {\"limit\": $((128 * MiB)), \"swap\": $((64 * MiB))}" \
		'linux\.resources\.memory\.swap' "$(num_re $((64 * MiB)))" 'limit'
}

@test "memory.swap = -1 with memory.limit 128MiB: swap unlimited" {
	need memory.limit memory.swap
	expect_values swapneg ".linux.resources.memory = {\"limit\": $((128 * MiB)), \"swap\": -1}" \
		"memory.limit=$(cg_expect memory.limit $((128 * MiB)))" "memory.swap=$(unlimited memory.swap)"
}

@test "memory.swap = memory.limit: no swap at all" {
	need memory.limit memory.swap
	expect_values swapeq ".linux.resources.memory = {\"limit\": $((128 * MiB)), \"swap\": $((128 * MiB))}" \
		"memory.limit=$(cg_expect memory.limit $((128 * MiB)))" \
		"memory.swap=$(cg_expect memory.swap $((128 * MiB)) $((128 * MiB)))"
}

# ------------------------------------------------------------------- cpu ---

@test "cpu.shares = 0: unset (as runc), the kernel's default stays" {
	need cpu.shares
	expect_values shares0 '.linux.resources.cpu = {"shares": 0}' \
		"cpu.shares=$(parent_value cpu.shares)"
}

@test "cpu.shares = 1: below the kernel's minimum of 2, one line naming the field" {
	need cpu.shares
	expect_error shares1 '.linux.resources.cpu = {"shares": 1}' \
		'linux\.resources\.cpu\.shares' "$(num_re 1)"
}

@test "cpu.shares = u64::MAX: one line naming the field" {
	need cpu.shares
	expect_error sharesmax ".linux.resources.cpu = {\"shares\": $(raw $U64_MAX)}" \
		'linux\.resources\.cpu\.shares' "$U64_MAX"
}

@test "cpu.quota = 0 and cpu.period = 0: unset, the kernel's defaults stay" {
	need cpu.quota cpu.period
	expect_values quota0 '.linux.resources.cpu = {"quota": 0, "period": 0}' \
		"cpu.quota=$(parent_value cpu.quota)" "cpu.period=$(parent_value cpu.period)"
}

@test "cpu.quota = -1 with cpu.period 50000: unlimited quota, period set" {
	need cpu.quota cpu.period
	expect_values quotaneg '.linux.resources.cpu = {"quota": -1, "period": 50000}' \
		cpu.quota=-1 cpu.period=50000
}

@test "cpu.quota = 1: below the kernel's 1000us, one line naming the field (runc: EINVAL)" {
	need cpu.quota
	expect_error quota1 '.linux.resources.cpu = {"quota": 1}' \
		'linux\.resources\.cpu\.quota' "$(num_re 1)"
}

@test "cpu.period = 1000000 (the kernel's maximum) with quota 1500000" {
	need cpu.quota cpu.period
	expect_values periodmax '.linux.resources.cpu = {"quota": 1500000, "period": 1000000}' \
		cpu.quota=1500000 cpu.period=1000000
}

@test "cpu.period = u64::MAX: one line naming the field (runc: EINVAL)" {
	need cpu.period
	expect_error periodu64 ".linux.resources.cpu = {\"period\": $(raw $U64_MAX)}" \
		'linux\.resources\.cpu\.period' "$U64_MAX"
}

# ------------------------------------------------------------------ pids ---

@test "pids.limit = 0 and -1: unlimited (\"max\"), as runc" {
	need pids.limit
	expect_values pids0 '.linux.resources.pids = {"limit": 0}' pids.limit=max
	expect_values pidsneg '.linux.resources.pids = {"limit": -1}' pids.limit=max
}

@test "pids.limit = 1: written, and the container's init runs within it" {
	need pids.limit
	local which id
	for which in rt ref; do
		id=$(ctr_id "pids1-$which")
		make_bundle "$BATS_TEST_TMPDIR/$id" '.linux.resources.pids = {"limit": 1}'
		ctr_run_d "$which" "$id"
		assert_eq "$(lbl "$which") pids.max" 1 "$(cg_value "$CG_PARENT/$id" pids.limit)"
		assert_eq "$(lbl "$which") pids.current" 1 "$(cg_read_at "$CG_PARENT/$id" pids pids.current)"
		# exec needs a second process in the cgroup. runc forks it outside
		# and moves it in (pids.max is checked at fork, not at the move):
		# it runs. rcrun forks inside: refused by the kernel, said in one
		# line naming the field.
		rc_of "$which" exec "$id" /bin/true
		note "$(lbl "$which"): running with pids.max 1; exec: rc=$RC$([[ $RC -ne 0 ]] && echo ": $(grep -c '' <<<"$ERR") line(s), $(msg_of "$ERR")")"
		if [[ $which == rt ]] && ! runtime_is_runc "$RUNTIME" && [[ $RC -ne 0 ]]; then
			assert_eq "$(lbl rt) exec error lines" 1 "$(grep -c '' <<<"$ERR")"
			grep -qE "linux\.resources\.pids\.limit: 1[: ]" <<<"$ERR" || { echo "exec error does not name pids.limit: $ERR"; false; }
		fi
		assert_eq "$(lbl "$which") pids.current after exec" 1 "$(cg_read_at "$CG_PARENT/$id" pids pids.current)"
		ctr_kill_delete "$which" "$id"
	done
}

# --------------------------------------------------------------- cpuset ---

@test "cpu.cpus = \"0-999\": one line naming the field and the value" {
	need cpuset.cpus
	[[ $(nproc --all) -lt 1000 ]] || skip "this host has 1000 CPUs"
	expect_error cpus999 '.linux.resources.cpu = {"cpus": "0-999"}' \
		'linux\.resources\.cpu\.cpus' '0-999'
}

@test "cpu.cpus = \"\": unset, the cgroup keeps the parent's CPUs" {
	need cpuset.cpus
	expect_values cpusempty '.linux.resources.cpu = {"cpus": ""}' \
		"cpuset.cpus=$(parent_value cpuset.cpus)"
}

@test "cpu.cpus = \"1-0\" (reversed range): one line naming the field" {
	need cpuset.cpus
	expect_error cpusrev '.linux.resources.cpu = {"cpus": "1-0"}' \
		'linux\.resources\.cpu\.cpus' '1-0'
	# the kernel's EINVAL is not about the parent's cpuset here
	if grep -q 'subset of the parent' <<<"${E_ERR[rt]}"; then
		echo "misleading cause: ${E_ERR[rt]}"
		return 1
	fi
}

# --------------------------------------------------------------- update ---

# mem_usage CGPATH: bytes charged to the memory cgroup.
mem_usage() {
	if [[ $(cg_ctrl_version memory) == 1 ]]; then
		cg_read_at "$1" memory memory.usage_in_bytes
	else
		cg_read_at "$1" memory memory.current
	fi
}

@test "update --memory 4m below the container's usage (20MiB in tmpfs): clear error, old limit kept" {
	need memory.limit
	local which id i usage limit0 exp
	declare -A U_RC=() U_ERR=() U_LIMIT=() U_STATUS=() U_OOM=()
	exp=$(cg_expect memory.limit $((128 * MiB)))
	for which in rt ref; do
		id=$(ctr_id "updlow-$which")
		make_bundle "$BATS_TEST_TMPDIR/$id" ".linux.resources.memory = {\"limit\": $((128 * MiB))} | .process.args = [\"sh\", \"-c\", \"dd if=/dev/zero of=/dev/shm/fill bs=1M count=20 2>/dev/null; sleep 600\"]"
		ctr_run_d "$which" "$id"
		for ((i = 0; i < 100; i++)); do
			usage=$(mem_usage "$CG_PARENT/$id")
			((usage >= 20 * MiB)) && break
			sleep 0.05
		done
		((usage >= 20 * MiB)) || { echo "$(lbl "$which"): usage stayed at $usage"; false; }
		limit0=$(cg_value "$CG_PARENT/$id" memory.limit)
		assert_eq "$(lbl "$which") limit before" "$exp" "$limit0"
		rc_of "$which" update --memory 4m "$id"
		U_RC[$which]=$RC U_ERR[$which]=$ERR
		sleep 0.2
		U_LIMIT[$which]=$(cg_value "$CG_PARENT/$id" memory.limit)
		U_STATUS[$which]=$(ctr_status "$which" "$id")
		U_OOM[$which]=$(cg_value "$CG_PARENT/$id" memory.oom_kill 2>/dev/null || echo "?")
		note "$(lbl "$which"): usage $usage; update rc=$RC$([[ $RC -ne 0 ]] && echo " ($(grep -c '' <<<"$ERR") line(s)): $(msg_of "$ERR")"); limit now ${U_LIMIT[$which]}, status ${U_STATUS[$which]}, oom_kill ${U_OOM[$which]}"
		ctr_kill_delete "$which" "$id"
	done
	# RUNTIME: refused with one line naming the limit and the value, the old
	# limit in place, the container untouched
	[[ ${U_RC[rt]} -ne 0 ]] || { echo "$(lbl rt) update succeeded below the usage"; false; }
	# ... and, as runc, how much is in use
	assert_one_line_error "${U_ERR[rt]}" 'memory\.limit|--memory' '4194304|4m' 'usage[^0-9]*[0-9]{6,}'
	assert_eq "$(lbl rt) limit after the refused update" "$exp" "${U_LIMIT[rt]}"
	assert_eq "$(lbl rt) status after the refused update" running "${U_STATUS[rt]}"
	[[ ${U_OOM[rt]} == "?" ]] || assert_eq "$(lbl rt) oom kills" 0 "${U_OOM[rt]}"
	# runc on v1 gets the kernel's EBUSY as well; on v2 the kernel takes any
	# memory.max (and OOM-kills to meet it): only noted
	if [[ $(cg_ctrl_version memory) == 1 ]]; then
		[[ ${U_RC[ref]} -ne 0 ]] || { echo "$(lbl ref) update succeeded on v1: the kernel did not refuse?"; false; }
		assert_eq "$(lbl ref) limit after the refused update" "$exp" "${U_LIMIT[ref]}"
	fi
}

# -------------------------------------------------------------- devices ---

@test "devices: a node whose major:minor has no driver (250:250), allowed and not allowed" {
	local which id out
	declare -A D_OUT=() D_LIST=()
	local filter='.linux.devices = [
		{"path": "/dev/rct-nodrv", "type": "c", "major": 250, "minor": 250, "fileMode": 438, "uid": 0, "gid": 0},
		{"path": "/dev/rct-denied", "type": "c", "major": 251, "minor": 251, "fileMode": 438, "uid": 0, "gid": 0}]
		| .linux.resources.devices += [{"allow": true, "type": "c", "major": 250, "minor": 250, "access": "rw"}]'
	for which in rt ref; do
		id=$(ctr_id "nodev-$which")
		make_bundle "$BATS_TEST_TMPDIR/$id" "$filter"
		ctr_run_d "$which" "$id"
		# shellcheck disable=SC2016
		out=$("$which" exec "$id" /bin/sh -c '
			for d in /dev/rct-nodrv /dev/rct-denied; do
				printf "%s %s " "$d" "$(stat -c "%t:%T" "$d")"
				cat "$d" 2>&1 >/dev/null | sed "s/.*: //"
			done' </dev/null 2>&1 3>&-) || true
		D_OUT[$which]=$out
		if [[ $(cg_ctrl_version devices) == 1 ]]; then
			D_LIST[$which]=$(grep -E '^c 25[01]:25[01] ' "$(cg_dir devices "$CG_PARENT/$id")/devices.list" | tr '\n' ';')
		fi
		note "$(lbl "$which"): $(tr '\n' ';' <<<"$out") devices.list: ${D_LIST[$which]:-(v2: eBPF)}"
		ctr_kill_delete "$which" "$id"
	done
	local exp=$'/dev/rct-nodrv fa:fa No such device or address\n/dev/rct-denied fb:fb Operation not permitted'
	assert_eq "$(lbl rt) inside" "$exp" "${D_OUT[rt]}"
	assert_eq "$(lbl ref) inside" "$exp" "${D_OUT[ref]}"
	if [[ $(cg_ctrl_version devices) == 1 ]]; then
		assert_eq "$(lbl rt) devices.list" "c 250:250 rw;" "${D_LIST[rt]}"
		assert_eq "$(lbl ref) devices.list" "${D_LIST[ref]}" "${D_LIST[rt]}"
	fi
}
