#!/usr/bin/env python3
"""Checks the checklist map in test-vectors/README.md: every test it names exists in its file.

Usage: scripts/checklist-map.py [README]   (default test-vectors/README.md, run from the repo root)

In the "Checklist coverage" table a cell lists tests as "`name`, `name` (path)": each backticked
name followed, in the same part of the cell (parts split at `<br>` and `; `), by a parenthesized
`.rs` path is looked up as `fn name` in that file; so are the names after a backticked path
("`crypto/src/keys.rs` unit tests: `name`, `name`") when no parenthesized path follows them.
Backticked names followed by no path (fuzz targets, features) are left unchecked and listed. Prints one line per row and
exits 1 if a named test is missing or a row has no checked test.
"""

import re
import sys
from pathlib import Path

ROW = re.compile(r"^\| (\d+) \| (.*) \| (.*) \|$")
NAME = re.compile(r"`([A-Za-z_][A-Za-z0-9_]*)`")
PATH = re.compile(r"\(([\w./-]+\.rs)[:)]")


def parts(cell: str):
    for part in re.split(r"<br>|; ", cell):
        yield part


def check(root: Path, number: str, file: str, names: list, missing: list) -> int:
    """Looks each of `names` up as a function in `file`; returns how many were found."""
    path = root / file
    source = path.read_text() if path.is_file() else ""
    found = 0
    for name in names:
        if re.search(rf"\bfn {name}\b", source):
            found += 1
        else:
            missing.append(f"line {number}: `{name}` not in {file}")
    return found


def main() -> int:
    readme = Path(sys.argv[1] if len(sys.argv) > 1 else "test-vectors/README.md")
    root = readme.resolve().parent.parent
    text = readme.read_text()
    section = text.split("## Checklist coverage", 1)[-1]
    missing, rows = [], 0
    for line in section.splitlines():
        row = ROW.match(line)
        if not row:
            continue
        rows += 1
        number, cell = row.group(1), row.group(3)
        checked, unchecked = 0, []
        for part in parts(cell):
            # Each name belongs to the first path after it in this part of the cell.
            pending, lead = [], re.match(r"\s*`([\w./-]+\.rs)`", part)
            for token in re.finditer(rf"{NAME.pattern}|{PATH.pattern}", part):
                if token.group(1):
                    pending.append(token.group(1))
                    continue
                checked += check(root, number, token.group(2), pending, missing)
                pending = []
            if pending and lead:
                checked += check(root, number, lead.group(1), pending, missing)
                pending = []
            unchecked += pending
        note = f", unchecked: {', '.join(unchecked)}" if unchecked else ""
        print(f"line {number}: {checked} tests found{note}")
        if checked == 0:
            missing.append(f"line {number}: no test with a file")
    for problem in missing:
        print(f"MISSING {problem}")
    print(f"{rows} rows, {len(missing)} problems")
    return 1 if missing or rows == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
