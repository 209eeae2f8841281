#!/usr/bin/env python3
"""Import circles between the files of a crate.

Usage: scripts/import-cycles.py CRATE_DIR...   (for example relay client-core)

Every `.rs` file under CRATE_DIR/src is a module (`a/b.rs` and `a/b/mod.rs` are `a::b`). A file
depends on another when it names an item of it: a `use` line or an inline path starting with
`crate::`, `super::` or `self::`. A name that a module only re-exports (`pub use x::Name`) counts
as a dependency on the module that defines it, so a `lib.rs` or `mod.rs` of re-exports is not a
hub. `mod x;` declarations are not dependencies. Test files (`tests.rs`, `tests/`) and
`#[cfg(test)]` blocks are left out: a test reaches into what it tests.

Prints each circle (a strongly connected set of two or more files) and exits 1 if there is one.
"""

import re
import sys
from pathlib import Path


def module_of(src: Path, path: Path) -> tuple:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts.pop()
    return tuple(parts)


def strip_tests(text: str) -> str:
    """Drops comments, string literals and `#[cfg(test)]` items (brace-matched)."""
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    out, i = [], 0
    while True:
        m = re.compile(r"#\[cfg\(test\)\]").search(text, i)
        if not m:
            out.append(text[i:])
            break
        out.append(text[i : m.start()])
        j = m.end()
        # The item ends at its first `;` (a `mod tests;`) or its matching `}`.
        depth = 0
        while j < len(text):
            c = text[j]
            if c == ";" and depth == 0:
                j += 1
                break
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
                if depth == 0:
                    j += 1
                    break
            j += 1
        i = j
    return "".join(out)


def use_paths(text: str):
    """Every path a file names: the leaves of each `use` tree, and inline crate/super/self paths."""
    paths = []
    for m in re.finditer(r"\buse\s+([^;]+);", text):
        paths += expand(m.group(1).replace("\n", " ").strip(), m.group(0))
    for m in re.finditer(r"(?<![\w:])((?:crate|super|self)(?:::\w+)+)", text):
        paths.append(m.group(1).split("::"))
    return paths


def expand(tree: str, _line: str):
    """`a::{b, c::{d, e}}` -> [[a, b], [a, c, d], [a, c, e]] (renames dropped)."""
    tree = re.sub(r"\s+as\s+\w+", "", tree).replace(" ", "")
    if tree.startswith("pub(crate)") or tree.startswith("pub(super)"):
        tree = tree.split(")", 1)[1]
    out = []

    def walk(prefix, s):
        if not s:
            return
        if "{" in s and s.index("{") < (s.index(",") if "," in s else len(s)):
            head, rest = s.split("{", 1)
            inner = rest[: rest.rindex("}")]
            head = [p for p in head.split("::") if p]
            for part in split_top(inner):
                walk(prefix + head, part)
        else:
            out.append(prefix + [p for p in s.split("::") if p])

    walk([], tree)
    return out


def split_top(s: str):
    parts, depth, cur = [], 0, ""
    for c in s:
        if c == "," and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        depth += c == "{"
        depth -= c == "}"
        cur += c
    if cur:
        parts.append(cur)
    return parts


def main() -> int:
    found = False
    for crate in sys.argv[1:]:
        src = Path(crate) / "src"
        files = {}
        for path in sorted(src.rglob("*.rs")):
            rel = path.relative_to(src)
            if rel.name == "tests.rs" or "tests" in rel.parts[:-1]:
                continue
            files[module_of(src, path)] = strip_tests(path.read_text())
        # Re-exports: module -> {name: absolute path of the item}.
        reexports = {}
        for module, text in files.items():
            names = {}
            for m in re.finditer(r"\bpub(?:\([^)]*\))?\s+use\s+([^;]+);", text):
                for p in expand(m.group(1).replace("\n", " ").strip(), ""):
                    absolute = absolutize(module, p)
                    if absolute and absolute[-1] != "*":
                        names[p[-1]] = absolute
            reexports[module] = names

        def resolve(path, seen=0):
            """The module file defining what `path` (absolute, crate-relative) names."""
            best = ()
            for i in range(len(path), -1, -1):
                if tuple(path[:i]) in files:
                    best = tuple(path[:i])
                    break
            rest = path[len(best) :]
            if rest and seen < 8 and rest[0] in reexports.get(best, {}):
                target = reexports[best][rest[0]] + rest[1:]
                if tuple(target[: len(best)]) != best or len(target) > len(path):
                    return resolve(target, seen + 1)
            return best

        edges = {m: set() for m in files}
        for module, text in files.items():
            for p in use_paths(text):
                absolute = absolutize(module, p)
                if absolute is None:
                    continue
                target = resolve(absolute)
                if target != module and target in files:
                    # A parent re-exporting its child is the module tree, not a dependency.
                    if module == target[: len(module)] and is_reexport_only(text, p):
                        continue
                    edges[module].add(target)
        for scc in strongly_connected(edges):
            if len(scc) > 1:
                found = True
                names = sorted("::".join(m) or "lib" for m in scc)
                print(f"{crate}: circle of {len(scc)} files: {', '.join(names)}")
                for m in sorted(scc):
                    inner = sorted("::".join(t) or "lib" for t in edges[m] if t in scc)
                    print(f"    {'::'.join(m) or 'lib'} -> {', '.join(inner)}")
        if not found:
            print(f"{crate}: no import circle between its {len(files)} files")
    return 1 if found else 0


def is_reexport_only(text: str, path) -> bool:
    return bool(re.search(r"\bpub(?:\([^)]*\))?\s+use\s+(self::)?" + re.escape(path[0]) + r"\b", text))


def absolutize(module, p):
    """Crate-relative path of a `use` path seen in `module`, or None for other crates."""
    p = list(p)
    if not p:
        return None
    if p[0] == "crate":
        return p[1:]
    base = list(module)
    if p[0] in ("self", "super"):
        while p and p[0] in ("self", "super"):
            if p[0] == "super":
                if not base:
                    return None
                base.pop()
            p.pop(0)
        return base + p
    # A bare path: a child module of this one (`use child::X`), else an external crate.
    if tuple(base + p[:1]) in FILES_HINT:
        return base + p
    return None


FILES_HINT = set()


def strongly_connected(edges):
    """Tarjan's algorithm, iterative enough for a crate's few hundred files."""
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            scc = set()
            while True:
                w = stack.pop()
                on.discard(w)
                scc.add(w)
                if w == v:
                    break
            out.append(scc)

    for v in edges:
        if v not in index:
            visit(v)
    return out


if __name__ == "__main__":
    # Child modules for bare `use child::X` paths.
    for crate in sys.argv[1:]:
        src = Path(crate) / "src"
        for path in src.rglob("*.rs"):
            FILES_HINT.add(module_of(src, path))
    sys.exit(main())
