#!/usr/bin/env bats
# Processes brought into a container by `exec` must be confined exactly like
# its init (docs/security.md class 3): same seccomp filter, no_new_privs,
# capabilities, rlimits, oom_score_adj and user; and seccomp must not depend
# on noNewPrivileges nor break the runtime's own setup (class 9).  Each case
# runs on REF_RUNTIME and RUNTIME (both outcomes in a TAP comment); only
# RUNTIME is asserted.

bats_require_minimum_version 1.5.0
load ../lib/common
load ../lib/reliability
load ../lib/attack

setup_file() { atk_setup_file; }
teardown_file() { atk_teardown_file; }
setup() { atk_setup; }
teardown() { atk_teardown; }

# mkdir/mkdirat fail with EPERM (1), everything else allowed.
SECCOMP_NO_MKDIR='{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}'
SECCOMP_NO_GETCWD='{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}'

# What a process is allowed: status lines, NOFILE limits, oom_score_adj, ids,
# and whether it can mkdir in /dev/shm (a tmpfs: only seccomp stops it).
PROBE='grep -E "^(Uid|Gid|Groups|Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp):" /proc/$$/status | tr "\t" " " | tr -s " "
grep "open files" /proc/$$/limits | tr -s " "
echo "oom_score_adj: $(cat /proc/$$/oom_score_adj)"
echo "mkdir: $(/atk mkdir /dev/shm/d$$)"'

# sc_inherit WHICH JQ: start a container whose init records PROBE, then
# compare with `exec sh -c PROBE` and with `exec --process` (a process.json
# made from the spec's process).  Every line must be the init's.
sc_inherit() {
	local which=$1 filter=$2 init ex exp diffs=""
	atk_bundle "$which" inherit "$filter" || return 1
	atk_script "{ $PROBE
} >/out/init.tmp; mv /out/init.tmp /out/init; exec sleep 600"
	atk_start "$which" || { atk_done "$which"; return 1; }
	atk_wait_file "$O/init" || { atk_done "$which"; V="no result from the init"; return 1; }
	init=$(cat "$O/init")
	rc_of "$which" exec "$ID" sh -c "$PROBE"
	ex=$OUT
	[[ $RC -eq 0 ]] || ex="exec failed: $(atk_err1 "$ERR")"
	jq --arg p "$PROBE" '.process | .args = ["sh", "-c", $p]' "$B/config.json" >"$B/process.json"
	rc_of "$which" exec --process "$B/process.json" "$ID"
	exp=$OUT
	[[ $RC -eq 0 ]] || exp="exec --process failed: $(atk_err1 "$ERR")"
	atk_done "$which"
	diffs=$(diff <(echo "$init") <(echo "$ex") | grep '^>' | sed 's/^> /exec: /'
		diff <(echo "$init") <(echo "$exp") | grep '^>' | sed 's/^> /exec --process: /')
	if [[ -z $diffs ]]; then
		V="same as the init ($(grep -E '^(Seccomp|NoNewPrivs|Uid|CapEff)' <<<"$init" | tr '\n' ' ')$(grep '^mkdir' <<<"$init"))"
	else
		V="DIFFERS: $(tr '\n' ';' <<<"$diffs" | cut -c1-300)"
		BAD="exec'd process not confined like the init: init has $(tr '\n' ';' <<<"$init"); $(tr '\n' ';' <<<"$diffs")"
	fi
}

# Defence: exec applies the container's seccomp filter (rcrun: seccomp_late),
# after everything the runtime itself needs.
@test "exec: the exec'd process gets the container's seccomp filter (Seccomp: 2, mkdir EPERM)" {
	atk_both "exec-seccomp" sc_inherit ".linux.seccomp = $SECCOMP_NO_MKDIR"
	grep -q '^Seccomp: 2' "$O/init" || { echo "the init itself has no filter: $(cat "$O/init")"; false; }
}

# Defence: exec builds its process from the spec's process (caps, rlimits,
# oom_score_adj, no_new_privs), as runc does (rcrun: exec_process).
@test "exec: the exec'd process inherits noNewPrivileges, capabilities, rlimits and oom_score_adj" {
	atk_both "exec-privs" sc_inherit '.process.capabilities = {"bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE"],
			"effective": ["CAP_KILL"], "permitted": ["CAP_KILL"], "inheritable": ["CAP_KILL"], "ambient": ["CAP_KILL"]}
		| .process.noNewPrivileges = true | .process.oomScoreAdj = 321
		| .process.rlimits = [{"type": "RLIMIT_NOFILE", "soft": 1000, "hard": 1001}]'
}

@test "exec: the exec'd process runs as process.user (uid/gid 1000, additionalGids)" {
	atk_both "exec-user" sc_inherit '.process.user = {"uid": 1000, "gid": 1000, "additionalGids": [1234]}'
}

# sc_starts WHICH JQ: `run` a container that prints PROBE then "started".
sc_starts() {
	local which=$1 filter=$2
	atk_bundle "$which" starts "$filter" || return 1
	atk_script "$PROBE
echo started"
	rc_of "$which" run --bundle "$B" "$ID"
	atk_done "$which"
	if [[ $RC -eq 0 && $OUT == *started* ]]; then
		V="started ($(grep -E '^(Seccomp|NoNewPrivs|mkdir)' <<<"$OUT" | tr '\n' ' '))"
		if [[ $OUT != *"Seccomp: 2"* ]]; then
			V="started WITHOUT its filter: $V"
			BAD="no seccomp filter in the container: $OUT"
		fi
	else
		atk_refused "$which"
		BAD="the container did not start (rc $RC): $(atk_err1 "$ERR")"
	fi
}

# Class 9.  Defence: without no_new_privs the runtime loads the filter while
# it still has CAP_SYS_ADMIN (libseccomp needs either), and as late as
# possible so that a filter the runtime itself would trip on (getcwd) does
# not break the start.
@test "seccomp: noNewPrivileges false + a filter: the container starts, filter applied" {
	atk_both "seccomp-nnp-false" sc_starts ".process.noNewPrivileges = false | .linux.seccomp = $SECCOMP_NO_MKDIR"
	[[ $OUT == *"mkdir: EPERM"* ]] || { echo "mkdir was not blocked: $OUT"; false; }
}

@test "seccomp: a filter that blocks getcwd does not stop the start (noNewPrivileges unset)" {
	atk_both "seccomp-getcwd-unset" sc_starts "del(.process.noNewPrivileges) | .linux.seccomp = $SECCOMP_NO_GETCWD"
}

@test "seccomp: a filter that blocks getcwd does not stop the start (noNewPrivileges true)" {
	atk_both "seccomp-getcwd-nnp" sc_starts ".process.noNewPrivileges = true | .linux.seccomp = $SECCOMP_NO_GETCWD"
}
