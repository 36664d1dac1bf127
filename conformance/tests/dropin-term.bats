#!/usr/bin/env bats
# Terminals, rcrun side by side with REF_RUNTIME (runc; issue "a true
# drop-in for runc", item Terminals). With process.terminal true and a
# console socket (lib/recvtty.py receives the pty master, like runc's
# contrib/cmd/recvtty):
#   - stdin, stdout and stderr of the container process are all the pty's
#     slave, and `tty` names it;
#   - process.consoleSize is the pty's size (`stty size`);
#   - a non-root process owns its pty (uid; the group stays devpts' tty
#     group, as runc leaves it);
#   - `exec -t -d --console-socket S --process /dev/fd/N` (a pipe, read once)
#     gets the same, with the process file's consoleSize, and a process file
#     without `user` runs as root, as runc's own tests rely on.

bats_require_minimum_version 1.5.0
load ../lib/common

setup_file() { suite_setup_file; }
teardown_file() { suite_teardown_file; }
setup() { suite_setup; }
teardown() { suite_teardown; }

# What a process says about its terminal: where fds 0-2 point, `tty`,
# `stty size` and the pty's owner (uid gid).
PROBE='for f in 0 1 2; do readlink /proc/self/fd/$f; done; tty; stty size; stat -c "%u %g" "$(tty)"'

# recvtty_start SOCK OUT [INPUT]: a console-socket receiver in the
# background (RECVTTY_PID), returned once it listens.
recvtty_start() {
	timeout 60 python3 "$CONF_LIB/recvtty.py" "$@" </dev/null 3>&- &
	RECVTTY_PID=$!
	local i
	for ((i = 0; i < 100; i++)); do
		[[ -S $1 ]] && return 0
		sleep 0.1
	done
	echo "recvtty did not listen on $1" >&2
	return 1
}

# recvtty_wait: waits for the receiver (the pty's last holder closed it).
recvtty_wait() {
	wait "$RECVTTY_PID" || { echo "recvtty exited $?" >&2; return 1; }
}

# tty_run WHICH NAME JQ_FILTER: `run -d --console-socket` of a bundle with
# a terminal and JQ_FILTER; TTY_OUT is what the process printed on it.
tty_run() {
	local which=$1 id d
	id=$(ctr_id "$2-$which")
	d=$BATS_TEST_TMPDIR/$id
	make_bundle "$d" '.process.terminal = true | '"$3" >/dev/null || return 1
	recvtty_start "$d/console.sock" "$d/tty.out" || return 1
	rc_of "$which" run -d --console-socket "$d/console.sock" --bundle "$d" "$id"
	[[ $RC -eq 0 ]] || { echo "$which run -d --console-socket: rc=$RC $ERR"; kill "$RECVTTY_PID"; return 1; }
	recvtty_wait || return 1
	wait_status "$which" "$id" stopped >/dev/null 2>&1
	ctr_force_delete "$which" "$id"
	TTY_OUT=$(cat "$d/tty.out")
	note "$which: $(tr '\n' '|' <<<"$TTY_OUT")"
}

# probe_args: the process runs $PROBE.
probe_args() { echo '.process.args = ["sh", "-c", "'"${PROBE//\"/\\\"}"'"]'; }

# assert_on_pty OUT: fds 0-2 are one /dev/pts/N and `tty` prints it.
assert_on_pty() {
	local lines pts
	mapfile -t lines <<<"$1"
	pts=${lines[0]}
	[[ $pts =~ ^/dev/pts/[0-9]+$ ]] || { echo "fd 0 is $pts"; return 1; }
	[[ ${lines[1]} == "$pts" && ${lines[2]} == "$pts" ]] || { echo "fds 1, 2: ${lines[1]} ${lines[2]}"; return 1; }
	[[ ${lines[3]} == "$pts" ]] || { echo "tty: ${lines[3]}"; return 1; }
}

