#!/usr/bin/env bats
# Packaging: packaging/install.sh (install, idempotence, uninstall, docker
# and containerd config editing with backups) into a throwaway prefix, and
# the Debian package from packaging/build-deb.sh installed into and removed
# from a throwaway dpkg root (dpkg --root).  Nothing here touches the host's
# /usr/local, /usr/bin, /etc/docker or /etc/containerd, and no daemon is
# restarted (--no-restart, private config paths).
#
# RCRUN_TEST_SYSTEM_DPKG=1 adds a real `dpkg -i` / `dpkg -r` on this host
# (CI machines only: it installs /usr/bin/rcrun for a moment), checking that
# removal leaves nothing.
#
# The binaries come from $REPO/target/release (built by CI before the
# suite; RCRUN_TEST_PACKAGING_FROM=DIR to use others, e.g. a directory with
# rcrun but no shim); nothing is compiled here.

bats_require_minimum_version 1.5.0
load ../lib/common

setup_file() {
	REL=${RCRUN_TEST_PACKAGING_FROM:-$REPO/target/release}
	export REL
}

setup() {
	[[ -x $REL/rcrun ]] || skip "$REL/rcrun not built"
	runtime_probe "$REL/rcrun" || skip "$REL/rcrun is not a working runtime yet"
	P=$BATS_TEST_TMPDIR/prefix
	INSTALL=(bash "$REPO/packaging/install.sh" --prefix "$P" --from "$REL" --no-restart
		--docker-config "$BATS_TEST_TMPDIR/etc/docker/daemon.json"
		--containerd-config "$BATS_TEST_TMPDIR/etc/containerd/config.toml")
}

# files_under DIR: every file and symlink under DIR, sorted.
files_under() { (cd "$1" 2>/dev/null && find . \( -type f -o -type l \) | sort); }

# host_files DIR: files_under DIR except dpkg's own database and log.
host_files() { files_under "$1" | { grep -v '^\./var/' || true; }; }

@test "install.sh: installs, is idempotent, uninstalls leaving nothing" {
	run "${INSTALL[@]}"
	[[ $status -eq 0 ]] || { echo "$output"; return 1; }
	[[ -x $P/bin/rcrun ]]
	cmp "$REL/rcrun" "$P/bin/rcrun"
	"$P/bin/rcrun" --version | grep -q '^commit: '
	[[ -s $P/share/bash-completion/completions/rcrun ]]
	[[ -s $P/share/zsh/vendor-completions/_rcrun ]]
	[[ -s $P/share/fish/vendor_completions.d/rcrun.fish ]]
	bash -n "$P/share/bash-completion/completions/rcrun"
	if [[ -x $REL/containerd-shim-rcrun-v2 ]]; then
		cmp "$REL/containerd-shim-rcrun-v2" "$P/bin/containerd-shim-rcrun-v2"
	else
		[[ $output == *"shim: "*"NOT installed"* ]]
	fi
	# without --configure-*, it prints the snippets and touches no config
	[[ $output == *'"runtimes": {"rcrun": {"path": "'"$P"'/bin/rcrun"}}'* ]]
	[[ ! -e $BATS_TEST_TMPDIR/etc ]]

	local before
	before=$(cd "$P" && find . -printf '%p %s %T@\n' | sort)
	run "${INSTALL[@]}"
	[[ $status -eq 0 ]] || { echo "$output"; return 1; }
	[[ $output == *"$P/bin/rcrun is up to date"* ]]
	[[ $output != *"installed $P"* ]]
	[[ $(cd "$P" && find . -printf '%p %s %T@\n' | sort) == "$before" ]]

	run "${INSTALL[@]}" --uninstall
	[[ $status -eq 0 ]] || { echo "$output"; return 1; }
	[[ -z $(files_under "$P") ]] || { files_under "$P"; return 1; }
	# uninstalling again is fine
	run "${INSTALL[@]}" --uninstall
	[[ $status -eq 0 ]]
	[[ $output == *"nothing to remove"* ]]
}

