#!/usr/bin/env bats
# What of the runtime reaches the container: no fd of the runtime or of its
# caller (checked from inside via /proc/1/fd and from the host), no
# environment variable of the runtime or its caller, and --preserve-fds N
# passes exactly fds 3..N+2 (compared with REF_RUNTIME).

bats_require_minimum_version 1.5.0
load ../lib/common
load ../lib/reliability

setup_file() { suite_setup_file; }
teardown_file() { suite_teardown_file; }
setup() { suite_setup; }
teardown() { suite_teardown; }

# fds_inside WHICH NAME [RUN_ARGS...]: run `ls /proc/1/fd` as the container's
# init with fds 5, 7 and 9 open in the caller (7 on a secret file); prints
# the fd list, space separated.
fds_inside() {
	local which=$1 name=$2 id b
	shift 2
	id=$(ctr_id "fds-$name-$which")
	b=$BATS_TEST_TMPDIR/$id
	# No pipeline in pid 1's shell: while it sets one up it holds the pipe
	# fds itself, and `ls` would list them when it runs at that moment
	# (seen on a loaded CI machine). Sorted on the host instead. (The loop
	# ends with `true`: the glob also lists the shell's own transient fd,
	# whose readlink fails once it is closed.)
	make_bundle "$b" '.process.args = ["sh", "-c", "ls /proc/1/fd; for f in /proc/1/fd/*; do readlink $f; done >&2; true"]'
	echo "secret-$RCRUN_TEST_TAG" >"$BATS_TEST_TMPDIR/secret"
	RC=0
	"$which" run "$@" --bundle "$b" "$id" </dev/null >"$BATS_TEST_TMPDIR/fds.out" 2>"$BATS_TEST_TMPDIR/fds.err" \
		5<"$BATS_TEST_TMPDIR/secret" 7<"$BATS_TEST_TMPDIR/secret" 9>"$BATS_TEST_TMPDIR/nine" 3>&- || RC=$?
	ctr_force_delete "$which" "$id"
	FDS=$(sort -n "$BATS_TEST_TMPDIR/fds.out" | tr '\n' ' ' | sed 's/ *$//')
	TARGETS=$(cat "$BATS_TEST_TMPDIR/fds.err")
}

@test "no fd of the runtime or its caller inside the container (/proc/1/fd)" {
	fds_inside rt plain
	[ "$RC" -eq 0 ] || { echo "run failed: $TARGETS"; false; }
	note "RUNTIME: /proc/1/fd = $FDS"
	assert_eq "fds of the container's init" "0 1 2" "$FDS"
	fds_inside ref plain
	note "REF_RUNTIME: /proc/1/fd = $FDS"
}

@test "no fd leaked into the init while it waits for start, nor after (seen from the host)" {
	id=$(ctr_id fdhost)
	make_bundle "$BATS_TEST_TMPDIR/$id"
	RC=0
	rt create --bundle "$BATS_TEST_TMPDIR/$id" "$id" </dev/null >/dev/null 2>"$BATS_TEST_TMPDIR/err" \
		7<"$BATS_TEST_TMPDIR/$id/config.json" 3>&- || RC=$?
	[ "$RC" -eq 0 ] || { cat "$BATS_TEST_TMPDIR/err"; false; }
	pid=$(ctr_pid rt "$id")
	# waiting for start: libcontainer's init keeps only what it needs (its
	# notify socket, channel); never the caller's fd 7 nor the state lock
	waiting=$(for f in /proc/"$pid"/fd/*; do echo "${f##*/} -> $(readlink "$f")"; done)
	note "fds of the waiting init: $(tr '\n' ';' <<<"$waiting")"
	if grep -q "config.json\|/lock$\|state.json" <<<"$waiting"; then
		echo "the waiting init holds a file of the caller or of the runtime's state:"
		echo "$waiting"
		false
	fi
	rc_of rt start "$id"
	[ "$RC" -eq 0 ]
	wait_status rt "$id" running
	after=$(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -n | tr '\n' ' ' | sed 's/ $//')
	assert_eq "fds of the started container (sleep)" "0 1 2" "$after"
	ctr_kill_delete rt "$id"
}

