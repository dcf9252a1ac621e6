#!/usr/bin/env python3
"""Writes THIRD-PARTY-NOTICES for the crates statically linked into the release binary.

The crate set comes from `cargo metadata --format-version 1` (resolved for this host's target
triple and the default features): from the root package, every *normal* dependency, never
through build or dev dependencies nor into proc-macro crates (they run in the compiler and are
not linked). For each crate: name, version, SPDX license expression, repository, and the text of
every license/notice/copyright file the crate ships in its source (~/.cargo/registry/src, the
`manifest_path` directory). Identical texts are printed once, listing the crates that ship them.
A crate that ships no license file is named at the end (and makes the script fail with
--strict).

    packaging/third-party-notices.py > target/package/THIRD-PARTY-NOTICES
"""
import hashlib
import json
import os
import re
import subprocess
import sys

LICENSE_FILE = re.compile(r"^(licen[cs]e|copying|notice|copyright|authors)([-._].*)?$", re.I)


def host_triple():
    out = subprocess.run(["rustc", "-vV"], check=True, capture_output=True, text=True).stdout
    return next(l.split(": ", 1)[1] for l in out.splitlines() if l.startswith("host: "))


def linked_packages(meta):
    pkgs = {p["id"]: p for p in meta["packages"]}
    nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
    root = meta["resolve"]["root"]
    seen, todo = set(), [root]
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        for dep in nodes[pid]["deps"]:
            normal = any(k["kind"] is None for k in dep["dep_kinds"])
            target = pkgs[dep["pkg"]]
            proc_macro = all("proc-macro" in t["kind"] for t in target["targets"]
                             if "lib" in t["kind"] or "proc-macro" in t["kind"])
            if normal and not proc_macro:
                todo.append(dep["pkg"])
    seen.discard(root)
    return sorted((pkgs[i] for i in seen), key=lambda p: (p["name"], p["version"]))


def license_texts(pkg):
    base = os.path.dirname(pkg["manifest_path"])
    names = set()
    if pkg.get("license_file"):
        names.add(pkg["license_file"])
    for entry in sorted(os.listdir(base)):
        path = os.path.join(base, entry)
        if LICENSE_FILE.match(entry) and os.path.isfile(path):
            names.add(entry)
        # A few crates keep their licenses in a directory (LICENSES/, license/).
        if entry.lower() in ("licenses", "license") and os.path.isdir(path):
            names.update(os.path.join(entry, f) for f in sorted(os.listdir(path)))
    texts = []
    for name in sorted(names):
        path = os.path.join(base, name)
        if os.path.isfile(path):
            with open(path, encoding="utf-8", errors="replace") as f:
                texts.append((name, f.read().strip() + "\n"))
    return texts


def main():
    strict = "--strict" in sys.argv
    meta = json.loads(subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--locked",
         "--filter-platform", host_triple()],
        check=True, capture_output=True, text=True).stdout)
    packages = linked_packages(meta)
    texts, users, missing = {}, {}, []
    per_crate = []
    for p in packages:
        found = license_texts(p)
        if not found:
            missing.append(p)
        keys = []
        for name, text in found:
            key = hashlib.sha256(re.sub(r"\s+", " ", text).encode()).hexdigest()[:12]
            texts.setdefault(key, text)
            users.setdefault(key, []).append(f"{p['name']} {p['version']} ({name})")
            keys.append(key)
        per_crate.append((p, keys))

    out = sys.stdout
    out.write("THIRD-PARTY NOTICES for tally\n\n"
              f"The tally binary statically links the {len(packages)} Rust crates listed below.\n"
              "Each is named with its version, license (SPDX) and source; the license and notice\n"
              "texts the crates ship follow, each distinct text once, as [text N].\n\n")
    index = {k: i + 1 for i, k in enumerate(texts)}
    for p, keys in per_crate:
        refs = ", ".join(f"[text {index[k]}]" for k in keys) or "no license file in the crate"
        out.write(f"{p['name']} {p['version']}\n  License: {p.get('license') or 'unknown'}\n"
                  f"  Source: {p.get('repository') or 'https://crates.io/crates/' + p['name']}\n"
                  f"  Texts: {refs}\n")
    for key, text in texts.items():
        out.write(f"\n{'=' * 78}\n[text {index[key]}] shipped by: {', '.join(users[key])}\n"
                  f"{'-' * 78}\n{text}")
    if missing:
        names = ", ".join(f"{p['name']} {p['version']} ({p.get('license')})" for p in missing)
        out.write(f"\n{'=' * 78}\nCrates that ship no license file (their license is the one "
                  f"named above, whose standard text is among the texts listed): {names}\n")
        print(f"third-party-notices: no license file in {names}", file=sys.stderr)
        if strict:
            sys.exit(1)


if __name__ == "__main__":
    main()
