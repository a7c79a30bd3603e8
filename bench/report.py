#!/usr/bin/env python3
"""Renders nslab_bench results: docs/bench/results.md, docs/bench/chart.svg, and a PASS/MISS line per target.

    bench/report.py --results docs/bench/results.json [--catalogue docs/bench/catalogue.json]
                    [--run-info docs/bench/run_info.json] [--notes docs/bench/findings.md] --out docs/bench

Statistics, per benchmark, over its repetitions (Google Benchmark "iteration" entries):
  median = median of the per-repetition medians (counter p50_us, every iteration timed),
  p90    = median of the per-repetition 90th percentiles (counter p90_us),
  mean   = median of the per-repetition means (Google Benchmark's time).
Every ratio uses the medians of this one run. Exit status: 0 even when a target is missed (this
script reports); 1 when the results are unusable (missing file, a benchmark the targets need failed).
Standard library only.
"""
import argparse
import json
import math
import os
import re
import statistics
import sys

KINDS = ["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"]
CHART_GROUPS = ["none"] + KINDS + ["all"]
SERIES = [  # (label, family, colour)
    ("raw clone3 → exit → wait", "BM_Clone3", "#4c72b0"),
    ("nslab realm start", "BM_NslabRealmStart", "#dd8452"),
    ("unshare(1)", "BM_UnshareCmd", "#55a868"),
    ("bwrap", "BM_Bwrap", "#c44e52"),
]
REALM_VS_CLONE3 = 1.25
REALM_VS_UNSHARE = 3.0
PROBE_LIMIT_US = 20.0
CATALOGUE_LIMIT_S = 2.0
ROOT_COST_LIMIT = 0.10  # issue #14: the copy-on-write lab root, relative to `--lab-root host`


class Bench:
    def __init__(self, name):
        self.name = name
        self.reps = []  # iteration entries
        self.error = None

    def _med(self, key):
        vals = [r[key] for r in self.reps if key in r]
        return statistics.median(vals) if vals else None

    @property
    def ok(self):
        return self.error is None and bool(self.reps)

    @property
    def median(self):
        return self._med("p50_us") if self.ok else None

    @property
    def p90(self):
        return self._med("p90_us") if self.ok else None

    @property
    def mean(self):
        return self._med("real_time") if self.ok else None

    def counter(self, key):
        return self._med(key) if self.ok else None

    @property
    def spread(self):
        """min..max of the per-repetition medians, as a check on noise between repetitions."""
        vals = [r["p50_us"] for r in self.reps if "p50_us" in r]
        return (min(vals), max(vals)) if vals else None


def short_name(gb_name):
    """BM_Setns/user/iterations:300/manual_time -> BM_Setns/user"""
    gb_name = re.sub(r"/(iterations|threads):\d+", "", gb_name)
    for suffix in ("/manual_time", "/real_time"):
        gb_name = gb_name.replace(suffix, "")
    return gb_name


def load_benchmarks(path):
    with open(path) as f:
        data = json.load(f)
    benches = {}
    for entry in data.get("benchmarks", []):
        if entry.get("run_type") != "iteration":
            continue
        name = short_name(entry["run_name"])
        b = benches.setdefault(name, Bench(name))
        if entry.get("error_occurred"):
            b.error = entry.get("error_message", "error")
            continue
        b.reps.append(entry)
    return data.get("context", {}), benches


def fmt_us(v):
    if v is None:
        return "—"
    if v >= 1000:
        return f"{v / 1000:.2f} ms"
    if v >= 100:
        return f"{v:.0f} µs"
    if v >= 10:
        return f"{v:.1f} µs"
    return f"{v:.2f} µs"


def fmt_axis(v):
    """Axis labels: 100 µs, 1 ms, 2 ms, 10 ms."""
    if v >= 1000:
        return f"{v / 1000:g} ms"
    return f"{v:g} µs"


def fmt_ratio(v):
    return "—" if v is None else f"{v:.2f}×"


def get(benches, name):
    return benches.get(name) or Bench(name)


# ---- targets -------------------------------------------------------------------------------

class Target:
    def __init__(self, key, text):
        self.key, self.text = key, text
        self.status = None  # "PASS" / "MISS" / "N/A"
        self.value = ""
        self.details = []  # (label, value text, status)

    def line(self):
        return f"{self.status:4}  {self.text}: {self.value}"


