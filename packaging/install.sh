#!/usr/bin/env bash
# Install rcrun and containerd-shim-rcrun-v2, optionally register them with
# docker and/or containerd.  Run as root from a clone of the repository:
#
#   bash packaging/install.sh                          # build + install
#   bash packaging/install.sh --configure-docker       # + docker runtime "rcrun"
#   bash packaging/install.sh --configure-containerd   # + CRI runtime "rcrun"
#   bash packaging/install.sh --uninstall [--configure-docker|--configure-containerd]
#
# What it does:
#   - builds the workspace (cargo build --release) unless --no-build or
#     --from DIR; the shim is optional: when it does not build or is not
#     there, rcrun alone is installed and the script says what that means;
#   - installs rcrun and containerd-shim-rcrun-v2 into PREFIX/bin (default
#     /usr/local/bin) and shell completions into PREFIX/share; files already
#     identical are left alone (running it twice changes nothing);
#   - never edits a docker or containerd config unless asked; it prints the
#     snippet to add.  With --configure-docker / --configure-containerd it
#     adds (or with --uninstall removes) the "rcrun" runtime, saving the
#     previous file as FILE.rcrun-backup.<timestamp> first, and restarts
#     ONLY the daemon named (unless --no-restart).
#
# Options:
#   --prefix DIR             install under DIR/bin, DIR/share (default /usr/local)
#   --destdir DIR            stage under DIR (packaging; implies --no-restart,
#                            configs are not touched)
#   --from DIR               take the binaries from DIR (no build)
#   --no-build               do not run cargo; use target/release as it is
#   --configure-docker       register rcrun in docker's daemon.json
#   --docker-shim            ... as "runtimeType": "io.containerd.rcrun.v2"
#                            (docker >= 23 + the shim) instead of "path"
#   --configure-containerd   register rcrun in containerd's config.toml
#   --containerd-runc-shim   ... through containerd's runc shim
#                            (BinaryName = rcrun) instead of the rcrun shim
#                            (the default when the shim is not installed)
#   --docker-config FILE     default /etc/docker/daemon.json
#   --containerd-config FILE default /etc/containerd/config.toml
#   --no-restart             do not restart the daemon after a config change
#   --uninstall              remove what install put (and, with
#                            --configure-*, the runtime entry)
#   -h, --help
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)

prefix=/usr/local
destdir=""
from=""
build=1
uninstall=0
conf_docker=0
docker_shim=0
conf_containerd=0
containerd_runc=0
restart=1
docker_config=/etc/docker/daemon.json
containerd_config=/etc/containerd/config.toml

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }
die() { echo "install.sh: $*" >&2; exit 1; }
say() { echo "install.sh: $*"; }

need_arg() { [[ $# -ge 2 && -n $2 ]] || die "$1 needs a value"; }
while [[ $# -gt 0 ]]; do
	case $1 in
	--prefix) need_arg "$@"; prefix=$2; shift 2 ;;
	--destdir) need_arg "$@"; destdir=$2; restart=0; shift 2 ;;
	--from) need_arg "$@"; from=$2; build=0; shift 2 ;;
	--no-build) build=0; shift ;;
	--configure-docker) conf_docker=1; shift ;;
	--docker-shim) docker_shim=1; shift ;;
	--configure-containerd) conf_containerd=1; shift ;;
	--containerd-runc-shim) containerd_runc=1; shift ;;
	--docker-config) need_arg "$@"; docker_config=$2; shift 2 ;;
	--containerd-config) need_arg "$@"; containerd_config=$2; shift 2 ;;
	--no-restart) restart=0; shift ;;
	--uninstall) uninstall=1; shift ;;
	-h | --help) usage; exit 0 ;;
	*) die "unknown option '$1' (see --help)" ;;
	esac
