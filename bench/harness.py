"""The benchmark harness every script in bench/ uses.

One way to time, check, grade and record, so that every figure in bench/README.md
means the same thing:

- `measure`: the contenders of one comparison timed **interleaved** (a round takes one
  sample of each, in an order rotated every round, so drift and other processes' load
  hit every contender alike), after a warm-up call whose result is kept for the
  agreement checks and an untimed round (first touches of fresh memory). A sample is
  `number` calls (1 for large calls; calibrated to about `sample_s` for tiny ones, with
  the call inlined in a `timeit` loop). Statistics, everywhere: the minimum and the
  median of the samples, per call (`Timing.per` turns them into per element).
  Ratios use the minimum.
- `Quiet` / `CpuMeter`: the share of the machine's CPU that other processes used while
  a measurement ran; a disturbed measurement is retried and the least disturbed kept,
  optionally after waiting for a quiet second.
- `Checks`: agreement of every compared implementation with the package's own result,
  bitwise (uint64 views) or within a stated relative tolerance; any disagreement makes
  the script exit 1.
- `Bench`: the rows of one run (a timing of ours against another, ratio, optional
  target: a miss prints FAIL but does not change the exit status), series of single
  timings (scaling tables), skipped items, the machine, and `--json PATH` output with
  every raw sample. `report.py` renders that JSON as bench/README.md's tables, with the
  same cell formatting as the text tables printed here (`row_cells`, `series_table`).
"""

from __future__ import annotations

import argparse
import datetime
import gc
import importlib.metadata
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
import timeit
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
SCHEMA = 1  # version of the JSON layout written by `Bench.finish`


def use_source_tree() -> None:
    """Makes `import tml` work from a source checkout run without PYTHONPATH=python.

    An installed package (the README's quick start) or PYTHONPATH wins; only when `tml`
    cannot be imported is the checkout's python/ directory (with a module built in
    place) put on the path.
    """
    try:
        import tml.optimizers  # noqa: F401
    except ImportError:
        sys.path.insert(0, str(HERE.parent / "python"))


# ---------------------------------------------------------------------------
# Timings


@dataclass
class Timing:
    """Seconds per call (or per `per` unit): one sample per repeat.

    Attributes:
        samples: seconds per unit, one per timed round.
        number: calls per sample (the sample's time is divided by it).
        busy: share of the machine's CPU time that other processes used while it was
            measured (None where unknown, e.g. shorter than a clock tick).
        per: what one unit is ("call", "element", "step", ...).
        scale: factor applied to the measured times (a subset scaled to the whole).
    """

    samples: list[float]
    number: int = 1
    busy: float | None = None
    per: str = "call"
    scale: float = 1.0

    @property
    def min(self) -> float:
        return min(self.samples)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def repeats(self) -> int:
        return len(self.samples)

    def scaled(self, factor: float, per: str | None = None) -> Timing:
        """The same timing with every sample multiplied by `factor`."""
        samples = [x * factor for x in self.samples]
        return Timing(samples, self.number, self.busy, per or self.per, self.scale * factor)

    def per_unit(self, units: int, per: str = "element") -> Timing:
        """Seconds per element (or other unit) of a call that handles `units` of them."""
        return self.scaled(1.0 / max(units, 1), per)

    def to_json(self) -> dict[str, Any]:
        return {
            "min_s": self.min,
            "median_s": self.median,
            "repeats": self.repeats,
            "number": self.number,
            "per": self.per,
            "scale": self.scale,
            "busy": self.busy,
            "samples_s": self.samples,
        }

    @staticmethod
    def mean(timings: Sequence[Timing]) -> Timing:
        """The element-wise mean of timings that have the same number of samples.

        The samples are sorted first, so the mean's min and median are the means of
        the mins and of the medians.
        """
        columns = zip(*(sorted(t.samples) for t in timings), strict=True)
        busy = [t.busy for t in timings]
        worst = None if None in busy else max(b for b in busy if b is not None)
        return Timing([statistics.fmean(c) for c in columns], timings[0].number, worst)


