#!/usr/bin/env bats
# rcrun as a drop-in for runc (issue "a true drop-in for runc", item 6):
# seccomp and hooks, side by side with REF_RUNTIME.
#   - a filter without noNewPrivileges loads (errno default, errnoRet,
#     kill), in the init and in an exec'd process;
#   - a syscall newer than every syscall the profile names gets ENOSYS, not
#     the default errno (glibc falls back: clone3 → clone); a named or older
#     one keeps the profile's answer;
#   - SCMP_ACT_NOTIFY: the agent at linux.seccomp.listenerPath gets the
#     container process state and the listener fd, its answers count, a
#     killed agent makes the notified syscalls fail with ENOSYS, and a
#     missing agent (or a profile it cannot serve) fails create;
#   - hooks: failures say "error running hook", createContainer hooks run
#     in the container's rootfs.
# lib/seccomp-helper.c (built static once per file) is the agent and the
# syscall probe.

bats_require_minimum_version 1.5.0
load ../lib/common
load ../lib/reliability

setup_file() {
	suite_setup_file || return 1
	SC_HELPER=$BATS_FILE_TMPDIR/seccomp-helper
	export SC_HELPER
	# A missing compiler fails every test, loudly (as the attack tests).
	command -v cc >/dev/null || { echo "FATAL: no cc: these tests need a C compiler (gcc) and static libc (libc6-dev)" >&2; return 1; }
	cc -static -O2 -o "$SC_HELPER" "$CONF_LIB/seccomp-helper.c" 2>"$BATS_FILE_TMPDIR/cc.log" ||
		{ echo "FATAL: cc -static lib/seccomp-helper.c failed:" >&2; cat "$BATS_FILE_TMPDIR/cc.log" >&2; return 1; }
}
teardown_file() { suite_teardown_file; }
setup() { suite_setup; }
teardown() {
	[[ -z ${AGENT_PID:-} ]] || { kill -9 "$AGENT_PID" 2>/dev/null; wait "$AGENT_PID" 2>/dev/null; }
	[[ -z ${AGENT_DIR:-} ]] || rm -rf "$AGENT_DIR"
	suite_teardown
}

# The syscalls busybox sh, mkdir, sleep and both runtimes' last steps
# need: an allow list for profiles whose default refuses.
ALLOW='read write open openat close stat fstat lstat newfstatat statx poll lseek mmap mprotect munmap brk rt_sigaction rt_sigprocmask rt_sigreturn ioctl pread64 pwrite64 readv writev access pipe pipe2 select sched_yield mremap madvise dup dup2 dup3 nanosleep clock_nanosleep getpid getppid getuid geteuid getgid getegid gettid clone fork vfork execve execveat exit exit_group wait4 kill uname fcntl getdents getdents64 getcwd chdir fchdir rename mkdir rmdir unlink unlinkat readlink readlinkat umask gettimeofday getrlimit prlimit64 sysinfo arch_prctl set_tid_address set_robust_list futex sigaltstack prctl capget capset setuid setgid setgroups setresuid setresgid getgroups getpgrp setpgid getpgid setsid setns chown fchown fchownat fstatfs statfs faccessat rseq getrandom tgkill epoll_create1 epoll_ctl epoll_wait epoll_pwait clock_gettime socket connect sendmsg recvmsg'
ARCHS='["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]'
ALLOW_JSON=$(jq -cn --arg a "$ALLOW" '$a | split(" ")')

# bundle_for WHICH NAME JQ: a bundle for WHICH at $BATS_TEST_TMPDIR/<id>
# (noNewPrivileges false unless JQ says otherwise, a writable rootfs);
# prints the container id.
bundle_for() {
	local id
	id=$(ctr_id "$2-$1")
	make_bundle "$BATS_TEST_TMPDIR/$id" '.process.noNewPrivileges = false | .root.readonly = false | '"$3" >/dev/null || return 1
	echo "$id"
}

