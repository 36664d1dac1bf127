# shellcheck shell=bash
# Rootfs / bundle builders and container helpers.

# busybox_static: path of a statically linked busybox on the host.
busybox_static() {
	local b out
	for b in "${RCRUN_TEST_BUSYBOX:-}" /bin/busybox /usr/bin/busybox "$(command -v busybox 2>/dev/null)"; do
		[[ -n $b && -x $b ]] || continue
		out=$(LC_ALL=C ldd "$b" 2>&1)
		if [[ $out == *"not a dynamic executable"* ]]; then
			echo "$b"
			return 0
		fi
	done
	echo "no static busybox found (apt-get install busybox-static)" >&2
	return 1
}

# make_rootfs: build (once, cached) a busybox-static rootfs; prints its path.
# Cache: $RCRUN_TEST_CACHE (default ${TMPDIR:-/tmp}/rcrun-conformance-cache).
# Also writes <cache>/rootfs.tar for `docker import`.
make_rootfs() {
	local cache=${RCRUN_TEST_CACHE:-${TMPDIR:-/tmp}/rcrun-conformance-cache}
	local rootfs=$cache/rootfs bb tmp
	if [[ -n ${_RCT_ROOTFS_OK:-} && -x $_RCT_ROOTFS_OK/bin/busybox ]]; then
		echo "$_RCT_ROOTFS_OK"
		return 0
	fi
	bb=$(busybox_static) || return 1
	if [[ -x $rootfs/bin/busybox && -s $cache/rootfs.tar ]] && cmp -s "$bb" "$rootfs/bin/busybox"; then
		_RCT_ROOTFS_OK=$rootfs
		echo "$rootfs"
		return 0
	fi
	mkdir -p "$cache" || return 1
	tmp=$(mktemp -d "$cache/.build.XXXXXX") || return 1
	mkdir -p "$tmp/rootfs"/{bin,sbin,etc,proc,sys,dev,tmp,root,run,var} &&
		chmod 1777 "$tmp/rootfs/tmp" &&
		cp "$bb" "$tmp/rootfs/bin/busybox" &&
		chroot "$tmp/rootfs" /bin/busybox --install -s /bin &&
		printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$tmp/rootfs/etc/passwd" &&
		printf 'root:x:0:\nnogroup:x:65534:\n' >"$tmp/rootfs/etc/group" &&
		: >"$tmp/rootfs/etc/hosts" && : >"$tmp/rootfs/etc/hostname" && : >"$tmp/rootfs/etc/resolv.conf" &&
		tar -C "$tmp/rootfs" -cf "$tmp/rootfs.tar" . || { rm -rf "$tmp"; return 1; }
	# publish atomically enough for concurrent runs: last writer wins
	rm -rf "$rootfs.old"
	[[ -e $rootfs ]] && mv "$rootfs" "$rootfs.old"
	mv "$tmp/rootfs" "$rootfs" && mv "$tmp/rootfs.tar" "$cache/rootfs.tar"
	rm -rf "$tmp" "$rootfs.old"
	echo "$rootfs"
}

# ctr_id NAME: a container id unique to this run (contains the run tag, so
# leak scans find anything named after it).
ctr_id() { echo "rct${RCRUN_TEST_TAG}-$1"; }

# make_bundle DIR [JQ_FILTER]: bundle at DIR (container id = basename DIR):
# rootfs (hard-linked copy of the cached busybox rootfs), config.json from
# lib/config.base.json with terminal=false, args ["sleep","600"] and
# linux.cgroupsPath = $CG_PARENT/<id>; then JQ_FILTER is applied.  The filter
# sees $id, $parent ($CG_PARENT) and $bundle.
make_bundle() {
	local dir=$1 filter=${2:-.} id rootfs
	id=$(basename "$dir")
	rootfs=$(make_rootfs) || return 1
	mkdir -p "$dir" || return 1
	cp -al "$rootfs" "$dir/rootfs" 2>/dev/null || cp -a "$rootfs" "$dir/rootfs" || return 1
	jq --arg id "$id" --arg parent "$CG_PARENT" --arg bundle "$dir" \
		".linux.cgroupsPath = (\$parent + \"/\" + \$id) | .process.terminal = false | $filter" \
		"$CONF_LIB/config.base.json" >"$dir/config.json" || { echo "make_bundle: bad jq filter: $filter" >&2; return 1; }
	CTR_ID=$id
	CG_CUR=$CG_PARENT/$id
}