class CpuMeter:
    """Share of the machine's CPU time that other processes used since it started (Linux).

    The parallel rows need every core: another busy process on a 2-core machine halves
    them. This says how much a measurement was disturbed, so that runs can be compared.
    """

    def __init__(self) -> None:
        self.start = self._sample()

    @staticmethod
    def _sample() -> tuple[float, float, float] | None:
        try:
            first = Path("/proc/stat").read_text().splitlines()[0].split()
        except OSError:
            return None
        ticks = [int(x) for x in first[1:]]
        idle = ticks[3] + ticks[4]  # idle + iowait
        me = os.times()
        hz = os.sysconf("SC_CLK_TCK")
        own = me.user + me.system + me.children_user + me.children_system
        return (sum(ticks) / hz, idle / hz, own)

    def others_share(self) -> float | None:
        end = self._sample()
        if self.start is None or end is None or end[0] <= self.start[0]:
            return None
        total = end[0] - self.start[0]
        busy = total - (end[1] - self.start[1])
        return max(0.0, busy - (end[2] - self.start[2])) / total


@dataclass
class Quiet:
    """How hard `measure` tries to time on a machine that other processes leave alone.

    A measurement during which other processes used more than `threshold` of the CPU
    time is repeated, up to `attempts` times in all, and the least disturbed attempt is
    kept; with `wait_s` > 0, each attempt first waits (up to wait_s) for a quiet
    half-second.
    """

    attempts: int = 3
    threshold: float = 0.10
    wait_s: float = 0.0

    def wait(self) -> None:
        deadline = time.monotonic() + self.wait_s
        while time.monotonic() < deadline:
            meter = CpuMeter()
            time.sleep(0.5)
            share = meter.others_share()
            if share is None or share <= self.threshold:
                return

    def run(
        self, timed_rounds: Callable[[], list[list[float]]]
    ) -> tuple[list[list[float]], float | None]:
        """Runs `timed_rounds` until undisturbed; returns its samples and the busy share."""
        best: tuple[list[list[float]], float | None] | None = None
        for _ in range(max(1, self.attempts)):
            self.wait()
            meter = CpuMeter()
            samples = timed_rounds()
            share = meter.others_share()
            if best is None or (share is not None and (best[1] is None or share < best[1])):
                best = (samples, share)
            if share is None or share <= self.threshold:
                break
        assert best is not None
        return best


QUIET = Quiet()


@dataclass(frozen=True)
class Stmt:
    """A statement timed inline in a `timeit` loop, its names looked up in `namespace`.

    For calls of tens of nanoseconds, where calling a Python wrapper per iteration would
    cost as much as what is measured: `Stmt("f(x)", {"f": f, "x": 1})`. Its result (for
    the agreement checks) is `eval(code, namespace)`.
    """

    code: str
    namespace: Mapping[str, Any]


Call = Callable[[], Any] | Stmt


def _timer(call: Call, setup: Callable[[], Any] | None) -> timeit.Timer:
    setup_arg: Any = setup if setup is not None else "pass"
    if isinstance(call, Stmt):
        return timeit.Timer(call.code, setup_arg, globals=dict(call.namespace))
    return timeit.Timer(call, setup_arg)


def _evaluate(call: Call) -> Any:
    if isinstance(call, Stmt):
        return eval(call.code, dict(call.namespace))  # our own benchmark statements
    return call()


def _calibrate(timer: timeit.Timer, sample_s: float) -> int:
    """Calls per sample so that one sample lasts about `sample_s` (1 when sample_s <= 0)."""
    if sample_s <= 0:
        return 1
    number = 1
    while True:
        elapsed = timer.timeit(number)
        if elapsed >= sample_s / 5 or number >= 10**8:
            break
        number *= 10
    return max(1, round(sample_s * number / max(elapsed, 1e-9)))