# run_both NAME JQ: `run` of the same bundle on rt then ref; sets
# RCS=(rt ref), OUTS=(...), ERRS=(...).
run_both() {
	local which id
	RCS=() OUTS=() ERRS=()
	for which in rt ref; do
		id=$(bundle_for "$which" "$1" "$2") || return 1
		rc_of "$which" run --bundle "$BATS_TEST_TMPDIR/$id" "$id"
		RCS+=("$RC") OUTS+=("$OUT") ERRS+=("$ERR")
		ctr_force_delete "$which" "$id"
		note "$1 $which: rc=$RC out=$(tr '\n' '|' <<<"$OUT") err=$(tail -n1 <<<"$ERR")"
	done
}

@test "seccomp without noNewPrivileges loads in run and exec (errno, errnoRet, errno default, kill), as runc" {
	local mk='.process.args = ["sh", "-c", "mkdir /tmp/d 2>&1; grep ^Seccomp: /proc/self/status"]'
	run_both nnp-errno "$mk"' | .linux.seccomp = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": '"$ARCHS"', "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}'
	[[ ${RCS[0]} -eq 0 && ${OUTS[0]} == "${OUTS[1]}" && ${OUTS[0]} == *"Operation not permitted"* ]]
	run_both nnp-errnoret "$mk"' | .linux.seccomp = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 100}]}'
	[[ ${RCS[0]} -eq 0 && ${OUTS[0]} == "${OUTS[1]}" && ${OUTS[0]} == *"Network is down"* ]]
	run_both nnp-default "$mk"' | .linux.seccomp = {"defaultAction": "SCMP_ACT_ERRNO", "architectures": '"$ARCHS"', "syscalls": [{"names": ('"$ALLOW_JSON"' | map(select(. != "mkdir"))), "action": "SCMP_ACT_ALLOW"}]}'
	[[ ${RCS[0]} -eq 0 && ${OUTS[0]} == "${OUTS[1]}" && ${OUTS[0]} == *"Operation not permitted"* ]]
	run_both nnp-kill '.process.args = ["sh", "-c", "mkdir /tmp/d; echo shell-survived"] | .linux.seccomp = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_KILL"}]}'
	# The mkdir process is killed (SIGSYS), the shell goes on.
	[[ ${OUTS[0]} == "${OUTS[1]}" && ${ERRS[0]} == *"Bad system call"* && ${ERRS[1]} == *"Bad system call"* ]]

	# exec: the exec'd process loads the same filter (root and uid 1000).
	local which id out=()
	for which in rt ref; do
		id=$(bundle_for "$which" nnp-exec '.linux.seccomp = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 100}]}')
		ctr_run_d "$which" "$id" || return 1
		rc_of "$which" exec "$id" sh -c 'mkdir /tmp/d 2>&1; grep ^Seccomp: /proc/self/status'
		out+=("$RC $OUT")
		rc_of "$which" exec --user 1000:1000 "$id" sh -c 'mkdir /tmp/d 2>&1; grep ^Seccomp: /proc/self/status'
		out+=("$RC $OUT")
		ctr_force_delete "$which" "$id"
	done
	note "exec: $(printf '%s|' "${out[@]}" | tr '\n' ' ')"
	[[ ${out[0]} == "${out[2]}" && ${out[1]} == "${out[3]}" ]]
	[[ ${out[0]} == "0 "*"Network is down"*"Seccomp:"*2 && ${out[1]} == "0 "*"Network is down"*"Seccomp:"*2 ]]
}

