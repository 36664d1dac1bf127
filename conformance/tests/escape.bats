#!/usr/bin/env bats
# Hostile specs and rootfs contents that try to make the runtime (root, on
# the host) act outside the rootfs: symlinks in the rootfs pointing to "/" or
# to host paths, ".." in mount destinations, mounts over /proc, device nodes
# (spec paths with "..", a symlinked /dev, a host disk's node in the image),
# cwd / maskedPaths / readonlyPaths through symlinks.
#
# Each case has a host-side directory HS with a marker file; afterwards HS
# must be byte-for-byte as before (no new file, dir, node, mount; marker
# unchanged) and the container must not have read the marker.  Whether the
# runtime refuses the spec or contains it inside the rootfs is reported
# (TAP comment) for RUNTIME and REF_RUNTIME; only RUNTIME is held to
# "host untouched".

bats_require_minimum_version 1.5.0
load ../lib/common
load ../lib/reliability

setup_file() { suite_setup_file; }
teardown_file() { suite_teardown_file; }
setup() {
	suite_setup
	HS=$BATS_TEST_TMPDIR/hostside
	mkdir -p "$HS/sub"
	SECRET="host-secret-$RCRUN_TEST_TAG-$RANDOM"
	echo "$SECRET" >"$HS/secret"
	chmod 600 "$HS/secret"
}
teardown() {
	umount_under "$BATS_TEST_TMPDIR"
	suite_teardown
}

# hs_snapshot: everything about HS a runtime could change.
hs_snapshot() {
	find "$HS" -printf '%p %y %m %s %l\n' | sort
	md5sum "$HS/secret"
	grep -F "$HS" /proc/self/mountinfo | awk '{ print "mount", $5 }'
}

# escape_case WHICH NAME JQ_FILTER [ROOTFS_FN]: bundle with FILTER (sees
# $hs, the host-side dir), ROOTFS_FN ROOTFS run on the rootfs, then `run`
# with a process that tries to read the marker through every path of the
# case.  Sets CASE_RC, CASE_ERR, CASE_OUT, CASE_HOST_OK (1 = HS untouched),
# CASE_READ (1 = the container printed the secret).
escape_case() {
	local which=$1 name=$2 filter=$3 fn=${4:-} id b before after
	id=$(ctr_id "esc-$name-$which")
	b=$BATS_TEST_TMPDIR/$id
	make_bundle "$b" ".process.args = [\"sh\", \"-c\", \"cat /evil$HS/secret $HS/secret /disk 2>&1 | head -c 2000; ls -la /evil$HS 2>&1 | head -n 5; echo end\"] | $filter" || return 1
	# the filter may refer to $hs: substitute it
	sed -i "s|@HS@|$HS|g" "$b/config.json"
	[[ -n $fn ]] && "$fn" "$b/rootfs"
	before=$(hs_snapshot)
	rc_of "$which" run --bundle "$b" "$id"
	CASE_RC=$RC CASE_ERR=$(head -n 3 <<<"$ERR") CASE_OUT=$OUT
	ctr_force_delete "$which" "$id"
	umount_under "$b"
	after=$(hs_snapshot)
	CASE_HOST_OK=1
	if [[ $before != "$after" ]]; then
		CASE_HOST_OK=0
		echo "host side changed by $which ($name):"
		diff <(echo "$before") <(echo "$after") | sed 's/^/    /'
	fi
	CASE_READ=0
	[[ $CASE_OUT == *"$SECRET"* ]] && CASE_READ=1
	local verdict
	if [[ $CASE_RC -ne 0 ]]; then verdict="refused: $(head -n 1 <<<"$CASE_ERR" | cut -c1-160)"; else verdict="ran contained"; fi
	note "$name: $(basename "$(rtbin "$which")"): rc=$CASE_RC host-untouched=$CASE_HOST_OK secret-read=$CASE_READ; $verdict"
	nothing_left_of "$which" "$id" >/dev/null || { ctr_force_delete "$which" "$id"; }
	return 0
}

# escape_test NAME FILTER [ROOTFS_FN]: REF first (report only), then RUNTIME
# must leave the host untouched and not read the secret.
escape_test() {
	escape_case ref "$@" || true
	escape_case rt "$@"
	[ "$CASE_HOST_OK" -eq 1 ]
	[ "$CASE_READ" -eq 0 ]
	if [[ $CASE_RC -ne 0 ]]; then
		assert_one_line_error "$CASE_ERR"
	fi
}

rootfs_evil_root() { ln -s / "$1/evil"; }
rootfs_evil_host() { ln -s "$HS" "$1/evil-hs"; ln -s / "$1/evil"; }

