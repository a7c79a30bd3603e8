#!/bin/sh
# `nslab validate` takes assignment files too: the shipped one passes, and one whose test names an
# experiment its suites lack, or a contract test that does not exist, is refused with the test's
# file:line:column and exit 2.
set -u
nslab=$1
cd "$2" || exit 1
out=$("$nslab" validate suites/assignments/td2.yaml 2>&1) || { echo "td2.yaml refused: $out"; exit 1; }
echo "$out" | grep -q '^ok: assignment td2_mini_container: 21 test(s), 30 points' || { echo "unexpected: $out"; exit 1; }
out=$("$nslab" validate fixtures/bad_assignments/unknown_experiment.yaml 2>&1)
rc=$?
[ "$rc" -eq 2 ] || { echo "exit $rc, expected 2: $out"; exit 1; }
echo "$out" | grep -q "^fixtures/bad_assignments/unknown_experiment.yaml:13:5: no experiment 'td2_uts.no_such_experiment'" ||
    { echo "unexpected: $out"; exit 1; }
out=$("$nslab" validate fixtures/bad_assignments/unknown_contract.yaml 2>&1)
rc=$?
[ "$rc" -eq 2 ] || { echo "exit $rc, expected 2: $out"; exit 1; }
echo "$out" | grep -q "^fixtures/bad_assignments/unknown_contract.yaml:13:5: no contract test 'forwards_sighup' (known: exit_status, " ||
    { echo "unexpected: $out"; exit 1; }
echo ok
