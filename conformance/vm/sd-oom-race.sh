#!/bin/bash
# The OOM event race with the systemd cgroup driver, made deterministic
# (docs/conformance-layouts.md, "The OOM event through containerd's runc
# shim").  Runs in a systemd VM, from the repo root:
#
#   conformance/vm/run.sh systemd-v1 -- bash conformance/vm/sd-oom-race.sh SPEC...
#
# SPEC is RUNTIME:KILLED:STOP:N, N rounds of `ctr run --rm` with a 128 MiB
# limit, cgroupsPath system.slice:sdtest:<id> (the systemd driver), where
#   RUNTIME rcrun | runc   containerd's runc shim running that binary
#           rshim          the rcrun shim (io.containerd.rcrun.v2)
#   KILLED  init           the init is OOM-killed (the scope empties at once)
#           child          a child is, the init lives 5 s more
#   STOP    1              the shim is SIGSTOPped across the kill and
#                          continued once systemd has removed the scope
#           0              not stopped
# and prints one RESULT line per round: OOM-EVENT or NO-OOM-EVENT (whether
# `ctr events` showed /tasks/oom).  E.g. runc:init:1:2 rcrun:init:1:2
# runc:child:1:2 rshim:init:1:2.
set -u
. conformance/lib/bundle.bash
rootfs=$(make_rootfs) || { echo "no busybox rootfs" >&2; exit 1; }
NS=sd-oom-race
T=/tmp/sd-oom-race
mkdir -p "$T"
ts() { date +%s.%N | cut -c1-14; }

once() { # RUNTIME KILLED STOP N
	local id=race-$1-$2-$3-$4 rc=0 ep cp shim i ev rt
	local dd='/bin/dd if=/dev/zero of=/dev/null bs=200M count=1' cmd
	if [[ $2 == init ]]; then cmd="sleep 4; exec $dd"; else cmd="sleep 4; $dd; st=\$?; sleep 5; exit \$st"; fi
	case $1 in
	rshim)
		printf 'SystemdCgroup = true\n' >"$T/shim.toml"
		rt=(--runtime io.containerd.rcrun.v2 --runtime-config-path "$T/shim.toml") ;;
	rcrun) rt=(--runtime io.containerd.runc.v2 --runc-binary "$(command -v rcrun)" --runc-systemd-cgroup) ;;
	*) rt=(--runtime io.containerd.runc.v2 --runc-binary "$(command -v runc)" --runc-systemd-cgroup) ;;
	esac
	rm -rf "$T/rootfs" && cp -a "$rootfs" "$T/rootfs"
	ctr -n $NS events >"$T/events" 2>&1 &
	ep=$!
	sleep 1
	ctr -n $NS run --rm "${rt[@]}" --cgroup "system.slice:sdtest:$id" --memory-limit 134217728 \
		--rootfs "$T/rootfs" "$id" /bin/sh -c "$cmd" >"$T/ctr.out" 2>&1 &
	cp=$!
	for ((i = 0; i < 100; i++)); do grep -q "/tasks/start.*$id" "$T/events" && break; sleep 0.1; done
	shim=$(pgrep -f -- "-id $id( |$)" | head -1)
	if [[ $3 == 1 && -n $shim ]]; then
		sleep 2.5
		kill -STOP "$shim"
		echo "$(ts) shim $shim stopped"
		sleep 6
		echo "$(ts) scope $(systemctl show -p ActiveState --value "sdtest-$id.scope")"
		kill -CONT "$shim"
		echo "$(ts) shim continued"
	fi
	wait "$cp" || rc=$?
	sleep 2
	kill "$ep" 2>/dev/null
	wait "$ep" 2>/dev/null
	if grep -q "/tasks/oom.*$id" "$T/events"; then ev=OOM-EVENT; else ev=NO-OOM-EVENT; fi
	echo "RESULT $1 $2-killed shim-stopped=$3 #$4: exit $rc $ev"
}

for spec in "$@"; do
	IFS=: read -r rt killed stop n <<<"$spec"
	for ((k = 1; k <= n; k++)); do once "$rt" "$killed" "$stop" "$k"; done
done