done
[[ $prefix == /* ]] || die "--prefix must be an absolute path (got '$prefix')"
if [[ -n $destdir && ($conf_docker == 1 || $conf_containerd == 1) ]]; then
	die "--destdir stages files for a package: it cannot be combined with --configure-*"
fi

bindir=$destdir$prefix/bin
sharedir=$destdir$prefix/share
# What rcrun is called in configs: its final path, not the staging one.
rcrun_path=$prefix/bin/rcrun
shim_name=containerd-shim-rcrun-v2
files=(
	"$bindir/rcrun"
	"$bindir/$shim_name"
	"$sharedir/bash-completion/completions/rcrun"
	"$sharedir/zsh/vendor-completions/_rcrun"
	"$sharedir/fish/vendor_completions.d/rcrun.fish"
)

# ------------------------------------------------------------- snippets ---
docker_entry() {
	if [[ $docker_shim == 1 ]]; then
		echo '{"runtimeType": "io.containerd.rcrun.v2"}'
	else
		printf '{"path": "%s"}\n' "$rcrun_path"
	fi
}

# containerd_plugin FILE: the CRI plugin's table name for the config format
# of FILE (version 3 = containerd 2.x, else version 2).
containerd_plugin() {
	local v=""
	if [[ -s $1 ]]; then
		v=$(sed -n 's/^[[:space:]]*version[[:space:]]*=[[:space:]]*\([0-9]*\).*/\1/p' "$1" | head -n1)
	elif command -v containerd >/dev/null; then
		[[ $(containerd --version 2>/dev/null) =~ [[:space:]]v?2\.[0-9] ]] && v=3
	fi
	if [[ $v == 3 ]]; then
		echo "plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.rcrun"
	else
		echo 'plugins."io.containerd.grpc.v1.cri".containerd.runtimes.rcrun'
	fi
}

containerd_block() { # FILE
	local t
	t=$(containerd_plugin "$1")
	echo "# BEGIN rcrun (packaging/install.sh; --uninstall --configure-containerd removes it)"
	if [[ $containerd_runc == 1 ]]; then
		echo "[$t]"
		echo '  runtime_type = "io.containerd.runc.v2"'
		echo "  [$t.options]"
		echo "    BinaryName = \"$rcrun_path\""
		echo "    SystemdCgroup = false"
	else
		echo "[$t]"
		echo '  runtime_type = "io.containerd.rcrun.v2"'
		# a custom terminationMessagePath reaches the shim's OOM account
		echo '  container_annotations = ["io.kubernetes.container.terminationMessagePath"]'
	fi
	echo "# END rcrun"
}

print_snippets() {
	echo
	echo "To use rcrun from docker, add to $docker_config (then restart docker):"
	echo "  {\"runtimes\": {\"rcrun\": $(docker_entry)}}"
	echo "  (or run: bash packaging/install.sh --configure-docker)"
	[[ -x $bindir/$shim_name ]] || containerd_runc=1
	echo "To use rcrun from containerd/Kubernetes, add to $containerd_config"
	echo "(then restart containerd; RuntimeClass: packaging/k8s/runtimeclass.yaml):"
	containerd_block "$containerd_config" | grep -v '^# ' | sed 's/^/  /'
	echo "  (or run: bash packaging/install.sh --configure-containerd)"
}

# ------------------------------------------------------------ helpers ---
backup() { # FILE: copy to FILE.rcrun-backup.<timestamp>, print its name
	local b
	b="$1.rcrun-backup.$(date +%Y%m%d-%H%M%S)"
	[[ -e $b ]] && b="$b.$$"
	cp -p "$1" "$b"
	echo "$b"
}

restart_daemon() { # NAME (docker | containerd)
	local name=$1
	if [[ $restart == 0 ]]; then
		say "not restarting $name (--no-restart): restart it for the change to take effect"
		return 0
	fi
	if command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
		if systemctl is-active --quiet "$name"; then
			say "restarting $name (systemctl restart $name)"
			systemctl restart "$name"
		else
			say "$name is not running (systemd unit '$name' inactive): the change applies when it starts"
		fi
	elif command -v service >/dev/null && service "$name" status >/dev/null 2>&1; then
		say "restarting $name (service $name restart)"
		service "$name" restart
	else
		say "could not find a running $name service to restart: restart it yourself"
	fi
}

need_jq() { # editing daemon.json needs jq
	command -v jq >/dev/null || die "editing $docker_config needs jq (apt-get install jq); nothing changed"
}

configure_docker() {
	local entry cur tmp b
	need_jq
	entry=$(docker_entry)
	if [[ $docker_shim == 1 && ! -x $bindir/$shim_name ]]; then
		die "--docker-shim: $bindir/$shim_name is not installed; use the path form (drop --docker-shim)"
	fi
	if [[ -e $docker_config ]]; then
		if [[ -s $docker_config ]] && ! jq -e 'type == "object"' "$docker_config" >/dev/null 2>&1; then
			die "$docker_config is not valid JSON; fix it first (nothing changed)"
		fi
		cur=$(jq -c '.runtimes.rcrun // empty' "$docker_config" 2>/dev/null || true)
		if [[ -n $cur && $(jq -c . <<<"$cur") == $(jq -c . <<<"$entry") ]]; then
			say "$docker_config: runtime rcrun already configured ($cur)"
			return 0
		fi
	fi
	mkdir -p "$(dirname "$docker_config")"
	tmp=$(mktemp "$docker_config.XXXXXX")
	if [[ -s $docker_config ]]; then
		jq --argjson entry "$entry" '.runtimes.rcrun = $entry' "$docker_config" >"$tmp" || { rm -f "$tmp"; die "could not edit $docker_config"; }
		b=$(backup "$docker_config")
		say "saved $docker_config as $b"
	else
		jq -n --argjson entry "$entry" '{runtimes: {rcrun: $entry}}' >"$tmp" || { rm -f "$tmp"; die "could not write $docker_config"; }
	fi
	chmod 0644 "$tmp"
	mv "$tmp" "$docker_config"
	say "$docker_config: added runtime rcrun = $(jq -c . <<<"$entry")"
	say "use it with: docker run --runtime=rcrun -m 128m ..."
	restart_daemon docker
}

unconfigure_docker() {
	local tmp b
	need_jq
	if [[ ! -s $docker_config ]] || [[ -z $(jq -c '.runtimes.rcrun // empty' "$docker_config" 2>/dev/null) ]]; then
		say "$docker_config: no runtime rcrun configured"
		return 0
	fi
	if [[ $(jq -r '."default-runtime" // empty' "$docker_config") == rcrun ]]; then
		die "$docker_config has \"default-runtime\": \"rcrun\"; change that first (nothing changed)"
	fi
	tmp=$(mktemp "$docker_config.XXXXXX")
	jq 'del(.runtimes.rcrun) | if .runtimes == {} then del(.runtimes) else . end' "$docker_config" >"$tmp" || { rm -f "$tmp"; die "could not edit $docker_config"; }
	b=$(backup "$docker_config")
	say "saved $docker_config as $b"
	chmod 0644 "$tmp"
	mv "$tmp" "$docker_config"
	say "$docker_config: removed runtime rcrun"
	restart_daemon docker
}

configure_containerd() {
	local b tmp
	if [[ $containerd_runc == 0 && ! -x $bindir/$shim_name ]]; then
		say "$bindir/$shim_name is not installed: using containerd's runc shim with BinaryName=$rcrun_path instead"
		containerd_runc=1
	fi
	if [[ -e $containerd_config ]] && grep -q '^# BEGIN rcrun' "$containerd_config"; then
		if diff -q <(sed -n '/^# BEGIN rcrun/,/^# END rcrun/p' "$containerd_config") <(containerd_block "$containerd_config") >/dev/null; then
			say "$containerd_config: runtime rcrun already configured"
			return 0
		fi
	elif [[ -e $containerd_config ]] && grep -Eq 'containerd\.runtimes\.("?rcrun"?)\]' "$containerd_config"; then
		die "$containerd_config already defines a runtime 'rcrun' (not added by this script): edit it by hand (nothing changed)"
	fi
	if [[ -e $containerd_config ]] && grep -Eq '^[[:space:]]*version[[:space:]]*=[[:space:]]*1\b' "$containerd_config"; then
		die "$containerd_config is a version 1 config: convert it (containerd config migrate) first (nothing changed)"
	fi
	mkdir -p "$(dirname "$containerd_config")"
	tmp=$(mktemp "$containerd_config.XXXXXX")
	if [[ -s $containerd_config ]]; then
		# drop an older block of ours, then append the current one
		sed '/^# BEGIN rcrun/,/^# END rcrun/d' "$containerd_config" >"$tmp"
		echo >>"$tmp"
		containerd_block "$containerd_config" >>"$tmp"
		b=$(backup "$containerd_config")
		say "saved $containerd_config as $b"
	else
		local v=2
		[[ $(containerd_plugin "$containerd_config") == *cri.v1.runtime* ]] && v=3
		{ echo "version = $v"; echo; containerd_block "$containerd_config"; } >"$tmp"
	fi
	chmod 0644 "$tmp"
	mv "$tmp" "$containerd_config"
	say "$containerd_config: added runtime rcrun ($([[ $containerd_runc == 1 ]] && echo "runc shim, BinaryName=$rcrun_path" || echo "runtime_type io.containerd.rcrun.v2"))"
	say "Kubernetes: kubectl apply -f packaging/k8s/runtimeclass.yaml, then runtimeClassName: rcrun"
	say "ctr: ctr run --runtime $([[ $containerd_runc == 1 ]] && echo "io.containerd.runc.v2 --runc-binary $rcrun_path" || echo io.containerd.rcrun.v2) IMAGE ID"
	restart_daemon containerd
}

unconfigure_containerd() {
	local b tmp
	if [[ ! -e $containerd_config ]] || ! grep -q '^# BEGIN rcrun' "$containerd_config"; then
		if [[ -e $containerd_config ]] && grep -Eq 'containerd\.runtimes\.("?rcrun"?)\]' "$containerd_config"; then
			say "$containerd_config defines a runtime 'rcrun' this script did not add: remove it by hand"
		else
			say "$containerd_config: no runtime rcrun configured"
		fi
		return 0
	fi
	tmp=$(mktemp "$containerd_config.XXXXXX")
	# the block and the blank line before it
	awk '/^# BEGIN rcrun/{skip=1} !skip{lines[n++]=$0} /^# END rcrun/{skip=0} END{
		while (n > 0 && lines[n-1] == "") n--; for (i = 0; i < n; i++) print lines[i] }' "$containerd_config" >"$tmp"
	b=$(backup "$containerd_config")
	say "saved $containerd_config as $b"
	chmod 0644 "$tmp"
	mv "$tmp" "$containerd_config"
	say "$containerd_config: removed runtime rcrun"
	restart_daemon containerd
}