def measure(
    calls: Mapping[str, Call],
    budget_s: float,
    *,
    sample_s: float = 0.0,
    repeats: int | None = None,
    min_repeats: int = 5,
    max_repeats: int = 1000,
    setup: Callable[[], Any] | None = None,
    quiet: Quiet | None = None,
) -> tuple[dict[str, Timing], dict[str, Any]]:
    """Times `calls` interleaved; returns their timings and their warm-up results.

    Args:
        calls: name -> a callable or a `Stmt`.
        budget_s: about how long the timed rounds take per call (the number of rounds
            is sized from an untimed round), unless `repeats` fixes it.
        sample_s: 0 for one call per sample (large calls); else each call's number of
            calls per sample is calibrated so that a sample lasts about this long.
        repeats: a fixed number of rounds (overrides budget_s, min and max).
        min_repeats: at least this many rounds.
        max_repeats: at most this many rounds.
        setup: run untimed before every sample (e.g. to flush the caches).
        quiet: the retry policy for disturbed measurements (default: the module's).

    Each call is made once first (its result is returned, for the agreement checks),
    then all are timed in rounds, one sample of each per round, in an order rotated each
    round. The garbage collector is off throughout.
    """
    quiet = quiet or QUIET
    # The collector is off while timing; a young-generation pass clears the setup's
    # garbage (a full pass costs ~0.2 s with torch loaded, and this runs per comparison).
    gc.collect(1)
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        results = {name: _evaluate(call) for name, call in calls.items()}
        timers = [_timer(call, setup) for call in calls.values()]
        numbers = [_calibrate(timer, sample_s) for timer in timers]
        # An untimed round sizes the timed ones: the first calls can be far slower than
        # the rest (first touch of fresh memory, which in a VM with free page reporting
        # may even fault on the host), and would leave too few rounds.
        start = time.perf_counter()
        for timer, number in zip(timers, numbers, strict=True):
            timer.timeit(number)
        first = time.perf_counter() - start
        if repeats is None:
            wanted = budget_s * len(timers) / max(first, 1e-9)
            rounds = int(min(max_repeats, max(min_repeats, wanted)))
        else:
            rounds = repeats

        def timed_rounds() -> list[list[float]]:
            samples: list[list[float]] = [[] for _ in timers]
            count = len(timers)
            for r in range(rounds):
                shift = r % count
                for k in [*range(shift, count), *range(shift)]:
                    samples[k].append(timers[k].timeit(numbers[k]) / numbers[k])
            return samples

        samples, busy = quiet.run(timed_rounds)
    finally:
        if was_enabled:
            gc.enable()
    timings = {
        name: Timing(s, number, busy)
        for name, s, number in zip(calls, samples, numbers, strict=True)
    }
    return timings, results


def measure_one(call: Call, budget_s: float, **options: Any) -> tuple[Timing, Any]:
    """`measure` of a single call."""
    timings, results = measure({"call": call}, budget_s, **options)
    return timings["call"], results["call"]


# ---------------------------------------------------------------------------
# Agreement checks


