#!/usr/bin/env python3
"""Writes a libFuzzer dictionary for the YAML targets: every key the scenario schema names (scenarios/
scenario.schema.json) as `key:`, every unit the readers take (sim/inputs/src/units.cpp) after a number, and the
YAML punctuation a mutation needs to build maps and lists. Usage: fuzz/make_dict.py OUT.dict"""
import json
import re
import sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent
keys, enums = set(), set()


def walk(node):
    if isinstance(node, dict):
        if isinstance(node.get("properties"), dict):
            keys.update(node["properties"])
        for value in node.get("enum", []):
            if isinstance(value, str):
                enums.add(value)
        for value in node.values():
            walk(value)
    elif isinstance(node, list):
        for value in node:
            walk(value)


walk(json.loads((root / "scenarios/scenario.schema.json").read_text()))
units = set(re.findall(r'\{"([A-Za-z/%]+)", [0-9.e/ *]+\}', (root / "sim/inputs/src/units.cpp").read_text()))
entries = [f"{k}: " for k in sorted(keys)] + sorted(enums) + [f"1{u}" for u in sorted(units)]
entries += [": ", "\n  - ", "{", "}", "[", "]", ", ", "null", "true", "1e308", "-1", "0", "~", "&a", "*a", "!!str", "<<: "]
with open(sys.argv[1], "w") as out:
    for e in entries:
        out.write('"' + e.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\x0A") + '"\n')
print(f"{sys.argv[1]}: {len(keys)} keys, {len(enums)} enum values, {len(units)} units")