@test "-ENOSYS for syscalls newer than the profile, the profile's errno for the others, as runc (init and exec, with and without noNewPrivileges)" {
	# Highest named on x86_64: rseq (334). clone3 (435) and epoll_pwait2
	# (441) are newer: ENOSYS; sync (162, named, refused) and times (100,
	# not named, older): EPERM; getpid (39): allowed.
	[[ $(uname -m) == x86_64 ]] || skip "the syscall numbers below are x86_64's"
	local nnp which id res=()
	for nnp in false true; do
		for which in rt ref; do
			id=$(bundle_for "$which" "enosys-$nnp" '.process.noNewPrivileges = '"$nnp"' | .process.args = ["/probe", "sys", "435", "441", "162", "100", "39"]
				| .linux.seccomp = {"defaultAction": "SCMP_ACT_ERRNO", "architectures": '"$ARCHS"',
					"syscalls": [{"names": '"$ALLOW_JSON"', "action": "SCMP_ACT_ALLOW"}, {"names": ["sync"], "action": "SCMP_ACT_ERRNO"}]}')
			cp "$SC_HELPER" "$BATS_TEST_TMPDIR/$id/rootfs/probe"
			rc_of "$which" run --bundle "$BATS_TEST_TMPDIR/$id" "$id"
			res+=("$OUT")
			ctr_force_delete "$which" "$id"
			# The same profile in an exec'd process.
			jq '.process.args = ["sleep", "600"]' "$BATS_TEST_TMPDIR/$id/config.json" >"$BATS_TEST_TMPDIR/c.json" && mv "$BATS_TEST_TMPDIR/c.json" "$BATS_TEST_TMPDIR/$id/config.json"
			ctr_run_d "$which" "$id" || return 1
			rc_of "$which" exec "$id" /probe sys 435 441 162 100 39
			res+=("exec: $OUT")
			ctr_force_delete "$which" "$id"
		done
	done
	note "$(printf '[%s] ' "${res[@]}")"
	local want='435 ENOSYS 441 ENOSYS 162 EPERM 100 EPERM 39 ok'
	local r
	for r in "${res[@]}"; do
		[[ $(tr -s ' \n' ' ' <<<"${r#exec: }" | sed 's/ $//') == "$want" ]] || { echo "got '$r', want '$want'"; return 1; }
	done
}

# libcontainer's init (user namespace) loads the profile before it waits
# for `start` on its socket (runc: before it opens its exec fifo), so the
# profile here also allows accept/recv/send/close/read/write/poll.
@test "-ENOSYS in a user-namespace container (libcontainer sets up its init), noNewPrivileges true, as runc" {
	[[ $(uname -m) == x86_64 ]] || skip "the syscall numbers below are x86_64's"
	local which id res=()
	for which in rt ref; do
		id=$(bundle_for "$which" enosys-userns '.process.noNewPrivileges = true | .process.args = ["/probe", "sys", "435", "441", "162", "100", "39"]
			| .linux.namespaces += [{"type": "user"}]
			| .linux.uidMappings = [{"containerID": 0, "hostID": 0, "size": 65536}]
			| .linux.gidMappings = [{"containerID": 0, "hostID": 0, "size": 65536}]
			| .linux.seccomp = {"defaultAction": "SCMP_ACT_ERRNO", "architectures": '"$ARCHS"',
				"syscalls": [{"names": '"$ALLOW_JSON"', "action": "SCMP_ACT_ALLOW"}, {"names": ["accept", "accept4", "recvfrom", "recvmsg", "sendto", "sendmsg", "close", "read", "write", "poll", "ppoll"], "action": "SCMP_ACT_ALLOW"}, {"names": ["sync"], "action": "SCMP_ACT_ERRNO"}]}')
		cp "$SC_HELPER" "$BATS_TEST_TMPDIR/$id/rootfs/probe"
		rc_of "$which" run --bundle "$BATS_TEST_TMPDIR/$id" "$id"
		res+=("$OUT")
		[[ $RC -eq 0 ]] || echo "$which: rc=$RC $ERR" >&2
		ctr_force_delete "$which" "$id"
	done
	note "$(printf '[%s] ' "${res[@]}")"
	local want='435 ENOSYS 441 ENOSYS 162 EPERM 100 EPERM 39 ok' r
	for r in "${res[@]}"; do
		[[ $(tr -s ' \n' ' ' <<<"$r" | sed 's/ $//') == "$want" ]] || { echo "got '$r', want '$want'"; return 1; }
	done
}

# start_agent: the agent on a short socket path (sun_path is 108 bytes),
# AGENT_SOCK; its log AGENT_LOG; AGENT_PID (killed in teardown).
start_agent() {
	AGENT_DIR=${AGENT_DIR:-$(mktemp -d /tmp/rct-agent.XXXXXX)}
	AGENT_SOCK=$AGENT_DIR/agent.sock AGENT_LOG=$AGENT_DIR/agent.log
	rm -f "$AGENT_SOCK"
	"$SC_HELPER" agent "$AGENT_SOCK" "$AGENT_LOG" </dev/null >/dev/null 2>&1 3>&- &
	AGENT_PID=$!
	local i
	for i in {1..100}; do
		[[ -S $AGENT_SOCK ]] && return 0
		sleep 0.05
	done
	echo "the seccomp agent did not start"
	return 1
}

stop_agent() {
	kill -9 "$AGENT_PID" 2>/dev/null
	wait "$AGENT_PID" 2>/dev/null || true
	AGENT_PID=
}

# notify NAMES_JSON: the jq filter of a profile that hands NAMES to the agent.
notify() {
	echo '.linux.seccomp = {"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "'"$AGENT_SOCK"'", "listenerMetadata": "bar",
		"architectures": '"$ARCHS"', "syscalls": [{"names": '"$1"', "action": "SCMP_ACT_NOTIFY"}]}'
}

@test "SCMP_ACT_NOTIFY: the agent gets the process state and the fd, its answers count (noNewPrivileges false and true), as runc" {
	start_agent || return 1
	local nnp which id state out=()
	for nnp in false true; do
		for which in rt ref; do
			id=$(bundle_for "$which" "notify-$nnp" '.process.noNewPrivileges = '"$nnp"' | .process.args = ["sh", "-c", "mkdir /tmp/foo && ls -d /tmp/foo-bar && touch /tmp/f && chmod 777 /tmp/f 2>&1"]
				| '"$(notify '["mkdir", "mkdirat", "chmod", "fchmod", "fchmodat"]')")
			rc_of "$which" run --bundle "$BATS_TEST_TMPDIR/$id" "$id"
			out+=("$RC $OUT")
			ctr_force_delete "$which" "$id"
			note "$which nnp=$nnp: rc=$RC $(tr '\n' '|' <<<"$OUT") $(tail -n1 <<<"$ERR")"
			state=$(grep -F "\"id\":\"$id\"" "$AGENT_LOG" | sed -n 's/^state //p')
			note "$which state: $state"
			# runtime-spec's containerProcessState; rcrun's state.bundle is
			# its own copy of the bundle (README, known differences).
			jq -e --arg id "$id" '(.ociVersion | length > 0) and .fds == ["seccompFd"] and .pid > 0
				and .metadata == "bar" and .state.id == $id and .state.status == "creating"
				and .state.pid == .pid' <<<"$state" >/dev/null || { echo "$which: state $state"; return 1; }
		done
	done
	[[ ${out[0]} == "${out[1]}" && ${out[2]} == "${out[3]}" ]] || { printf '%s\n' "${out[@]}"; return 1; }
	[[ ${out[0]} == "1 /tmp/foo-bar"*"chmod: /tmp/f: No medium found" ]]
	grep -q '^notif 83 .* created' "$AGENT_LOG"
}

@test "SCMP_ACT_NOTIFY on the runtime's own last syscalls (execve, openat, open, read, close): the container runs, as runc" {
	start_agent || return 1
	local nnp
	for nnp in false true; do
		run_both "notify-imp-$nnp" '.process.noNewPrivileges = '"$nnp"' | .process.args = ["/bin/true"] | '"$(notify '["execve", "openat", "open", "read", "close"]')"
		[[ ${RCS[0]} -eq 0 && ${RCS[1]} -eq 0 ]]
	done
}

@test "SCMP_ACT_NOTIFY: once the agent is killed, the notified syscalls fail with ENOSYS (no hang), as runc" {
	local which id
	for which in rt ref; do
		start_agent || return 1
		id=$(bundle_for "$which" notify-kill '.process.args = ["sh", "-c", "sleep 2; mkdir /tmp/foo"] | '"$(notify '["mkdir", "mkdirat"]')")
		(sleep 1 && kill -9 "$AGENT_PID") 3>&- &
		RCRUN_TEST_CMD_TIMEOUT=20 rc_of "$which" run --bundle "$BATS_TEST_TMPDIR/$id" "$id"
		wait
		AGENT_PID=
		ctr_force_delete "$which" "$id"
		note "$which: rc=$RC $(tail -n1 <<<"$ERR")"
		[[ $RC -ne 0 && $RC -ne 124 && $ERR == *"mkdir: can't create directory '/tmp/foo': Function not implemented"* ]] || { echo "$which: rc=$RC $ERR"; return 1; }
	done
}

@test "SCMP_ACT_NOTIFY: no agent, an empty listenerPath, notify on write or as the default action: create fails in one line, nothing left, as runc" {
	start_agent || return 1
	local what jqf which id
	for what in no-agent empty write default; do
		case $what in
		no-agent) jqf="$(notify '["mkdir"]') | .linux.seccomp.listenerPath = \"/nonexistent/agent.sock\"" ;;
		empty) jqf="$(notify '["mkdir"]') | .linux.seccomp.listenerPath = \"\"" ;;
		write) jqf="$(notify '["write"]')" ;;
		default) jqf="$(notify '["mkdir"]') | .linux.seccomp.defaultAction = \"SCMP_ACT_NOTIFY\" | .linux.seccomp.syscalls[0].action = \"SCMP_ACT_ALLOW\"" ;;
		esac
		for which in rt ref; do
			id=$(bundle_for "$which" "nb-$what" '.process.args = ["/bin/true"] | '"$jqf")
			rc_of "$which" create --bundle "$BATS_TEST_TMPDIR/$id" "$id"
			local rc=$RC err=$ERR
			ctr_force_delete "$which" "$id"
			note "$what $which: rc=$rc $(tail -n1 <<<"$err")"
			[[ $rc -ne 0 ]] || { echo "$which create with $what exited 0"; return 1; }
			nothing_left_of "$which" "$id"
			[[ $which == ref ]] && continue
			case $what in
			no-agent) assert_one_line_error "$err" 'linux\.seccomp\.listenerPath: .*/nonexistent/agent\.sock.*: failed to connect with seccomp agent' ;;
			empty) assert_one_line_error "$err" 'linux\.seccomp\.listenerPath: listenerPath is not set' ;;
			write) assert_one_line_error "$err" 'SCMP_ACT_NOTIFY cannot be used for the write syscall' ;;
			default) assert_one_line_error "$err" 'linux\.seccomp\.defaultAction: .*SCMP_ACT_NOTIFY.* cannot be the default action' ;;
			esac
		done
	done
}

