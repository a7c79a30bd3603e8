#!/usr/bin/env python3
"""Where a realm start's time goes, from kernel tracepoints (no change to nslab, low overhead).

    bench/tools/realm_timeline.py [--kind uts] [--min-time 1] [--bench build-bench/bin/nslab_bench]
    bench/tools/realm_timeline.py --lab        # the same for a lab start and teardown

Records syscall tracepoints with `perf record -a` while nslab_bench runs BM_NslabRealmStart/<kind>,
then splits every realm start into the phases between those events (medians over all starts):

  bench                         lab agent                         new realm (child)
  sendmsg spawn_realm ──────▶ [wake] recvmsg returns
                              [decode JSON, socketpair, pipe2 if user]
                              clone3 ─────────────────────────▶ starts
                              [reply JSON] sendmsg reply        [setup, send_hello: pidfd_open,
  [wake] recvmsg ◀────────────┘                                  8 pidfd ioctls, text] sendmsg hello
  [poll] recvmsg hello ◀────────────────────────────────────────┘
  [decode hello, fstat ×8] done

Needs root and perf. Prints a table; exits 1 when no realm start could be matched.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile

EVENTS = ",".join([
    "syscalls:sys_enter_sendmsg", "syscalls:sys_enter_recvmsg", "syscalls:sys_exit_recvmsg",
    "syscalls:sys_enter_clone3", "syscalls:sys_exit_clone3", "syscalls:sys_enter_pidfd_send_signal",
    "sched:sched_process_fork", "sched:sched_process_exec", "syscalls:sys_enter_execve",
    "syscalls:sys_enter_mount", "syscalls:sys_exit_mount", "syscalls:sys_exit_waitid",
])
LINE = re.compile(r"^\s*(?P<comm>.+?)\s+(?P<pid>\d+)/(?P<tid>\d+)\s+\[(?P<cpu>\d+)\]\s+(?P<time>[\d.]+):\s+"
                  r"(?P<event>[\w:]+):\s*(?P<args>.*)$")


def parse(path):
    out = subprocess.run(["perf", "script", "-i", path, "-F", "comm,pid,tid,cpu,time,event,trace"],
                         capture_output=True, text=True, check=True).stdout
    events = []
    for line in out.splitlines():
        m = LINE.match(line)
        if m:
            d = m.groupdict()
            d["pid"], d["time"] = int(d["pid"]), float(d["time"]) * 1e6  # µs
            events.append(d)
    return events


def phases(events):
    root = next((e["pid"] for e in events if e["event"] == "sched:sched_process_exec"
                 and "nslab_bench" in e["args"]), None)
    if root is None:
        return []
    parent = {}
    for e in events:
        if e["event"] == "sched:sched_process_fork":
            m = re.search(r"pid=(\d+) child_comm=.* child_pid=(\d+)", e["args"])
            if m:
                parent[int(m.group(2))] = int(m.group(1))

    def depth_from_root(pid):
        d = 0
        while pid != root:
            if pid not in parent:
                return None
            pid, d = parent[pid], d + 1
        return d

    mine = [e for e in events if depth_from_root(e["pid"]) is not None]
    by_pid = {}
    for e in mine:
        by_pid.setdefault(e["pid"], []).append(e)
    bench = by_pid.get(root, [])
    results = []
    i = 0
    while i < len(bench):
        e = bench[i]
        if e["event"] != "syscalls:sys_enter_sendmsg":
            i += 1
            continue
        t0 = e["time"]
        seq = []
        j = i + 1
        while j < len(bench) and bench[j]["event"] != "syscalls:sys_enter_pidfd_send_signal":
            if bench[j]["event"] == "syscalls:sys_enter_sendmsg":
                break
            seq.append(bench[j])
            j += 1
        if j >= len(bench) or bench[j]["event"] != "syscalls:sys_enter_pidfd_send_signal":
            i = j
            continue
        t_end = bench[j]["time"]
        rin = [x["time"] for x in seq if x["event"] == "syscalls:sys_enter_recvmsg"]
        rout = [x["time"] for x in seq if x["event"] == "syscalls:sys_exit_recvmsg"]
        i = j + 1
        if len(rin) < 2 or len(rout) < 2:
            continue
        # The lab agent: the bench's child whose events fall in [t0, t_end].
        agent = None
        for pid, evs in by_pid.items():
            if parent.get(pid) == root and any(t0 <= x["time"] <= t_end and x["event"] == "syscalls:sys_enter_clone3" for x in evs):
                agent = evs
                break
        if agent is None:
            continue
        window = [x for x in agent if t0 <= x["time"] <= t_end]
        try:
            # The agent may already sit in recvmsg when the request is sent (it blocks there).
            a_rout = next(x["time"] for x in window if x["event"] == "syscalls:sys_exit_recvmsg")
            a_cin = next(x["time"] for x in window if x["event"] == "syscalls:sys_enter_clone3")
            a_cout = next(x for x in window if x["event"] == "syscalls:sys_exit_clone3" and x["args"].strip() != "0x0")
            a_send = next(x["time"] for x in window if x["event"] == "syscalls:sys_enter_sendmsg" and x["time"] > a_cout["time"])
        except StopIteration:
            continue
        # The child's pid as the agent sees it may be in the lab's PID namespace: find the child by parent.
        agent_pid = agent[0]["pid"]
        kids = [p for p, pp in parent.items() if pp == agent_pid and by_pid.get(p) and
                any(t0 <= x["time"] <= t_end for x in by_pid[p])]
        if not kids:
            continue
        child = by_pid[kids[-1]]
        try:
            c_start = next(x["time"] for x in child if x["event"] == "syscalls:sys_exit_clone3")
            c_send = next(x["time"] for x in child if x["event"] == "syscalls:sys_enter_sendmsg")
        except StopIteration:
            continue
        results.append({
            "bench → agent: sendmsg until the agent's recvmsg returns": a_rout - t0,
            "agent: decode request, socketpair (pipe2 for a user namespace)": a_cin - a_rout,
            "agent: clone3 (fork of the agent)": a_cout["time"] - a_cin,
            "agent: after clone3 until the reply is sent": a_send - a_cout["time"],
            "bench: reply wake-up, up to recvmsg": rin[0] - a_send,
            "child: from clone3 to hello sendmsg (setup, send_hello)": c_send - c_start,
            "bench: from reply to hello recvmsg (hello already sent?)": rin[1] - rout[0],
            "bench: hello wait after its recvmsg entry": rout[1] - rin[1],
            "bench: decode hello, fstat ×8, return": t_end - rout[1],
            "total (bench sendmsg → done)": t_end - t0,
            "critical path: child hello sent, relative to clone3 entry": c_send - a_cin,
        })
    return results


def lab_phases(events):
    """BM_NslabLabStart: one lab start + teardown per iteration, all in the bench process's children."""
    root = next((e["pid"] for e in events if e["event"] == "sched:sched_process_exec"
                 and "nslab_bench" in e["args"]), None)
    by_pid = {}
    for e in events:
        by_pid.setdefault(e["pid"], []).append(e)
    bench = by_pid.get(root, [])
    forks = {}
    for e in events:
        if e["event"] == "sched:sched_process_fork":
            m = re.search(r"pid=(\d+) child_comm=.* child_pid=(\d+)", e["args"])
            if m and int(m.group(1)) == root:
                forks[e["time"]] = int(m.group(2))
    results = []
    for i, e in enumerate(bench):
        if e["event"] != "syscalls:sys_enter_clone3":
            continue
        rest = bench[i + 1:]
        try:
            c_out = next(x["time"] for x in rest if x["event"] == "syscalls:sys_exit_clone3")
            hello = next(x["time"] for x in rest if x["event"] == "syscalls:sys_exit_recvmsg")
            kill = next(x["time"] for x in rest if x["event"] == "syscalls:sys_enter_pidfd_send_signal")
            reaped = next(x["time"] for x in rest if x["event"] == "syscalls:sys_exit_waitid")
        except StopIteration:
            continue
        child_pid = next((p for t, p in forks.items() if e["time"] <= t <= c_out), None)
        child = by_pid.get(child_pid, [])
        if not child:
            continue
        try:
            start = next(x["time"] for x in child if x["event"] == "syscalls:sys_exit_clone3")
            ex_in = next(x["time"] for x in child if x["event"] == "syscalls:sys_enter_execve")
            ex_done = next(x["time"] for x in child if x["event"] == "sched:sched_process_exec")
            m_first = next(x["time"] for x in child if x["event"] == "syscalls:sys_enter_mount")
            m_last = [x["time"] for x in child if x["event"] == "syscalls:sys_exit_mount"][-1]
            h_send = next(x["time"] for x in child if x["event"] == "syscalls:sys_enter_sendmsg")
        except (StopIteration, IndexError):
            continue
        results.append({
            "bench: clone3 of the lab (6 new namespaces)": c_out - e["time"],
            "child: until execve (pdeathsig, dup2, close_range)": ex_in - start,
            "execve of nslab-agent (the syscall)": ex_done - ex_in,
            "agent: dynamic loading, C++ start-up, until the first mount": m_first - ex_done,
            "agent: setup_lab mounts (private /, proc, sysfs, tmpfs ×2, mqueue)": m_last - m_first,
            "agent: send_hello (pidfd, ns fds, JSON) until sendmsg": h_send - m_last,
            "bench: hello wake-up, 1 MiB buffer, recvmsg": hello - h_send,
            "bench: decode hello, fstat ×8": kill - hello,
            "start total (clone3 → hello decoded)": kill - e["time"],
            "teardown: SIGKILL → lab init reaped": reaped - kill,
        })
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kind", default="uts")
    ap.add_argument("--min-time", default="1")
    ap.add_argument("--bench", default=os.path.join(os.path.dirname(__file__), "..", "..", "build-bench", "bin", "nslab_bench"))
    ap.add_argument("--perf-data", help="analyse this perf.data instead of recording")
    ap.add_argument("--lab", action="store_true", help="trace BM_NslabLabStart instead of a realm start")
    args = ap.parse_args()
    path = args.perf_data
    if not path:
        path = os.path.join(tempfile.mkdtemp(prefix="nslab-timeline-"), "perf.data")
        subprocess.run(["perf", "record", "-q", "-o", path, "-e", EVENTS, "-a", "--", args.bench,
                        f"--benchmark_min_time={args.min_time}",
                        "--benchmark_filter=" + ("^BM_NslabLabStart/manual" if args.lab else
                                                 f"^BM_NslabRealmStart/{args.kind}/")], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    events = parse(path)
    res = lab_phases(events) if args.lab else phases(events)
    if not res:
        print("realm_timeline: nothing matched in the trace", file=sys.stderr)
        return 1
    what = "BM_NslabLabStart: lab starts" if args.lab else f"BM_NslabRealmStart/{args.kind}: realm starts"
    print(f"{what}: {len(res)} traced; median and p90 (µs)")
    for key in res[0]:
        vals = sorted(r[key] for r in res)
        p90 = vals[min(len(vals) - 1, int(0.9 * (len(vals) - 1) + 0.5))]
        print(f"  {statistics.median(vals):9.1f}  {p90:9.1f}  {key}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
