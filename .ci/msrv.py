"""Fails if a locked dependency of a workspace member needs a newer Rust than
the member's rust-version.

Reads `cargo metadata --format-version 1` on stdin. For each member, follows
normal and build dependencies (what a dependent builds), not the member's own
dev-dependencies: its tests, examples and benches may need a newer Rust. A
dependency on the 2024 edition needs Rust 1.85 even when it declares no
rust-version.
"""

import json
import sys

EDITION_NEEDS = {"2024": "1.85"}


def version(text):
    parts = [int(part) for part in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def needs(package):
    found = [v for v in (package["rust_version"], EDITION_NEEDS.get(package["edition"])) if v]
    return max(found, key=version) if found else None


meta = json.load(sys.stdin)
packages = {p["id"]: p for p in meta["packages"]}
nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
failures = []
for member in meta["workspace_members"]:
    msrv = packages[member]["rust_version"]
    seen, todo = set(), [member]
    while todo:
        node = nodes[todo.pop()]
        for dep in node["deps"]:
            kinds = {k["kind"] for k in dep["dep_kinds"]}
            if kinds == {"dev"}:
                continue
            if dep["pkg"] not in seen:
                seen.add(dep["pkg"])
                todo.append(dep["pkg"])
    newer = [
        f"{packages[member]['name']}: {p['name']} {p['version']} needs Rust {needs(p)}"
        for p in (packages[id] for id in sorted(seen))
        if needs(p) and version(needs(p)) > version(msrv)
    ]
    print(f"{packages[member]['name']}: {len(seen)} dependencies checked against Rust {msrv}")
    failures += newer
if failures:
    sys.exit("newer than rust-version:\n" + "\n".join(failures))