@test "--preserve-fds 2 passes exactly fds 3 and 4, like REF" {
	local which out=()
	for which in ref rt; do
		id=$(ctr_id "pfds-$which")
		b=$BATS_TEST_TMPDIR/$id
		# no pipe in the init's shell: its pipe fds would show up in the list
		make_bundle "$b" '.process.args = ["sh", "-c", "ls /proc/1/fd; cat <&3; cat <&4"]'
		echo three >"$BATS_TEST_TMPDIR/three"
		echo four >"$BATS_TEST_TMPDIR/four"
		echo five >"$BATS_TEST_TMPDIR/five"
		RC=0
		"$which" run --preserve-fds 2 --bundle "$b" "$id" </dev/null >"$BATS_TEST_TMPDIR/o" 2>"$BATS_TEST_TMPDIR/e" \
			3<"$BATS_TEST_TMPDIR/three" 4<"$BATS_TEST_TMPDIR/four" 5<"$BATS_TEST_TMPDIR/five" || RC=$?
		ctr_force_delete "$which" "$id"
		[ "$RC" -eq 0 ] || { echo "$which run --preserve-fds 2: rc=$RC $(cat "$BATS_TEST_TMPDIR/e")"; false; }
		out+=("$(tr '\n' '|' <"$BATS_TEST_TMPDIR/o")")
		note "$which: $(tr '\n' '|' <"$BATS_TEST_TMPDIR/o")"
	done
	assert_eq "--preserve-fds 2 output" "0|1|2|3|4|three|four|" "${out[1]}"
	assert_eq "--preserve-fds 2 output, RUNTIME vs REF" "${out[0]}" "${out[1]}"
}

@test "no environment variable of the runtime or its caller reaches the container" {
	local which extra
	for which in ref rt; do
		id=$(ctr_id "env-$which")
		b=$BATS_TEST_TMPDIR/$id
		make_bundle "$b" '.process.args = ["sh", "-c", "tr \"\\0\" \"\\n\" </proc/1/environ; echo ---; env"] | .process.env = ["PATH=/bin", "ONLY_THIS=1"]'
		RC=0
		# _LIBCONTAINER_INITPIPE breaks runc itself: only for rcrun
		extra=()
		[[ $which == rt ]] && extra=(_LIBCONTAINER_INITPIPE=99)
		env "${extra[@]}" RCRUN_SECRET_TOKEN=leak-me RUST_LOG=trace RUST_BACKTRACE=1 RCRUN_TEST_CRASH_AT=nowhere \
			"$(rtbin "$which")" --root "$(rtroot "$which")" run --bundle "$b" "$id" </dev/null >"$BATS_TEST_TMPDIR/env.$which" 2>&1 3>&- || RC=$?
		ctr_force_delete "$which" "$id"
		[ "$RC" -eq 0 ] || { cat "$BATS_TEST_TMPDIR/env.$which"; false; }
		note "$which: init environ: $(sed -n '1,/^---$/p' "$BATS_TEST_TMPDIR/env.$which" | grep -v '^---$' | sort | tr '\n' ' ')"
	done
	# the init's environment: exactly process.env, plus HOME if unset (runc
	# and libcontainer both add HOME from the user's passwd entry)
	got=$(sed -n '1,/^---$/p' "$BATS_TEST_TMPDIR/env.rt" | grep -v '^---$' | grep -v '^HOME=' | sort | tr '\n' ' ')
	assert_eq "environment of the container's init" "ONLY_THIS=1 PATH=/bin " "$got"
	if grep -qE 'RCRUN|RUST_|_LIBCONTAINER|leak-me' "$BATS_TEST_TMPDIR/env.rt"; then
		echo "the runtime's environment reached the container:"
		cat "$BATS_TEST_TMPDIR/env.rt"
		false
	fi
	assert_eq "init environment, RUNTIME vs REF" \
		"$(sed -n '1,/^---$/p' "$BATS_TEST_TMPDIR/env.ref" | sort)" \
		"$(sed -n '1,/^---$/p' "$BATS_TEST_TMPDIR/env.rt" | sort)"
}
