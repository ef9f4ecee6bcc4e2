#!/usr/bin/env python3
"""Checks scenarios/scenario.schema.json against the scenario files.

- every scenarios/**/*.yaml must be valid;
- every tests/data/bad_scenarios/*.yaml whose header says '# schema: invalid' must be invalid;
- every other bad scenario that is valid YAML must be schema-valid: its mistake is one only the
  loader can see (tp vs gpus_per_server, catalog names, GPU budget), so the schema is not stricter
  than the format.

Usage: schema_check.py [repository root]. Needs python3-jsonschema (>= 4, draft 2020-12) and python3-yaml.
Exit codes: 0 all good, 1 a check failed, 77 a module is missing (CTest reports the test as skipped).
"""
import json
import pathlib
import sys

try:
    import jsonschema
    import yaml
except ImportError as e:  # the setup script installs python3-jsonschema python3-yaml
    print(f"schema_check: skipped, {e.name} is not installed (Debian: python3-jsonschema python3-yaml)")
    sys.exit(77)


def main() -> int:
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parents[1])
    schema = json.loads((root / "scenarios" / "scenario.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    failures = 0

    # Sweep files (scenarios/sweeps/) and plan files (*.plan.yaml) are not scenarios; `aifsim sweep --dry-run` and
    # `aifsim plan --dry-run` check them.
    good = sorted(p for p in (root / "scenarios").rglob("*.yaml")
                  if "sweeps" not in p.relative_to(root).parts and not p.name.endswith(".plan.yaml"))
    if not good:
        print("no scenarios found under", root / "scenarios")
        return 1
    for path in good:
        errors = list(validator.iter_errors(yaml.safe_load(path.read_text(encoding="utf-8"))))
        for error in errors:
            print(f"FAIL {path.relative_to(root)}: {'/'.join(map(str, error.absolute_path))}: {error.message}")
        failures += bool(errors)
        if not errors:
            print(f"ok   {path.relative_to(root)}: valid")

    bad = sorted((root / "tests" / "data" / "bad_scenarios").glob("*.yaml"))
    for path in bad:
        text = path.read_text(encoding="utf-8")
        marked = any(line.strip() == "# schema: invalid" for line in text.splitlines() if line.startswith("#"))
        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError:
            if marked:
                print(f"FAIL {path.relative_to(root)}: marked '# schema: invalid' but is not even YAML")
                failures += 1
            continue
        valid = validator.is_valid(document)
        if marked and valid:
            print(f"FAIL {path.relative_to(root)}: marked '# schema: invalid' but the schema accepts it")
            failures += 1
        elif not marked and not valid:
            error = next(validator.iter_errors(document))
            print(f"FAIL {path.relative_to(root)}: not marked invalid but the schema rejects it: "
                  f"{'/'.join(map(str, error.absolute_path))}: {error.message}")
            failures += 1
        else:
            print(f"ok   {path.relative_to(root)}: {'invalid' if marked else 'valid'} as marked")

    print(f"{len(good)} scenarios, {len(bad)} bad scenarios, {failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
