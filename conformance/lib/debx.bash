# shellcheck shell=bash
# Debian packages for the tests WITHOUT installing anything into the system:
# the .debs of one suite are fetched with apt-get into a PRIVATE cache (own
# sources.list, lists and archive dirs) and unpacked with `dpkg -x`; then a
# private containerd + dockerd can run from the unpacked tree.  Used by
# lib/trixie.bash (docker 26, containerd 1.7) and lib/sid.bash (docker 28,
# containerd 2.1, podman 5).
#
#   debx_fetch DIR SUITE READY_FN PKG...   || skip "$DEBX_UNAVAILABLE_WHY"
#   debx_docker_start ROOT DIR CGPARENT RUNTIMES_JSON   private containerd + dockerd
#
# DIR holds the sources.list, apt's lists and cache, the unpacked root/ and
# a stamp with the .debs; READY_FN says whether root/ is complete. The
# network is needed once; later runs use the cache. RCRUN_TEST_DEBIAN_MIRROR
# (or the old RCRUN_TEST_TRIXIE_MIRROR): another Debian mirror.

# debx_apt DIR CMD ARGS...: apt-get/apt-cache on DIR's private config.
debx_apt() {
	local t=$1 cmd=$2
	shift 2
	timeout 600 "$cmd" -q \
		-o Dir::Etc::SourceList="$t/sources.list" \
		-o Dir::Etc::SourceParts=/dev/null \
		-o Dir::State::Lists="$t/lists" \
		-o Dir::Cache="$t/cache" \
		-o APT::Sandbox::User=root \
		-o Acquire::Languages=none \
		-o Acquire::Retries=1 \
		-o Acquire::http::Timeout=30 \
		-o Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false \
		-o Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false \
		-o Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false \
		-o Acquire::IndexTargets::deb::CNF::DefaultEnabled=false \
		"$@"
}

# debx_fetch DIR SUITE READY_FN PKG...: make sure DIR/root holds the
# unpacked PKGs of Debian SUITE. Fails (DEBX_UNAVAILABLE_WHY says why) when
# they cannot be fetched: no apt-get, or no network.
debx_fetch() {
	local t=$1 suite=$2 ready=$3 rc=0 lock
	shift 3
	DEBX_UNAVAILABLE_WHY=""
	"$ready" && return 0
	if ! command -v apt-get >/dev/null || ! command -v dpkg >/dev/null; then
		DEBX_UNAVAILABLE_WHY="no apt-get/dpkg to fetch Debian $suite's $*"
		return 1
	fi
	mkdir -p "$t/lists/partial" "$t/cache/archives/partial" "$t/debs" || return 1
	# one fetch at a time (parallel bats runs share the cache)
	exec {lock}>"$t/lock"
	flock -w 900 "$lock"
	"$ready" || _debx_fetch_locked "$t" "$suite" "$ready" "$@" || rc=1
	exec {lock}>&-
	return $rc
}

