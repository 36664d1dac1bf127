#!/usr/bin/env bats
# Hostile images and relative paths vs the runtime's path handling
# (docs/security.md classes 5, 6 and 11): process.cwd through symlink chains
# around the kernel's 40-link limit, relative bind sources and hook paths
# (relative to the bundle, never to the caller's cwd), and '..' / relative
# symlinks / host-dir symlinks in the spec paths escape.bats does not cover.
# A host-side directory HS with a secret (lib/attack.bash atk_hs) must stay
# byte-for-byte as it was.  Each case runs on REF_RUNTIME and RUNTIME (both
# outcomes in a TAP comment); only RUNTIME is asserted.

bats_require_minimum_version 1.5.0
load ../lib/common
load ../lib/reliability
load ../lib/attack

setup_file() { atk_setup_file; }
teardown_file() { atk_teardown_file; }
setup() { atk_setup; }
teardown() { atk_teardown; }

# rootfs_links ROOTFS: the links of variant $LINKS:
#   chainN  l0 -> l1 -> ... -> l<N-1> -> HS (relative links, the last absolute)
#   single  l0 -> HS
#   up      up -> ../../../../../../../../../.. (relative, to "/" on the host)
rootfs_links() {
	local i n t
	case $LINKS in
	chain*)
		# made once per test (HS is the same path for every case), copied
		n=${LINKS#chain}
		t=$BATS_TEST_TMPDIR/links-$LINKS
		if [[ ! -d $t ]]; then
			mkdir -p "$t"
			for ((i = 0; i < n - 1; i++)); do ln -s "l$((i + 1))" "$t/l$i"; done
			ln -s "$HS" "$t/l$((n - 1))"
		fi
		cp -a "$t/." "$1/"
		;;
	single) ln -s "$HS" "$1/l0" ;;
	up) ln -s ../../../../../../../../../.. "$1/up" ;;
	esac
}

# sc_cwd WHICH LINKS CWD: process.cwd = CWD (@HS@ = HS) with LINKS planted.
sc_cwd() {
	LINKS=$2
	sc_path "$1" "cwd-$2" ".process.cwd = \"$3\"" rootfs_links
}

# Class 5.  Defence: process.cwd is resolved (and made when missing) inside
# the rootfs with openat2(RESOLVE_IN_ROOT), never by following a link on
# the host; a chain the in-rootfs walk gives up on is an error, not a
# host-side mkdir.
@test "cwd: chains of 39, 40, 41 and 45 rootfs symlinks ending at a host dir make nothing on the host" {
	atk_variants cwd-chain sc_cwd "chain39 /l0/made39" "chain40 /l0/made40" "chain41 /l0/made41" "chain45 /l0/made45"
}

@test "cwd: a symlink to a host dir, '..' through it, and a relative link to the host's / make nothing on the host" {
	atk_variants cwd-link sc_cwd "single /l0/made-single" "single /l0/../l0/made-dotdot" "up /up@HS@/made-up" \
		"up /up/../up/..@HS@/sub/../made-up2"
}

# sc_relbind WHICH HOW: bind mount with the relative source "reldir"; the
# caller's cwd has a reldir of its own (marker CALLER).  HOW: abs = --bundle
# absolute, run from that other dir; rel = --bundle relative to the cwd.
sc_relbind() {
	local which=$1 how=$2 caller bundle_arg
	atk_bundle "$which" "relbind-$how" '.mounts += [{"destination": "/rel", "type": "bind", "source": "reldir", "options": ["rbind", "ro"]}]' || return 1
	atk_script "cat /rel/marker"
	mkdir -p "$B/reldir" && echo "bundle-$which" >"$B/reldir/marker"
	if [[ $how == abs ]]; then
		caller=$BATS_TEST_TMPDIR/caller-$which
		bundle_arg=$B
	else
		caller=$BATS_TEST_TMPDIR
		bundle_arg=$(basename "$B")
	fi
	mkdir -p "$caller/reldir" && echo "CALLER" >"$caller/reldir/marker"
	pushd "$caller" >/dev/null || return 1
	rc_of "$which" run --bundle "$bundle_arg" "$ID"
	popd >/dev/null || return 1
	atk_done "$which"
	rm -rf "$caller/reldir"
	if [[ $RC -ne 0 ]]; then
		atk_refused "$which"
		BAD="run failed (rc $RC): $(atk_err1 "$ERR")"
	elif [[ $OUT == "bundle-$which" ]]; then
		V="the bundle's reldir"
	else
		V="WRONG DIR: the container saw '$OUT'"
		BAD="relative bind source resolved against the caller's cwd, not the bundle: saw '$OUT'"
	fi
}

# Class 6.  Defence: relative paths of the spec are resolved against the
# bundle directory (runc chdirs into it), whatever the caller's cwd.
@test "relative bind mount source: the bundle's dir, not the caller's cwd (--bundle absolute / relative)" {
	atk_variants relbind sc_relbind abs rel
}

