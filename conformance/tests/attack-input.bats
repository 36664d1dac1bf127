#!/usr/bin/env bats
# Hostile or broken input that must be refused cleanly (docs/security.md
# classes 7 and 8): ids the kernel would silently ignore (uid/gid
# 4294967295 = (uid_t)-1 makes setuid a no-op: the process would stay
# root), and input that must not panic the runtime (exit status 101, a
# multi-line backtrace): NUL bytes and empty names in process.env /
# process.args, absurd durations, a console socket from a deleted cwd,
# non-UTF-8 bytes in the caller's environment.  Expected: non-zero exit
# status other than 101, ONE error line naming the field (RUNTIME other
# than runc), nothing left behind.  Where runc accepts the input (deleted
# cwd, non-UTF-8 environment) RUNTIME may accept it too, but never panic.

bats_require_minimum_version 1.5.0
load ../lib/common
load ../lib/reliability
load ../lib/attack

setup_file() { atk_setup_file; }
teardown_file() { atk_teardown_file; }
setup() { atk_setup; }
teardown() { atk_teardown; }

# judge WHICH ALLOW_OK REGEX...: from RC/OUT/ERR of the command under test:
# V, and BAD unless it was a clean refusal (or a success when ALLOW_OK=1)
# with one error line matching every REGEX, and nothing left of $ID (then
# deletes $ID whatever is left).
judge() {
	local which=$1 left
	judge_rc "$@"
	left=$(nothing_left_of "$which" "$ID" | sed "s|$BATS_TEST_TMPDIR/||" | awk '{ print $NF }' | tr '\n' ' ') ||
		{ BAD+=" left behind: $left"; V="$V; LEFT: ${left:0:160}"; }
	atk_done "$which"
}

# judge_rc WHICH [ALLOW_OK] REGEX...: V and BAD from RC/OUT/ERR alone.
judge_rc() {
	local which=$1 allow_ok=0 msg
	shift
	[[ $1 == [01] ]] && { allow_ok=$1; shift; }
	if [[ $RC -eq 0 ]]; then
		V="accepted (rc 0)"
		[[ $allow_ok == 1 ]] || BAD="accepted (rc 0), expected a refusal naming the field; output: ${OUT:0:200}"
	elif [[ $RC -eq 101 || $ERR == *panicked* ]]; then
		V="PANIC (rc $RC)"
		BAD="panicked (rc $RC): $(grep -m1 panicked <<<"$ERR")"
	else
		V="refused (rc $RC): $(atk_err1 "$ERR")"
		if [[ $which == rt ]] && ! msg=$(assert_one_line_error "$ERR" "$@" 2>&1); then
			BAD="$msg"
		fi
	fi
}

# sc_create WHICH NAME FILTER ALLOW_OK REGEX...: `run` a container (args
# `id`) made with FILTER.
sc_create() {
	local which=$1 name=$2 filter=$3 allow_ok=$4
	shift 4
	atk_bundle "$which" "$name" ".process.args = [\"id\"] | $filter" || return 1
	rc_of "$which" run --bundle "$B" "$ID"
	local out=$OUT
	judge "$which" "$allow_ok" "$@"
	[[ $RC -ne 0 ]] || V="$V: $out"
}

# Class 7.  Defence: spec validation (uids and gids in 0..2^31-1, as runc).
@test "user: uid/gid 4294967295 and 2147483648, additionalGids 4294967295: refused, one line naming the field" {
	local rc=0
	atk_both uid-max sc_create uid-max '.process.user = {"uid": 4294967295, "gid": 0}' 0 'process\.user\.uid' 4294967295 || rc=1
	atk_both gid-max sc_create gid-max '.process.user = {"uid": 0, "gid": 4294967295}' 0 'process\.user\.gid' 4294967295 || rc=1
	atk_both uid-2e31 sc_create uid-2e31 '.process.user = {"uid": 2147483648, "gid": 2147483648}' 0 'process\.user\.(uid|gid)' 2147483648 || rc=1
	atk_both addgid-max sc_create addgid-max '.process.user = {"uid": 0, "gid": 0, "additionalGids": [4294967295]}' 0 'additionalGids' 4294967295 || rc=1
	return $rc
}

@test "user: uid/gid 2147483647 (the largest valid id) runs as that id" {
	atk_both uid-edge sc_create uid-edge '.process.user = {"uid": 2147483647, "gid": 2147483647}' 1
	[[ $V == *"uid=2147483647 gid=2147483647"* ]] || { echo "expected id 2147483647, got: $V"; false; }
}

# Class 8.  Defence: every string that becomes a C string is checked
# (spec_validate) before anything is created; no unwrap on input.
@test "process.env with a NUL byte or an empty name: refused, one line, no panic" {
	local rc=0
	atk_both env-nul sc_create env-nul '.process.env += ["A=x\u0000y"]' 0 'process\.env' || rc=1
	atk_both env-noname sc_create env-noname '.process.env += ["=x"]' 0 'process\.env' || rc=1
	return $rc
}

@test "process.args with a NUL byte after args[0]: refused, one line, no panic" {
	atk_both args-nul sc_create args-nul '.process.args = ["sh", "-c", "echo x\u0000y"]' 0 'process\.args'
}