# --------------------------------------------------------------- files ---
put() { # SRC DEST MODE: install unless identical
	local src=$1 dest=$2 mode=$3
	if [[ -f $dest ]] && cmp -s "$src" "$dest"; then
		say "$dest is up to date"
		return 0
	fi
	mkdir -p "$(dirname "$dest")"
	# install(1) writes a new inode: a running rcrun keeps its old file
	install -m "$mode" "$src" "$dest.rcrun-new"
	mv -f "$dest.rcrun-new" "$dest"
	say "installed $dest"
}

build_binaries() {
	local cargo
	cargo=$(command -v cargo || true)
	[[ -z $cargo && -x $HOME/.cargo/bin/cargo ]] && cargo=$HOME/.cargo/bin/cargo
	if [[ -z $cargo ]]; then
		if [[ -x $repo/target/release/rcrun ]]; then
			say "cargo not found: installing the binaries already in $repo/target/release"
			return 0
		fi
		die "cargo not found and $repo/target/release/rcrun does not exist: install Rust (https://rustup.rs) or run conformance/install-deps.sh, or pass --from DIR"
	fi
	say "building rcrun (cargo build --release -p rcrun)"
	(cd "$repo" && "$cargo" build --release -p rcrun) || die "cargo build of rcrun failed (see above)"
	say "building the shim (cargo build --release -p $shim_name)"
	if ! (cd "$repo" && "$cargo" build --release -p "$shim_name"); then
		say "WARNING: the shim did not build; installing rcrun only (see 'shim' below)"
		SHIM_BUILD_FAILED=1
	fi
}

