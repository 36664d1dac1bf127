#!/usr/bin/env bats
# runc's container-breakout CVEs replayed against both runtimes
# (docs/security.md class 10): leaked fds as cwd (CVE-2024-21626), /dev/null
# in the image a symlink while maskedPaths bind /dev/null (CVE-2025-31133),
# /dev/console a symlink with terminal: true (CVE-2025-52565), and the
# runtime's own procfs writes (sysctl, oom_score_adj) redirected by mounts
# or a symlinked /proc (CVE-2025-52881).  Targets are only a host-side
# canary dir (HS) and files of the container's own namespaces
# (kernel.domainname, UTS-namespaced): never a host-global procfs file, as
# a vulnerable runtime would really write it (lib/attack.bash also checks
# and restores core_pattern & co. around each file).  Each case runs on
# REF_RUNTIME and RUNTIME (both outcomes in a TAP comment); only RUNTIME is
# asserted.

bats_require_minimum_version 1.5.0
load ../lib/common
load ../lib/reliability
load ../lib/attack

setup_file() { atk_setup_file; }
teardown_file() { atk_teardown_file; }
setup() { atk_setup; }
teardown() { atk_teardown; }

# CVE-2024-21626.  Defence: no fd of the runtime survives into the
# container's processes, and cwd is resolved in the container's root; a
# cwd outside it shows as "(unreachable)/..." from getcwd.
sc_fdcwd() {
	local which=$1 n refused=0 inside=0 out=() exrefused=0 exinside=0
	atk_bundle "$which" fdcwd || return 1
	atk_script 'echo "cwd=$(pwd -P 2>&1)"'
	for n in 3 4 5 6 7 8 9; do
		atk_jq '.process.cwd = $c' --arg c "/proc/self/fd/$n"
		rc_of "$which" run --bundle "$B" "$ID"
		atk_done "$which"
		if [[ $RC -ne 0 ]]; then
			atk_refused "$which" || out+=("run fd $n: PANIC")
			refused=$((refused + 1))
		elif [[ $OUT == *unreachable* ]]; then
			out+=("run fd $n: $OUT")
		else
			inside=$((inside + 1))
		fi
	done
	atk_jq '.process.cwd = "/" | .process.args = ["sleep", "600"]'
	atk_start "$which" || { atk_done "$which"; return 1; }
	for n in 3 4 5 6 7 8 9; do
		rc_of "$which" exec --cwd "/proc/self/fd/$n" "$ID" sh -c 'echo "cwd=$(pwd -P 2>&1)"'
		if [[ $RC -ne 0 ]]; then
			exrefused=$((exrefused + 1))
			[[ $RC -ne 101 && $ERR != *panicked* ]] || out+=("exec fd $n: PANIC")
		elif [[ $OUT == *unreachable* ]]; then
			out+=("exec --cwd fd $n: $OUT")
		else
			exinside=$((exinside + 1))
		fi
	done
	atk_done "$which"
	V="run: $refused refused, $inside inside; exec: $exrefused refused, $exinside inside"
	if [[ ${#out[@]} -gt 0 ]]; then V="ESCAPED: ${out[*]}"; BAD="${out[*]}"; fi
}
@test "CVE-2024-21626: process.cwd and exec --cwd /proc/self/fd/3..9 never give a cwd outside the container" {
	atk_both "cve-2024-21626-cwd" sc_fdcwd
}

# The exec'd process's fds, from the host: only 0, 1, 2.
sc_execfds() {
	local which=$1 pid fds
	atk_bundle "$which" execfds || return 1
	atk_start "$which" || { atk_done "$which"; return 1; }
	rc_of "$which" exec -d --pid-file "$B/exec.pid" "$ID" sleep 30
	pid=$(cat "$B/exec.pid" 2>/dev/null)
	if [[ $RC -ne 0 || -z $pid ]]; then
		V="exec -d failed: $(atk_err1 "$ERR")"
		atk_done "$which"
		return 1
	fi
	fds=$(for f in /proc/"$pid"/fd/*; do echo "${f##*/}->$(readlink "$f")"; done | sort -n | tr '\n' ' ')
	atk_done "$which"
	V="fds: $fds"
	if [[ $(grep -oE '(^| )[0-9]+->' <<<"$fds" | tr -d ' >-' | tr '\n' ' ') != "0 1 2 " ]]; then
		V="LEAKED: $fds"
		BAD="the exec'd process holds more than stdio: $fds"
	fi
}
@test "CVE-2024-21626: an exec'd process holds no fd of the runtime (seen from the host)" {
	atk_both "cve-2024-21626-execfds" sc_execfds
}

# sc_devnull WHICH TARGET: no /dev mount, the image's /dev/null a symlink to
# TARGET (host = HS/secret on the host; proc = /proc/sys/kernel/domainname,
# the container's own); maskedPaths has /masked-file.  The container reads
# and writes the masked file.  Defence: masks bind a /dev/null the runtime
# made itself (or checked to be the char device 1:3), never a path followed
# through the image.
sc_devnull() {
	local which=$1 tgt=$2 t before after log
	atk_hs
	[[ $tgt == host ]] && t=$HS/secret || t=/proc/sys/kernel/domainname
	atk_bundle "$which" "devnull-$tgt" 'del(.mounts[] | select(.destination | startswith("/dev")))
		| .linux.maskedPaths += ["/masked-file"]' || return 1
	echo "image-content" >"$B/rootfs/masked-file"
	ln -sfn "$t" "$B/rootfs/dev/null"
	atk_script 'echo "read=[$(head -c 100 /masked-file 2>&1)] write=$(/atk write /masked-file pwned) dn=$(cat /proc/sys/kernel/domainname)" >/out/log'
	before=$(atk_hs_snapshot)
	rc_of "$which" run --bundle "$B" "$ID"
	atk_done "$which"
	after=$(atk_hs_snapshot)
	log=$(cat "$O/log" 2>/dev/null)
	if [[ $RC -ne 0 ]]; then atk_refused "$which" || BAD="panicked"; else V="ran: $log"; fi
	[[ $before == "$after" ]] || { BAD+=" host file changed: $(diff <(echo "$before") <(echo "$after") | grep '^>' | tr '\n' ' ')"; V="HOST CHANGED; $V"; }
	[[ $log != *"$SECRET"* ]] || { BAD+=" the masked path showed the host secret"; V="SECRET READ; $V"; }
	# a masked file reads empty (a null device): anything else is the
	# image's file (not masked) or the symlink's target
	[[ $RC -ne 0 || ($log == *"read=[]"* && $log != *"dn=pwned"*) ]] ||
		{ BAD+=" the masked path is not a null device: $log"; V="MASK REDIRECTED; $V"; }
}
@test "CVE-2025-31133: /dev/null in the image a symlink (to a host file, to procfs): maskedPaths never bind its target" {
	atk_variants cve-2025-31133 sc_devnull host proc
}

# sc_console WHICH TARGET: terminal: true (console socket: the helper's
# recvtty on the host), no /dev tmpfs, the image's /dev/console a symlink to
# TARGET (host = HS/console; proc = /proc/sys/kernel/domainname).  Defence:
# the pty is bound on /dev/console opened without following links.
sc_console() {
	local which=$1 tgt=$2 t before after log rpid sock
	atk_hs
	echo canary >"$HS/console"
	[[ $tgt == host ]] && t=$HS/console || t=/proc/sys/kernel/domainname
	atk_bundle "$which" "console-$tgt" 'del(.mounts[] | select(.destination == "/dev")) | .process.terminal = true' || return 1
	ln -sfn "$t" "$B/rootfs/dev/console"
	atk_script 'echo pwned-console >/dev/console; d=""; [ -c /proc/sys/kernel/domainname ] && d="domainname-is-a-device "
echo "${d}dn=[$(timeout 1 cat /proc/sys/kernel/domainname)] console=$(stat -c %F /dev/console)" >/out/log; touch /out/done; exec sleep 600'
	sock=$BATS_TEST_TMPDIR/cs-$which.sock
	"$ATK_HELPER" recvtty "$sock" "$BATS_TEST_TMPDIR/tty-$which.out" </dev/null >/dev/null 2>&1 3>&- &
	rpid=$!
	atk_wait_file "$sock" 5 || { kill "$rpid"; V="recvtty did not start"; return 1; }
	before=$(atk_hs_snapshot)
	rc_of "$which" create --console-socket "$sock" --bundle "$B" "$ID"
	if [[ $RC -eq 0 ]]; then
		rc_of "$which" start "$ID"
		atk_wait_file "$O/done" 5 2>/dev/null
	fi
	log=$(cat "$O/log" 2>/dev/null)
	[[ $RC -eq 0 ]] || atk_refused "$which" || BAD="panicked"
	atk_done "$which"
	kill "$rpid" 2>/dev/null
	wait "$rpid" 2>/dev/null
	after=$(atk_hs_snapshot)
	[[ $RC -ne 0 ]] || V="ran: $log"
	[[ $before == "$after" ]] || { BAD+=" host side changed: $(diff <(echo "$before") <(echo "$after") | grep '^>' | tr '\n' ' ')"; V="HOST CHANGED; $V"; }
	# domainname (the symlink's procfs target) must still be itself: a
	# pty mounted over it is a device and reads nothing
	[[ $RC -ne 0 || ($log != *domainname-is-a-device* && $log != *"dn=[pwned"* && $log != *"dn=[]"*) ]] ||
		{ BAD+=" /dev/console's symlink target was mounted over or written ($log)"; V="CONSOLE REDIRECTED; $V"; }
}
@test "CVE-2025-52565: /dev/console in the image a symlink (host file, procfs) with terminal: true" {
	atk_variants cve-2025-52565 sc_console host proc
}

# sc_procwrite WHICH VARIANT: the runtime writes sysctl kernel.domainname
# and oomScoreAdj while a mount (or the image) redirects procfs:
#   bindfile  a host file bound over /proc/sys/kernel/domainname
#   tmpfs     a tmpfs over /proc/sys
#   oombind   a host file bound over /proc/self/oom_score_adj
#   procsym   /proc in the image a symlink to a host dir
# Defence: procfs writes go through a verified procfs handle (fstatfs
# PROC_SUPER_MAGIC, no mount on top), or the spec is refused.  Checked from
# the host: the init's UTS namespace and /proc/<pid>/oom_score_adj.
sc_procwrite() {
	local which=$1 v=$2 f before after ns oom
	atk_hs
	mkdir -p "$HS/fakeproc"
	echo canary >"$HS/dn"
	echo canary >"$HS/oom"
	case $v in
	bindfile) f='.mounts += [{"destination": "/proc/sys/kernel/domainname", "type": "bind", "source": "@HS@/dn", "options": ["bind"]}]' ;;
	tmpfs) f='.mounts += [{"destination": "/proc/sys", "type": "tmpfs", "source": "tmpfs"}]' ;;
	oombind) f='.mounts += [{"destination": "/proc/self/oom_score_adj", "type": "bind", "source": "@HS@/oom", "options": ["bind"]}]' ;;
	procsym) f='.' ;;
	esac
	atk_bundle "$which" "procw-$v" ".linux.sysctl = {\"kernel.domainname\": \"sysctl-dn\"} | .process.oomScoreAdj = 234 | $f" || return 1
	sed -i "s|@HS@|$HS|g" "$B/config.json"
	if [[ $v == procsym ]]; then rm -rf "$B/rootfs/proc" && ln -s "$HS/fakeproc" "$B/rootfs/proc"; fi
	before=$(atk_hs_snapshot)
	if atk_start "$which"; then
		ns=$(nsenter -t "$PID" --uts cat /proc/sys/kernel/domainname 2>&1)
		oom=$(cat "/proc/$PID/oom_score_adj" 2>&1)
		V="ran: domainname in its UTS ns '$ns', oom_score_adj $oom"
		[[ $ns == sysctl-dn && $oom == 234 ]] || BAD="the runtime's procfs writes did not reach procfs: domainname '$ns', oom_score_adj '$oom'"
	else
		atk_refused "$which" || BAD="panicked"
	fi
	atk_done "$which"
	umount_under "$B"
	after=$(atk_hs_snapshot)
	[[ $before == "$after" ]] || { BAD+=" host side changed: $(diff <(echo "$before") <(echo "$after") | grep '^>' | tr '\n' ' ')"; V="HOST CHANGED; $V"; }
	return 0
}
@test "CVE-2025-52881: sysctl and oom_score_adj reach the real procfs, not a mount over /proc or a symlinked /proc" {
	atk_variants cve-2025-52881 sc_procwrite bindfile tmpfs oombind procsym
}
