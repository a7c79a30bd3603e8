#!/bin/sh
# `nslab validate` takes assignment files too: the shipped one passes, and each bad assignment in
# fixtures/bad_assignments/ is refused with exit 2 and, as the first line on stderr, the
# file:line:column error recorded for it in expected_errors.txt ("<file>\t<line>"), which lists
# every file of the directory and no other.
set -u
nslab=$1
cd "$2" || exit 1
out=$("$nslab" validate suites/assignments/td2.yaml 2>&1) || { echo "td2.yaml refused: $out"; exit 1; }
echo "$out" | grep -q '^ok: assignment td2_mini_container: 21 test(s), 30 points' || { echo "unexpected: $out"; exit 1; }

corpus=fixtures/bad_assignments
expected=$corpus/expected_errors.txt
tab=$(printf '\t')
failed=0
listed=0
while IFS="$tab" read -r file error; do
    [ -n "$file" ] || continue
    listed=$((listed + 1))
    if [ ! -f "$corpus/$file" ]; then
        echo "$expected lists $file, which is not in $corpus"
        failed=1
        continue
    fi
    err=$("$nslab" validate "$corpus/$file" 2>&1 >/dev/null)
    rc=$?
    first=$(printf '%s\n' "$err" | head -n 1)
    if [ "$rc" -ne 2 ]; then
        echo "$file: exit $rc, expected 2: $err"
        failed=1
    elif [ "$first" != "$error" ]; then
        printf '%s: first error\n  got:      %s\n  expected: %s\n' "$file" "$first" "$error"
        failed=1
    fi
done < "$expected"
for path in "$corpus"/*; do
    file=${path##*/}
    [ "$file" = expected_errors.txt ] && continue
    grep -q "^$file$tab" "$expected" || { echo "$path has no line in $expected"; failed=1; }
done
[ "$listed" -ge 12 ] || { echo "$expected lists $listed files; the corpus needs at least 12"; failed=1; }
[ "$failed" -eq 0 ] || exit 1
echo "ok: td2.yaml and $listed bad assignments"