@test "install.sh --configure-docker: merges into daemon.json with a backup, idempotent, removable" {
	local cfg=$BATS_TEST_TMPDIR/etc/docker/daemon.json
	mkdir -p "${cfg%/*}"
	printf '{"log-driver": "journald", "runtimes": {"other": {"path": "/usr/bin/other"}}}\n' >"$cfg"
	local orig
	orig=$(cat "$cfg")

	run "${INSTALL[@]}" --configure-docker
	[[ $status -eq 0 ]] || { echo "$output"; return 1; }
	[[ $(jq -r '.runtimes.rcrun.path' "$cfg") == "$P/bin/rcrun" ]]
	[[ $(jq -r '.runtimes.other.path' "$cfg") == /usr/bin/other ]]
	[[ $(jq -r '."log-driver"' "$cfg") == journald ]]
	local backups
	backups=("$cfg".rcrun-backup.*)
	[[ ${#backups[@]} -eq 1 && $(cat "${backups[0]}") == "$orig" ]]
	[[ $output == *"not restarting docker (--no-restart)"* ]]

	# again: nothing changes, no second backup
	run "${INSTALL[@]}" --configure-docker
	[[ $status -eq 0 ]]
	[[ $output == *"runtime rcrun already configured"* ]]
	backups=("$cfg".rcrun-backup.*)
	[[ ${#backups[@]} -eq 1 ]]

	# the runtimeType form (docker >= 23) needs the shim
	if [[ -x $REL/containerd-shim-rcrun-v2 ]]; then
		run "${INSTALL[@]}" --configure-docker --docker-shim
		[[ $status -eq 0 ]] || { echo "$output"; return 1; }
		[[ $(jq -r '.runtimes.rcrun.runtimeType' "$cfg") == io.containerd.rcrun.v2 ]]
	fi

	# invalid JSON is never overwritten
	local good
	good=$(cat "$cfg")
	printf '{"runtimes": \n' >"$cfg.bad"
	run "${INSTALL[@]}" --configure-docker --docker-config "$cfg.bad"
	[[ $status -ne 0 && $output == *"not valid JSON"* ]]
	[[ $(cat "$cfg.bad") == '{"runtimes": ' ]]
	rm -f "$cfg.bad"

	run "${INSTALL[@]}" --uninstall --configure-docker
	[[ $status -eq 0 ]] || { echo "$output"; return 1; }
	[[ $(jq -c . "$cfg") == $(jq -c . <<<"$orig") ]]
	[[ -z $(files_under "$P") ]]
	[[ $good != "" ]]
}

@test "install.sh --configure-docker: creates daemon.json when there is none" {
	local cfg=$BATS_TEST_TMPDIR/etc/docker/daemon.json
	run "${INSTALL[@]}" --configure-docker
	[[ $status -eq 0 ]] || { echo "$output"; return 1; }
	[[ $(jq -c . "$cfg") == "{\"runtimes\":{\"rcrun\":{\"path\":\"$P/bin/rcrun\"}}}" ]]
	! ls "$cfg".rcrun-backup.* 2>/dev/null || return 1
	run "${INSTALL[@]}" --uninstall --configure-docker
	[[ $status -eq 0 ]]
	[[ $(jq -c . "$cfg") == "{}" ]]
}

@test "install.sh --configure-containerd: appends the runtime with a backup, idempotent, removable" {
	local cfg=$BATS_TEST_TMPDIR/etc/containerd/config.toml
	mkdir -p "${cfg%/*}"
	cat >"$cfg" <<-'EOF'
		version = 2

		[plugins]
		  [plugins."io.containerd.grpc.v1.cri"]
		    [plugins."io.containerd.grpc.v1.cri".cni]
		      bin_dir = "/usr/lib/cni"
	EOF
	local orig
	orig=$(cat "$cfg")

	run "${INSTALL[@]}" --configure-containerd --containerd-runc-shim
	[[ $status -eq 0 ]] || { echo "$output"; return 1; }
	grep -qF '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.rcrun]' "$cfg"
	grep -qF 'runtime_type = "io.containerd.runc.v2"' "$cfg"
	grep -qF "BinaryName = \"$P/bin/rcrun\"" "$cfg"
	local backups
	backups=("$cfg".rcrun-backup.*)
	[[ ${#backups[@]} -eq 1 && $(cat "${backups[0]}") == "$orig" ]]
	if command -v containerd >/dev/null; then
		# containerd itself must accept the result
		containerd --config "$cfg" config dump >/dev/null
	fi

	run "${INSTALL[@]}" --configure-containerd --containerd-runc-shim
	[[ $status -eq 0 && $output == *"already configured"* ]]
	backups=("$cfg".rcrun-backup.*)
	[[ ${#backups[@]} -eq 1 ]]

	if [[ -x $REL/containerd-shim-rcrun-v2 ]]; then
		# switching to the rcrun shim replaces the block
		run "${INSTALL[@]}" --configure-containerd
		[[ $status -eq 0 ]] || { echo "$output"; return 1; }
		grep -qF 'runtime_type = "io.containerd.rcrun.v2"' "$cfg"
		! grep -qF BinaryName "$cfg" || return 1
	else
		# without the shim: the runc shim form, said so, nothing changed
		run "${INSTALL[@]}" --configure-containerd
		[[ $status -eq 0 && $output == *"using containerd's runc shim"* && $output == *"already configured"* ]]
	fi

	run "${INSTALL[@]}" --uninstall --configure-containerd
	[[ $status -eq 0 ]] || { echo "$output"; return 1; }
	[[ $(cat "$cfg") == "$orig" ]]
}

@test "install.sh: a containerd runtime named rcrun that it did not add is left alone" {
	local cfg=$BATS_TEST_TMPDIR/etc/containerd/config.toml
	mkdir -p "${cfg%/*}"
	printf 'version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.rcrun]\n  runtime_type = "io.containerd.runc.v2"\n' >"$cfg"
	local orig
	orig=$(cat "$cfg")
	run "${INSTALL[@]}" --configure-containerd --containerd-runc-shim
	[[ $status -ne 0 && $output == *"not added by this script"* ]]
	[[ $(cat "$cfg") == "$orig" ]]
	! ls "$cfg".rcrun-backup.* 2>/dev/null || return 1
	run "${INSTALL[@]}" --uninstall
}

@test "install.sh: usage errors are one line and change nothing" {
	run "${INSTALL[@]}" --bogus
	[[ $status -ne 0 && ${#lines[@]} -eq 1 && $output == *"unknown option '--bogus'"* ]]
	run bash "$REPO/packaging/install.sh" --prefix relative/dir
	[[ $status -ne 0 && $output == *"--prefix must be an absolute path"* ]]
	run bash "$REPO/packaging/install.sh" --prefix "$P" --from "$BATS_TEST_TMPDIR/nowhere"
	[[ $status -ne 0 && $output == *"nowhere/rcrun not found"* ]]
	[[ -z $(files_under "$P") ]]
}

# build_deb: sets DEB (the package built from target/release).
build_deb() {
	command -v dpkg-deb >/dev/null || skip "dpkg-deb not available"
	run bash "$REPO/packaging/build-deb.sh" --from "$REL" --out "$BATS_TEST_TMPDIR/deb"
	[[ $status -eq 0 ]] || { echo "$output"; return 1; }
	DEB=${lines[-1]}
	[[ -f $DEB ]]
}

@test "build-deb.sh: package metadata and contents" {
	build_deb
	dpkg-deb --info "$DEB" >/dev/null
	[[ $(dpkg-deb -f "$DEB" Package) == rcrun ]]
	[[ $(dpkg-deb -f "$DEB" Architecture) == "$(dpkg --print-architecture)" ]]
	dpkg-deb -f "$DEB" Depends | grep -q libc6
	# a dynamic build links libseccomp: its package is a dependency too
	if ldd "$REL/rcrun" 2>/dev/null | grep -q libseccomp; then
		dpkg-deb -f "$DEB" Depends | grep -q libseccomp
	fi
	local c
	c=$(dpkg-deb -c "$DEB")
	[[ $c == *" ./usr/bin/rcrun"* ]]
	[[ $c == *"./usr/share/bash-completion/completions/rcrun"* ]]
	[[ $c == *"./usr/share/doc/rcrun/copyright"* ]]
	[[ $c == *"./usr/share/doc/rcrun/examples/docker/daemon-path.json"* ]]
	[[ $c != *"/usr/local"* ]]
	# root-owned files
	! dpkg-deb -c "$DEB" | awk '{ print $2 }' | grep -v '^root/root$' || return 1
	# examples point at /usr/bin
	local x=$BATS_TEST_TMPDIR/x
	dpkg-deb -x "$DEB" "$x"
	[[ $(jq -r .runtimes.rcrun.path "$x/usr/share/doc/rcrun/examples/docker/daemon-path.json") == /usr/bin/rcrun ]]
	"$x/usr/bin/rcrun" --version | grep -q '^cgroup layout: '
}

@test "deb: installs into and removes from a throwaway dpkg root, leaving nothing" {
	build_deb
	local R=$BATS_TEST_TMPDIR/droot
	mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates" "$R/var/log"
	: >"$R/var/lib/dpkg/status"
	: >"$R/var/lib/dpkg/available"
	local before
	before=$(host_files "$R")

	# the throwaway root has no libc6 package: dependencies are not checked
	# there (build-deb's Depends is checked against the host below)
	run dpkg --root="$R" --force-depends --force-script-chrootless -i "$DEB"
	[[ $status -eq 0 ]] || { echo "$output"; return 1; }
	[[ -x $R/usr/bin/rcrun ]]
	"$R/usr/bin/rcrun" --version >/dev/null
	[[ $(dpkg --root="$R" -s rcrun | sed -n 's/^Status: //p') == "install ok installed" ]]
	# reinstalling the same package is fine
	run dpkg --root="$R" --force-depends --force-script-chrootless -i "$DEB"
	[[ $status -eq 0 ]] || { echo "$output"; return 1; }

	run dpkg --root="$R" --force-script-chrootless -r rcrun
	[[ $status -eq 0 ]] || { echo "$output"; return 1; }
	run dpkg --root="$R" --force-script-chrootless -P rcrun
	[[ $status -eq 0 ]] || { echo "$output"; return 1; }
	[[ $(host_files "$R") == "$before" ]] || {
		diff <(echo "$before") <(host_files "$R")
		return 1
	}
	# no empty directories left behind either (dpkg removes its own)
	[[ -z $(cd "$R" && find . -mindepth 1 -type d -empty -not -path './var/*') ]]
	# the dependencies exist on this (the build) host
	local dep
	for dep in $(dpkg-deb -f "$DEB" Depends | sed 's/([^)]*)//g; s/,/ /g'); do
		dpkg -s "$dep" >/dev/null 2>&1 || { echo "Depends: $dep is not an installed package here"; return 1; }
	done
}

@test "deb: dpkg -i / dpkg -r on this host (RCRUN_TEST_SYSTEM_DPKG=1)" {
	[[ ${RCRUN_TEST_SYSTEM_DPKG:-0} == 1 ]] || skip "set RCRUN_TEST_SYSTEM_DPKG=1 (CI machines) for a real install"
	[[ $(id -u) -eq 0 ]] || skip "needs root"
	if dpkg -s rcrun >/dev/null 2>&1 || [[ -e /usr/bin/rcrun ]]; then
		skip "rcrun is already installed on this host"
	fi
	build_deb
	local before
	before=$(dpkg -L rcrun 2>/dev/null || true)
	run dpkg -i "$DEB"
	[[ $status -eq 0 ]] || { echo "$output"; dpkg -r rcrun >/dev/null 2>&1; return 1; }
	local files rc=0
	files=$(dpkg -L rcrun)
	/usr/bin/rcrun --version >/dev/null || rc=1
	run dpkg -r rcrun
	[[ $status -eq 0 ]] || rc=1
	dpkg -P rcrun >/dev/null 2>&1 || true
	local f
	while read -r f; do
		[[ -f $f || -L $f ]] && { echo "left: $f"; rc=1; }
	done <<<"$files"
	[[ -z $before ]]
	return $rc
}