@test "hooks: a failing prestart, createRuntime, createContainer or startContainer hook says 'error running hook', as runc" {
	local phase which id
	for phase in prestart createRuntime createContainer startContainer; do
		for which in rt ref; do
			id=$(bundle_for "$which" "hk-${phase,,}" '.process.args = ["/bin/true"] | .hooks = {"'"$phase"'": [{"path": "/bin/false"}]}')
			rc_of "$which" run --bundle "$BATS_TEST_TMPDIR/$id" "$id"
			ctr_force_delete "$which" "$id"
			note "$phase $which: rc=$RC $(tail -n1 <<<"$ERR")"
			[[ $RC -ne 0 && $ERR == *"error running hook #0"* ]] || { echo "$phase $which: rc=$RC $ERR"; return 1; }
			[[ $which == ref ]] || assert_one_line_error "$ERR" "error running hook #0 \\($phase, /bin/false\\)"
			nothing_left_of "$which" "$id"
		done
	done
}

@test "createContainer hooks run in the container's rootfs (touch ./lib/x makes rootfs/lib/x), as runc" {
	local which id
	for which in rt ref; do
		id=$(bundle_for "$which" hk-cwd '.process.args = ["/bin/true"] | .hooks = {"createContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "touch ./lib/x"]}]}')
		mkdir "$BATS_TEST_TMPDIR/$id/rootfs/lib"
		rc_of "$which" run --bundle "$BATS_TEST_TMPDIR/$id" "$id"
		ctr_force_delete "$which" "$id"
		[[ $RC -eq 0 ]] || { echo "$which: rc=$RC $ERR"; return 1; }
		[[ -e $BATS_TEST_TMPDIR/$id/rootfs/lib/x ]] || { echo "$which: no rootfs/lib/x"; return 1; }
	done
}