@test "symlink to / in the rootfs + tmpfs mount through it" {
	escape_test symlink-tmpfs '.mounts += [{"destination": "/evil@HS@/sub/m", "type": "tmpfs", "source": "tmpfs"}]' rootfs_evil_root
}

@test "symlink to / in the rootfs + bind mount through it" {
	mkdir -p "$BATS_TEST_TMPDIR/bindsrc"
	echo bound >"$BATS_TEST_TMPDIR/bindsrc/f"
	escape_test symlink-bind ".mounts += [{\"destination\": \"/evil@HS@/sub/b\", \"type\": \"bind\", \"source\": \"$BATS_TEST_TMPDIR/bindsrc\", \"options\": [\"rbind\"]}]" rootfs_evil_root
}

@test "symlink to a host path (absolute) in the rootfs + mount destination through it" {
	escape_test symlink-hostpath '.mounts += [{"destination": "/evil-hs/sub/m2", "type": "tmpfs", "source": "tmpfs"}]' rootfs_evil_host
}

@test "'..' in a mount destination" {
	escape_test dotdot-dest '.mounts += [{"destination": "/../../../../../../..@HS@/sub/dd", "type": "tmpfs", "source": "tmpfs"}]'
}

rootfs_proc_symlink() { rm -rf "$1/proc"; mkdir -p "$HS/sub/fakeproc"; ln -s "$HS/sub/fakeproc" "$1/proc"; }
@test "/proc in the rootfs is a symlink to a host path" {
	escape_test proc-symlink '.' rootfs_proc_symlink
}

@test "bind mount over a /proc entry (/proc/sys/kernel/core_pattern)" {
	echo "|/bin/false $RCRUN_TEST_TAG" >"$BATS_TEST_TMPDIR/fake-core"
	before=$(cat /proc/sys/kernel/core_pattern)
	escape_test proc-entry ".mounts += [{\"destination\": \"/proc/sys/kernel/core_pattern\", \"type\": \"bind\", \"source\": \"$BATS_TEST_TMPDIR/fake-core\", \"options\": [\"bind\"]}]"
	assert_eq "host core_pattern" "$before" "$(cat /proc/sys/kernel/core_pattern)"
}

@test "bind mount of a directory over /proc" {
	mkdir -p "$BATS_TEST_TMPDIR/fakeproc/self"
	escape_test proc-over ".mounts += [{\"destination\": \"/proc\", \"type\": \"bind\", \"source\": \"$BATS_TEST_TMPDIR/fakeproc\", \"options\": [\"rbind\"]}]"
}

@test "device path with '..' (linux.devices)" {
	escape_test dev-dotdot '.linux.devices = [{"path": "/../../../../../..@HS@/sub/evilnull", "type": "c", "major": 1, "minor": 3}]'
}

rootfs_dev_symlink() { rm -rf "$1/dev"; mkdir -p "$HS/sub/devdir"; ln -s "$HS/sub/devdir" "$1/dev"; }
@test "/dev in the rootfs is a symlink to a host path (no /dev mount)" {
	escape_test dev-symlink 'del(.mounts[] | select(.destination | startswith("/dev"))) | .linux.devices = [{"path": "/dev/evilnull", "type": "c", "major": 1, "minor": 3}]' rootfs_dev_symlink
}

rootfs_disk_node() {
	local src majmin
	src=$(findmnt -no SOURCE / | head -n 1)
	[[ -b $src ]] || src=$(find /dev -maxdepth 1 -type b | head -n 1)
	[[ -b $src ]] || return 0
	majmin=$(stat -c '%t %T' "$src")
	# shellcheck disable=SC2086
	mknod "$1/disk" b $((0x${majmin% *})) $((0x${majmin#* }))
}
@test "a host disk's device node in the image is not readable (device cgroup)" {
	[[ -b $(findmnt -no SOURCE / | head -n 1) ]] || find /dev -maxdepth 1 -type b | grep -q . || skip "no block device on the host"
	escape_test disk-node '.' rootfs_disk_node
	# the container must have been refused the read, not just failed to find the node
	[[ $CASE_RC -ne 0 || $CASE_OUT == *"Operation not permitted"* || $CASE_OUT == *"ermission denied"* ]] || { echo "output: $CASE_OUT"; false; }
}

@test "process.cwd through a symlink to /" {
	escape_test cwd-symlink '.process.cwd = "/evil@HS@/sub/cwd-made"' rootfs_evil_root
}

@test "maskedPaths and readonlyPaths through a symlink to /" {
	escape_test masked-symlink '.linux.maskedPaths += ["/evil@HS@/secret"] | .linux.readonlyPaths += ["/evil@HS@/sub"]' rootfs_evil_root
}