# sc_exec_bad WHICH NAME PROCESS_FILTER REGEX...: exec --process with a
# process.json made from the spec's process by PROCESS_FILTER, in a running
# container; the container must still run, with no new process.
sc_exec_bad() {
	local which=$1 name=$2 pf=$3 procs status
	shift 3
	atk_bundle "$which" "$name" || return 1
	atk_start "$which" || { atk_done "$which"; return 1; }
	jq ".process | $pf" "$B/config.json" >"$B/process.json"
	rc_of "$which" exec --process "$B/process.json" "$ID"
	sleep 0.2
	procs=$(grep -c '' "$(cg_dir pids "$CG_PARENT/$ID")/cgroup.procs" 2>/dev/null)
	status=$(ctr_status "$which" "$ID")
	atk_done "$which"
	judge_rc "$which" "$@"
	[[ $status == running ]] || BAD+=" container '$status' after the exec"
	[[ -z $procs || $procs -le 1 ]] || BAD+=" $procs processes in the container's cgroup after the exec"
}
@test "exec --process with a NUL byte in env or args: refused, one line, no panic, container untouched" {
	local rc=0
	atk_both exec-env-nul sc_exec_bad exec-env-nul '.args = ["true"] | .env += ["A=x\u0000y"]' 'process\.env|env' || rc=1
	atk_both exec-args-nul sc_exec_bad exec-args-nul '.args = ["sh", "-c", "echo x\u0000y"]' 'process\.args|args' || rc=1
	return $rc
}

# sc_events WHICH INTERVAL...: events --interval=I on one running container,
# for each I; every one must be refused cleanly.
sc_events() {
	local which=$1 iv vs=() bads=()
	shift
	atk_bundle "$which" "events" || return 1
	atk_start "$which" || { atk_done "$which"; return 1; }
	for iv in "$@"; do
		RC=0
		timeout -k 2 10 "$(rtbin "$which")" --root "$(rtroot "$which")" events --interval="$iv" "$ID" \
			</dev/null >"$B/ev.out" 2>"$B/ev.err" 3>&- || RC=$?
		OUT=$(head -c 300 "$B/ev.out") ERR=$(cat "$B/ev.err")
		[[ $RC -ne 124 ]] || ERR="timed out (accepted the interval and kept running)"
		V="" BAD=""
		judge_rc "$which" 'interval'
		vs+=("$iv: $V")
		[[ -z $BAD ]] || bads+=("$iv: $BAD")
	done
	atk_done "$which"
	V=$(printf '%s; ' "${vs[@]}") BAD="${bads[*]}"
}
@test "events --interval 99999999999999999999s / NaNs / 0s / -1s: refused, one line naming --interval, no panic" {
	atk_both events sc_events 99999999999999999999s NaNs 0s -1s
}

# sc_console_gone WHICH HOW: create --console-socket with terminal: true
# from a cwd that was deleted; HOW: abs (absolute socket path: runc
# creates the container) or rel (relative: cannot be found).
sc_console_gone() {
	local which=$1 how=$2 sock gone rpid
	atk_bundle "$which" "cons-gone-$how" '.process.terminal = true' || return 1
	sock=$BATS_TEST_TMPDIR/cg-$which.sock
	"$ATK_HELPER" recvtty "$sock" /dev/null </dev/null >/dev/null 2>&1 3>&- &
	rpid=$!
	atk_wait_file "$sock" 5 || { kill "$rpid"; return 1; }
	gone=$BATS_TEST_TMPDIR/gone-$which
	mkdir -p "$gone"
	pushd "$gone" >/dev/null || return 1
	rmdir "$gone"
	if [[ $how == abs ]]; then
		rc_of "$which" create --console-socket "$sock" --bundle "$B" "$ID"
	else
		rc_of "$which" create --console-socket "$(basename "$sock")" --bundle "$B" "$ID"
	fi
	popd >/dev/null || return 1
	kill "$rpid" 2>/dev/null
	wait "$rpid" 2>/dev/null
	if [[ $RC -eq 0 ]]; then
		V="created"
		atk_done "$which"
		nothing_left_of "$which" "$ID" >/dev/null || BAD="left behind after delete"
	else
		judge "$which" 0 'console'
	fi
}
@test "create --console-socket from a deleted cwd (terminal: true): no panic; refusal is one line" {
	atk_variants console-deleted-cwd sc_console_gone abs rel
}

# sc_env8 WHICH HOW: the caller's environment holds a non-UTF-8 value
# (val) or name (name); `run` then `exec`.  runc runs both: RUNTIME may
# run or refuse with one line, never panic; none of it reaches the container.
sc_env8() {
	local which=$1 how=$2 kv
	[[ $how == val ]] && kv=$'RCT_X=\xff\xfe' || kv=$'RCT_\xff=1'
	atk_bundle "$which" "env8-$how" '.process.args = ["sh", "-c", "env | grep -c RCT_ || true"]' || return 1
	RC=0
	env "$kv" "$(rtbin "$which")" --root "$(rtroot "$which")" run --bundle "$B" "$ID" </dev/null >"$B/o" 2>"$B/e" 3>&- || RC=$?
	OUT=$(cat "$B/o") ERR=$(cat "$B/e")
	if [[ $RC -eq 0 ]]; then
		V="ran (RCT_ vars inside: $OUT)"
		[[ $OUT == 0 ]] || BAD="the caller's environment reached the container: $OUT"
		atk_done "$which"
	else
		judge "$which" 0 'env|UTF-8|utf8|environment'
	fi
}
@test "a non-UTF-8 value / name in the caller's environment: no panic (run like runc, or one line)" {
	atk_variants env-non-utf8 sc_env8 val name
}
