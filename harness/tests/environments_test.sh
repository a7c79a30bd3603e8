#!/usr/bin/env bash
# Where nslab's users run it, simulated without Docker (issue: a FAIL means the kernel is wrong,
# never the machine). Each environment runs the whole catalogue and `nslab doctor`, and asserts:
# no FAIL; BROKEN only where nothing can run, then every experiment gives the one reason; the
# expected SKIP reasons; and doctor's verdict matches the run (same counts, exit 1 or 2).
#   environments_test.sh BIN_DIR SOURCE_DIR      (as root; exit 77 = skipped)
set -euo pipefail
bin=$1
src=$2
nslab=$bin/nslab
[[ $(id -u) -eq 0 ]] || { echo "environments: needs root to simulate the environments"; exit 77; }
command -v setpriv >/dev/null && command -v unshare >/dev/null || { echo "environments: needs setpriv and unshare"; exit 77; }
work=$(mktemp -d /var/tmp/nslab-environments.XXXXXX)
chmod 1777 "$work"  # the unprivileged run writes its report here too
chroot_dir=""
cleanup() {
  [[ -n $chroot_dir ]] && umount -R "$chroot_dir" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
failures=0

# check NAME EXPECT_RUN_EXIT EXPECT_DOCTOR_EXIT REASON_REGEX PREFIX...
#   runs PREFIX nslab run / doctor, then checks the JSON report against the rules above.
check() {
  local name=$1 run_exit=$2 doctor_exit=$3 reasons=$4
  shift 4
  local rc=0 drc=0
  "$@" "$nslab" run -j 2 "$src/suites" --format json -o "$work/$name.json" >"$work/$name.out" 2>"$work/$name.err" || rc=$?
  "$@" "$nslab" doctor "$src/suites" --format json >"$work/$name.doctor.json" 2>"$work/$name.doctor.err" || drc=$?
  if ! python3 - "$work/$name.json" "$work/$name.doctor.json" "$name" "$rc" "$run_exit" "$drc" "$doctor_exit" "$reasons" <<'PY'
import json, re, sys
report_path, doctor_path, name, rc, want_rc, drc, want_drc, reasons = sys.argv[1:]
problems = []
report = json.load(open(report_path))
doctor = json.load(open(doctor_path))
s = report["summary"]
if rc != want_rc: problems.append(f"nslab run exited {rc}, expected {want_rc}")
if drc != want_drc: problems.append(f"nslab doctor exited {drc}, expected {want_drc}")
if s["failed"]: problems.append(f"{s['failed']} FAIL: " + "; ".join(f"{e['full_name']}: {e['reason'][:200]}" for e in report["experiments"] if e["outcome"] == "FAIL"))
not_passed = [e for e in report["experiments"] if e["outcome"] in ("SKIP", "BROKEN")]
if s["broken"] and s["broken"] != s["total"]:
    problems.append(f"{s['broken']} BROKEN of {s['total']} (only all-or-nothing is allowed): " +
                    "; ".join(f"{e['full_name']}: {e['reason'][:200]}" for e in report["experiments"] if e["outcome"] == "BROKEN")[:2000])
bad = sorted({e["reason"] for e in not_passed if not re.search(reasons, e["reason"])})
if bad: problems.append("unexpected reasons: " + " | ".join(bad)[:2000])
d = doctor["experiments"]
if d["runnable"] != s["passed"]: problems.append(f"doctor says {d['runnable']} can run, the run passed {s['passed']}")
if d["total"] - d["runnable"] != s["skipped"] + s["broken"]:
    problems.append(f"doctor says {d['total'] - d['runnable']} will not run, the run had {s['skipped']} SKIP and {s['broken']} BROKEN")
print(f"{name}: {s['passed']} passed, {s['failed']} failed, {s['skipped']} skipped, {s['broken']} broken; "
      f"doctor exit {drc}, lab mode {doctor['lab_mode']}")
for p in problems: print(f"  PROBLEM: {p}")
sys.exit(1 if problems else 0)
PY
  then
    failures=$((failures + 1))
    sed -n 1,5p "$work/$name.err"
  fi
}

# grade_check NAME PREFIX...: the reference submission scores full marks, or the grader refuses
# (exit 3, a results.json without a score that says "cannot run here") — never a lower score.
grade_check() {
  local name=$1 rc=0
  shift
  mkdir -p "$work/grade-$name" && chmod 1777 "$work/grade-$name"
  "$@" "$nslab" grade --submission "$src/fixtures/submissions/reference" --assignment "$src/suites/assignments/td2.yaml" \
    -o "$work/grade-$name" >"$work/grade-$name.out" 2>&1 || rc=$?
  if ! python3 - "$work/grade-$name/results.json" "$rc" "$name" <<'PY'
import json, sys
path, rc, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
try:
    r = json.load(open(path))
except (OSError, ValueError) as e:
    print(f"grade {name}: exit {rc}, no results.json ({e})"); sys.exit(1)
if rc == 0 and r.get("score") == r.get("max_score") and r.get("max_score"):
    print(f"grade {name}: {r['score']:g} / {r['max_score']:g}"); sys.exit(0)
if rc == 3 and "score" not in r and "cannot run here" in r.get("output", ""):
    print(f"grade {name}: refused: {r['extra_data']['nslab_refused'][:150]}"); sys.exit(0)
print(f"grade {name}: PROBLEM: exit {rc}, score {r.get('score')} of {r.get('max_score')}: {r.get('output', '')[:300]}")
sys.exit(1)
PY
  then
    failures=$((failures + 1))
    tail -5 "$work/grade-$name.out"
  fi
}

grade_check full_root env
grade_check no_net_admin setpriv --bounding-set -net_admin --inh-caps -all
grade_check seccomp "$bin/seccomp_deny_namespaces"

# Docker with --cap-add SYS_ADMIN only: no NET_ADMIN, no SYS_TIME in the bounding set.
check no_net_admin_no_sys_time 0 1 'CAP_NET_ADMIN, CAP_SYS_TIME, which the runner lacks \(in Docker: --cap-add NET_ADMIN --cap-add SYS_TIME\)' \
  setpriv --bounding-set -net_admin,-sys_time --inh-caps -all
# Root without CAP_SYS_ADMIN (Docker with seccomp=unconfined): labs owned by a user namespace.
check no_sys_admin 0 1 'CAP_SYS_ADMIN, which the runner lacks \(in Docker: --cap-add SYS_ADMIN\)' \
  setpriv --bounding-set -sys_admin --inh-caps -all
# Docker's default seccomp profile: nothing can run, one reason with the fix.
check seccomp_refuses_namespaces 1 2 '^no lab can be made here: a seccomp filter refuses it .*--cap-add SYS_ADMIN' \
  "$bin/seccomp_deny_namespaces"
grade_check unprivileged setpriv --reuid 65534 --regid 65534 --clear-groups
# An unprivileged user where /sys is read-only (docker run --user 65534 with seccomp unconfined).
check unprivileged_read_only_sys 0 1 '^(needs root on the machine \(running as uid 65534\)|needs a read-write sysfs, and /sys is read-only here)' \
  unshare -m --propagation private -- sh -c 'mount -o remount,bind,ro /sys && exec setpriv --reuid 65534 --regid 65534 --clear-groups "$@"' sh

# A chroot into a plain directory (/ not a mount point): nothing can run, the reason says why.
chroot_dir=$work/root
mkdir -p "$chroot_dir"
check chroot 1 2 '^no lab can be made here: this process is chrooted into a directory \(/ is not a mount point\)' \
  unshare -m --propagation private -- sh -c '
    root=$1; src=$2; bin=$3; shift 3
    for d in /usr /etc /proc /dev /sys "$src" "$bin"; do mkdir -p "$root$d"; mount --rbind "$d" "$root$d"; done
    mkdir -p "$root/var/tmp" "$root/tmp"; mount --rbind /var/tmp "$root/var/tmp"
    for l in bin sbin lib lib64 lib32 libx32; do [ -e "/$l" ] && ln -sfn "usr/$l" "$root/$l"; done
    exec chroot "$root" "$@"' sh "$chroot_dir" "$src" "$bin"

# A container's root (Docker's shape): / a tmpfs entered with pivot_root, the machine's trees bound
# in, /usr read-only, /etc/hosts a file bind-mounted over the image's. Every lab builds its
# copy-on-write root over that (agent/lab_root.cpp: mounts below /, a bind-mounted file, a
# read-only mount): everything runs, and the container's /etc/hosts is unchanged afterwards.
container_dir=$work/container
mkdir -p "$container_dir"
printf '127.0.0.1 localhost nslab-container\n' >"$work/hosts"
hosts_before=$(md5sum <"$work/hosts")
check container_root 0 0 '^$' \
  unshare -m --propagation private -- sh -c '
    root=$1; src=$2; bin=$3; hosts=$4; shift 4
    mount -t tmpfs nslab-container "$root"
    for d in /usr /etc /var /proc /dev /sys /run "$src" "$bin"; do mkdir -p "$root$d"; mount --rbind "$d" "$root$d"; done
    mount -o remount,bind,ro "$root/usr"
    mount --bind "$hosts" "$root/etc/hosts"
    for l in bin sbin lib lib64 lib32 libx32; do [ -e "/$l" ] && ln -sfn "usr/$l" "$root/$l"; done
    mkdir -p "$root/tmp" "$root/root" "$root/mnt" "$root/old" && chmod 1777 "$root/tmp"
    cd "$root" && pivot_root . old && umount -l /old && cd / && exec "$@"' sh "$container_dir" "$src" "$bin" "$work/hosts"
if [[ $(md5sum <"$work/hosts") != "$hosts_before" ]]; then
  echo "container_root: PROBLEM: the container's /etc/hosts changed"
  failures=$((failures + 1))
fi

if ((failures)); then
  echo "environments: $failures environment(s) with problems"
  exit 1
fi
echo "environments: every simulated environment gives no FAIL and only SKIPs or refusals that name the cause"