do_install() {
	local src_dir bin
	if [[ -n $from ]]; then
		src_dir=$from
	else
		src_dir=$repo/target/release
		[[ $build == 1 ]] && build_binaries
	fi
	[[ -x $src_dir/rcrun ]] || die "$src_dir/rcrun not found (build with: cargo build --release)"
	bin=$src_dir/rcrun
	"$bin" --version >/dev/null 2>&1 || die "$bin --version failed: is it a working build for this machine?"
	put "$bin" "$bindir/rcrun" 0755
	if [[ -x $src_dir/$shim_name ]] && [[ -z ${SHIM_BUILD_FAILED:-} ]]; then
		put "$src_dir/$shim_name" "$bindir/$shim_name" 0755
	else
		if [[ -e $bindir/$shim_name ]]; then
			say "shim: $src_dir/$shim_name not available; keeping the installed $bindir/$shim_name"
		else
			say "shim: $src_dir/$shim_name not available, NOT installed."
			say "      docker (\"path\" form) and containerd's runc shim (BinaryName) work without it;"
			say "      runtime_type io.containerd.rcrun.v2 / docker \"runtimeType\" need it."
		fi
	fi
	local tmp sh
	tmp=$(mktemp -d)
	for sh in bash zsh fish; do
		"$bin" completion "$sh" >"$tmp/$sh" 2>/dev/null || { rm -rf "$tmp"; die "$bin completion $sh failed"; }
	done
	put "$tmp/bash" "$sharedir/bash-completion/completions/rcrun" 0644
	put "$tmp/zsh" "$sharedir/zsh/vendor-completions/_rcrun" 0644
	put "$tmp/fish" "$sharedir/fish/vendor_completions.d/rcrun.fish" 0644
	rm -rf "$tmp"
	say "$("$bindir/rcrun" --version | head -n1) installed in $bindir"
}