def evaluate(benches, catalogue):
    targets = []

    t = Target("realm_vs_clone3", f"nslab realm start ≤ {REALM_VS_CLONE3} × raw clone3 of the same flags")
    worst, misses, n = None, [], 0
    for k in ["none"] + KINDS + ["all"]:
        r, c = get(benches, f"BM_NslabRealmStart/{k}"), get(benches, f"BM_Clone3/{k}")
        if not (r.ok and c.ok):
            continue
        ratio = r.median / c.median
        n += 1
        st = "PASS" if ratio <= REALM_VS_CLONE3 else "MISS"
        if st == "MISS":
            misses.append(k)
        worst = ratio if worst is None else max(worst, ratio)
        t.details.append((k, f"{fmt_us(r.median)} / {fmt_us(c.median)} = {fmt_ratio(ratio)}", st))
    if n == 0:
        t.status, t.value = "N/A", "no data"
    else:
        t.status = "MISS" if misses else "PASS"
        t.value = f"worst {fmt_ratio(worst)}; {n - len(misses)}/{n} variants within" + (
            f" (over: {', '.join(misses)})" if misses else "")
    r, c = get(benches, "BM_NslabRealmStart/uts_1cpu"), get(benches, "BM_Clone3/uts_1cpu")
    if r.ok and c.ok:
        ratio = r.median / c.median
        t.details.append(("uts, every process on one CPU (for information)",
                          f"{fmt_us(r.median)} / {fmt_us(c.median)} = {fmt_ratio(ratio)}",
                          "(PASS)" if ratio <= REALM_VS_CLONE3 else "(MISS)"))
    targets.append(t)

    t = Target("realm_vs_unshare", f"nslab realm start ≥ {REALM_VS_UNSHARE:g}× faster than unshare(1), same namespaces")
    worst, misses, n = None, [], 0
    for k in ["none"] + KINDS + ["all"]:
        r, u = get(benches, f"BM_NslabRealmStart/{k}"), get(benches, f"BM_UnshareCmd/{k}")
        if not (r.ok and u.ok):
            continue
        speedup = u.median / r.median
        n += 1
        st = "PASS" if speedup >= REALM_VS_UNSHARE else "MISS"
        if st == "MISS":
            misses.append(k)
        worst = speedup if worst is None else min(worst, speedup)
        text = f"{fmt_us(u.median)} / {fmt_us(r.median)} = {fmt_ratio(speedup)} faster"
        c = get(benches, f"BM_Clone3/{k}")
        if st == "MISS" and c.ok:
            # A realm cannot start faster than the kernel creates its namespaces: the clone3 floor
            # bounds the speed-up any launcher can reach over unshare(1).
            text += f" (the clone3 floor, {fmt_us(c.median)}, allows at most {fmt_ratio(u.median / c.median)})"
        t.details.append((k, text, st))
    if n == 0:
        t.status, t.value = "N/A", "no data (unshare(1) missing?)"
    else:
        t.status = "MISS" if misses else "PASS"
        t.value = f"least speed-up {fmt_ratio(worst)}; {n - len(misses)}/{n} variants at ≥ {REALM_VS_UNSHARE:g}×" + (
            f" (under: {', '.join(misses)})" if misses else "")
    targets.append(t)

    t = Target("realm_vs_bwrap", "nslab realm start (all kinds) faster than bwrap --unshare-all")
    r, b = get(benches, "BM_NslabRealmStart/all"), get(benches, "BM_Bwrap/all")
    if r.ok and b.ok:
        speedup = b.median / r.median
        t.status = "PASS" if speedup > 1 else "MISS"
        t.value = f"{fmt_us(r.median)} vs {fmt_us(b.median)}: {fmt_ratio(speedup)} faster"
    else:
        t.status, t.value = "N/A", (b.error or r.error or "no data")
    targets.append(t)

    t = Target("probe", f"probe round-trip < {PROBE_LIMIT_US:g} µs median")
    p = get(benches, "BM_NslabProbe/realm")
    pl = get(benches, "BM_NslabProbe/lab")
    if p.ok:
        t.status = "PASS" if p.median < PROBE_LIMIT_US else "MISS"
        t.value = f"{fmt_us(p.median)} median, {fmt_us(p.p90)} p90 (realm); {fmt_us(pl.median)} (lab)"
        p1, raw = get(benches, "BM_NslabProbe/realm_1cpu"), get(benches, "BM_PingPong/raw")
        if raw.ok:
            t.value += (f"; a bare socket round trip between two processes that sleep while they wait "
                        f"(no polling): {fmt_us(raw.median)}")
        if p1.ok:
            t.value += (f"; all on one CPU: {fmt_us(p1.median)} "
                        f"({'PASS' if p1.median < PROBE_LIMIT_US else 'MISS'} there)")
    else:
        t.status, t.value = "N/A", p.error or "no data"
    targets.append(t)

    t = Target("catalogue", f"whole catalogue via `nslab run -j 2` < {CATALOGUE_LIMIT_S:g} s wall")
    if catalogue and catalogue.get("runs"):
        walls = [r["wall_s"] for r in catalogue["runs"]]
        med = statistics.median(walls)
        n_exp = catalogue.get("experiments", 0)
        t.status = "PASS" if med < CATALOGUE_LIMIT_S else "MISS"
        t.value = (f"{med:.2f} s median of {len(walls)} runs ({min(walls):.2f}–{max(walls):.2f} s), "
                   f"{n_exp} experiments, {n_exp / med:.1f} experiments/s")
        if catalogue.get("excluded"):
            t.value = (f"partial catalogue, {', '.join(catalogue['excluded'])} left out (does not load at this "
                       f"commit): " + t.value)
        bad = [r for r in catalogue["runs"] if r.get("status") != 0]
        if bad:
            why = bad[0].get("summary") or "status " + str(bad[0].get("status"))
            first = (bad[0].get("not_passed") or "").strip().splitlines()
            t.value += f"; {len(bad)} run(s) exited non-zero ({why}" + (f"; first: {first[0][:120]}" if first else "") + ")"
    elif catalogue and catalogue.get("load_error"):
        t.status, t.value = "N/A", "the catalogue does not load: " + catalogue["load_error"].splitlines()[0][:200]
    else:
        t.status, t.value = "N/A", "not measured"
    targets.append(t)

    # Issue #14: each lab's copy-on-write root may cost the catalogue at most 10 % of its wall.
    t = Target("lab root", f"copy-on-write lab root costs the catalogue ≤ {ROOT_COST_LIMIT:.0%} (vs `--lab-root host`)")
    root = (catalogue or {}).get("lab_root") or {}
    if root.get("overlay_runs") and root.get("host_runs"):
        cow = statistics.median(r["wall_s"] for r in root["overlay_runs"])
        host = statistics.median(r["wall_s"] for r in root["host_runs"])
        extra = cow / host - 1
        t.status = "PASS" if extra <= ROOT_COST_LIMIT else "MISS"
        t.value = (f"{cow:.2f} s vs {host:.2f} s median ({extra:+.1%}) over the {root.get('experiments')} experiments "
                   f"that run either way")
        lab, lab_host = get(benches, "BM_NslabLabStart"), get(benches, "BM_NslabLabStart/host_root")
        if lab and lab_host and lab.median and lab_host.median:
            t.value += f"; one lab's start + teardown {fmt_us(lab.median)} vs {fmt_us(lab_host.median)}"
    else:
        t.status, t.value = "N/A", "not measured (no `--lab-root host` runs)"
    targets.append(t)
    return targets


