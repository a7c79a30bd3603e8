#!/usr/bin/env bash
# ci/kernels-matrix on recorded reports (fixtures/kernels: a 6.1 guest and the running kernel),
# and the CI recipes in ci/recipes: valid YAML with the shape GitHub Actions and GitLab CI need.
set -euo pipefail
src=$1
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# A FAIL and a BROKEN cell in the fixtures: the script says so and exits 1.
status=0
"$src/ci/kernels-matrix" "$src/fixtures/kernels" --out "$out" >"$out/stdout" || status=$?
[[ $status == 1 ]] || fail "kernels-matrix exited $status, expected 1 for a FAIL/BROKEN cell"
md=$out/matrix.md
grep -q '^| debian-6.1 | 6.1.0-57-amd64 | tcg | 20 | 2 / 0 / 1 / 0 | 1 / 0 / 2 / 0 | 61 s, 49 s |$' "$md" || fail "6.1 summary row: $(grep debian-6.1 "$md" | head -1)"
grep -q '^| running | 6.18.44 | none | 1 | 2 / 1 / 0 / 0 | 2 / 0 / 0 / 1 |' "$md" || fail "running summary row"
# Kernels oldest first, each as root and as uid 65534; suites as sections in report order.
grep -q '^| experiment | debian-6.1 root | debian-6.1 uid 65534 | running root | running uid 65534 |$' "$md" || fail "header"
[[ $(grep -n '^## ' "$md" | cut -d: -f2- | tr '\n' ' ') == "## td2_uts ## td2_time ## nsfs ## Notes " ]] || fail "sections: $(grep '^## ' "$md")"
# Every cell that is not PASS points to its reason; the same reason is one note.
grep -q '^| new_ioctl | SKIP \[4\] | SKIP \[4\] | \*\*FAIL \[5\]\*\* | PASS |$' "$md" || fail "nsfs row: $(grep new_ioctl "$md")"
grep -q '^| exec_enters | PASS \[1\] | SKIP \[2\] | PASS | \*\*BROKEN \[3\]\*\* |$' "$md" || fail "time row: $(grep exec_enters "$md")"
grep -q '^4\. needs kernel 6.18 or later (this is 6.1.0-57-amd64)$' "$md" || fail "note 4"
grep -q '^5\. ns_type from A: expected uts, saw ipc / a pipe$' "$md" || fail "note 5: a | must not split the table"
# A PASS judged by rows limited to a kernel range says which.
grep -q '^1\. held to its rows for kernel < 6.2$' "$md" || fail "note 1: the kernel range a PASS was held to"
python3 -c "
import json, sys
m = json.load(open('$out/matrix.json'))
cell = m['experiments']['td2_time.exec_enters']['running']['unpriv']
assert cell == {'outcome': 'BROKEN', 'reason': 'time limit of 10 s reached'}, cell
assert [k['id'] for k in m['kernels']] == ['debian-6.1', 'running'], m['kernels']
" || fail "matrix.json"

# Only PASS and SKIP: exit 0.
mkdir -p "$out/clean" && cp -r "$src/fixtures/kernels/debian-6.1" "$out/clean/"
"$src/ci/kernels-matrix" "$out/clean" --out "$out/clean-docs" >/dev/null || fail "a clean matrix exited non-zero"

# The recipes: YAML that parses, one job per kernel, both upload the reports.
python3 - "$src/ci/recipes" <<'PY'
import sys, yaml
d = sys.argv[1]
gh = yaml.safe_load(open(f"{d}/github-actions.yml"))
# PyYAML reads the key `on` as True (YAML 1.1); GitHub reads it as the trigger list.
assert "jobs" in gh and (True in gh or "on" in gh), "GitHub workflow lacks on/jobs"
job = gh["jobs"]["kernel"]
kernels = job["strategy"]["matrix"]["kernel"]
assert len(kernels) >= 2, kernels
runs = " ".join(s.get("run", "") for s in job["steps"])
assert "ci/kernels" in runs and "${{ matrix.kernel }}" in runs, runs
assert any(s.get("uses", "").startswith("actions/upload-artifact") for s in job["steps"])
assert "ci/kernels-matrix" in " ".join(s.get("run", "") for s in gh["jobs"]["matrix"]["steps"])
gl = yaml.safe_load(open(f"{d}/gitlab-ci.yml"))
job = gl["nslab-kernel"]
assert job["parallel"]["matrix"][0]["KERNEL"], job
assert any("ci/kernels" in line and "$KERNEL" in line for line in job["script"]), job["script"]
assert job["artifacts"]["reports"]["junit"], job["artifacts"]
assert set(gl["stages"]) >= {job["stage"], gl["nslab-kernel-matrix"]["stage"]}
PY
echo "kernels-matrix and CI recipes: ok"
