#!/usr/bin/env bash
# Regenerate runtime/hot-symbols.txt: the functions of the rcrun binary that
# a container's lifecycle executes, in the order they first run.
#
#   conformance/bench/hot-symbols.sh [RCRUN_BINARY]   (default target/x86_64-unknown-linux-gnu/release/rcrun)
#
# Why: the kernel maps a binary's text into a process 64 KiB (or a whole
# large folio) around every page it faults on, so a process's RSS follows
# how *spread out* the code it runs is, not how much of it runs.  A lifecycle
# runs ~1,100 of rcrun's ~11,000 functions (~1.1 MB of 6.9 MB of text), but
# they are scattered all over it.  runtime/build.rs turns this list into a
# linker script that puts those functions first and together, with every
# crate hash in a name made a wildcard (the names are v0-mangled:
# .cargo/config.toml).  See docs/benchmarks.md, section 3.
#
# How: a uprobe on the entry of every function of a copy of the binary
# (tracefs), then create / start / state / kill / delete / run / exec / ps /
# list / events --stats / pause / resume of busybox containers, with and
# without resource limits.  Names that a later build no longer has match
# nothing, so a stale list costs only RSS; rerun this after
# large changes and commit the result.  Takes ~8 min, most of it at the end:
# disabling each of the ~11,000 uprobe events waits for an RCU grace period.
# Needs root, tracefs, jq, nm.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
repo=$(cd "$here/../.." && pwd -P)
bin=${1:-$repo/target/x86_64-unknown-linux-gnu/release/rcrun}
out=$repo/runtime/hot-symbols.txt
T=/sys/kernel/tracing
[[ -d $T/events ]] || T=/sys/kernel/debug/tracing
[[ -w $T/uprobe_events ]] || { echo "hot-symbols: no writable tracefs uprobe_events" >&2; exit 2; }

# shellcheck source=../lib/bundle.bash
source "$repo/conformance/lib/bundle.bash"
rootfs=$(make_rootfs)