_debx_fetch_locked() {
	local t=$1 suite=$2 ready=$3 d
	shift 3
	echo "deb ${RCRUN_TEST_DEBIAN_MIRROR:-${RCRUN_TEST_TRIXIE_MIRROR:-http://deb.debian.org/debian}} $suite main" >"$t/sources.list"
	if ! debx_apt "$t" apt-get update >"$t/update.log" 2>&1 || grep -q '^\(E\|Err\):' "$t/update.log"; then
		DEBX_UNAVAILABLE_WHY="cannot fetch Debian $suite's package lists (no network?): $(grep -m1 -E '^(E|W): ' "$t/update.log")"
		return 1
	fi
	rm -f "$t/debs/"*.deb
	if ! (cd "$t/debs" && debx_apt "$t" apt-get download "$@") >"$t/download.log" 2>&1; then
		DEBX_UNAVAILABLE_WHY="cannot download $suite's $* (no network?): $(grep -m1 -E '^(E|W): ' "$t/download.log")"
		return 1
	fi
	rm -rf "$t/root.new"
	mkdir -p "$t/root.new" || return 1
	for d in "$t/debs/"*.deb; do
		dpkg -x "$d" "$t/root.new" || { DEBX_UNAVAILABLE_WHY="dpkg -x $d failed"; return 1; }
	done
	rm -rf "$t/root"
	mv "$t/root.new" "$t/root" || return 1
	(cd "$t/debs" && ls -1 ./*.deb) >"$t/unpacked"
	# the unpacked tree is what is used; the .debs are big
	rm -f "$t/debs/"*.deb
	"$ready"
}

# debx_docker_start ROOT DIR CGROUP_PARENT RUNTIMES_JSON: a private
# containerd from ROOT (an unpacked tree) with the rcrun shim on ITS PATH
# (containerd, not dockerd, finds containerd-shim-<name>-v2; ROOT's runc shim
# next) and a private dockerd from ROOT using it (--containerd), with
# daemon.json's "runtimes" = RUNTIMES_JSON, e.g.
#   {"rcrun": {"runtimeType": "io.containerd.rcrun.v2"}}
# Everything lives in DIR, laid out as lib/docker.bash's docker_start does
# (docker_stop DIR stops and removes it all). Needs SHIM_BIN (containerd.bash
# shim_binary).
debx_docker_start() {
	local root=$1 cgparent=$3 runtimes=$4 d i rt
	DOCKER_DIR=$2
	export DOCKER_DIR
	DOCKER_CLI=$root/usr/bin/docker
	export DOCKER_CLI
	mkdir -p "$DOCKER_DIR/bin" || return 1
	DOCKER_DIR=$(cd "$DOCKER_DIR" && pwd -P)
	d=$DOCKER_DIR
	if [[ ${#d} -gt 60 ]]; then
		echo "debx_docker_start: DIR '$d' too long for unix sockets" >&2
		return 1
	fi
	# outside DIR: hard-coded dirs (removed at stop if we made them and they
	# are empty). The shim's state root is /run/containerd/rcrun/<namespace>
	# (docker passes no runc options to a non-runc runtime type).
	: >"$d/created-global"
	for i in /run/docker /run/docker/plugins /run/containerd /run/containerd/s \
		/run/containerd/rcrun /run/containerd/rcrun/moby /etc/docker; do
		[[ -e $i ]] || echo "$i" >>"$d/created-global"
	done
	echo "$cgparent" >"$d/cgroup-parent"
	: >"$d/cids"
	ln -sf "$SHIM_BIN" "$d/bin/containerd-shim-rcrun-v2"

	cat >"$d/containerd.toml" <<EOF
version = 2
root = "$d/ctd-root"
state = "$d/ctd-state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$d/containerd.sock"
[ttrpc]
  address = "$d/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$d/opt"
EOF
	PATH="$d/bin:$root/usr/bin:$PATH" "$root/usr/bin/containerd" --config "$d/containerd.toml" \
		</dev/null >"$d/containerd.log" 2>&1 3>&- &
	echo $! >"$d/containerd.pid"
	for ((i = 0; i < 100; i++)); do
		[[ -S $d/containerd.sock ]] && break
		sleep 0.1
	done
	if [[ ! -S $d/containerd.sock ]]; then
		echo "containerd $("$root/usr/bin/containerd" --version | awk '{ print $3 }') did not start; log:" >&2
		tail -n 20 "$d/containerd.log" >&2
		return 1
	fi

	jq -n --arg cgp "$cgparent" --argjson runtimes "$runtimes" '{
		"bridge": "none",
		"iptables": false,
		"ip6tables": false,
		"ip-forward": false,
		"ip-masq": false,
		"userland-proxy": false,
		"exec-opts": ["native.cgroupdriver=cgroupfs"],
		"cgroup-parent": $cgp,
		"log-driver": "json-file",
		"runtimes": $runtimes
	}' >"$d/daemon.json" || return 1

	PATH="$root/usr/sbin:$root/usr/bin:$PATH" "$root/usr/sbin/dockerd" \
		--config-file "$d/daemon.json" \
		--data-root "$d/data" --exec-root "$d/exec" --pidfile "$d/docker.pid" \
		--host "unix://$d/docker.sock" --containerd "$d/containerd.sock" \
		</dev/null >"$d/dockerd.log" 2>&1 3>&- &
	echo $! >"$d/dockerd.pid"
	for ((i = 0; i < 600; i++)); do
		dk info >/dev/null 2>&1 && break
		kill -0 "$(<"$d/dockerd.pid")" 2>/dev/null || break
		sleep 0.1
	done
	if ! dk info >/dev/null 2>&1; then
		echo "dockerd $("$root/usr/sbin/dockerd" --version | awk '{ print $3 }') did not become ready; log:" >&2
		tail -n 30 "$d/dockerd.log" >&2
		return 1
	fi
	# (docker info shows a runtimeType runtime as {})
	for rt in $(jq -r 'keys[]' <<<"$runtimes"); do
		if ! dk info --format '{{json .Runtimes}}' | jq -e --arg rt "$rt" 'has($rt)' >/dev/null; then
			echo "dockerd did not register runtime $rt: $(dk info --format '{{json .Runtimes}}' | jq -c keys)" >&2
			return 1
		fi
	done
	return 0
}

# ---- setup_file / teardown_file parts of a bats file on a private docker

# debx_docker_file_start ROOT DIR CGROUP_PARENT RUNTIMES_JSON: the shim
# binary, debx_docker_start, the busybox image, the cgroup parent created up
# front (docker makes it lazily: it would count as a per-test leak; docker_stop
# removes it) and the state dirs the leak check watches. Prints the daemon
# logs and fails when anything does not come up.
debx_docker_file_start() {
	local root=$1 dir=$2 cgp=$3 runtimes=$4
	if ! SHIM_BIN=$(shim_binary); then
		echo "containerd-shim-rcrun-v2 not built (cargo build --release -p containerd-shim-rcrun-v2)" >&2
		return 1
	fi
	export SHIM_BIN
	if ! debx_docker_start "$root" "$dir" "$cgp" "$runtimes" >"$BATS_FILE_TMPDIR/start.log" 2>&1 ||
		! docker_import_busybox >>"$BATS_FILE_TMPDIR/start.log" 2>&1; then
		cat "$BATS_FILE_TMPDIR/start.log" >&2
		echo "private dockerd from $root failed to start (log above)" >&2
		return 1
	fi
	CG_PARENT=$cgp test_parent_cgroup_create || return 1
	LEAK_EXTRA_STATE_DIRS="$DOCKER_DIR/ctd-state/io.containerd.runtime.v2.task/moby /run/containerd/rcrun/moby $DOCKER_DIR/exec/containerd"
	export DOCKER_DIR DOCKER_CLI LEAK_EXTRA_STATE_DIRS
}

# debx_docker_file_stop DIR: teardown_file's part.
debx_docker_file_stop() {
	local rc=0
	if [[ -d $1 ]]; then
		docker_stop "$1" || rc=1
	fi
	LEAK_EXTRA_STATE_DIRS=""
	return $rc
}

# ---- per-test helpers of a bats file on a private docker (DOCKER_DIR)

# debx_docker_test_setup / debx_docker_test_teardown: setup()/teardown()
# bodies: the teardown fails a passing test that left a container or a shim
# socket, then suite_teardown checks for leaks.
debx_docker_test_setup() {
	cp "$DOCKER_DIR/cids" "$BATS_TEST_TMPDIR/.cids-before"
	suite_setup
}

debx_docker_test_teardown() {
	local rc=0 left cid
	left=$(dk ps -aq 2>/dev/null)
	if [[ -n $left ]]; then
		echo "containers left behind: $left"
		for cid in $left; do dk rm -f "$cid" >/dev/null 2>&1; done
		[[ -n ${BATS_TEST_COMPLETED:-} ]] && rc=1
	fi
	while read -r cid; do
		[[ -n $cid ]] || continue
		if [[ -e $(docker_shim_socket "$cid") ]]; then
			echo "shim socket of $cid left: $(docker_shim_socket "$cid")"
			rm -f "$(docker_shim_socket "$cid")"
			[[ -n ${BATS_TEST_COMPLETED:-} ]] && rc=1
		fi
	done < <(comm -13 <(sort "$BATS_TEST_TMPDIR/.cids-before" 2>/dev/null) <(sort "$DOCKER_DIR/cids"))
	suite_teardown || rc=1
	return $rc
}

# dkt: the docker CLI with a timeout (a hanging shim must fail the test).
dkt() { timeout 120 "$DOCKER_CLI" -H "unix://$DOCKER_DIR/docker.sock" "$@"; }

# drun ARGS...: `docker run --network none` with a cidfile; sets RC, OUT,
# ERR, CID.
drun() {
	local cidf
	cidf=$(mktemp -u "$BATS_TEST_TMPDIR/cid.XXXXXX")
	RC=0
	dkt run --network none --cidfile "$cidf" "$@" </dev/null >"$BATS_TEST_TMPDIR/.drun.out" 2>"$BATS_TEST_TMPDIR/.drun.err" 3>&- || RC=$?
	OUT=$(cat "$BATS_TEST_TMPDIR/.drun.out")
	ERR=$(cat "$BATS_TEST_TMPDIR/.drun.err")
	CID=$(cat "$cidf" 2>/dev/null)
	[[ -n $CID ]] && docker_record_cid "$CID"
	return 0
}

# rcrun_shims: pids of rcrun shims serving our containerd.
rcrun_shims() {
	pgrep -f "^[^ ]*containerd-shim-rcrun-v2 .*-address $DOCKER_DIR/containerd.sock( |\$)" || true
}

# nothing_left CID: no shim process, shim socket, cgroup, mount or state of
# the (removed) container CID.
nothing_left() {
	local cid=$1 i m p rc=0 cgp
	cgp=$(cat "$DOCKER_DIR/cgroup-parent")
	for ((i = 0; i < 50; i++)); do
		[[ -z $(rcrun_shims) ]] && break
		sleep 0.1
	done
	p=$(rcrun_shims)
	[[ -z $p ]] || { echo "shim process(es) left: $p"; rc=1; }
	[[ ! -e $(docker_shim_socket "$cid") ]] || { echo "shim socket left: $(docker_shim_socket "$cid")"; rc=1; }
	for m in "${CG_HIERS[@]}"; do
		[[ ! -d $m$cgp/$cid ]] || { echo "cgroup left: $m$cgp/$cid"; rc=1; }
	done
	if grep -F "$cid" /proc/self/mountinfo; then
		echo "mount(s) of $cid left (above)"
		rc=1
	fi
	for p in "/run/containerd/rcrun/moby/$cid" "$DOCKER_DIR/ctd-state/io.containerd.runtime.v2.task/moby/$cid"; do
		[[ ! -e $p ]] || { echo "state left: $p"; rc=1; }
	done
	return $rc
}