@test "SCMP_ACT_NOTIFY: exec into such a container: the exec'd process's fd and state reach the agent, its answers count, as runc" {
	start_agent || return 1
	local which id state out=()
	for which in rt ref; do
		id=$(bundle_for "$which" notify-exec "$(notify '["mkdir", "mkdirat"]')")
		ctr_run_d "$which" "$id" || return 1
		rc_of "$which" exec "$id" sh -c 'mkdir /tmp/foo && ls -d /tmp/foo-bar'
		ctr_force_delete "$which" "$id"
		note "$which: rc=$RC $(tr '\n' '|' <<<"$OUT") $(tail -n1 <<<"$ERR")"
		[[ $RC -eq 0 && $(head -n1 <<<"$OUT") == /tmp/foo-bar ]] || { echo "$which: rc=$RC $OUT $ERR"; return 1; }
		out+=("$(head -n1 <<<"$OUT")")
		# Two messages for this id: the init's, then the exec'd process's
		# (its pid is not the init's; the state is the container's).
		state=$(grep -F "\"id\":\"$id\"" "$AGENT_LOG" | sed -n 's/^state //p' | tail -n1)
		note "$which exec state: $state"
		jq -e --arg id "$id" '.fds == ["seccompFd"] and .metadata == "bar"
			and .state.id == $id and .state.status == "running" and .pid != .state.pid' <<<"$state" >/dev/null ||
			{ echo "$which: exec state $state"; return 1; }
	done
	[[ ${out[0]} == "${out[1]}" ]]
}

@test "SCMP_ACT_NOTIFY: exec whose agent is gone fails in one line naming listenerPath, and leaves no process behind" {
	start_agent || return 1
	local id
	id=$(bundle_for rt notify-exec-gone "$(notify '["mkdir", "mkdirat"]')")
	ctr_run_d rt "$id" || return 1
	stop_agent
	RCRUN_TEST_CMD_TIMEOUT=20 rc_of rt exec "$id" sh -c 'mkdir /tmp/foo; echo after'
	note "rt: rc=$RC $OUT $(tail -n1 <<<"$ERR")"
	local procs
	procs=$("$(rtbin rt)" --root "$(rtroot rt)" ps --format json "$id" | jq length)
	ctr_force_delete rt "$id"
	[[ $RC -ne 0 && $RC -ne 124 ]] || { echo "rc=$RC"; return 1; }
	assert_one_line_error "$ERR" 'linux\.seccomp\.listenerPath: .*failed to connect with seccomp agent'
	[[ $procs -eq 1 ]] || { echo "$procs processes in the container after the failed exec (want the init only)"; return 1; }
}