# ctr_create WHICH ID [BUNDLE]: `create` with stdio detached; sets RC/ERR.
ctr_create() {
	local which=$1 id=$2 bundle=${3:-$BATS_TEST_TMPDIR/$2}
	rc_of "$which" create --bundle "$bundle" "$id"
}

# ctr_run_d WHICH ID [BUNDLE]: create + start (detached); fails on error.
ctr_run_d() {
	local which=$1 id=$2 bundle=${3:-$BATS_TEST_TMPDIR/$2}
	ctr_create "$which" "$id" "$bundle"
	if [[ $RC -ne 0 ]]; then
		echo "$which create $id failed (rc=$RC): $ERR" >&2
		return 1
	fi
	rc_of "$which" start "$id"
	if [[ $RC -ne 0 ]]; then
		echo "$which start $id failed (rc=$RC): $ERR" >&2
		return 1
	fi
	wait_status "$which" "$id" running
}

# ctr_status WHICH ID: prints the state's status ("" if state fails).
ctr_status() { "$1" state "$2" 2>/dev/null </dev/null 3>&- | jq -r '.status // empty' 2>/dev/null; }
ctr_pid() { "$1" state "$2" 2>/dev/null </dev/null 3>&- | jq -r '.pid // empty' 2>/dev/null; }

# wait_status WHICH ID STATUS [TIMEOUT_S]
wait_status() {
	local which=$1 id=$2 want=$3 t=${4:-10} i s
	for ((i = 0; i < t * 20; i++)); do
		s=$(ctr_status "$which" "$id")
		[[ $s == "$want" ]] && return 0
		sleep 0.05
	done
	echo "wait_status: $which $id: status '$s', wanted '$want' after ${t}s" >&2
	return 1
}

# ctr_kill_delete WHICH ID: SIGKILL, wait stopped, delete (not --force: the
# normal path must work); fails if any step fails.
ctr_kill_delete() {
	local which=$1 id=$2
	local s
	s=$(ctr_status "$which" "$id")
	if [[ $s == paused ]]; then
		rc_of "$which" resume "$id"
		s=$(ctr_status "$which" "$id")
	fi
	if [[ $s == running || $s == created ]]; then
		rc_of "$which" kill "$id" KILL
		[[ $RC -eq 0 ]] || { echo "$which kill $id: rc=$RC $ERR" >&2; return 1; }
		wait_status "$which" "$id" stopped || return 1
	fi
	rc_of "$which" delete "$id"
	[[ $RC -eq 0 ]] || { echo "$which delete $id: rc=$RC $ERR" >&2; return 1; }
}

# ctr_force_delete WHICH ID: best effort, never fails.
ctr_force_delete() {
	"$1" delete --force "$2" </dev/null >/dev/null 2>&1 3>&- || true
}

# assert_one_line_error TEXT [REGEX...]: for runtimes other than runc (whose
# logrus output differs), the error output must be ONE non-empty line that
# matches every REGEX (case-insensitive).
assert_one_line_error() {
	local text=$1 re
	shift
	if runtime_gap "$RUNTIME" error-one-line; then
		return 0
	fi
	local n
	n=$(printf '%s' "$text" | grep -c '')
	if [[ -z $text || $n -ne 1 ]]; then
		echo "expected exactly one line of error output, got $n:" >&2
		printf '%s\n' "$text" | sed 's/^/    | /' >&2
		return 1
	fi
	for re in "$@"; do
		if ! grep -qiE -- "$re" <<<"$text"; then
			echo "error line does not match /$re/: $text" >&2
			return 1
		fi
	done
}
