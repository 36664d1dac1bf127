#!/usr/bin/env python3
"""rcrun benchmarks: rcrun, runc and crun side by side in one run.

Normally started by conformance/bench/run.sh (which sets up the bundle and,
on a hybrid cgroup host, the private mount namespace crun needs); see
docs/benchmarks.md for what each section measures and how to read it.

Every timed section interleaves the runtimes (iteration i runs them in an
order rotated by i), so slow phases of a shared machine hit all of them
alike.  Figures are medians with the 25th-75th percentile spread and p90;
ratios are rcrun's median over the other runtime's median of the same run.
"""

import argparse
import json
import os
import platform
import re
import select
import shutil
import signal
import statistics
import subprocess
import sys
import time

DEVNULL = "/dev/null"


def now_ns():
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


class RuntimeFailed(Exception):
    pass


class Runtime:
    def __init__(self, name, path, root):
        self.name = name
        self.path = path
        self.root = root

    def argv(self, *args):
        return [self.path, "--root", self.root, *args]

    def spawn(self, args, stdout=DEVNULL, stderr_path=None):
        """posix_spawn the runtime with stdio on /dev/null (stderr to a
        file when given): the cheapest way to start a process from Python,
        so the driver adds as little as possible to what is measured."""
        actions = [
            (os.POSIX_SPAWN_OPEN, 0, DEVNULL, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, stdout, os.O_WRONLY, 0),
            (
                os.POSIX_SPAWN_OPEN,
                2,
                stderr_path or DEVNULL,
                os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                0o600,
            ),
        ]
        return os.posix_spawn(self.path, self.argv(*args), os.environ, file_actions=actions)

    def timed(self, errfile, *args):
        """Runs one command; returns its wall time in ns."""
        t0 = now_ns()
        pid = self.spawn(args, stderr_path=errfile)
        _, status = os.waitpid(pid, 0)
        t1 = now_ns()
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            try:
                with open(errfile) as f:
                    err = f.read().strip()
            except OSError:
                err = ""
            raise RuntimeFailed(f"{self.name} {' '.join(args)}: exit {code}: {err}")
        return t1 - t0

    def quiet(self, *args):
        pid = self.spawn(args)
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status)


# ---------------------------------------------------------------- statistics