do_uninstall() {
	local f d removed=0
	for f in "${files[@]}"; do
		if [[ -e $f || -L $f ]]; then
			rm -f "$f"
			say "removed $f"
			removed=1
		fi
	done
	# directories we may have created, only when empty
	for d in "$sharedir/bash-completion/completions" "$sharedir/bash-completion" \
		"$sharedir/zsh/vendor-completions" "$sharedir/zsh" \
		"$sharedir/fish/vendor_completions.d" "$sharedir/fish"; do
		[[ -d $d ]] && rmdir --ignore-fail-on-non-empty "$d" 2>/dev/null
	done
	[[ $removed == 1 ]] || say "nothing to remove in $bindir"
}

# ---------------------------------------------------------------- main ---
if [[ -z $destdir ]]; then
	mkdir -p "$bindir" 2>/dev/null || true
	[[ -w $bindir ]] || die "$bindir is not writable: run as root (sudo bash packaging/install.sh ...)"
fi

if [[ $uninstall == 1 ]]; then
	[[ $conf_docker == 1 ]] && unconfigure_docker
	[[ $conf_containerd == 1 ]] && unconfigure_containerd
	do_uninstall
	if [[ $conf_docker == 0 && -s $docker_config ]] && grep -q '"rcrun"' "$docker_config" 2>/dev/null; then
		say "note: $docker_config still names rcrun (remove with --uninstall --configure-docker)"
	fi
	if [[ $conf_containerd == 0 && -s $containerd_config ]] && grep -q 'runtimes.rcrun' "$containerd_config" 2>/dev/null; then
		say "note: $containerd_config still names rcrun (remove with --uninstall --configure-containerd)"
	fi
	exit 0
fi

do_install
[[ $conf_docker == 1 ]] && configure_docker
[[ $conf_containerd == 1 ]] && configure_containerd
if [[ $conf_docker == 0 && $conf_containerd == 0 && -z $destdir ]]; then
	print_snippets
fi
exit 0