# sc_relhook WHICH: prestart "./relhook" and poststop "relhook"; the caller's
# cwd has its own relhook.  Every hook line must come from the bundle's.
sc_relhook() {
	local which=$1 caller log
	atk_bundle "$which" relhook '.process.args = ["true"] | .hooks = {"prestart": [{"path": "./relhook", "args": ["relhook", "prestart"]}],
		"poststop": [{"path": "relhook", "args": ["relhook", "poststop"]}]}' || return 1
	caller=$BATS_TEST_TMPDIR/caller-$which
	mkdir -p "$caller"
	log=$B/hook.log
	printf '#!/bin/sh\necho "bundle-hook $1" >>%s\n' "$log" >"$B/relhook"
	printf '#!/bin/sh\necho "CALLER-hook $1" >>%s\n' "$log" >"$caller/relhook"
	chmod 755 "$B/relhook" "$caller/relhook"
	pushd "$caller" >/dev/null || return 1
	rc_of "$which" run --bundle "$B" "$ID"
	popd >/dev/null || return 1
	atk_done "$which"
	local ran
	ran=$(tr '\n' ',' <"$log" 2>/dev/null)
	if grep -q CALLER "$log" 2>/dev/null; then
		V="CALLER'S HOOK RAN ($ran)"
		BAD="a relative hook path ran the caller's cwd's program: $ran"
	elif [[ $RC -ne 0 ]]; then
		atk_refused "$which" || BAD="panicked: $ERR"
	elif [[ $ran == "bundle-hook prestart,bundle-hook poststop," ]]; then
		V="the bundle's hooks ran ($ran)"
	else
		V="hooks: '$ran'; $(atk_err1 "$ERR")"
		BAD="not every hook of the bundle ran: '$ran' $(atk_err1 "$ERR")"
	fi
}
@test "relative hook paths (./relhook, relhook): the bundle's programs, never the caller's cwd's" {
	atk_both "relhook" sc_relhook
}

# Class 11: '..' and symlinks in spec paths, beyond escape.bats (which has
# a symlink to / under mount destinations, masked/readonly paths and cwd,
# '..' in a mount destination and a device path, symlinked /dev and /proc).
link_root() { ln -s / "$1/evil"; }
link_up() { ln -s ../../../../../../../../../.. "$1/evil"; }
link_hs() { ln -s "$HS" "$1/evil-hs"; ln -s / "$1/evil"; }
sc_spec() { # WHICH NAME ROOTFS_FN FILTER...
	local which=$1 name=$2 fn=$3
	shift 3
	sc_path "$which" "$name" "$*" "$fn"
}

# Defence: maskedPaths / readonlyPaths are resolved inside the rootfs
# (RESOLVE_IN_ROOT), so they can only ever mask/remount container paths.
@test "maskedPaths / readonlyPaths with '..', a relative link to the host's /, a link to a host dir" {
	local rc=0
	atk_both masked-dotdot sc_spec masked-dotdot "" '.linux.maskedPaths += ["/proc/../../../../../../..@HS@/secret"] | .linux.readonlyPaths += ["/../../../../..@HS@/sub"]' || rc=1
	atk_both masked-uplink sc_spec masked-uplink link_up '.linux.maskedPaths += ["/evil@HS@/secret"] | .linux.readonlyPaths += ["/evil@HS@/sub"]' || rc=1
	atk_both masked-hslink sc_spec masked-hslink link_hs '.linux.maskedPaths += ["/evil-hs/secret"] | .linux.readonlyPaths += ["/evil-hs/sub"]' || rc=1
	return $rc
}

# Defence: mount destinations, device paths and cwd resolved in the rootfs.
@test "mount destinations, linux.devices paths and process.cwd through relative / host-dir links and '..'" {
	local rc=0
	atk_both mount-uplink sc_spec mount-uplink link_up '.mounts += [{"destination": "/evil@HS@/sub/m", "type": "tmpfs", "source": "tmpfs"}]' || rc=1
	atk_both mount-hslink sc_spec mount-hslink link_hs '.mounts += [{"destination": "/evil-hs/sub/m2", "type": "bind", "source": "/etc", "options": ["rbind"]}]' || rc=1
	atk_both dev-rootlink sc_spec dev-rootlink link_root '.linux.devices = [{"path": "/evil@HS@/sub/evilnull", "type": "c", "major": 1, "minor": 3}]' || rc=1
	atk_both dev-uplink sc_spec dev-uplink link_up '.linux.devices = [{"path": "/dev/../evil@HS@/sub/evilnull2", "type": "c", "major": 1, "minor": 3}]' || rc=1
	atk_both cwd-dotdot sc_spec cwd-dotdot "" '.process.cwd = "/../../../../../..@HS@/sub/cwd-dd"' || rc=1
	atk_both cwd-uplink sc_spec cwd-uplink link_up '.process.cwd = "/evil@HS@/sub/cwd-up"' || rc=1
	atk_both cwd-hslink sc_spec cwd-hslink link_hs '.process.cwd = "/evil-hs/sub/cwd-hs"' || rc=1
	return $rc
}