class Checks:
    """Every agreement check of the run; any failure makes the script exit 1."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.failures: list[str] = []

    def _record(self, what: str, result: str, ok: bool, detail: str = "") -> str:
        self.records.append({"what": what, "result": result, "ok": ok})
        if not ok:
            self.failures.append(f"{what}: {detail}")
        return result

    def bitwise(self, what: str, got: Any, want: Any) -> str:
        """'bitwise' when `got` has the shape and the float64 bits of `want`."""
        got_a, want_a = as_float64(got), as_float64(want)
        if same_bits(got_a, want_a):
            return self._record(what, "bitwise", True)
        detail = f"not bitwise equal to the package ({describe(got_a, want_a)})"
        return self._record(what, "MISMATCH", False, detail)

    def close(self, what: str, got: Any, want: Any, rtol: float) -> str:
        """'bitwise', or 'rtol R (max U ulp)' when within `rtol` of `want`."""
        got_a, want_a = as_float64(got), as_float64(want)
        if same_bits(got_a, want_a):
            return self._record(what, "bitwise", True)
        same_type = got_a.shape == want_a.shape and got_a.dtype == want_a.dtype == np.float64
        if same_type and np.allclose(got_a, want_a, rtol=rtol, atol=0.0):
            return self._record(what, f"rtol {rtol:g} (max {max_ulps(got_a, want_a)} ulp)", True)
        detail = f"beyond rtol={rtol:g} of the package ({describe(got_a, want_a)})"
        return self._record(what, "MISMATCH", False, detail)

    def fail(self, what: str, detail: str) -> str:
        """Records a failure found by the caller (a wrong type, an exception)."""
        return self._record(what, "MISMATCH", False, detail)


def as_float64(x: Any) -> np.ndarray:
    """`x` as an array, Python floats as float64 (other dtypes kept, so they mismatch)."""
    if isinstance(x, float):
        return np.asarray(x, dtype=np.float64)
    if isinstance(x, (list, tuple)) and all(type(v) is float for v in x):
        return np.asarray(x, dtype=np.float64)
    return np.asarray(x)


def same_bits(got: np.ndarray, want: np.ndarray) -> bool:
    if got.shape != want.shape or got.dtype != np.float64 or want.dtype != np.float64:
        return False
    return bool(np.array_equal(got.view(np.uint64), want.view(np.uint64)))


def max_ulps(got: np.ndarray, want: np.ndarray) -> int:
    # Learning rates are >= 0, where doubles' bit patterns are ordered like their values.
    return int(np.max(np.abs(got.view(np.int64) - want.view(np.int64)))) if got.size else 0


def describe(got: np.ndarray, want: np.ndarray) -> str:
    if got.shape != want.shape or got.dtype != want.dtype:
        return f"got {got.dtype}{got.shape}, package {want.dtype}{want.shape}"
    bad = np.flatnonzero(got.reshape(-1).view(np.uint64) != want.reshape(-1).view(np.uint64))
    i = int(bad[0])
    at = tuple(int(x) for x in np.unravel_index(i, got.shape)) if got.ndim > 1 else i
    return f"{bad.size} differ, first at {at}: got {got.flat[i]!r}, package {want.flat[i]!r}"


# ---------------------------------------------------------------------------
# Rows, series and their cells (shared by the text output and report.py)


@dataclass
class Row:
    """One comparison: a timing of ours against another implementation's or a floor's.

    mode "speedup": ratio = other / ours (times faster), the target is a minimum;
    mode "over": ratio = ours / other (ours in units of the other), a maximum. `unit`
    labels an "over" ratio ("floor", "ref"). Ratios use the minimum of the samples.
    """

    section: str
    case: str
    size: str
    ours: str
    ours_t: Timing | None
    other: str
    other_t: Timing | None
    mode: str
    agreement: str
    target: float | None = None
    unit: str = ""
    ratio: float | None = None
    note: str = ""

    def __post_init__(self) -> None:
        if self.ratio is None and self.ours_t is not None and self.other_t is not None:
            a, b = self.ours_t.min, self.other_t.min
            self.ratio = b / a if self.mode == "speedup" else a / b

    @property
    def passed(self) -> bool | None:
        if self.target is None or self.ratio is None:
            return None
        if self.mode == "speedup":
            return self.ratio >= self.target
        return self.ratio <= self.target

    def to_json(self) -> dict[str, Any]:
        return {
            "section": self.section,
            "case": self.case,
            "size": self.size,
            "ours": self.ours,
            "ours_t": None if self.ours_t is None else self.ours_t.to_json(),
            "other": self.other,
            "other_t": None if self.other_t is None else self.other_t.to_json(),
            "mode": self.mode,
            "unit": self.unit,
            "ratio": self.ratio,
            "target": self.target,
            "passed": self.passed,
            "agreement": self.agreement,
            "note": self.note,
        }


@dataclass
class Section:
    """Adds rows comparing one measured call of ours with others."""

    bench: Bench
    section: str
    case: str
    size: str
    ours: str
    ours_t: Timing | None

    def speedup(
        self, other: str, t: Timing | None, agree: str, target: float | None = None, **kw: Any
    ) -> Row:
        """A row of ratio other / ours (x faster), `target` its minimum."""
        return self._add(other, t, "speedup", agree, target, **kw)

    def over(
        self, other: str, t: Timing | None, agree: str, target: float | None = None, **kw: Any
    ) -> Row:
        """A row of ratio ours / other (ours in units of a floor or reference).

        `target` is its maximum.
        """
        return self._add(other, t, "over", agree, target, **kw)

    def _add(
        self, other: str, t: Timing | None, mode: str, agree: str, target: Any, **kw: Any
    ) -> Row:
        head = (self.section, self.case, self.size, self.ours, self.ours_t)
        row = Row(*head, other, t, mode, agree, target, **kw)
        self.bench.rows.append(row)
        return row


def fmt_time(seconds: float | None) -> str:
    """3 significant digits in s, ms, us or ns."""
    if seconds is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    if seconds >= 1e-9 or seconds == 0:
        return f"{seconds * 1e9:.3g} ns"
    return f"{seconds * 1e12:.3g} ps"


def fmt_size(n: int) -> str:
    """1e7 for a power of ten, else the number."""
    exp = round(math.log10(n)) if n > 0 else 0
    return f"1e{exp}" if 10**exp == n else str(n)


def fmt_timing(t: Mapping[str, Any] | None) -> str:
    """'min / median' of a JSON timing."""
    return "-" if t is None else f"{fmt_time(t['min_s'])} / {fmt_time(t['median_s'])}"


def fmt_busy(share: float | None) -> str:
    return "?" if share is None else f"{share:.0%}"


def fmt_ratio(row: Mapping[str, Any]) -> str:
    ratio = row["ratio"]
    if ratio is None:
        return "-"
    if row["mode"] == "speedup":
        return f"{ratio:.2f}x faster"
    return f"{ratio:.2f}x {row['unit']}".rstrip()


def fmt_target(row: Mapping[str, Any]) -> tuple[str, str]:
    """The target cell and the result cell (PASS/FAIL, empty without a target)."""
    target = row["target"]
    if target is None:
        return "-", ""
    text = f">= {target:g}x faster" if row["mode"] == "speedup" else f"<= {target:g}x"
    return text, "" if row["passed"] is None else "PASS" if row["passed"] else "FAIL"


ROW_HEADER = ["case", "N / G", "ours", "ours min / med", "compared with", "min / med"]
ROW_HEADER += ["ratio", "target", "result", "agreement", "busy"]


def row_cells(row: Mapping[str, Any]) -> list[str]:
    """The cells of a JSON row under ROW_HEADER."""
    shares = [t["busy"] for t in (row["ours_t"], row["other_t"]) if t is not None]
    busy = "?" if not shares or None in shares else fmt_busy(max(shares))
    target, result = fmt_target(row)
    return [
        *(row["case"], row["size"], row["ours"], fmt_timing(row["ours_t"])),
        *(row["other"], fmt_timing(row["other_t"]), fmt_ratio(row)),
        *(target, result, row["agreement"], busy),
    ]


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """An aligned Markdown pipe table (also the text output's format)."""
    esc = [[c.replace("|", "\\|") for c in r] for r in [header, *rows]]
    widths = [max(len(r[i]) for r in esc) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    return [line(esc[0]), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [
        line(r) for r in esc[1:]
    ]


def rows_table(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    return table(ROW_HEADER, [row_cells(r) for r in rows])


def matrix_table(rows: Sequence[Mapping[str, Any]], first: str = "case") -> list[str]:
    """Ratios only: one line per case, one column per comparison ("ours vs other")."""
    columns: list[str] = []
    cases: dict[str, dict[str, str]] = {}
    for r in rows:
        column = f"{r['ours']} vs {r['other']}"
        cells = cases.setdefault(r["case"], {})
        if column not in columns:  # after the case's previous column: the rows' order
            previous = list(cells)[-1] if cells else None
            columns.insert(columns.index(previous) + 1 if previous else len(columns), column)
        result = fmt_target(r)[1]
        cells[column] = fmt_ratio(r) + (f" {result}" if result else "")
    body = [[case, *(cells.get(c, "-") for c in columns)] for case, cells in cases.items()]
    return table([first, *columns], body)


def targets_table(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Every graded row: what, target, ratio, result."""
    body = []
    for r in rows:
        if r["target"] is None:
            continue
        target, result = fmt_target(r)
        what = f"{r['case']} {r['size']}: {r['ours']} vs {r['other']}"
        body.append([what, target, fmt_ratio(r), result or "-"])
    return table(["target", "wanted", "ratio", "result"], body)


def series_table(points: Sequence[Mapping[str, Any]], x_header: str = "n") -> list[str]:
    """Single timings of one series: a line per x, per call and per element for each label.

    Each cell is the minimum (the median in the JSON); per element is per call / x's
    element count, where the point has one.
    """
    labels: list[str] = []
    xs: list[str] = []
    cells: dict[tuple[str, str], Mapping[str, Any]] = {}
    for p in points:
        if p["label"] not in labels:
            labels.append(p["label"])
        if p["x"] not in xs:
            xs.append(p["x"])
        cells[p["x"], p["label"]] = p
    header = [x_header]
    for label in labels:
        header += [f"{label} per call", "per element"]
    body = []
    for x in xs:
        line = [x]
        for label in labels:
            point = cells.get((x, label))
            if point is None:
                line += ["-", "-"]
                continue
            per_call = point["t"]["min_s"]
            elements = point.get("elements")
            flag = "" if point["agreement"] in ("", "bitwise") else " !"
            line.append(fmt_time(per_call) + flag)
            line.append(fmt_time(per_call / elements) if elements else "-")
        body.append(line)
    return table(header, body)


def points_table(points: Sequence[Mapping[str, Any]], x_header: str = "N") -> list[str]:
    """One line per point: label, x, min / median per call, per element, agreement."""
    body = []
    for p in points:
        elements = p.get("elements")
        per = fmt_time(p["t"]["min_s"] / elements) if elements else "-"
        body.append([p["label"], p["x"], fmt_timing(p["t"]), per, p["agreement"] or "-"])
    return table(["variant", x_header, "min / med", "per element", "agreement"], body)


def variants_lines(points: Sequence[Mapping[str, Any]]) -> list[str]:
    """One line per point: label, x, min / median, agreement (a list, not a table)."""
    width = max((len(p["label"]) for p in points), default=0)
    return [
        f"  {p['label']:<{width}}  {p['x']:<5} {fmt_timing(p['t'])}  {p['agreement']}"
        for p in points
    ]


# ---------------------------------------------------------------------------
# The machine


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


def _run(cmd: Sequence[str], cwd: Path | None = None) -> str:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=cwd)
    except OSError:
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _module_stamp() -> dict[str, Any]:
    """The compiled module measured: its path and build time."""
    try:
        from tml import _core
    except ImportError:
        return {"path": None}
    where = Path(_core.__file__ or "")
    built = datetime.datetime.fromtimestamp(where.stat().st_mtime, datetime.timezone.utc)
    return {"path": str(where), "built": built.isoformat(timespec="seconds")}


def machine_info(torch: Any = None) -> dict[str, Any]:
    """CPU, cores, affinity, versions, the checkout's commit, the module measured."""
    lscpu = _run(["lscpu"])
    pairs = (line.split(":", 1) for line in lscpu.splitlines() if ":" in line)
    fields = {k.strip(): v.strip() for k, v in pairs}
    affinity = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    try:
        from tml.optimizers import get_num_threads

        tml_threads: int | None = get_num_threads()
    except ImportError:
        tml_threads = None
    info: dict[str, Any] = {
        "cpu": fields.get("Model name") or _cpu_model(),
        "cpu_count": os.cpu_count(),
        "affinity": affinity,
        "threads_per_core": fields.get("Thread(s) per core"),
        "cores_per_socket": fields.get("Core(s) per socket"),
        "l2": fields.get("L2 cache"),
        "l3": fields.get("L3 cache"),
        "hypervisor": fields.get("Hypervisor vendor"),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pydantic": _version("pydantic"),
        "torch": torch.__version__ if torch is not None else "not used",
        "torch_threads": torch.get_num_threads() if torch is not None else None,
        "tml_threads": tml_threads,
        "tml_module": _module_stamp(),
        "git_commit": _run(["git", "describe", "--always", "--dirty", "--abbrev=12"], HERE),
        "git_branch": _run(["git", "rev-parse", "--abbrev-ref", "HEAD"], HERE),
    }
    return info


def machine_lines(info: Mapping[str, Any]) -> list[str]:
    """A short human summary of `machine_info` (and run facts, when present)."""
    affinity = info.get("affinity")
    cores = f"{info.get('cpu_count')} CPUs" + (
        f", affinity {len(affinity)} ({_ranges(affinity)})" if affinity else ""
    )
    torch = info.get("torch")
    threads = info.get("torch_threads")
    torch_text = f"torch {torch}" + (f" ({threads} threads)" if threads else "")
    return [
        f"{info.get('cpu')}; {cores}; L2 {info.get('l2')}, L3 {info.get('l3')}",
        f"{info.get('platform')}; Python {info.get('python')}, numpy {info.get('numpy')}, "
        f"{torch_text}, pydantic {info.get('pydantic')}; tml threads {info.get('tml_threads')}",
        f"checkout {info.get('git_commit') or '?'} ({info.get('git_branch') or '?'}); "
        f"module {(info.get('tml_module') or {}).get('path')} built "
        f"{(info.get('tml_module') or {}).get('built')}",
    ]


def _ranges(values: Sequence[int]) -> str:
    parts, start = [], None
    for i, v in enumerate(values):
        if start is None:
            start = v
        if i + 1 == len(values) or values[i + 1] != v + 1:
            parts.append(str(start) if start == v else f"{start}-{v}")
            start = None
    return ",".join(parts)


# ---------------------------------------------------------------------------
# One run


def parser(doc: str | None) -> argparse.ArgumentParser:
    """An argument parser with the options every benchmark has."""
    p = argparse.ArgumentParser(
        description=(doc or "").split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--quick", action="store_true", help="a smoke run of a few seconds")
    p.add_argument("--json", metavar="PATH", help="write every row and raw sample to PATH")
    p.add_argument(
        "--attempts",
        type=int,
        default=None,
        help="tries of a measurement disturbed by other processes (default 3; 1 with --quick)",
    )
    p.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before each measurement, wait up to SECONDS for the other processes to go quiet",
    )
    return p


@dataclass
class Bench:
    """The results of one benchmark run, printed and written as JSON by `finish`."""

    name: str
    args: argparse.Namespace
    rows: list[Row] = field(default_factory=list)
    series: list[dict[str, Any]] = field(default_factory=list)
    series_titles: dict[str, str] = field(default_factory=dict)
    skipped: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    checks: Checks = field(default_factory=Checks)
    machine_extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # A smoke run is for its agreement checks: retrying disturbed timings only slows it.
        attempts = getattr(self.args, "attempts", None)
        QUIET.attempts = attempts if attempts is not None else 1 if self.quick else 3
        QUIET.wait_s = getattr(self.args, "wait_quiet", 0.0) or 0.0
        self.started = time.perf_counter()
        self.date = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        self.meter = CpuMeter()
        self.load_before = os.getloadavg() if hasattr(os, "getloadavg") else None

    @property
    def quick(self) -> bool:
        return bool(getattr(self.args, "quick", False))

    def compare(self, section: str, case: str, size: str, ours: str, t: Timing | None) -> Section:
        """Rows of `ours` (timed `t`) against others: `.speedup(...)`, `.over(...)`."""
        return Section(self, section, case, size, ours, t)

    def point(
        self,
        series: str,
        label: str,
        x: str,
        t: Timing,
        *,
        elements: int | None = None,
        agreement: str = "",
    ) -> None:
        """One timing of a series (a scaling table, a list of variants).

        `series` is a short id (`report.py`'s markers name it); `Bench.series_titles`
        may give it a title.
        """
        self.series.append(
            {
                "series": series,
                "label": label,
                "x": x,
                "elements": elements,
                "t": t.to_json(),
                "agreement": agreement,
            }
        )

    def skip(self, what: str, reason: str) -> None:
        self.skipped.append({"what": what, "reason": reason})

    def to_json(self, torch: Any) -> dict[str, Any]:
        others = self.meter.others_share()
        machine = machine_info(torch) | self.machine_extra
        machine["load_before"] = self.load_before
        machine["load_after"] = os.getloadavg() if hasattr(os, "getloadavg") else None
        return {
            "schema": SCHEMA,
            "benchmark": self.name,
            "date": self.date,
            "command": " ".join(["python", *sys.argv]),
            "quick": self.quick,
            "elapsed_s": time.perf_counter() - self.started,
            "others_busy": others,
            "machine": machine,
            "rows": [r.to_json() for r in self.rows],
            "series": self.series,
            "series_titles": self.series_titles,
            "skipped": self.skipped,
            "notes": self.notes,
            "extra": self.extra,
            "checks": self.checks.records,
            "failures": self.checks.failures,
        }

    def finish(
        self,
        torch: Any = None,
        print_body: Callable[[Mapping[str, Any]], None] | None = None,
    ) -> int:
        """Prints the tables, the machine, the targets and the agreement; writes --json.

        `print_body` prints the benchmark's own tables (default: every row in one
        table, then each series). Returns the exit status: 1 if any implementation
        disagreed with the package, else 0 (a missed target changes nothing).
        """
        data = self.to_json(torch)
        if print_body is None:
            print("\n".join(rows_table(data["rows"])))
            for name in dict.fromkeys(p["series"] for p in data["series"]):
                print(f"\n{self.series_titles.get(name, name)}:")
                print("\n".join(series_table([p for p in data["series"] if p["series"] == name])))
        else:
            print_body(data)
        if self.skipped:
            print("\nskipped:")
            for s in self.skipped:
                print(f"  {s['what']}: {s['reason']}")
        for note in self.notes:
            print("\n" + note)
        others = data["others_busy"]
        print(f"\nmachine ({data['elapsed_s']:.0f} s run, other processes {fmt_busy(others)}):")
        for line in machine_lines(data["machine"]):
            print("  " + line)
        if others is not None and others > QUIET.threshold:
            print("  WARNING: other processes were busy during the run; see the busy column.")

        graded = [r for r in self.rows if r.target is not None and r.passed is not None]
        failed = [r for r in graded if not r.passed]
        print(f"\ntargets: {len(graded) - len(failed)}/{len(graded)} PASS")
        for r in failed:
            cells = row_cells(r.to_json())
            print(f"  FAIL {r.case} {r.size}: {r.ours} vs {r.other}: {cells[6]}, target {cells[7]}")

        if self.args.json:
            path = Path(self.args.json)
            path.parent.mkdir(parents=True, exist_ok=True)  # out/ is not in a fresh clone
            path.write_text(json.dumps(data, indent=1) + "\n")
            print(f"wrote {self.args.json}")
        checked = len(self.checks.records)
        if self.checks.failures:
            print(f"\nDISAGREEMENT with the package (exit 1), {checked} checks:", file=sys.stderr)
            for failure in self.checks.failures:
                print("  " + failure, file=sys.stderr)
            return 1
        print(
            f"agreement: every compared implementation agrees with the package ({checked} checks)"
        )
        return 0
