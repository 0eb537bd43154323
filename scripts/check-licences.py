#!/usr/bin/env python3
"""Fails if any dependency of the workspace is licensed only under a copyleft licence (GPL, AGPL, LGPL).

pawl is MIT OR Apache-2.0; a dependency whose licence expression offers no permissive choice would
change that. Reads `cargo metadata`, so it checks exactly what Cargo.lock resolves.
"""
import json
import re
import subprocess
import sys

COPYLEFT = re.compile(r"\b(A?GPL|LGPL|SSPL|EUPL)", re.IGNORECASE)

meta = json.loads(
    subprocess.check_output(["cargo", "metadata", "--format-version", "1", "--locked"], text=True)
)
bad = []
for package in meta["packages"]:
    licence = package.get("license") or ""
    if not licence:
        if package.get("source") is None:
            continue  # workspace members carry the workspace licence
        bad.append(f"{package['name']} {package['version']}: no licence declared")
        continue
    # An expression passes when some OR-alternative is free of copyleft terms.
    alternatives = re.split(r"\s+OR\s+|/", licence)
    if all(COPYLEFT.search(alt) for alt in alternatives):
        bad.append(f"{package['name']} {package['version']}: {licence}")
if bad:
    print("dependencies with a copyleft-only licence:", *bad, sep="\n  ")
    sys.exit(1)
print(f"{len(meta['packages'])} packages checked: every licence offers a permissive choice")
