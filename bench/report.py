"""Renders benchmark results (the JSON of `--json`) as the tables of bench/README.md.

    .venv/bin/python bench/report.py out/kernel.json out/lrshim.json out/overhead.json
    .venv/bin/python bench/report.py --check out/*.json   # exit 1 if the README differs
    .venv/bin/python bench/report.py --print out/overhead.json   # every block to stdout

The README holds marker pairs; the text between them is replaced, the rest is kept:

    <!-- bench:NAME:BLOCK[:ARG] -->
    (generated)
    <!-- /bench:NAME:BLOCK[:ARG] -->

NAME is the benchmark (`kernel`, `lrshim`, `overhead`: the JSON's "benchmark"); blocks
of a benchmark whose JSON is not given are left as they are. BLOCK is one of:

    run             when, the command, the checkout, how busy the machine was, the machine
    rows[:SECTION]  the comparison table (every row, or one section's)
    matrix:SECTION  ratios only: a line per case, a column per comparison
    targets         every graded row and its PASS/FAIL
    series:ID       a scaling table: per call and per element, a column pair per label
    points:ID       one line per timing of a series (the kernel's NumPy variants)
    skipped         what the run skipped, and why
    agreement       how many agreement checks ran, and any that failed

Cells are formatted by bench/harness.py, as in the scripts' own text output.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import harness

README = Path(__file__).resolve().parent / "README.md"
MARKER = re.compile(
    r"(?P<open><!-- bench:(?P<key>[\w.:()-]+) -->\n)(?P<body>.*?)(?P<close><!-- /bench:(?P=key) -->)",
    re.DOTALL,
)

Data = Mapping[str, Any]


def run_block(data: Data, _arg: str | None) -> list[str]:
    """When and how the results were taken, and on what machine."""
    m = data["machine"]
    date = data["date"].replace("T", " ").replace("+00:00", " UTC")
    mode = "**--quick smoke run**" if data["quick"] else "full run"
    busy = data["others_busy"]
    busy_text = "unknown" if busy is None else f"{busy:.0%}"
    lines = [
        f"Run of {date}, {mode}, {data['elapsed_s']:.0f} s, other processes used "
        f"{busy_text} of the CPU: `{data['command']}`.",
        "",
    ]
    lines += [f"- {line}" for line in harness.machine_lines(m)]
    if m.get("cos_floor_compiler"):
        lines.append(f"- std::cos floor: {m['cos_floor_compiler']}")
    return lines


def rows_block(data: Data, arg: str | None) -> list[str]:
    rows = [r for r in data["rows"] if arg is None or r["section"] == arg]
    return harness.rows_table(rows)


def matrix_block(data: Data, arg: str | None) -> list[str]:
    rows = [r for r in data["rows"] if arg is None or r["section"] == arg]
    return harness.matrix_table(rows, "kind")


def targets_block(data: Data, _arg: str | None) -> list[str]:
    graded = [r for r in data["rows"] if r["target"] is not None]
    if not graded:
        return ["(no target graded in this run)"]
    return harness.targets_table(graded)


def _points(data: Data, arg: str | None) -> list[Mapping[str, Any]]:
    if arg is None:
        raise ValueError("a series block needs the series id (series:ID, points:ID)")
    points = [p for p in data["series"] if p["series"] == arg]
    if not points:
        raise ValueError(f"no series {arg!r} in the {data['benchmark']} results")
    return points


def series_block(data: Data, arg: str | None) -> list[str]:
    points = _points(data, arg)
    x = "G" if "group" in (arg or "") else "n"
    return harness.series_table(points, x)


def points_block(data: Data, arg: str | None) -> list[str]:
    return harness.points_table(_points(data, arg))


def skipped_block(data: Data, _arg: str | None) -> list[str]:
    if not data["skipped"]:
        return ["Nothing skipped."]
    return [f"- `{s['what']}`: {s['reason']}" for s in data["skipped"]]


def agreement_block(data: Data, _arg: str | None) -> list[str]:
    checks, failures = data["checks"], data["failures"]
    if not failures:
        return [f"All {len(checks)} agreement checks passed."]
    return [f"{len(failures)} of {len(checks)} agreement checks FAILED:", ""] + [
        f"- {f}" for f in failures
    ]


BLOCKS: dict[str, Callable[[Data, str | None], list[str]]] = {
    "run": run_block,
    "rows": rows_block,
    "matrix": matrix_block,
    "targets": targets_block,
    "series": series_block,
    "points": points_block,
    "skipped": skipped_block,
    "agreement": agreement_block,
}


def render(key: str, results: Mapping[str, Data]) -> list[str] | None:
    """The lines of marker `key` (NAME:BLOCK[:ARG]); None when NAME has no results."""
    name, _, rest = key.partition(":")
    block, _, arg = (rest or "rows").partition(":")
    if block not in BLOCKS:
        raise ValueError(f"unknown block {block!r} in marker bench:{key}")
    if name not in results:
        return None
    return BLOCKS[block](results[name], arg or None)


def update(text: str, results: Mapping[str, Data]) -> tuple[str, list[str], list[str]]:
    """`text` with every marker of the given benchmarks regenerated.

    Returns the new text, the keys regenerated and the keys left alone.
    """
    done: list[str] = []
    kept: list[str] = []

    def replace(m: re.Match[str]) -> str:
        lines = render(m["key"], results)
        if lines is None:
            kept.append(m["key"])
            return m[0]
        done.append(m["key"])
        return m["open"] + "\n" + "\n".join(lines) + "\n\n" + m["close"]

    return MARKER.sub(replace, text), done, kept


def load(paths: Sequence[str]) -> dict[str, Data]:
    results: dict[str, Data] = {}
    for path in paths:
        data = json.loads(Path(path).read_text())
        if data.get("schema") != harness.SCHEMA:
            raise ValueError(f"{path}: schema {data.get('schema')!r}, expected {harness.SCHEMA}")
        results[data["benchmark"]] = data
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("results", nargs="+", help="JSON files written by the benchmarks' --json")
    parser.add_argument("--readme", default=str(README), help="default: %(default)s")
    parser.add_argument("--check", action="store_true", help="exit 1 if the README would change")
    parser.add_argument("--print", action="store_true", help="print every block, write nothing")
    args = parser.parse_args(argv)
    try:
        results = load(args.results)
    except (OSError, ValueError, KeyError) as e:
        print(f"report.py: {e}", file=sys.stderr)
        return 2
    if args.print:
        for name, data in results.items():
            for key in ("run", "rows", "targets", "skipped", "agreement"):
                print(f"<!-- bench:{name}:{key} -->")
                print("\n".join(BLOCKS[key](data, None)) + "\n")
            for sid in dict.fromkeys(p["series"] for p in data["series"]):
                # many labels (variants) read better one per line than one per column
                many = len({p["label"] for p in data["series"] if p["series"] == sid}) > 4
                block = "points" if many else "series"
                print(f"<!-- bench:{name}:{block}:{sid} -->")
                print("\n".join(BLOCKS[block](data, sid)) + "\n")
        return 0
    readme = Path(args.readme)
    text = readme.read_text()
    try:
        new, done, kept = update(text, results)
    except ValueError as e:
        print(f"report.py: {readme}: {e}", file=sys.stderr)
        return 2
    missing = sorted(set(results) - {key.split(":")[0] for key in done})
    for name in missing:
        print(f"report.py: no bench:{name} marker in {readme}", file=sys.stderr)
    if args.check:
        if new != text:
            print(f"{readme} is out of date with {', '.join(args.results)}", file=sys.stderr)
            return 1
        print(f"{readme} is up to date ({len(done)} blocks)")
        return 0
    readme.write_text(new)
    print(f"{readme}: {len(done)} blocks regenerated" + (f", {len(kept)} left" if kept else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