def catalogue_breakdown(catalogue, run, benches):
    """Lines that say where the wall time of `nslab run -j 2 suites` goes."""
    lines = []
    if not catalogue.get("runs"):
        return lines
    wall = statistics.median(r["wall_s"] for r in catalogue["runs"])
    cli = catalogue.get("cli_fixed_s")
    if cli is not None:
        lines.append(f"`nslab run` with no experiment to run (process start, loading and checking every suite): "
                     f"{cli * 1000:.0f} ms of the {wall * 1000:.0f} ms median wall time")
    if not run or not run.get("experiments"):
        return lines
    exps = run["experiments"]
    durs = sorted(e.get("duration_ms", 0) for e in exps)
    total = sum(durs)
    lines.append(f"{len(exps)} experiments: sum of their durations {total:.0f} ms on 2 workers "
                 f"(≥ {total / 2:.0f} ms of wall time if perfectly shared); per experiment median "
                 f"{statistics.median(durs):.1f} ms, max {durs[-1]:.1f} ms")
    med = statistics.median(durs)
    long_ones = sorted((e for e in exps if e.get("duration_ms", 0) > max(200.0, 10 * med)),
                       key=lambda e: -e["duration_ms"])
    if long_ones:
        lsum = sum(e["duration_ms"] for e in long_ones)
        lines.append(f"{len(long_ones)} experiments take over 10× the median and {lsum:.0f} ms together "
                     f"({100 * lsum / total:.0f}% of the summed time), mostly waiting rather than computing: "
                     + ", ".join(f"{e['full_name']} {e['duration_ms']:.0f} ms" for e in long_ones[:8])
                     + f". On 2 workers they alone need ≥ {max(lsum / 2, long_ones[0]['duration_ms']):.0f} ms")
        rest = [d for d in durs if d <= max(200.0, 10 * med)]
        lines.append(f"the other {len(rest)} experiments: {sum(rest):.0f} ms summed, {statistics.median(rest):.1f} ms "
                     f"median each")
    other = catalogue.get("other_jobs_wall_s") or {}
    if other:
        lines.append("the same catalogue with more workers (one run each): " +
                     ", ".join(f"-j {j}: {w:.2f} s" for j, w in sorted(other.items(), key=lambda kv: int(kv[0]))))
    # Where each experiment's own time went, as the runner timed it (--format json: phases_ms).
    names = [("lab", "waiting for its lab"), ("realms", "starting realms and checking their namespaces"),
             ("steps", "steps (actions, `run:` commands)"), ("expect", "probing the expectations"),
             ("teardown", "handing the lab to the reaper")]
    sums = {k: sum((e.get("phases_ms") or {}).get(k, 0) for e in exps) for k, _ in names}
    if any(sums.values()):
        lines.append("the summed experiment time by phase (`phases_ms` of the JSON report): " +
                     "; ".join(f"{label} {sums[k]:.0f} ms ({100 * sums[k] / total:.0f}%)" for k, label in names))
    lab = get(benches, "BM_NslabLabStart")
    if lab.ok:
        start, teardown = lab.counter("start_us"), lab.counter("teardown_us")
        per = (start or 0) + (teardown or 0)
        lines.append(f"labs are started ahead by a factory thread and ended by a reaper thread, beside the experiments: "
                     f"one lab's start + teardown alone (BM_NslabLabStart) takes {per / 1000:.2f} ms "
                     f"(start {fmt_us(start)}, teardown {fmt_us(teardown)}), {len(exps) * per / 1000:.0f} ms for the "
                     f"catalogue, on the CPUs the experiments share")
    realms = 0
    for e in exps:
        realms += len([v for v in e.get("vantages", []) if v != "host"])
    rs = get(benches, "BM_NslabRealmStart/uts")
    if rs.ok and realms:
        lines.append(f"{realms} realms in all; at the uts realm start median ({fmt_us(rs.median)}) that is "
                     f"{realms * rs.median / 1000:.0f} ms")
    return lines