others=$(wc -l <"$T/uprobe_events")
buffer_kb=$(cat "$T/buffer_size_kb")
work=$(mktemp -d "${TMPDIR:-/tmp}/rcrun-hotsym.XXXXXX")
group=rchs$$
cgroot=/rcrun-hotsym-$$
cleanup() {
	echo 0 >"$T/tracing_on" || true
	echo 0 >"$T/events/$group/enable" 2>/dev/null || true
	echo "$buffer_kb" >"$T/buffer_size_kb" || true
	if [[ $others -eq 0 ]]; then
		: >"$T/uprobe_events" || true # only ours: clear them all at once
	else
		grep "^p:$group/" "$T/uprobe_events" 2>/dev/null | sed 's/^p:/-:/; s/ .*//' >"$work/remove" || true
		while IFS= read -r l; do echo "$l" >>"$T/uprobe_events" || true; done <"$work/remove"
	fi
	for d in /sys/fs/cgroup/*"$cgroot" /sys/fs/cgroup"$cgroot"; do
		[[ -d $d ]] && rmdir "$d" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT
cp "$bin" "$work/rcrun"

# One probe per function entry.  File offset = address - text segment's
# vaddr + its file offset.
python3 - "$work" "$group" <<'EOF'
import subprocess, sys
work, group = sys.argv[1], sys.argv[2]
exe = f"{work}/rcrun"
ph = subprocess.run(["readelf", "-lW", exe], capture_output=True, text=True, check=True).stdout
segs = []
for l in ph.splitlines():
    f = l.split()
    if f and f[0] == "LOAD" and "E" in "".join(f[6:-1]):
        segs.append((int(f[2], 16), int(f[1], 16), int(f[4], 16)))
nm = subprocess.run(["nm", "--defined-only", exe], capture_output=True, text=True, check=True).stdout
# LLVM merges identical functions into aliases: one probe per address, and
# every name at a hit address goes into the list (the next build may keep
# another of them).
by_addr = {}
for l in nm.splitlines():
    a, t, n = l.split(" ", 2)
    if t in "tT":
        by_addr.setdefault(int(a, 16), []).append(n)
names, probes = [], []
for a, ns in by_addr.items():
    for va, off, sz in segs:
        if va <= a < va + sz:
            probes.append(f"p:{group}/f{len(names)} {exe}:0x{a - va + off:x}")
            names.append(" ".join(ns))
open(f"{work}/probes", "w").write("\n".join(probes) + "\n")
open(f"{work}/names", "w").write("\n".join(names) + "\n")
EOF
# One write per probe: a long write() may split a line.
while IFS= read -r l; do echo "$l" >>"$T/uprobe_events"; done <"$work/probes"
echo 0 >"$T/tracing_on"
echo 65536 >"$T/buffer_size_kb"
echo 1 >"$T/events/$group/enable"

# rc ARGS: one rcrun command, traced; its events are appended to
# $work/trace and the buffer emptied, so no command's events can overwrite
# another's (a lost event would leave a hot function out).
rc() {
	local st=0 hdr
	echo >"$T/trace"
	echo 1 >"$T/tracing_on"
	"$work/rcrun" --root "$work/state" "$@" </dev/null || st=$?
	echo 0 >"$T/tracing_on"
	hdr=$(grep -m1 'entries-in-buffer/entries-written' "$T/trace")
	[[ $hdr =~ ([0-9]+)/([0-9]+) && ${BASH_REMATCH[1]} == "${BASH_REMATCH[2]}" ]] ||
		{ echo "hot-symbols: trace buffer overran during '$*' ($hdr)" >&2; exit 1; }
	grep -v '^#' "$T/trace" >>"$work/trace"
	return $st
}
bundle() { # bundle NAME ARGS_JSON RESOURCES_JSON
	mkdir -p "$work/$1"
	jq --arg root "$rootfs" --arg cg "$cgroot/$1" --argjson args "$2" --argjson res "$3" \
		'.root = {path: $root, readonly: true} | .process.args = $args | .process.terminal = false
		 | .linux.cgroupsPath = $cg | .linux.resources += $res' \
		"$repo/conformance/lib/config.base.json" >"$work/$1/config.json"
}
limits='{"memory":{"limit":134217728},"cpu":{"quota":150000,"period":100000},"pids":{"limit":100}}'
bundle true '["/bin/true"]' "$limits"
bundle plain '["/bin/true"]' '{}'
bundle sleep '["sleep","30"]' "$limits"
# what docker and containerd add: a seccomp filter
jq '.linux.seccomp = {defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_X86_64"],
	syscalls: [{names: ["kexec_load"], action: "SCMP_ACT_ERRNO", errnoRet: 1}]}' \
	"$work/sleep/config.json" >"$work/sleep/config.json.new" && mv "$work/sleep/config.json.new" "$work/sleep/config.json"

# The benchmark's path first: its functions come first in the list.
rc create --bundle "$work/true" c1 >/dev/null
rc start c1
rc state c1 >/dev/null
rc delete -f c1
rc create --bundle "$work/plain" c2 >/dev/null
rc start c2
rc delete -f c2
rc run --bundle "$work/true" c3 >/dev/null
rc create --bundle "$work/sleep" c4 >/dev/null
rc start c4
rc exec c4 /bin/true
rc ps c4 >/dev/null
rc list >/dev/null
rc events --stats c4 >/dev/null
rc pause c4
rc resume c4
rc update --memory 268435456 c4
rc kill c4 KILL
sleep 0.2
rc delete c4

python3 - "$work" "$out" <<'EOF'
import os, re, subprocess, sys
work, out = sys.argv[1], sys.argv[2]
names = open(f"{work}/names").read().split("\n")
order, seen = [], set()
for l in open(f"{work}/trace"):
    m = re.search(r": f(\d+): \(0x", l)
    if m:
        i = int(m.group(1))
        if i not in seen:
            seen.add(i)
            order.extend(names[i].split(" "))
# A static binary (.cargo/config.toml) runs libc's code too. C objects are
# not built with a section per function, so for those the list names the
# archive member instead ("libc.a:malloc.o"); for a hot ifunc resolver
# (memset_ifunc), the members of all its variants: another CPU picks
# another one.
static = "INTERP" not in subprocess.run(["readelf", "-lW", f"{work}/rcrun"],
                                        capture_output=True, text=True).stdout
if static:
    where, variants = {}, {}
    for lib in ["libc.a", "libm.a", "libgcc_eh.a", "libgcc.a", "libseccomp.a"]:
        path = subprocess.run(["cc", "-print-file-name=" + lib], capture_output=True,
                              text=True).stdout.strip()
        if not os.path.isabs(path):
            continue
        # libm.a is a linker script naming libm-<version>.a
        text = open(path, "rb").read(200)
        m = re.search(rb"GROUP \( *(\S+)", text)
        if m:
            path = m.group(1).decode()
        nm = subprocess.run(["nm", "-A", "--defined-only", path], capture_output=True,
                            text=True).stdout
        for l in nm.splitlines():
            f = l.split()
            if len(f) == 3 and f[1] in "tTWi":
                member = os.path.basename(path) + ":" + f[0].split(":")[-2]
                where.setdefault(f[2], []).append(member)
                v = re.match(r"__(\w+?)_(sse2|ssse3|sse4|avx|evex|erms)", f[2])
                if v:
                    variants.setdefault(v.group(1), []).append(member)
    mapped, seen = [], set()
    for n in order:
        if n.startswith("_R") or n == "main":
            mapped.append(n)
            continue
        # not from an archive (crt1.o's _start): the name itself
        members = list(where.get(n, [n]))
        r = re.match(r"^_*(?:new_|libc_)?(\w+?)_ifunc$", n)
        if r:
            members += variants.get(r.group(1), [])
            if r.group(1) in ("memcpy", "mempcpy"):
                members += variants.get("memmove", [])
        for mem in members:
            if mem not in seen:
                seen.add(mem)
                mapped.append(mem)
    order = mapped
with open(out, "w") as f:
    f.write("\n".join(order) + "\n")
print(f"hot-symbols: {len(order)} entries -> {out}")
EOF
