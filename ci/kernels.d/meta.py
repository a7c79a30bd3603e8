#!/usr/bin/env python3
"""ci/kernels' bookkeeping for one kernel: decide the outcome, write DIR/meta.json and print the
one-line summary (and the FAIL/BROKEN experiments with their reasons).

Usage: meta.py DIR KEY=VALUE...   (keys: kernel, source, package, package_version, release, accel,
nslab_version, checkout, time_scale, jobs, filter, timeout_s, qemu_wall_s, timed_out, unpriv, uname_r)
Exit status: 0 when every requested run left its JSON report, else 1.
"""
import json
import os
import sys

COUNTS = ("passed", "failed", "skipped", "broken")


def load(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def number(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def main():
    out = sys.argv[1]
    a = dict(arg.split("=", 1) for arg in sys.argv[2:])
    runs_wanted = ["root"] + (["unpriv"] if a.get("unpriv") == "1" else [])
    guest = load(os.path.join(out, "guest.json")) or {}
    console = ""
    try:
        with open(os.path.join(out, "console.log"), encoding="utf-8", errors="replace") as f:
            console = f.read()
    except OSError:
        pass

    runs = {}
    for name in runs_wanted:
        status = load(os.path.join(out, name + ".status")) or {}
        report = load(os.path.join(out, name + ".json"))
        run = {
            "exit": status.get("exit"),
            "wall_s": status.get("wall_s"),
            "report": os.path.isfile(os.path.join(out, name + ".json")),
            "reports": sorted(f for f in os.listdir(out)
                              if f.startswith(name + ".") and f.rsplit(".", 1)[1] in ("json", "xml", "ktap")),
            "time_scale_passed": status.get("time_scale_passed"),
            "report_flag": status.get("report_flag"),
        }
        if report is not None:
            run["summary"] = {k: report.get("summary", {}).get(k) for k in COUNTS + ("total",)}
            run["not_passed"] = [
                {"name": e.get("full_name"), "outcome": e.get("outcome"), "reason": e.get("reason", "")}
                for e in report.get("experiments", []) if e.get("outcome") in ("FAIL", "BROKEN")]
        try:
            with open(os.path.join(out, name + ".cgroups"), encoding="utf-8") as f:
                parents = {}
                for line in f:
                    if line.strip():
                        parent = os.path.dirname(line.strip())
                        parents[parent] = parents.get(parent, 0) + 1
            # Where the labs' cgroups were made: parent directory -> how many labs were seen there.
            run["lab_cgroup_parents"] = parents
        except OSError:
            pass
        runs[name] = run

    if a.get("timed_out") == "1":
        outcome = "hang"
    elif "Kernel panic - not syncing" in console:
        outcome = "panic"
    elif not all(r["report"] and load(os.path.join(out, n + ".json")) is not None for n, r in runs.items()):
        outcome = "no-results"
    else:
        outcome = "ok"

    meta = {
        "kernel": a.get("kernel"),
        "source": a.get("source"),
        "package": a.get("package") or None,
        "package_version": a.get("package_version") or None,
        "release": a.get("release") or None,
        "uname_r": a.get("uname_r") or guest.get("uname_r"),
        "nslab_version": a.get("nslab_version"),
        "checkout": a.get("checkout"),
        "accel": a.get("accel"),
        "time_scale": number(a.get("time_scale")),
        "jobs": int(a.get("jobs", 0)) or None,
        "filter": a.get("filter") or None,
        "timeout_s": number(a.get("timeout_s")),
        "boot_s": number(guest.get("boot_s")),
        "qemu_wall_s": number(a.get("qemu_wall_s")),
        "runs": runs,
        "outcome": outcome,
    }
    with open(os.path.join(out, "meta.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")

    parts = [f"{meta['kernel']}: {outcome}", f"accel {meta['accel']}"]
    if meta["boot_s"] is not None:
        parts.append(f"boot {meta['boot_s']:.1f}s")
    for name, r in runs.items():
        if r.get("exit") is None and not r["report"]:
            parts.append(f"{name}: did not run to its end")
            continue
        wall = f"{r['wall_s']:.1f}s" if isinstance(r.get("wall_s"), (int, float)) else "-"
        s = r.get("summary")
        counts = "no report" if s is None else "{} pass {} fail {} skip {} broken".format(
            *(s.get(k) for k in COUNTS))
        parts.append(f"{name} {wall} exit {r.get('exit')}: {counts}")
    print(" | ".join(parts), flush=True)
    for name, r in runs.items():
        if r.get("lab_cgroup_parents"):
            where = ", ".join(f"{p} ({n})" for p, n in sorted(r["lab_cgroup_parents"].items()))
            print(f"    {name}: labs' cgroups seen in {where}")
        for e in r.get("not_passed", []):
            reason = " ".join((e["reason"] or "").split())
            print(f"    {name} {e['outcome']} {e['name']}: {reason[:300]}")
    return 0 if outcome == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