@test "terminal with a console socket: stdin, stdout, stderr all the pty, tty names it, as runc" {
	local which out=()
	for which in rt ref; do
		tty_run "$which" pty "$(probe_args) | .process.consoleSize = {\"height\": 24, \"width\": 80}" || return 1
		assert_on_pty "$TTY_OUT" || { echo "$which"; return 1; }
		out+=("$TTY_OUT")
	done
	[[ ${out[0]} == "${out[1]}" ]] || { echo "rt: ${out[0]}"; echo "ref: ${out[1]}"; return 1; }
}

@test "process.consoleSize is the pty's size (stty size), as runc" {
	local which
	for which in rt ref; do
		tty_run "$which" sz "$(probe_args) | .process.consoleSize = {\"height\": 33, \"width\": 91}" || return 1
		grep -qx '33 91' <<<"$TTY_OUT" || { echo "$which: stty size is not 33 91: $TTY_OUT"; return 1; }
	done
}

@test "a non-root process owns its pty (uid; group kept), as runc" {
	local which owner=()
	for which in rt ref; do
		tty_run "$which" own "$(probe_args) | .process.consoleSize = {\"height\": 24, \"width\": 80} | .process.user = {\"uid\": 1000, \"gid\": 1000}" || return 1
		assert_on_pty "$TTY_OUT" || { echo "$which"; return 1; }
		owner+=("$(tail -n1 <<<"$TTY_OUT")")
	done
	[[ ${owner[0]} == "${owner[1]}" ]] || { echo "pty owner: rt ${owner[0]}, ref ${owner[1]}"; return 1; }
	[[ ${owner[0]} == "1000 "* ]]
}

# tty_exec WHICH ID PROCESS_JSON [uid]: `exec -t -d --console-socket S
# --process /dev/fd/5` with the process file on a pipe; TTY_OUT as above.
tty_exec() {
	local which=$1 id=$2 d=$BATS_TEST_TMPDIR/$2
	rm -f "$d/exec.sock"
	recvtty_start "$d/exec.sock" "$d/exec.out" || return 1
	RC=0
	"$which" exec -t -d --console-socket "$d/exec.sock" --process /dev/fd/5 "$id" \
		5< <(printf '%s' "$3") </dev/null >"$d/exec.stdout" 2>"$d/exec.err" 3>&- || RC=$?
	[[ $RC -eq 0 ]] || { echo "$which exec -t -d --process /dev/fd/5: rc=$RC $(cat "$d/exec.err")"; kill "$RECVTTY_PID"; return 1; }
	recvtty_wait || return 1
	TTY_OUT=$(cat "$d/exec.out")
	note "$which exec: $(tr '\n' '|' <<<"$TTY_OUT")"
}

# tty_exec_both NAME PROCESS_JSON: tty_exec of PROCESS_JSON in a running
# container of each runtime; TTY_OUTS is what each printed (rt, ref).
tty_exec_both() {
	local which id
	TTY_OUTS=()
	for which in rt ref; do
		id=$(ctr_id "$1-$which")
		make_bundle "$BATS_TEST_TMPDIR/$id" >/dev/null
		ctr_run_d "$which" "$id" "$BATS_TEST_TMPDIR/$id" || return 1
		tty_exec "$which" "$id" "$2" || { ctr_force_delete "$which" "$id"; return 1; }
		ctr_force_delete "$which" "$id"
		TTY_OUTS+=("$TTY_OUT")
	done
}

@test "exec -t -d --console-socket --process /dev/fd/N: on a pty with its consoleSize and owner, as runc" {
	local p i
	p=$(jq -nc --arg probe "$PROBE" '{"terminal": true, "consoleSize": {"height": 10, "width": 110},
		"args": ["sh", "-c", $probe], "cwd": "/", "env": ["PATH=/bin"], "user": {"uid": 1000, "gid": 1000}}')
	tty_exec_both ex "$p" || return 1
	for i in 0 1; do
		assert_on_pty "${TTY_OUTS[i]}" || { echo "runtime $i"; return 1; }
		grep -qx '10 110' <<<"${TTY_OUTS[i]}" || { echo "runtime $i: stty size is not 10 110"; return 1; }
	done
	[[ ${TTY_OUTS[0]} == "${TTY_OUTS[1]}" ]] || { echo "rt: ${TTY_OUTS[0]}"; echo "ref: ${TTY_OUTS[1]}"; return 1; }
	[[ $(tail -n1 <<<"${TTY_OUTS[0]}") == "1000 "* ]]
}

