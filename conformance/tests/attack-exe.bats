#!/usr/bin/env bats
# Hostile containers vs the runtime binary (CVE-2019-5736 class,
# docs/security.md class 2).  The attacker is /atk watch (lib/attack-helper.c)
# inside a container: it polls /proc for processes whose /proc/<pid>/exe is
# neither busybox nor itself - the runtime while it sets up an exec'd
# process, or the runtime binary run through /proc/self/exe - opens that exe
# with O_PATH and keeps trying to reopen it for writing
# (/proc/self/fd/N, O_WRONLY|O_APPEND) until it is told to stop, i.e. after
# the runtime has exited.  The runtimes under attack are COPIES
# (lib/attack.bash): the test asserts RUNTIME's copy is byte-for-byte
# unchanged and reports what the attacker saw: caught = exes it could open,
# final = the outcome of its last write attempt once the runtime was gone
# (EROFS/EPERM: defended; ETXTBSY: still running; written: overwritten).

bats_require_minimum_version 1.5.0
load ../lib/common
load ../lib/reliability
load ../lib/attack

setup_file() { atk_setup_file; }
teardown_file() { atk_teardown_file; }
setup() { atk_setup; }
teardown() { atk_teardown; }

# watcher WHICH NAME [CAP...]: start container NAME whose init runs the
# attacker (then sleeps); waits for it to be ready.  Sets ID, B, O, PID.
watcher() {
	local which=$1 name=$2
	shift 2
	atk_bundle "$which" "$name" || return 1
	[[ $# -eq 0 ]] || atk_caps "$@"
	atk_script "/atk watch /out 120; exec sleep 600"
	printf '#!/proc/self/exe\n' >"$B/rootfs/evil" && chmod 755 "$B/rootfs/evil"
	atk_start "$which" || return 1
	atk_wait_file "$O/ready" || { V="attacker not ready"; return 1; }
}

# watch_verdict WHICH: stop the attacker, read its result, set V / BAD.
watch_verdict() {
	local which=$1 r caught written final
	touch "$O/stop"
	atk_wait_file "$O/result" 20 || { V="no result from the attacker"; return 1; }
	r=$(cat "$O/result")
	caught=$(sed -n 's/.*caught=\([0-9]*\).*/\1/p' <<<"$r")
	written=$(sed -n 's/.*written=\([0-9]*\).*/\1/p' <<<"$r")
	final=$(sed -n 's/.*final=\([^ ]*\).*/\1/p' <<<"$r")
	if ! atk_binary_intact "$which"; then
		V="OVERWRITTEN (caught $caught, written $written)"
		BAD="the container wrote the runtime binary copy $(rtbin "$which"): $r"
	elif [[ $written -gt 0 ]]; then
		V="WROTE a runtime exe that is not the binary copy ($written writes: an unsealed memfd?)"
		BAD="the attacker wrote into a runtime exe (not the on-disk copy, which is unchanged): $r"
	elif [[ $caught -gt 0 ]]; then
		V="blocked (caught $caught, final $final; $(sed 's/.*errors=\([^ ]*\).*/\1/' <<<"$r"))"
	else
		V="not caught (the attacker saw no runtime exe)"
	fi
}

# Defence: the exec'd process is set up by a read-only / sealed copy of the
# runtime (runc 1.1: a detached read-only bind mount; rcrun: sealed_exe).
sc_exec_ptrace() {
	local which=$1 i
	watcher "$which" exe-ptrace CAP_SYS_PTRACE || { atk_done "$which"; return 1; }
	for ((i = 0; i < 20; i++)); do
		rc_of "$which" exec "$ID" /bin/true
	done
	watch_verdict "$which"
	atk_done "$which"
}
@test "exe: a CAP_SYS_PTRACE init catching 20 exec'd processes cannot write the runtime binary" {
	atk_both "exe-exec-ptrace" sc_exec_ptrace
}

# Without CAP_SYS_PTRACE the attacker can only open the exe of processes
# with the container's credentials: an exec'd `/proc/self/exe --version`,
# a `#!/proc/self/exe` script, and `/proc/self/exe completion bash` whose
# stdout is a one-page pipe read only after 600 ms (so it stays alive,
# blocked in write, long enough to be caught whatever the load).
sc_exec_selfexe() {
	local which=$1 i printed
	watcher "$which" exe-self || { atk_done "$which"; return 1; }
	for ((i = 0; i < 5; i++)); do
		rc_of "$which" exec "$ID" /proc/self/exe --version
		[[ $i -eq 0 ]] && printed="exec /proc/self/exe --version: rc=$RC $(head -n 1 <<<"$OUT$(atk_err1 "$ERR")")"
		rc_of "$which" exec "$ID" /evil
	done
	timeout -k 5 30 "$ATK_HELPER" slowpipe 600 "$(rtbin "$which")" --root "$(rtroot "$which")" exec "$ID" /proc/self/exe completion bash \
		</dev/null 2>/dev/null 3>&-
	watch_verdict "$which"
	V="$V; $printed"
	atk_done "$which"
}
@test "exe: exec of /proc/self/exe and of a #!/proc/self/exe script (no CAP_SYS_PTRACE) cannot write the runtime binary" {
	atk_both "exe-exec-selfexe" sc_exec_selfexe
}

# The init itself runs the runtime binary (args[0] = /proc/self/exe) in a
# container that shares the attacker's pid namespace (as pods with
# shareProcessNamespace): first `--version` (what it prints is reported),
# then `completion bash` kept alive by a slow pipe.
sc_init_selfexe() {
	local which=$1 pid vid vb printed
	watcher "$which" exe-init || { atk_done "$which"; return 1; }
	pid=$PID
	vid=$(ctr_id "exe-victim-$which")
	vb=$BATS_TEST_TMPDIR/$vid
	make_bundle "$vb" '.process.args = ["/proc/self/exe", "--version"]' || return 1
	jq --arg p "/proc/$pid/ns/pid" '(.linux.namespaces[] | select(.type == "pid")) |= {"type": "pid", "path": $p}' \
		"$vb/config.json" >"$vb/c.json" && mv "$vb/c.json" "$vb/config.json"
	rc_of "$which" run --bundle "$vb" "$vid"
	printed="init /proc/self/exe --version: rc=$RC $(head -n 1 <<<"$OUT$(atk_err1 "$ERR")")"
	ctr_force_delete "$which" "$vid"
	jq '.process.args = ["/proc/self/exe", "completion", "bash"]' "$vb/config.json" >"$vb/c.json" && mv "$vb/c.json" "$vb/config.json"
	timeout -k 5 30 "$ATK_HELPER" slowpipe 600 "$(rtbin "$which")" --root "$(rtroot "$which")" run --bundle "$vb" "$vid" \
		</dev/null 2>/dev/null 3>&-
	ctr_force_delete "$which" "$vid"
	watch_verdict "$which"
	V="$V; $printed"
	atk_done "$which"
}
@test "exe: an init that is /proc/self/exe cannot be used to write the runtime binary (shared pid namespace)" {
	atk_both "exe-init-selfexe" sc_init_selfexe
}