# ---- the chart -----------------------------------------------------------------------------

def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_svg(benches, context, run_info):
    groups = [g for g in CHART_GROUPS if any(get(benches, f"{fam}/{g}").ok for _, fam, _ in SERIES)]
    vals = [get(benches, f"{fam}/{g}") for g in groups for _, fam, _ in SERIES]
    ys = [v for b in vals if b.ok for v in (b.median, b.p90) if v]
    if not ys:
        return "<svg xmlns='http://www.w3.org/2000/svg' width='400' height='60'><text x='10' y='30'>no data</text></svg>"
    lo = 10 ** math.floor(math.log10(min(ys)))
    hi = 10 ** math.ceil(math.log10(max(ys)))
    W, H = 1100, 560
    left, right, top, bottom = 80, 20, 70, 95
    pw, ph = W - left - right, H - top - bottom

    def y_of(v):
        return top + ph - (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)) * ph

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
           f'font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">',
           f'<rect x="0" y="0" width="{W}" height="{H}" fill="white"/>']
    load = (run_info or {}).get("load_during", "")
    title = "Starting a process in new namespaces: kernel floor, nslab realm, unshare(1), bwrap"
    sub = (f"median per start (bar) and p90 (whisker), log scale; {context.get('kernel', '?')}, "
           f"{context.get('nproc', '?')} CPUs {context.get('cpu_model', '')}" + (f", load {load}" if load else ""))
    out.append(f'<text x="{W / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">{esc(title)}</text>')
    out.append(f'<text x="{W / 2}" y="44" text-anchor="middle" fill="#444">{esc(sub)}</text>')
    # grid and y axis (decades, with 2x and 5x minor lines)
    d = lo
    while d <= hi * 1.0001:
        y = y_of(d)
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{W - right}" y2="{y:.1f}" stroke="#bbb"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{esc(fmt_axis(d))}</text>')
        for m in (2, 5):
            if d * m < hi:
                ym = y_of(d * m)
                out.append(f'<line x1="{left}" y1="{ym:.1f}" x2="{W - right}" y2="{ym:.1f}" stroke="#eee"/>')
                out.append(f'<text x="{left - 6}" y="{ym + 4:.1f}" text-anchor="end" fill="#888" font-size="10">'
                           f'{esc(fmt_axis(d * m))}</text>')
        d *= 10
    out.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + ph}" stroke="black"/>')
    out.append(f'<line x1="{left}" y1="{top + ph}" x2="{W - right}" y2="{top + ph}" stroke="black"/>')
    out.append(f'<text transform="translate(18,{top + ph / 2}) rotate(-90)" text-anchor="middle" font-size="13">'
               f'time per start (log scale)</text>')
    out.append(f'<text x="{left + pw / 2}" y="{H - 40}" text-anchor="middle" font-size="13">'
               f'new namespaces (none = a plain process; all = every kind at once)</text>')
    gw = pw / len(groups)
    bw = gw * 0.8 / len(SERIES)
    for gi, g in enumerate(groups):
        gx = left + gi * gw + gw * 0.1
        out.append(f'<text x="{left + gi * gw + gw / 2:.1f}" y="{top + ph + 18}" text-anchor="middle" '
                   f'font-size="13">{esc(g)}</text>')
        for si, (label, fam, colour) in enumerate(SERIES):
            b = get(benches, f"{fam}/{g}")
            x = gx + si * bw
            if not b.ok:
                out.append(f'<text x="{x + bw / 2:.1f}" y="{top + ph - 4}" text-anchor="middle" fill="#999" '
                           f'font-size="9">n/a</text>')
                continue
            y = y_of(max(b.median, lo))
            out.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bw - 2:.1f}" height="{top + ph - y:.1f}" fill="{colour}">'
                       f'<title>{esc(label)}, {esc(g)}: median {esc(fmt_us(b.median))}, p90 {esc(fmt_us(b.p90))}</title></rect>')
            if b.p90 and b.p90 > b.median:
                cx, yp = x + (bw - 2) / 2, y_of(b.p90)
                out.append(f'<line x1="{cx:.1f}" y1="{y:.1f}" x2="{cx:.1f}" y2="{yp:.1f}" stroke="black"/>')
                out.append(f'<line x1="{cx - 3:.1f}" y1="{yp:.1f}" x2="{cx + 3:.1f}" y2="{yp:.1f}" stroke="black"/>')
    # legend, below the x axis label
    lx = left
    for label, _, colour in SERIES:
        out.append(f'<rect x="{lx}" y="{H - 24}" width="14" height="14" fill="{colour}"/>')
        out.append(f'<text x="{lx + 20}" y="{H - 12}" font-size="13">{esc(label)}</text>')
        lx += 40 + 8 * len(label)
    out.append(f'<text x="{W - right}" y="{H - 12}" text-anchor="end" fill="#666" font-size="11">'
               f'whisker: p90 · n/a: not measurable (bwrap has no time or "none")</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


# ---- the Markdown --------------------------------------------------------------------------

FAMILY_DOC = [
    ("BM_Clone3", "clone3(CLONE_NEW*) → child `_exit` → `waitpid`, from the benchmark process (the floor)"),
    ("BM_Unshare", "`unshare()` in a loop in a forked helper (pid and all: one per fresh process; user: batches of 30 with id maps between)"),
    ("BM_NsCreate", "clone3 of a holder child, until it runs (counter clone3_us: the syscall alone)"),
    ("BM_NsRelease", "SIGKILL + `waitpid` of that holder: the synchronous part of the teardown"),
    ("BM_Setns", "`setns()` into an existing namespace in a forked helper; all_pidfd: one pidfd, every flag"),
    ("BM_Clone3x2", "two threads each running the BM_Clone3 loop: time is per start across both (throughput), p50/p90 per start"),
    ("BM_NestedPid", "clone3(CLONE_NEWPID) → exit → wait from a process at PID-namespace depth N−1"),
    ("BM_NestedUser", "clone3(CLONE_NEWUSER) → exit → wait from a process at user-namespace depth N−1"),
    ("BM_MntCopy", "clone3(CLONE_NEWNS) → exit → wait with N extra tmpfs mounts to copy (clone3_us: the copy)"),
    ("BM_NslabRealmStart", "built-in launcher `start()` inside a lab, until the realm's hello"),
    ("BM_NslabLabStart", "`launch::start_lab` + teardown (start_us / teardown_us split it); /host_root: `--lab-root host`"),
    ("BM_NslabAgentExec", "posix_spawn of nslab-agent that exits at once: exec + dynamic loading"),
    ("BM_NslabProbe", "one `client.call(\"hostname\")` round-trip to the lab's / a realm's agent (both sides poll 50 µs before sleeping)"),
    ("BM_NslabExperiment", "`runner::run_experiment` of the README's hostname experiment (lab, 2 realms, 2 steps, 3 probes)"),
    ("BM_UnshareCmd", "`unshare --<kind> true` (pid: `--fork`), posix_spawn + waitpid"),
    ("BM_Bwrap", "`bwrap --unshare-<kind> --dev-bind / / true` (all: `--unshare-all`)"),
]

SHOWN_COUNTERS = ["clone3_us", "create_us", "release_us", "start_us", "teardown_us", "spawn_reply_us", "hello_us",
                  "child_cpu_us", "mounts"]


def family_of(name):
    return name.split("/")[0]


def render_md(benches, context, targets, catalogue, run_info, notes, command):
    L = []
    L.append("# nslab benchmarks")
    L.append("")
    L.append("Generated by `bench/report.py` from `results.json` (Google Benchmark) and `catalogue.json`; "
             "the chart is [chart.svg](chart.svg). Made by:")
    L.append("")
    L.append("```sh")
    L.append(command)
    L.append("```")
    L.append("")
    ri = run_info or {}
    L.append("## Machine and run")
    L.append("")
    L.append("| | |")
    L.append("|---|---|")
    rows = [
        ("kernel (`uname -r`)", context.get("kernel", ri.get("kernel", "?"))),
        ("CPUs (`nproc`)", context.get("nproc", "?")),
        ("CPU model", context.get("cpu_model", "?") + (f" @ {context.get('mhz_per_cpu')} MHz" if context.get("mhz_per_cpu") else "")),
        ("memory", context.get("mem_total", "?")),
        ("mounts in the benchmark's namespace", context.get("mounts", "?")),
        ("date", context.get("date", "?")),
        ("load average before (1/5/15 min)", ri.get("load_before", "?")),
        ("load average when the benchmarks started", " ".join(context.get("loadavg_at_start", "?").split()[:3])),
        ("load average after", ri.get("load_after", "?")),
        ("waited for load", ri.get("load_wait", "?")),
        ("repetitions × min time", f"{ri.get('repetitions', '?')} × {ri.get('min_time', '?')} s"),
        ("nslab commit", ri.get("commit", "?")),
        ("Google Benchmark library", f"{context.get('library_build_type', '?')} build (Debian's libbenchmark-dev; "
                                     "it only times, so its build type does not change the numbers)"),
    ]
    for k, v in rows:
        L.append(f"| {k} | {v} |")
    L.append("")
    L.append("Statistics: every iteration is timed on its own (manual time). **median** = median over the "
             "repetitions of each repetition's median; **p90** = median over the repetitions of each "
             "repetition's 90th percentile; **mean** = median of the repetitions' means; **spread** = lowest–highest "
             "repetition median. All ratios use the medians of this one run.")
    L.append("")
    L.append("## Targets")
    L.append("")
    L.append("| target | result | |")
    L.append("|---|---|---|")
    for t in targets:
        L.append(f"| {t.text} | {t.value} | **{t.status}** |")
    L.append("")
    for t in targets:
        if not t.details:
            continue
        L.append(f"**{t.text}**, per variant:")
        L.append("")
        L.append("| variant | ratio | |")
        L.append("|---|---|---|")
        for label, val, st in t.details:
            L.append(f"| {label} | {val} | {st} |")
        L.append("")
    # per-kind overview table
    L.append("## Per namespace kind (medians)")
    L.append("")
    cols = [("clone3→exit→wait", "BM_Clone3"), ("unshare()", "BM_Unshare"), ("create (hold)", "BM_NsCreate"),
            ("release", "BM_NsRelease"), ("setns", "BM_Setns"), ("2 creators, per start", "BM_Clone3x2"),
            ("nslab realm", "BM_NslabRealmStart"), ("unshare(1)", "BM_UnshareCmd"), ("bwrap", "BM_Bwrap")]
    L.append("| kind | " + " | ".join(c for c, _ in cols) + " |")
    L.append("|---|" + "---|" * len(cols))
    for k in ["none"] + KINDS + ["all", "all_pidfd", "lab"]:
        cells = [fmt_us(get(benches, f"{fam}/{k}").median) for _, fam in cols]
        if all(c == "—" for c in cells):
            continue
        L.append(f"| {k} | " + " | ".join(cells) + " |")
    L.append("")
    if catalogue and catalogue.get("runs"):
        L.append("## The catalogue: `nslab run -j 2 suites`")
        L.append("")
        if catalogue.get("load"):
            L.append(f"Load average (1/5/15 min) when the catalogue runs started: {catalogue['load']}.")
            L.append("")
        root = catalogue.get("lab_root") or {}
        L.append(f"| run | wall | experiments/s | exit | outcome | the {root.get('experiments', '?')} that run either way: "
                 f"copy-on-write root | `--lab-root host` |")
        L.append("|---|---|---|---|---|---|---|")
        n_exp = catalogue.get("experiments", 0)
        cow_runs, host_runs = root.get("overlay_runs") or [], root.get("host_runs") or []
        cell = lambda runs, i: f"{runs[i]['wall_s']:.3f} s (exit {runs[i].get('status')})" if i < len(runs) else "—"
        for i, r in enumerate(catalogue["runs"], 1):
            L.append(f"| {i} | {r['wall_s']:.3f} s | {n_exp / r['wall_s']:.1f} | {r.get('status')} | {r.get('summary', '')} "
                     f"| {cell(cow_runs, i - 1)} | {cell(host_runs, i - 1)} |")
        L.append("")
        br = catalogue.get("breakdown")
        if br:
            L.append("Where a catalogue run's time goes (from `--format json` of one more run, and this run's benchmarks):")
            L.append("")
            for line in br:
                L.append(f"- {line}")
            L.append("")
    L.append("## Every benchmark")
    L.append("")
    L.append("| benchmark | median | p90 | mean | spread (rep. medians) | reps | counters (median of reps) |")
    L.append("|---|---|---|---|---|---|---|")
    order = {fam: i for i, (fam, _) in enumerate(FAMILY_DOC)}
    for name in sorted(benches, key=lambda n: (order.get(family_of(n), 99), list(benches).index(n))):
        b = benches[name]
        if not b.ok:
            why = esc(b.error or "no data").replace("|", "\\|")
            L.append(f"| {name} | skipped: {why} | | | | | |")
            continue
        sp = b.spread
        cnt = ", ".join(f"{c} {b.counter(c):.1f}" if c != "mounts" else f"mounts {b.counter(c):.0f}"
                        for c in SHOWN_COUNTERS if b.counter(c) is not None)
        rate = b.counter("ops/s")
        if rate:
            cnt = (cnt + ", " if cnt else "") + f"ops/s {rate:,.0f}"
        L.append(f"| {name} | {fmt_us(b.median)} | {fmt_us(b.p90)} | {fmt_us(b.mean)} | "
                 f"{fmt_us(sp[0])}–{fmt_us(sp[1])} | {len(b.reps)} | {cnt} |")
    L.append("")
    L.append("Families:")
    L.append("")
    for fam, doc in FAMILY_DOC:
        L.append(f"- `{fam}`: {doc}")
    L.append("")
    if notes:
        L.append(notes.rstrip())
        L.append("")
    return "\n".join(L)


README_BEGIN = "<!-- bench:begin (bench/report.py --readme fills this in; do not edit by hand) -->"
README_END = "<!-- bench:end -->"


def render_readme_block(benches, context, targets, run_info, out_rel):
    """The README's summary of one run: machine, targets with PASS/MISS, the main kinds, the chart."""
    ri = run_info or {}
    L = [README_BEGIN, ""]
    cpu = context.get("cpu_model", "?") + (f" @ {context.get('mhz_per_cpu')} MHz" if context.get("mhz_per_cpu") else "")
    L.append(f"Measured on {context.get('nproc', '?')} vCPUs ({cpu}), {context.get('mem_total', '?')} of memory, "
             f"kernel {context.get('kernel', ri.get('kernel', '?'))}, on {context.get('date', '?')[:10]} at commit "
             f"{ri.get('commit', '?')}; load average before the run {ri.get('load_before', '?')}, during it "
             f"{ri.get('load_during', '?')}. Full tables: [{out_rel}/results.md]({out_rel}/results.md); "
             f"raw data: [{out_rel}/results.json]({out_rel}/results.json).")
    L.append("")
    L.append("| target | result | |")
    L.append("|---|---|---|")
    for t in targets:
        L.append(f"| {t.text} | {t.value} | **{t.status}** |")
    L.append("")
    cols = [("clone3→exit→wait", "BM_Clone3"), ("setns", "BM_Setns"), ("nslab realm", "BM_NslabRealmStart"),
            ("unshare(1)", "BM_UnshareCmd"), ("bwrap", "BM_Bwrap")]
    L.append("| kind (medians) | " + " | ".join(c for c, _ in cols) + " |")
    L.append("|---|" + "---|" * len(cols))
    for k in ["none"] + KINDS + ["all"]:
        cells = [fmt_us(get(benches, f"{fam}/{k}").median) for _, fam in cols]
        if all(c == "—" for c in cells):
            continue
        L.append(f"| {k} | " + " | ".join(cells) + " |")
    L.append("")
    L.append(f"![nslab benchmarks]({out_rel}/chart.svg)")
    L.append("")
    L.append(README_END)
    return "\n".join(L)


def update_readme(path, block):
    with open(path) as f:
        text = f.read()
    start = text.find(README_BEGIN)
    end = text.find(README_END)
    if start < 0 or end < start:
        print(f"report.py: {path} has no {README_BEGIN} … {README_END} block; README left alone", file=sys.stderr)
        return False
    text = text[:start] + block + text[end + len(README_END):]
    with open(path, "w") as f:
        f.write(text)
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", required=True)
    ap.add_argument("--catalogue")
    ap.add_argument("--catalogue-run", help="nslab run --format json of the catalogue (default: beside --catalogue)")
    ap.add_argument("--run-info")
    ap.add_argument("--notes")
    ap.add_argument("--out", required=True)
    ap.add_argument("--command", default="ci/bench")
    ap.add_argument("--readme", help="refresh the summary between the bench markers of this README")
    args = ap.parse_args()

    try:
        context, benches = load_benchmarks(args.results)
    except (OSError, ValueError) as e:
        print(f"report.py: cannot read {args.results}: {e}", file=sys.stderr)
        return 1
    if not benches:
        print(f"report.py: {args.results} holds no benchmark results", file=sys.stderr)
        return 1

    def load_json(path):
        if path and os.path.exists(path):
            with open(path) as f:
                return json.load(f)
        return None

    catalogue = load_json(args.catalogue)
    if catalogue is not None:
        run_path = args.catalogue_run or os.path.join(os.path.dirname(args.catalogue), "catalogue_run.json")
        catalogue["breakdown"] = catalogue_breakdown(catalogue, load_json(run_path), benches)
    run_info = load_json(args.run_info)
    notes = None
    if args.notes and os.path.exists(args.notes):
        with open(args.notes) as f:
            notes = f.read()

    targets = evaluate(benches, catalogue)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "chart.svg"), "w") as f:
        f.write(render_svg(benches, context, run_info))
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write(render_md(benches, context, targets, catalogue, run_info, notes, args.command))

    if args.readme:
        out_rel = os.path.relpath(os.path.abspath(args.out), os.path.dirname(os.path.abspath(args.readme)))
        if update_readme(args.readme, render_readme_block(benches, context, targets, run_info, out_rel)):
            print(f"report.py: refreshed the benchmark summary in {args.readme}")

    for t in targets:
        print(t.line())
        for label, val, st in t.details:
            print(f"        {st:6}  {label:7} {val}")
    # The benchmarks the targets rest on must have run: a failure there is a broken benchmark.
    needed = ["BM_Clone3/uts", "BM_NslabRealmStart/uts", "BM_NslabProbe/realm", "BM_NslabLabStart"]
    broken = [n for n in needed if not get(benches, n).ok]
    if broken:
        print("report.py: benchmarks the targets need failed or are missing: " +
              ", ".join(f"{n} ({get(benches, n).error or 'missing'})" for n in broken), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