def pct(xs, p):
    """Percentile by linear interpolation (xs non-empty)."""
    s = sorted(xs)
    if len(s) == 1:
        return s[0]
    k = (len(s) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def summary(xs):
    if not xs:
        return None
    return {
        "n": len(xs),
        "median": statistics.median(xs),
        "p25": pct(xs, 25),
        "p75": pct(xs, 75),
        "p90": pct(xs, 90),
        "p99": pct(xs, 99),
        "min": min(xs),
        "max": max(xs),
    }


# ------------------------------------------------------------------- cgroups


def cgroup_mounts():
    mounts = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            fstype = post.split(" ", 1)[0]
            if fstype in ("cgroup", "cgroup2"):
                mounts.append(pre.split(" ")[4])
    return sorted(set(mounts))


def count_cgroup_dirs(below=""):
    """Directories in every cgroup hierarchy (below /BELOW when given, not
    counting /BELOW itself)."""
    n = 0
    for m in cgroup_mounts():
        for _, dirs, _ in os.walk(os.path.join(m, below)):
            n += len(dirs)
    return n


def cgroup_layout():
    ms = cgroup_mounts()
    v2 = None
    v1 = False
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            fstype = post.split(" ", 1)[0]
            if fstype == "cgroup2":
                v2 = pre.split(" ")[4]
            elif fstype == "cgroup":
                v1 = True
    if v2 == "/sys/fs/cgroup":
        return "v2"
    if v1 and v2:
        return "hybrid"
    if v1:
        return "v1"
    return "none" if not ms else "?"


def memory_cgroup_dir(cgroups_path):
    """(dir, is_v2) of the memory controller for an absolute cgroupsPath."""
    rel = cgroups_path.lstrip("/")
    with open("/proc/self/mountinfo") as f:
        lines = f.read().splitlines()
    for line in lines:
        pre, _, post = line.partition(" - ")
        parts = post.split(" ")
        if parts[0] == "cgroup" and "memory" in parts[2].split(","):
            return os.path.join(pre.split(" ")[4], rel), False
    for line in lines:
        pre, _, post = line.partition(" - ")
        if post.split(" ")[0] == "cgroup2":
            return os.path.join(pre.split(" ")[4], rel), True
    return None, False


def read_oom_kill(d, v2):
    try:
        with open(os.path.join(d, "memory.events" if v2 else "memory.oom_control")) as f:
            for line in f:
                if line.startswith("oom_kill "):
                    return int(line.split()[1])
    except OSError:
        return None
    return 0


# ------------------------------------------------------------------- bundles


def write_bundle(base_config, rootfs, dest, args, cgroups_path, resources=None):
    with open(base_config) as f:
        cfg = json.load(f)
    cfg["root"] = {"path": rootfs, "readonly": True}
    cfg["process"]["args"] = args
    cfg["process"]["terminal"] = False
    cfg["linux"]["cgroupsPath"] = cgroups_path
    if resources:
        cfg["linux"].setdefault("resources", {}).update(resources)
    os.makedirs(dest, exist_ok=True)
    with open(os.path.join(dest, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    return dest


# ------------------------------------------------------------------ sections


class Bench:
    def __init__(self, opts):
        self.o = opts
        self.runtimes = []
        self.results = {"sections": {}}
        self.work = opts.work
        self.errfile = os.path.join(self.work, "stderr.txt")
        self.failures = []
        self.tag = f"rcbench{os.getpid()}"

    def log(self, msg):
        print(f"# {msg}", file=sys.stderr, flush=True)

    def setup(self):
        for spec in self.o.runtime:
            name, _, path = spec.partition("=")
            path = shutil.which(path) or path
            if not (os.path.isfile(path) and os.access(path, os.X_OK)):
                self.log(f"{name}: {path} not found, skipped")
                continue
            root = os.path.join(self.work, "root-" + name)
            os.makedirs(root, exist_ok=True)
            self.runtimes.append(Runtime(name, os.path.realpath(path), root))
        if not self.runtimes:
            raise SystemExit("no runtime to benchmark")

    def bundle(self, rt, kind, args, resources=None):
        return write_bundle(
            self.o.config,
            self.o.rootfs,
            os.path.join(self.work, f"bundle-{kind}-{rt.name}"),
            args,
            f"/{self.tag}/{kind}-{rt.name}",
            resources,
        )

    def order(self, i):
        k = len(self.runtimes)
        return [self.runtimes[(i + j) % k] for j in range(k)]

    # ---- 1/2: create + start + delete -------------------------------------

    def cycle(self, rt, bundle, cid):
        """create + start + delete -f; returns per-phase ns.  `delete -f`
        right after `start`: /bin/true may or may not
        have exited yet; that is how the published anchors were measured
        (youki's benchmark: create && start && delete -f)."""
        c = rt.timed(self.errfile, "create", "--bundle", bundle, cid)
        s = rt.timed(self.errfile, "start", cid)
        d = rt.timed(self.errfile, "delete", "-f", cid)
        return {"create": c, "start": s, "delete": d, "total": c + s + d}

    def lifecycle(self, kind, resources=None):
        bundles = {rt.name: self.bundle(rt, kind, ["/bin/true"], resources) for rt in self.runtimes}
        data = {rt.name: {"create": [], "start": [], "delete": [], "total": []} for rt in self.runtimes}
        n = self.o.warmup + self.o.runs
        for i in range(n):
            for rt in self.order(i):
                try:
                    r = self.cycle(rt, bundles[rt.name], f"{kind}-{i}")
                except RuntimeFailed as e:
                    self.failures.append(str(e))
                    self.log(str(e))
                    rt.quiet("delete", "-f", f"{kind}-{i}")
                    continue
                if i >= self.o.warmup:
                    for k, v in r.items():
                        data[rt.name][k].append(v)
        out = {}
        for name, d in data.items():
            out[name] = {k: summary([x / 1e6 for x in v]) for k, v in d.items()}
        self.results["sections"][kind] = out

    # ---- 3: peak RSS during create ------------------------------------------

    def rss(self):
        """ru_maxrss of `create` through the small C helper (see helper.c):
        the largest of the runtime's own processes that `create` waited for
        (runc's parent/child, rcrun's intermediate), not the container's
        init, which lives on."""
        out = {}
        if not self.o.helper:
            self.log("rss: no helper binary, skipped")
            return
        res_file = os.path.join(self.work, "rss.txt")

        def measure(argv):
            pid = os.posix_spawn(
                self.o.helper,
                [self.o.helper, "rss", res_file, *argv],
                os.environ,
                file_actions=[
                    (os.POSIX_SPAWN_OPEN, 0, DEVNULL, os.O_RDONLY, 0),
                    (os.POSIX_SPAWN_OPEN, 1, DEVNULL, os.O_WRONLY, 0),
                    (os.POSIX_SPAWN_OPEN, 2, self.errfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
                ],
            )
            os.waitpid(pid, 0)
            with open(res_file) as f:
                kib, code = f.read().split()
            return int(kib), int(code)

        floor = [measure(["/bin/true"])[0] for _ in range(3)]
        bundles = {rt.name: self.bundle(rt, "rss", ["/bin/true"]) for rt in self.runtimes}
        data = {rt.name: [] for rt in self.runtimes}
        for i in range(self.o.rss_runs):
            for rt in self.order(i):
                cid = f"rss-{i}"
                kib, code = measure(rt.argv("create", "--bundle", bundles[rt.name], cid))
                if code != 0:
                    with open(self.errfile) as f:
                        self.failures.append(f"{rt.name} create (rss): exit {code}: {f.read().strip()}")
                else:
                    data[rt.name].append(kib)
                rt.quiet("delete", "-f", cid)
        for rt in self.runtimes:
            out[rt.name] = summary(data[rt.name])
        out["_floor_kib"] = min(floor)
        self.results["sections"]["rss"] = out

    # ---- 3: binary size -----------------------------------------------------

    def sizes(self):
        out = {}
        for rt in self.runtimes:
            libs = {}
            try:
                ldd = subprocess.run(["ldd", rt.path], capture_output=True, text=True).stdout
            except OSError:
                ldd = ""
            for m in re.finditer(r"=>\s+(\S+)\s+\(", ldd):
                p = m.group(1)
                base = os.path.basename(p)
                # libc, libm, the loader and friends are on every system.
                if re.match(r"(libc|libm|libdl|libpthread|librt|libgcc_s|ld-linux)[.-]", base):
                    continue
                try:
                    libs[base] = os.path.getsize(os.path.realpath(p))
                except OSError:
                    pass
            out[rt.name] = {
                "path": rt.path,
                "bytes": os.path.getsize(rt.path),
                "extra_libs": libs,
                "bytes_with_libs": os.path.getsize(rt.path) + sum(libs.values()),
            }
        self.results["sections"]["size"] = out

    # ---- 5: OOM kill -> event -----------------------------------------------

    def oom(self):
        """`<rt> events ID` while the container's dd allocates past its
        limit.  A separate thread polls the cgroup's oom_kill counter in a
        tight loop: the kernel kill time is when the counter moves; the
        event time is when the {"type":"oom"} line is read from the pipe
        (both CLOCK_MONOTONIC).  The first kmsg oom-kill record of the run
        gives a second kill time (kmsg timestamps are calibrated against
        CLOCK_MONOTONIC with a marker line written just before)."""
        out = {}
        limit = 128 << 20
        res = {"memory": {"limit": limit}}
        args = ["dd", "if=/dev/zero", "of=/dev/null", "bs=200M", "count=1"]
        with_events = [rt for rt in self.runtimes if rt.name != "crun"]
        for rt in with_events:
            bundle = self.bundle(rt, "oom", args, res)
            lat_poll, lat_kmsg, fails = [], [], 0
            for i in range(self.o.oom_warmup + self.o.oom_runs):
                r = self.oom_once(rt, bundle, f"oom-{i}", f"/{self.tag}/oom-{rt.name}")
                if r is None:
                    fails += 1
                    continue
                if i >= self.o.oom_warmup:
                    if r[0] is not None:
                        lat_poll.append(r[0] / 1e6)
                    if r[1] is not None:
                        lat_kmsg.append(r[1] / 1e6)
            out[rt.name] = {"poll": summary(lat_poll), "kmsg": summary(lat_kmsg), "failed_runs": fails}
            if fails:
                self.failures.append(f"{rt.name}: {fails} OOM runs without an oom event")
        self.results["sections"]["oom"] = out

    def oom_once(self, rt, bundle, cid, cgpath):
        try:
            rt.timed(self.errfile, "create", "--bundle", bundle, cid)
        except RuntimeFailed as e:
            self.log(str(e))
            return None
        memdir, v2 = memory_cgroup_dir(cgpath)
        ev = subprocess.Popen(rt.argv("events", "--interval", "3600s", cid), stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = read_oom_kill(memdir, v2) or 0
        poller = None
        if self.o.helper:
            ctl = os.path.join(memdir, "memory.events" if v2 else "memory.oom_control")
            poller = subprocess.Popen([self.o.helper, "poll", ctl, "oom_kill", str(base)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
            poller.stderr.readline()  # "ready"
        # `events` needs a moment to register its watch; a container that
        # OOMs before that is reported from the counter at exit, not live.
        time.sleep(0.3)
        kmsg = KmsgClock()
        event_at = None
        try:
            rt.timed(self.errfile, "start", cid)
            deadline = time.monotonic() + 10
            buf = b""
            while time.monotonic() < deadline and event_at is None:
                r, _, _ = select.select([ev.stdout], [], [], 0.5)
                if not r:
                    continue
                chunk = os.read(ev.stdout.fileno(), 65536)
                t = now_ns()
                if not chunk:
                    break
                buf += chunk
                if b'"oom"' in buf:
                    event_at = t
        except RuntimeFailed as e:
            self.log(str(e))
        finally:
            ev.kill()
            ev.wait()
            kill_at = None
            if poller:
                try:
                    o, _ = poller.communicate(timeout=2)
                    kill_at = int(o.strip()) if o.strip() else None
                except (subprocess.TimeoutExpired, ValueError):
                    poller.kill()
                    poller.wait()
            rt.quiet("delete", "-f", cid)
        if event_at is None:
            return None
        kk = kmsg.oom_kill_time()
        return (
            event_at - kill_at if kill_at else None,
            event_at - kk if kk else None,
        )

    # ---- 6: churn -------------------------------------------------------------

    def churn(self):
        out = {}
        bundles = {rt.name: self.bundle(rt, "churn", ["/bin/true"]) for rt in self.runtimes}
        for rt in self.runtimes:
            self.rm_parent_cgroups()
            before = count_cgroup_dirs(self.tag)
            host_before = count_cgroup_dirs()
            t0 = now_ns()
            fails = 0
            for i in range(self.o.churn):
                try:
                    self.cycle(rt, bundles[rt.name], f"churn-{i}")
                except RuntimeFailed as e:
                    fails += 1
                    self.log(str(e))
                    rt.quiet("delete", "-f", f"churn-{i}")
            dt = (now_ns() - t0) / 1e9
            # Below the bench's own parent cgroup nothing may be left. The
            # host-wide count is informational: on a shared machine other
            # work makes and removes cgroups meanwhile.
            after = count_cgroup_dirs(self.tag)
            host_after = count_cgroup_dirs()
            left = sorted(os.listdir(rt.root))
            out[rt.name] = {
                "cycles": self.o.churn,
                "seconds": dt,
                "per_second": self.o.churn / dt if dt else None,
                "cgroup_dirs_before": before,
                "cgroup_dirs_after": after,
                "host_cgroup_dirs_before": host_before,
                "host_cgroup_dirs_after": host_after,
                "state_left": left,
                "failed": fails,
            }
            if fails:
                self.failures.append(f"{rt.name}: {fails} churn cycles failed")
            if after != before:
                self.failures.append(f"{rt.name}: cgroup directories {before} -> {after} after churn")
        self.results["sections"]["churn"] = out

    def rm_parent_cgroups(self):
        for m in cgroup_mounts():
            top = os.path.join(m, self.tag)
            for d, _, _ in sorted(os.walk(top), key=lambda t: -t[0].count("/")):
                try:
                    os.rmdir(d)
                except OSError:
                    pass

    # ---- driver -----------------------------------------------------------

    def env(self):
        vers = {}
        for rt in self.runtimes:
            try:
                v = subprocess.run([rt.path, "--version"], capture_output=True, text=True, timeout=10).stdout
                vers[rt.name] = v.strip().splitlines()[0] if v.strip() else "?"
            except (OSError, subprocess.TimeoutExpired):
                vers[rt.name] = "?"
        return {
            "kernel": platform.release(),
            "cgroup_layout": cgroup_layout(),
            "cpus": os.cpu_count(),
            "loadavg": os.getloadavg(),
            "nice": os.nice(0),
            "versions": vers,
            "crun_hybrid_workaround": os.environ.get("RCRUN_BENCH_CRUN_NS", ""),
        }

    def run(self):
        self.setup()
        self.results["env_start"] = self.env()
        self.log(f"runtimes: {', '.join(f'{r.name}={r.path}' for r in self.runtimes)}; layout {self.results['env_start']['cgroup_layout']}")
        for sec in self.o.sections:
            self.log(f"section {sec}")
            t0 = time.monotonic()
            if sec == "lifecycle":
                self.lifecycle("lifecycle")
            elif sec == "resources":
                # docker run -m 128m --cpus 1.5 --pids-limit 100
                self.lifecycle(
                    "resources",
                    {
                        "memory": {"limit": 128 << 20},
                        "cpu": {"quota": 150000, "period": 100000},
                        "pids": {"limit": 100},
                    },
                )
            elif sec == "rss":
                self.rss()
            elif sec == "size":
                self.sizes()
            elif sec == "oom":
                self.oom()
            elif sec == "churn":
                self.churn()
            else:
                raise SystemExit(f"unknown section {sec}")
            self.log(f"section {sec}: {time.monotonic() - t0:.1f}s")
        self.rm_parent_cgroups()
        self.results["env_end"] = {"loadavg": os.getloadavg()}
        self.results["failures"] = self.failures
        self.results["options"] = {
            "runs": self.o.runs,
            "warmup": self.o.warmup,
            "oom_runs": self.o.oom_runs,
            "rss_runs": self.o.rss_runs,
            "churn": self.o.churn,
            "sections": self.o.sections,
        }
        return self.results


class KmsgClock:
    """Reads /dev/kmsg from 'now' on; maps its timestamps (µs of the
    kernel's local clock) to CLOCK_MONOTONIC through a marker record."""

    def __init__(self):
        self.fd = None
        self.offset = None
        try:
            self.fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
            os.lseek(self.fd, 0, os.SEEK_END)
            marker = f"rcrun-bench-mark-{os.getpid()}-{now_ns()}"
            with open("/dev/kmsg", "w") as w:
                t = now_ns()
                w.write(marker + "\n")
            for ts, msg in self.records():
                if marker in msg:
                    self.offset = t - ts
                    break
        except OSError:
            self.fd = None

    def records(self):
        while self.fd is not None:
            try:
                rec = os.read(self.fd, 8192).decode(errors="replace")
            except BlockingIOError:
                return
            except OSError:
                continue  # EPIPE: overwritten records; go on
            head, _, msg = rec.partition(";")
            f = head.split(",")
            if len(f) >= 3:
                yield int(f[2]) * 1000, msg

    def oom_kill_time(self):
        """CLOCK_MONOTONIC ns of the first oom-kill record since creation."""
        if self.offset is None:
            return None
        deadline = time.monotonic() + 1
        while time.monotonic() < deadline:
            for ts, msg in self.records():
                # "Killed process" follows the SIGKILL; the report lines
                # before it ("invoked oom-killer", "oom-kill:constraint")
                # can precede the kill by the console's printing time.
                if "Killed process" in msg:
                    return ts + self.offset
            time.sleep(0.01)
        return None


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runtime", action="append", required=True, help="NAME=PATH (repeat)")
    ap.add_argument("--rootfs", required=True)
    ap.add_argument("--config", required=True, help="base config.json")
    ap.add_argument("--work", required=True)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--oom-runs", type=int, default=30)
    ap.add_argument("--oom-warmup", type=int, default=2)
    ap.add_argument("--churn", type=int, default=10000)
    ap.add_argument("--rss-runs", type=int, default=10)
    ap.add_argument("--helper", default="", help="built helper.c (rss, OOM counter poll)")
    ap.add_argument("--sections", default="size,lifecycle,resources,rss,oom,churn")
    ap.add_argument("--out", required=True, help="results JSON")
    o = ap.parse_args()
    o.sections = [s for s in o.sections.split(",") if s]
    b = Bench(o)
    # a Ctrl-C still cleans up the parent cgroups
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        res = b.run()
    finally:
        b.rm_parent_cgroups()
    with open(o.out, "w") as f:
        json.dump(res, f, indent=1)
    print(render(res))
    if res["failures"]:
        print("FAILURES:\n  " + "\n  ".join(res["failures"]), file=sys.stderr)
        sys.exit(1)


# ------------------------------------------------------------------ report


def fmt(s, key="median", unit=""):
    if not s:
        return "-"
    return f"{s[key]:.1f}{unit}"


def spread(s):
    if not s:
        return "-"
    return f"{s['p25']:.1f}–{s['p75']:.1f}"


def ratio(a, b):
    if not a or not b or not b.get("median"):
        return "-"
    return f"{a['median'] / b['median']:.2f}"


def render(res):
    L = []
    env = res["env_start"]
    secs = res["sections"]
    names = list(env["versions"].keys())
    others = [n for n in names if n != "rcrun"]
    L.append(f"kernel {env['kernel']}, cgroup layout {env['cgroup_layout']}, {env['cpus']} CPUs, "
             f"load average {env['loadavg'][0]:.2f} at start, {res['env_end']['loadavg'][0]:.2f} at end")
    L.append("versions: " + "; ".join(f"{k}: {v}" for k, v in env["versions"].items()))
    if env.get("crun_hybrid_workaround"):
        L.append(f"crun: {env['crun_hybrid_workaround']}")
    o = res["options"]
    L.append(f"runs {o['runs']} (after {o['warmup']} warm-up), OOM runs {o['oom_runs']}, churn {o['churn']}")
    for kind, title in (("lifecycle", "create + start + delete -f of /bin/true"),
                        ("resources", "same, with memory 128 MiB, cpu 1.5 (quota 150000/100000), pids 100")):
        sec = secs.get(kind)
        if not sec:
            continue
        L.append("")
        L.append(f"{title} (ms: median [p25–p75] p90)")
        L.append("")
        L.append("| runtime | create | start | delete | total | p25–p75 | p90 | " + " | ".join(f"rcrun / {n}" for n in others) + " |")
        L.append("|---|---|---|---|---|---|---|" + "---|" * len(others))
        for n in names:
            s = sec.get(n)
            if not s or not s["total"]:
                continue
            cells = [n, fmt(s["create"]), fmt(s["start"]), fmt(s["delete"]), fmt(s["total"]), spread(s["total"]), fmt(s["total"], "p90")]
            if n == "rcrun":
                cells += [ratio(s["total"], sec[x]["total"]) if x in sec else "-" for x in others]
            else:
                cells += ["" for _ in others]
            L.append("| " + " | ".join(cells) + " |")
    sec = secs.get("rss")
    if sec:
        L.append("")
        L.append(f"peak RSS of the runtime during create (ru_maxrss, KiB; floor of the method {sec['_floor_kib']} KiB)")
        L.append("")
        L.append("| runtime | median | min–max | " + " | ".join(f"rcrun / {n}" for n in others) + " |")
        L.append("|---|---|---|" + "---|" * len(others))
        for n in names:
            s = sec.get(n)
            if not s:
                continue
            cells = [n, f"{s['median']:.0f}", f"{s['min']:.0f}–{s['max']:.0f}"]
            cells += ([ratio(s, sec.get(x)) for x in others] if n == "rcrun" else ["" for _ in others])
            L.append("| " + " | ".join(cells) + " |")
    sec = secs.get("size")
    if sec:
        L.append("")
        L.append("binary size")
        L.append("")
        L.append("| runtime | binary (KiB) | + non-libc shared libs (KiB) | libs |")
        L.append("|---|---|---|---|")
        for n in names:
            s = sec.get(n)
            if s:
                L.append(f"| {n} | {s['bytes'] / 1024:.0f} | {s['bytes_with_libs'] / 1024:.0f} | {', '.join(sorted(s['extra_libs'])) or '-'} |")
    sec = secs.get("oom")
    if sec:
        L.append("")
        L.append("OOM kill -> {\"type\":\"oom\"} from `events` (ms: median, p90, p99, max)")
        L.append("")
        L.append("| runtime | from counter poll: median | p90 | p99 | max | from kmsg: median | p99 | runs without event |")
        L.append("|---|---|---|---|---|---|---|---|")
        for n, s in sec.items():
            p, k = s["poll"], s["kmsg"]
            L.append(f"| {n} | {fmt(p)} | {fmt(p, 'p90')} | {fmt(p, 'p99')} | {fmt(p, 'max')} | {fmt(k)} | {fmt(k, 'p99')} | {s['failed_runs']} |")
    sec = secs.get("churn")
    if sec:
        L.append("")
        L.append("churn: create + start + delete -f cycles back to back")
        L.append("")
        L.append("| runtime | cycles | cycles/s | rcrun rate / this | container cgroup dirs before / after | host-wide cgroup dirs before / after | state dirs left | failed |")
        L.append("|---|---|---|---|---|---|---|---|")
        rr = sec.get("rcrun", {}).get("per_second")
        for n, s in sec.items():
            r = f"{rr / s['per_second']:.2f}" if rr and s["per_second"] and not s["failed"] else "-"
            L.append(f"| {n} | {s['cycles']} | {s['per_second']:.1f} | {r} | {s['cgroup_dirs_before']} / {s['cgroup_dirs_after']} | {s['host_cgroup_dirs_before']} / {s['host_cgroup_dirs_after']} | {len(s['state_left'])} | {s['failed']} |")
    return "\n".join(L)


if __name__ == "__main__":
    main()
