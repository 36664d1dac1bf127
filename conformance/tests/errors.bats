#!/usr/bin/env bats
# The new-user mistakes of docs/errors.md, one test each (E01..E20, same
# numbers as the document): the command fails (non-zero exit; the exact
# status where it matters), prints exactly ONE line on stderr, that line's
# message matches the documented text, and nothing is left behind (checked
# by the per-test leak check and explicitly for the ids involved).
#
# These pin rcrun's own wording, so they are skipped when RUNTIME is not
# rcrun (runc's messages differ).

bats_require_minimum_version 1.5.0
load ../lib/common

setup_file() { suite_setup_file; }
teardown_file() { suite_teardown_file; }
setup() {
	suite_setup
	if runtime_is_runc "$RUNTIME"; then
		skip "rcrun's error messages: RUNTIME is runc"
	fi
}
teardown() { suite_teardown; }

# err_msg TEXT: the message of a logrus line (time="..." level=error
# msg="...") with its quoting undone; any other line as it is.
err_msg() {
	local line=$1
	if [[ $line =~ ^time=\"[^\"]*\"\ level=error\ msg=\"(.*)\"$ ]]; then
		line=${BASH_REMATCH[1]}
		line=${line//\\\"/\"}
		line=${line//\\\\/\\}
	fi
	printf '%s' "$line"
}

# expect_error REGEX [RC]: after rc_of: failed (with RC when given), ONE
# line on stderr, whose message matches the extended REGEX (anchored).
expect_error() {
	local re=$1 want_rc=${2:-} n msg
	if [[ $RC -eq 0 ]]; then
		echo "expected a failure, got exit status 0 (stdout: $OUT)" >&2
		return 1
	fi
	if [[ -n $want_rc && $RC -ne $want_rc ]]; then
		echo "expected exit status $want_rc, got $RC; stderr: $ERR" >&2
		return 1
	fi
	n=$(printf '%s' "$ERR" | grep -c '')
	if [[ $n -ne 1 ]]; then
		echo "expected ONE line on stderr, got $n:" >&2
		printf '%s\n' "$ERR" | sed 's/^/    | /' >&2
		return 1
	fi
	msg=$(err_msg "$ERR")
	if ! [[ $msg =~ ^${re}$ ]]; then
		echo "message does not match the documented one" >&2
		echo "    got:      $msg" >&2
		echo "    expected: /^${re}$/" >&2
		return 1
	fi
	note "$msg"
}

# nothing_left ID: no cgroup dir, state entry or process for ID.
nothing_left() {
	local id=$1 m found
	for m in "${CG_HIERS[@]}"; do
		found=$(find "$m" -type d -name "$id" 2>/dev/null)
		[[ -z $found ]] || { echo "left cgroup dir(s): $found" >&2; return 1; }
	done
	[[ ! -e $RT_ROOT/$id ]] || { echo "left state dir $RT_ROOT/$id" >&2; return 1; }
	if grep -laF -f <(echo "$id") /proc/[0-9]*/cmdline 2>/dev/null | grep -v "^/proc/$$/" | grep -q .; then
		echo "left a process mentioning $id" >&2
		return 1
	fi
}

# re_quote STRING: STRING with ERE metacharacters escaped.
re_quote() { printf '%s' "$1" | sed 's/[][\.*^$(){}+?|/]/\\&/g'; }

# bad_bundle NAME JQ_FILTER: a bundle whose config.json went through the
# filter; sets ID and B (its directory).
bad_bundle() {
	ID=$(ctr_id "$1")
	B=$BATS_TEST_TMPDIR/$ID
	make_bundle "$B" "$2"
}

# create_fails REGEX [RC]: `create` of $ID from $B fails as documented and
# leaves nothing.
create_fails() {
	rc_of rt create --bundle "$B" "$ID"
	local rc=0
	expect_error "$@" || rc=1
	nothing_left "$ID" || rc=1
	ctr_force_delete rt "$ID"
	return $rc
}

@test "E01 wrong bundle path" {
	ID=$(ctr_id e01)
	local b=$BATS_TEST_TMPDIR/no-such-bundle
	rc_of rt create --bundle "$b" "$ID"
	expect_error "bundle $(re_quote "$b"): No such file or directory \(os error 2\)" 1
	nothing_left "$ID"
}

@test "E02 bundle directory without config.json (pointed at the rootfs)" {
	bad_bundle e02 .
	rc_of rt create --bundle "$B/rootfs" "$ID"
	expect_error "$(re_quote "$B/rootfs/config.json"): no such file: the bundle directory must hold config.json \(\`rcrun spec\` writes a default one\)" 1
	nothing_left "$ID"
}

@test "E03 malformed config.json (trailing comma)" {
	bad_bundle e03 .
	printf '{\n  "ociVersion": "1.0.2",\n  "process": {"args": ["sh"],},\n}\n' >"$B/config.json"
	create_fails "$(re_quote "$B/config.json"): invalid config: trailing comma at line 3 column 30" 1
}

@test "E04 missing rootfs" {
	bad_bundle e04 '.root.path = "rootfs-typo"'
	create_fails "root.path: $(re_quote "$B/rootfs-typo"): No such file or directory \(os error 2\)" 1
}

@test "E05 typo in the program name (process.args[0])" {
	bad_bundle e05 '.process.args = ["slep", "600"]'
	create_fails 'process.args\[0\]: "slep" not found in the rootfs'"'"'s PATH \(/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\)' 1
}

@test "E06 relative process.cwd" {
	bad_bundle e06 '.process.cwd = "tmp"'
	create_fails 'process.cwd: "tmp" must be an absolute path' 1
}

@test "E07 memory limit written as a string in config.json" {
	bad_bundle e07 '.linux.resources.memory = {"limit": "128m"}'
	create_fails "$(re_quote "$B/config.json"): invalid config: linux\.resources\.memory\.limit: invalid type: string \"128m\", expected i64 at line [0-9]+ column [0-9]+" 1
}

@test "E08 invalid size in update --memory" {
	bad_bundle e08 .
	ctr_create rt "$ID" "$B"
	[[ $RC -eq 0 ]] || { echo "create: $ERR"; return 1; }
	rc_of rt update --memory 12x "$ID"
	local rc=0
	expect_error '--memory: "12x" is not a size \(e\.g\. 1048576, 128m, 1g, -1\)' 1 || rc=1
	ctr_kill_delete rt "$ID" || rc=1
	nothing_left "$ID" || rc=1
	return $rc
}

@test "E09 memory.swap below memory.limit (swap is the memory+swap total)" {
	bad_bundle e09 '.linux.resources.memory = {"limit": 134217728, "swap": 67108864}'
	create_fails 'linux\.resources\.memory\.swap: 67108864 is invalid \(must be >= linux\.resources\.memory\.limit \(134217728\): it is the memory\+swap total\)' 1
}

@test "E10 CPU quota below the kernel's minimum" {
	bad_bundle e10 '.linux.resources.cpu = {"quota": 500, "period": 100000}'
	create_fails 'linux\.resources\.cpu\.quota: 500 is invalid \(must be >= 1000 microseconds \(the kernel'"'"'s minimum\), or -1 for unlimited\)' 1
}

@test "E11 cpuset naming a CPU the host does not have" {
	cg_available cpuset || skip "no cpuset controller"
	bad_bundle e11 '.linux.resources.cpu = {"cpus": "0-4095"}'
	create_fails 'linux\.resources\.cpu\.cpus: writing "0-4095" to [^ ]*/cpuset\.cpus failed: Numerical result out of range \(os error 34\) \(names a CPU this host does not have: see /sys/devices/system/cpu/online\)' 1
}

@test "E12 cgroup field of the other cgroup version" {
	if [[ $(cg_ctrl_version memory) == 2 ]]; then
		# v1-only field on cgroup v2
		bad_bundle e12 '.linux.resources.memory = {"swappiness": 10}'
		create_fails 'linux\.resources\.memory\.swappiness: not supported on cgroup v2' 1
	elif [[ $CG_LAYOUT == v1 ]]; then
		# v2-only field on pure cgroup v1
		bad_bundle e12 '.linux.resources.unified = {"memory.high": "100M"}'
		create_fails 'linux\.resources\.unified: set, but this host has no cgroup v2 hierarchy \(pure cgroup v1\)' 1
	else
		# hybrid: memory is a v1 controller; memory.* files are not in cgroup2
		bad_bundle e12 '.linux.resources.unified = {"memory.high": "100M"}'
		create_fails 'linux\.resources\.unified\["memory\.high"\]: invalid configuration: memory is a cgroup v1 controller on this host; unified takes files of the cgroup2 hierarchy only' 1
	fi
}

@test "E13 --systemd-cgroup on a host without systemd as PID 1" {
	# Where systemd is PID 1 the driver works: systemd-driver.bats.
	[[ ! -d /run/systemd/system ]] || skip "systemd is PID 1 here: the driver is tested by systemd-driver.bats"
	bad_bundle e13 '.linux.cgroupsPath = "system.slice:rct:" + $id'
	rc_of rt --systemd-cgroup create --bundle "$B" "$ID"
	expect_error '--systemd-cgroup: systemd is not running as PID 1 here \(no /run/systemd/system\): use the cgroupfs driver' 1
	nothing_left "$ID"
}

@test "E14 cgroupsPath climbing out with '..'" {
	bad_bundle e14 '.linux.cgroupsPath = "/../../etc/" + $id'
	create_fails 'linux\.cgroupsPath: "/\.\./\.\./etc/'"$ID"'" is invalid \("\.\." is not allowed: the cgroup must stay inside the hierarchy\)' 1
}

@test "E15 typo'd container id" {
	bad_bundle e15 .
	ctr_create rt "$ID" "$B"
	[[ $RC -eq 0 ]] || { echo "create: $ERR"; return 1; }
	rc_of rt state "${ID}x"
	local rc=0
	expect_error "container \"${ID}x\" does not exist" 1 || rc=1
	ctr_kill_delete rt "$ID" || rc=1
	nothing_left "$ID" || rc=1
	return $rc
}

@test "E16 invalid characters in the container id" {
	bad_bundle e16 .
	rc_of rt create --bundle "$B" "my container/1"
	expect_error "invalid container id \"my container/1\": only letters, digits, '_', '\+', '-' and '\.' are allowed" 1
	nothing_left "my container"
}

@test "E17 id already in use" {
	bad_bundle e17 .
	ctr_create rt "$ID" "$B"
	[[ $RC -eq 0 ]] || { echo "create: $ERR"; return 1; }
	rc_of rt create --bundle "$B" "$ID"
	local rc=0
	expect_error "container with id exists: $ID" 1 || rc=1
	[[ $(ctr_status rt "$ID") == created ]] || { echo "the existing container was disturbed" >&2; rc=1; }
	ctr_kill_delete rt "$ID" || rc=1
	nothing_left "$ID" || rc=1
	return $rc
}

@test "E18 bad signal name" {
	bad_bundle e18 .
	ctr_run_d rt "$ID" "$B"
	rc_of rt kill "$ID" SIGFOO
	local rc=0
	expect_error 'signal: unknown signal "SIGFOO" \(use a name such as TERM, KILL, HUP, USR1, or its number\)' 1 || rc=1
	[[ $(ctr_status rt "$ID") == running ]] || { echo "the container did not survive" >&2; rc=1; }
	ctr_kill_delete rt "$ID" || rc=1
	nothing_left "$ID" || rc=1
	return $rc
}

@test "E19 update of a stopped container" {
	bad_bundle e19 '.process.args = ["true"]'
	ctr_create rt "$ID" "$B"
	[[ $RC -eq 0 ]] || { echo "create: $ERR"; return 1; }
	rc_of rt start "$ID"
	wait_status rt "$ID" stopped
	rc_of rt update --memory 64m "$ID"
	local rc=0
	expect_error "container \"$ID\" is stopped: only a created, running or paused container can be updated" 1 || rc=1
	ctr_kill_delete rt "$ID" || rc=1
	nothing_left "$ID" || rc=1
	return $rc
}

@test "E20 typo'd subcommand" {
	rc_of rt creat --bundle . x
	expect_error "error: unrecognized subcommand 'creat' \(tip: a similar subcommand exists: 'create'; usage: rcrun \[OPTIONS\] <COMMAND>\)" 2
}

# ---- more, in the same spirit (docs/errors.md, "More") -------------------

@test "E21 unknown --log-format" {
	rc_of rt --log-format xml list
	expect_error '--log-format: unknown log format "xml" \(expected text or json\)' 1
}

@test "E22 missing container id argument" {
	rc_of rt run
	expect_error "error: the following required arguments were not provided: <CONTAINER_ID> \(usage: rcrun run <CONTAINER_ID>\)" 2
}

@test "E23 delete of a running container without --force" {
	bad_bundle e23 .
	ctr_run_d rt "$ID" "$B"
	rc_of rt delete "$ID"
	local rc=0
	expect_error "cannot delete container $ID that is not stopped: running.*" 1 || rc=1
	ctr_kill_delete rt "$ID" || rc=1
	nothing_left "$ID" || rc=1
	return $rc
}

@test "E24 working directory under /proc/self/fd" {
	bad_bundle e24 '.process.cwd = "/proc/self/fd/7"'
	create_fails 'process\.cwd: "/proc/self/fd/7" is under /proc/<pid>/fd: it names a file descriptor of the container'"'"'s init, not a directory of the container' 1
}

@test "E25 mount destination through a dangling symlink of the image" {
	bad_bundle e25 '.mounts += [{"destination": "/lnk/data", "type": "tmpfs", "source": "tmpfs"}]'
	ln -s /nowhere "$B/rootfs/lnk"
	create_fails "mounts\[[0-9]+\]\.destination: \"/lnk/data\" passes through \"/lnk\", a symlink in the rootfs to \"/nowhere\", which does not exist: must be mounted on ordinary directory \(create the target in the image or use the resolved path\)" 1
}

@test "E26 unknown filesystem type" {
	bad_bundle e26 '.mounts += [{"destination": "/data", "type": "nosuchfs", "source": "none"}]'
	create_fails 'mounts\[[0-9]+\]\.type: "nosuchfs" is not a filesystem type this kernel knows \(see /proc/filesystems\)' 1
}

@test "E27 number too large for its field (cpu quota 1e400)" {
	bad_bundle e27 '.linux.resources.cpu = {"quota": 1234567}'
	# jq would turn 1e400 into a finite number: edit the text.
	sed -i 's/1234567/1e400/' "$B/config.json"
	create_fails "$(re_quote "$B/config.json"): invalid config: linux\.resources\.cpu\.quota: 1e400 is out of range for its type \(number out of range at line [0-9]+ column [0-9]+\)" 1
}

@test "errors.md and errors.bats list the same cases" {
	local doc=$REPO/docs/errors.md
	[[ -f $doc ]] || { echo "$doc missing"; return 1; }
	local in_doc in_bats
	in_doc=$(grep -oE '^### E[0-9]{2}' "$doc" | sed 's/^### //' | sort -u)
	in_bats=$(grep -oE '^@test "E[0-9]{2}' "$BATS_TEST_FILENAME" | sed 's/^@test "//' | sort -u)
	if [[ $in_doc != "$in_bats" ]]; then
		diff <(echo "$in_doc") <(echo "$in_bats") | sed 's/^/    /'
		return 1
	fi
	[[ $(echo "$in_doc" | grep -c '^E[01][0-9]$\|^E20$') -eq 20 ]]
}
