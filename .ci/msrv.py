"""Fails if a locked dependency of the library needs a newer Rust than the
crate's rust-version.

Reads `cargo metadata --format-version 1` on stdin. Follows normal and build
dependencies from the crate (what a dependent builds), not the crate's own
dev-dependencies: its tests, examples and benches may need a newer Rust.
"""

import json
import sys


def version(text):
    return tuple(int(part) for part in text.split("."))


meta = json.load(sys.stdin)
packages = {p["id"]: p for p in meta["packages"]}
nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
root = meta["resolve"]["root"]
msrv = packages[root]["rust_version"]

seen, todo = set(), [root]
while todo:
    node = nodes[todo.pop()]
    for dep in node["deps"]:
        kinds = {k["kind"] for k in dep["dep_kinds"]}
        if node["id"] == root and kinds == {"dev"}:
            continue
        if dep["pkg"] not in seen:
            seen.add(dep["pkg"])
            todo.append(dep["pkg"])

newer = [
    f"{p['name']} {p['version']} needs Rust {p['rust_version']}"
    for p in (packages[id] for id in sorted(seen))
    if p["rust_version"] and version(p["rust_version"]) > version(msrv)
]
print(f"{len(seen)} library dependencies checked against Rust {msrv}")
if newer:
    sys.exit("newer than rust-version:\n" + "\n".join(newer))
