#!/bin/sh
# The committed JSON Schemas (docs/schema/, written by `nslab schema`) against the files: every
# suite, every fixture that `nslab validate` accepts as a suite and the shipped assignments are
# valid; the bad files below, whose mistake a schema can express, are invalid — so an editor with
# the YAML language server flags them as the loader does. Uses Debian's python3-jsonschema (and
# python3-yaml); exit 77 (skip) without it.
#   schema_test.sh NSLAB SOURCE_DIR
set -u
nslab=$1
cd "$2" || exit 1

# Every suite names its schema on its first line, for editors with the YAML language server.
for f in suites/*.yaml suites/assignments/*.yaml; do
    case $f in suites/assignments/*) want='# yaml-language-server: $schema=../../docs/schema/assignment.schema.json' ;;
               *) want='# yaml-language-server: $schema=../docs/schema/experiment.schema.json' ;; esac
    [ "$(head -n 1 "$f")" = "$want" ] || { echo "$f: the first line must be: $want"; exit 1; }
done

# Debian's python first: CI installs python3-jsonschema for /usr/bin/python3.
python=
for p in /usr/bin/python3 python3; do
    if "$p" -c 'import jsonschema, yaml' 2>/dev/null; then python=$p; break; fi
done
[ -n "$python" ] || { echo "skip: python3-jsonschema (or python3-yaml) is not installed"; exit 77; }

# Every suite, and the fixtures that are suites: those `nslab validate` accepts, other than assignments.
good="$(ls suites/*.yaml) $(for f in $(find fixtures -name '*.yaml' ! -path 'fixtures/bad_*' | sort); do
    head -c 4096 "$f" | grep -q '^nslab_assignment:' && continue
    "$nslab" validate "$f" >/dev/null 2>&1 && echo "$f"
done)"
assignments=$(ls suites/assignments/*.yaml)

# The bad files whose mistake is in the schema: unknown keys, wrong types, missing keys, unknown
# actions and probes, values outside a domain, names of the wrong shape, options that need a
# namespace. (Not here: what needs the whole file — aliases, realms named elsewhere, cycles —,
# a plain word for a boolean, which YAML 1.1 readers turn into one, errno names, and what YAML
# itself refuses.)
bad_suites="bad_experiment_name bad_suite_name bad_uid_map duplicate_namespace_kind empty_experiments
  exit_on_do_step expect_error_on_run_step join_pid kernel_range_not_a_version lowercase_realm_name
  missing_action_argument missing_schema_version missing_summary mount_proc_without_mnt
  new_and_join_same_kind nothing_asserted overlong_experiment_name overlong_realm_name
  overlong_suite_name probe_used_as_action propagation_without_mnt quoted_schema_version
  run_step_with_action_argument step_without_in time_offsets_without_time_ns timeout_out_of_range
  uid_map_without_user_ns unknown_action unknown_action_argument unknown_key_experiment
  unknown_key_realm unknown_key_suite unknown_matcher unknown_namespace_kind unknown_probe
  unsupported_schema_version value_address_bad_octet value_address_without_prefix value_clock_misspelt
  value_destination_not_ipv4 value_id_map_file
  value_domainname_too_long value_hostname_too_long value_interface_name_too_long value_ipc_key_not_hex
  value_ipc_key_too_wide value_listen_address_not_ipv4 value_mq_name_two_slashes value_mq_name_without_slash
  value_namespace_kind_misspelt value_nest_levels_too_many value_nest_levels_zero value_not_a_signal
  value_not_in_domain value_port_out_of_range value_prefix_too_long value_propagation_misspelt
  value_setns_nsfd_kind value_sleep_ms_too_long value_veth_peer_too_long value_wait_ms_negative
  wrong_type_name wrong_type_new wrong_type_realms_list wrong_type_steps_mapping wrong_type_timeout
  wrong_types_everywhere"
bad_assignments="command_without_agent experiment_and_contract hostname_flag mounts_proc_typo
  negative_points no_tests nslab_assignment_without_version sandbox_uid_root suites_not_a_list
  unknown_contract unknown_flag_key unknown_top_level_key unknown_visibility
  unsupported_assignment_version zero_points"

exec "$python" - "$good" "$assignments" "$bad_suites" "$bad_assignments" <<'EOF'
import json, sys, yaml
from jsonschema import Draft202012Validator

good, assignments, bad_suites, bad_assignments = (a.split() for a in sys.argv[1:5])
failed = []

def validator(path):
    schema = json.load(open(path, encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)

def first_error(v, path):
    doc = yaml.safe_load(open(path, encoding="utf-8"))
    errors = sorted(v.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
    if not errors:
        return None
    e = errors[0]
    return "/".join(map(str, e.absolute_path)) + ": " + e.message[:200]

experiment = validator("docs/schema/experiment.schema.json")
assignment = validator("docs/schema/assignment.schema.json")
for path in good:
    if (why := first_error(experiment, path)) is not None:
        failed.append(f"{path}: the loader accepts it, the schema does not: {why}")
for path in assignments:
    if (why := first_error(assignment, path)) is not None:
        failed.append(f"{path}: the loader accepts it, the schema does not: {why}")
for v, corpus, names in [(experiment, "fixtures/bad_yaml", bad_suites), (assignment, "fixtures/bad_assignments", bad_assignments)]:
    for name in names:
        if first_error(v, f"{corpus}/{name}.yaml") is None:
            failed.append(f"{corpus}/{name}.yaml: the loader refuses it, the schema accepts it")

for f in failed:
    print(f)
if failed:
    sys.exit(1)
print(f"ok: {len(good)} suites and fixtures and {len(assignments)} assignment(s) valid; "
      f"{len(bad_suites)} bad suites and {len(bad_assignments)} bad assignments invalid")
EOF