@test "exec --process: a process file without user runs as uid 0, as runc" {
	tty_exec_both nu '{"terminal": true, "args": ["/bin/id"], "cwd": "/"}' || return 1
	[[ ${TTY_OUTS[0]} == 'uid=0(root) gid=0(root)'* && ${TTY_OUTS[0]} == "${TTY_OUTS[1]}" ]] || {
		echo "rt: ${TTY_OUTS[0]}"; echo "ref: ${TTY_OUTS[1]}"; return 1
	}
}

# in_tty CMD: CMD in a shell on a pty of its own (40 rows, 100 columns),
# stdin from INPUT (default: nothing); prints what the pty showed, without
# carriage returns or the NUL script may put first.
in_tty() {
	timeout 60 script -qec "stty rows 40 cols 100; $1" /dev/null < <(sleep 1; printf '%s' "${2:-}"; sleep 1) 3>&- |
		tr -d '\r\000'
}

@test "foreground run with a terminal: a pty of rcrun's own, its terminal's size, exit status kept, as runc" {
	command -v script >/dev/null || skip "script (util-linux) not installed"
	local which id d out=()
	for which in rt ref; do
		id=$(ctr_id "fg-$which")
		d=$BATS_TEST_TMPDIR/$id
		make_bundle "$d" '.process.terminal = true | '"$(probe_args)"' | .process.args[2] += "; exit 3"' >/dev/null
		local try o
		# runc resizes its pty only after the process has started, so its
		# stty may run first and fail ("stty: standard input: ...", size
		# 0 0), about 4 runs in 10 here. That is runc's race, not a
		# difference, so runc gets 10 tries.
		# rcrun sizes the pty before the exec and gets one.
		for try in $(seq 10); do
			o=$(in_tty "$(rtbin "$which") --root $(rtroot "$which") run --bundle $d $id; echo rc=\$?")
			ctr_force_delete "$which" "$id"
			[[ $which == ref && $o == *'stty: standard input'* ]] || break
			note "$which: try $try lost runc's resize race: $(tr '\n' '|' <<<"$o")"
		done
		out+=("$o")
		note "$which: $(tr '\n' '|' <<<"${out[-1]}")"
		assert_on_pty "${out[-1]}" || { echo "$which"; return 1; }
		grep -qx '40 100' <<<"${out[-1]}" || { echo "$which: stty size is not the terminal's 40 100"; return 1; }
		grep -qx 'rc=3' <<<"${out[-1]}" || { echo "$which: exit status lost"; return 1; }
	done
	[[ ${out[0]} == "${out[1]}" ]] || { echo "rt: ${out[0]}"; echo "ref: ${out[1]}"; return 1; }
}

@test "foreground exec -t: a pty of rcrun's own, input relayed, exit status kept, as runc" {
	command -v script >/dev/null || skip "script (util-linux) not installed"
	local which id out=()
	for which in rt ref; do
		id=$(ctr_id "fx-$which")
		make_bundle "$BATS_TEST_TMPDIR/$id" >/dev/null
		ctr_run_d "$which" "$id" "$BATS_TEST_TMPDIR/$id" || return 1
		out+=("$(in_tty "$(rtbin "$which") --root $(rtroot "$which") exec -t $id sh -c 'for f in 0 1 2; do readlink /proc/self/fd/\$f; done; tty; read x; echo got \$x; exit 4'; echo rc=\$?" $'hello\n')")
		ctr_force_delete "$which" "$id"
		note "$which: $(tr '\n' '|' <<<"${out[-1]}")"
		assert_on_pty "${out[-1]}" || { echo "$which"; return 1; }
		grep -qx 'got hello' <<<"${out[-1]}" && grep -qx 'rc=4' <<<"${out[-1]}" || { echo "$which: ${out[-1]}"; return 1; }
	done
	[[ ${out[0]} == "${out[1]}" ]] || { echo "rt: ${out[0]}"; echo "ref: ${out[1]}"; return 1; }
}
