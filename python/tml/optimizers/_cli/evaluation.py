"""The evaluation of `tml-lr`: the step range, one pass over it, the CSV and .npy files.

Every schedule is evaluated at every step of the range by the compiled kernel
(`Schedules`), one call per block of a few million values, so memory stays flat on
ranges of tens of millions of steps; one pass keeps what the tables and plots need.

What a schedule does past the range (where it goes flat, its period) comes from the
compiled schedules' metadata, never from config fields, so every kind is handled the
same way.
"""

from __future__ import annotations

import contextlib
import csv
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tml.optimizers._cli.errors import UserError
from tml.optimizers._cli.output import OutputFile, cannot_write
from tml.optimizers.schedule import Schedule, Schedules

__all__ = [
    "MAX_STEPS",
    "Evaluation",
    "StepRange",
    "Writer",
    "curve_ends",
    "default_end",
    "evaluate",
    "horizon",
    "step_range",
]

# Values (groups x steps) evaluated per compiled call: 32 MiB of float64 per block keeps
# memory flat on long ranges while each call stays far above the per-call overhead.
_BLOCK_VALUES = 1 << 22
# Values turned into Python objects at a time for the CSV.
_CSV_CHUNK_VALUES = 1 << 16
# More steps than this per schedule is almost certainly a typo (or wants --every).
MAX_STEPS = 100_000_000
LAST_STEP = 2**63 - 1  # the largest integer step
_MIN_DEFAULT_SPAN = 100
# A periodic schedule is shown over this many periods by default.
_PERIODS_SHOWN = 3
# A schedule that decays forever is shown until it is under this fraction of its peak.
_DECAY_SHOWN = 0.1


@dataclass(frozen=True)
class StepRange:
    """Steps `start, start + every, ...`: `count` of them."""

    start: int
    every: int
    count: int

    @property
    def last(self) -> int:
        return self.start + self.every * (self.count - 1)

    def steps(self, first: int, stop: int) -> np.ndarray:
        """Steps at positions `first <= i < stop` of the range."""
        return self.start + self.every * np.arange(first, stop, dtype=np.int64)

    def position(self, step: np.ndarray) -> np.ndarray:
        """Position of the first step of the range >= `step`, clipped into the range."""
        pos = -((self.start - np.asarray(step, dtype=np.int64)) // self.every)
        return np.clip(pos, 0, self.count - 1)


# ------------------------------------------------------------- what the curves do


def curve_ends(schedules: Schedules) -> tuple[list[int | None], list[int | None]]:
    """Per schedule: the step from which it is constant (None: never), its period (or None).

    From `Schedules.flat_from` and `Schedules.periods`, except that a decay which only
    stops where its value underflows to 0.0 (an exponential decay, a sequence ending in
    one) changes forever: its `flat_from`, millions of steps past anything visible, is
    no end to show.
    """
    flat = [None if _underflows(schedules, g, f) else f for g, f in enumerate(schedules.flat_from)]
    return flat, list(schedules.periods)


def _underflows(schedules: Schedules, g: int, flat: int | None) -> bool:
    """Whether schedule g is flat from `flat` only because its value underflows to 0.0.

    That step is then none of its breakpoints (where its config makes it end), its value
    there is 0.0, and the step before holds a positive value under the smallest normal
    double's fraction of its largest value at step 0 and its breakpoints: a decay by more
    than the whole range of doubles, which a config does not ask for. Exact values, as
    `flat_from` describes them.
    """
    bps = schedules.breakpoints[g]
    if not flat or flat in bps:
        return False
    probes = np.asarray([0, *bps, flat - 1, flat], dtype=np.int64)
    values = np.asarray(Schedule(schedules.configs[g])(probes), dtype=np.float64)
    before, at = float(values[-2]), float(values[-1])
    return at == 0.0 and 0.0 < before < float(values.max()) * sys.float_info.min


def _decayed_by(schedules: Schedules, g: int) -> int:
    """Where schedule g, one that never settles, has decayed to a tenth of its peak.

    Probed at each breakpoint and the step before it (between breakpoints the kinds are
    monotone, so each stretch's largest value is at one of its ends), then at `2b, 4b,
    ...` (b: its last breakpoint): the first probe from which it stays under a tenth of
    the largest value seen. For a schedule that changes forever without repeating (an
    inverse square root, an exponential decay, restarts whose peaks decay): far enough
    to see the decay, in one compiled call of a few dozen steps. One that never gets
    there (restarts whose cycles grow without decaying) is shown through its third
    restart (a breakpoint where it jumps back up to its peak: three cycles, as for a
    periodic one), or its last breakpoint if it has fewer.
    """
    bps = schedules.breakpoints[g]
    last = max(0, bps[-1]) if bps else 0
    doubled = [max(1, last) << k for k in range(1, 63) if max(1, last) << k <= LAST_STEP]
    around = sorted({p for b in bps if b > 0 for p in (b - 1, b)})
    probes = [*around, *doubled]
    if not probes:
        return last
    values = np.asarray(schedules[g](np.asarray([0, *probes], dtype=np.int64)), dtype=np.float64)
    top = float(values.max())
    tail = values[1:]
    # Under a tenth from there on (a later stage may rise again): the suffix maxima.
    stays = np.maximum.accumulate(tail[::-1])[::-1] <= top * _DECAY_SHOWN
    below = np.nonzero(stays)[0]
    if below.size:
        return probes[int(below[0])]
    at = dict(zip(probes, tail.tolist(), strict=True))
    restarts = [b for b in bps if b > 0 and at[b] == top and at[b - 1] < top]
    if len(restarts) >= _PERIODS_SHOWN:
        return restarts[_PERIODS_SHOWN - 1]
    return bps[_PERIODS_SHOWN - 1] if len(bps) > _PERIODS_SHOWN else last


def horizon(schedules: Schedules) -> int:
    """The step through which every schedule's shape is seen (before the 10% margin).

    The largest, over the schedules, of: the step from which it is flat; for a
    periodic one, three periods; for one that never settles, the step where it has
    decayed to a tenth of its peak.
    """
    flat, periods = curve_ends(schedules)
    ends = []
    for g, (f, p) in enumerate(zip(flat, periods, strict=True)):
        if f is not None:
            ends.append(f)
        elif p is not None:
            ends.append(_PERIODS_SHOWN * p)
        else:
            ends.append(_decayed_by(schedules, g))
    return max(ends, default=0)


def _round_up_2_digits(n: int) -> int:
    if n < 100:
        return n
    unit: int = 10 ** (len(str(n)) - 2)
    return -(-n // unit) * unit


def default_end(settle: int, start: int) -> int:
    """Last step shown by default: 10% past `settle`, rounded up, at least a short span."""
    margin = -(-settle * 11 // 10)  # exactly: settle * 1.1 is 6600.000000000001 for 6000
    return max(_round_up_2_digits(margin), settle + 1, start + _MIN_DEFAULT_SPAN)


def step_range(schedules: Schedules, start: int, every: int | None, steps: int | None) -> StepRange:
    """The range of `--start`, `--every` and `--steps` (its default from `horizon`).

    `every` None is 1, or, for the default range (`steps` None) when that would be more
    than MAX_STEPS steps, the smallest stride that fits.

    Raises:
        UserError: the end is before the start, or the range is too long.
    """
    end = steps if steps is not None else default_end(horizon(schedules), start)
    end = min(end, LAST_STEP)  # a default end past the largest step a schedule takes
    if end < start:
        msg = f"--steps {end} is before --start {start}"
        raise UserError(msg)
    # The smallest stride k with (end - start) // k + 1 <= MAX_STEPS: both ends count.
    stride = (end - start) // MAX_STEPS + 1
    if every is None:
        every = stride if steps is None else 1
    count = (end - start) // every + 1
    if count > MAX_STEPS:
        msg = (
            f"steps {start:,} to {end:,} are {count:,} steps per schedule, more than the "
            f"{MAX_STEPS:,} this tool evaluates; pass --every {stride} (or more) or a smaller "
            "--steps"
        )
        raise UserError(msg)
    return StepRange(start, every, count)


# ------------------------------------------------------------------ the one pass


@dataclass
class Evaluation:
    """What one pass over the range found, per group."""

    peak: np.ndarray  # (G,) max over the range
    peak_step: np.ndarray  # (G,) first step reaching it
    final: np.ndarray  # (G,) value at the last step
    column_low: np.ndarray  # (G, W) min over each plot column's steps, joined to the next
    column_high: np.ndarray  # (G, W) max likewise
    seconds: float  # spent in the compiled evaluation


@contextlib.contextmanager
def _writing(output: OutputFile) -> Iterator[None]:
    """A failed write (a full disk) as a `UserError` naming the file."""
    try:
        yield
    except OSError as e:
        raise cannot_write(output.path, e) from None


def _check_distinct(paths: dict[str, str | None]) -> None:
    """Refuses two outputs naming one file: one would silently replace the other."""
    seen: dict[Path, str] = {}
    for option, path in paths.items():
        if path is None:
            continue
        try:
            key = Path(path).resolve()
            if key.exists() and not key.is_file():
                continue  # a device (/dev/null) takes every write, in place
        except (OSError, ValueError):  # opening it names the problem
            continue
        if key in seen:
            msg = f"{seen[key]} and {option} both name {path}: give each output its own file"
            raise UserError(msg)
        seen[key] = option


class Writer:
    """The output files, opened (so checked) before any work and named together at the end.

    CSV and .npy are filled block by block, so big ranges never sit in memory; `png` is
    the PNG's destination, for `write_png` once the pass is done. `close` gives them
    their names, `abort` removes them (`OutputFile`). The .npy array, shape (groups, steps),
    is stored in Fortran order: each block of steps is then one sequential write (a
    full disk is an OSError, not the SIGBUS a memory map would give). `numpy.load` reads
    it back as the same array. Every failure to open, write or flush (a missing or
    read-only directory, a full disk) is a `UserError` naming the file.
    """

    def __init__(
        self,
        names: Sequence[str],
        rng: StepRange,
        csv_path: str | None,
        csv_every: int,
        npy_path: str | None,
        png_path: str | None,
    ) -> None:
        self._csv_every = csv_every
        self._outputs: list[OutputFile] = []
        self.csv_rows = 0
        _check_distinct({"--csv": csv_path, "--npy": npy_path, "--png": png_path})
        try:
            self._csv_file = self._open(csv_path, text=True)
            self._npy = self._open(npy_path, text=False)
            self.png = self._open(png_path, text=False)
            if self._csv_file is not None:
                self._csv: Any = csv.writer(self._csv_file.file, lineterminator="\n")
                with _writing(self._csv_file):
                    self._csv.writerow(["step", *names])
            if self._npy is not None:
                header = {"descr": "<f8", "fortran_order": True, "shape": (len(names), rng.count)}
                with _writing(self._npy):
                    np.lib.format.write_array_header_1_0(self._npy.file, header)
        except BaseException:
            self.abort()
            raise

    def _open(self, path: str | None, *, text: bool) -> OutputFile | None:
        if path is None:
            return None
        self._outputs.append(OutputFile(path, text=text))
        return self._outputs[-1]

    def write(self, first: int, steps: np.ndarray, values: np.ndarray) -> None:
        """Writes the block of steps at positions `first, first + 1, ...`."""
        if self._npy is not None:
            with _writing(self._npy):
                self._npy.file.write(values.T.astype("<f8", order="C").tobytes())
        if self._csv_file is not None:
            keep = slice((-first) % self._csv_every, None, self._csv_every)
            rows_steps, rows = steps[keep], values[:, keep]
            # A few thousand rows at a time: a block as Python floats would take ~30x
            # its memory. Python's float str is the shortest text that reads back to
            # the same double.
            chunk = max(1, _CSV_CHUNK_VALUES // max(1, rows.shape[0]))
            with _writing(self._csv_file):
                for i in range(0, rows_steps.size, chunk):
                    part = slice(i, i + chunk)
                    self._csv.writerows(
                        zip(rows_steps[part].tolist(), *rows[:, part].tolist(), strict=True)
                    )
            self.csv_rows += rows_steps.size

    def close(self) -> None:
        """Flushes every file and gives it its name.

        Raises:
            UserError: a file could not be flushed (a full disk): it is named, and the
                files not yet renamed are removed.
        """
        try:
            for output in self._outputs:
                output.commit()
        finally:
            self.abort()  # nothing left after a success

    def abort(self) -> None:
        """Removes the files not yet renamed, after another error, which is the one reported."""
        for output in self._outputs:
            output.discard()
        self._outputs = []


def evaluate(schedules: Schedules, rng: StepRange, columns: int, writer: Writer) -> Evaluation:
    """Evaluates every schedule at every step of `rng`, block by block.

    One compiled call per block; keeps the per-group peak and the per-column envelopes
    for the plot.
    """
    groups = len(schedules)
    width = max(1, min(columns, rng.count))
    # column c covers positions [first[c], first[c + 1]): first[c] = ceil(c * count / width)
    first = -((-np.arange(width + 1, dtype=np.int64) * rng.count) // width)
    low = np.full((groups, width), np.inf)
    high = np.full((groups, width), -np.inf)
    peak = np.full(groups, -np.inf)
    peak_pos = np.zeros(groups, dtype=np.int64)
    block = max(1, _BLOCK_VALUES // groups)
    rows = np.arange(groups)

    seconds = 0.0  # in the compiled calls only, not the reductions or the writing
    for a in range(0, rng.count, block):
        b = min(rng.count, a + block)
        steps = rng.steps(a, b)
        t0 = time.perf_counter()
        values = schedules(steps)
        seconds += time.perf_counter() - t0
        best = values.argmax(axis=1)
        best_value = values[rows, best]
        better = best_value > peak  # strict: the first step reaching the peak wins
        peak[better] = best_value[better]
        peak_pos[better] = a + best[better]

        c0, c1 = a * width // rng.count, (b - 1) * width // rng.count
        offsets = np.maximum(first[c0 : c1 + 1] - a, 0)
        cols = slice(c0, c1 + 1)
        low[:, cols] = np.minimum(low[:, cols], np.minimum.reduceat(values, offsets, axis=1))
        high[:, cols] = np.maximum(high[:, cols], np.maximum.reduceat(values, offsets, axis=1))
        writer.write(a, steps, values)

    # Join each column to the first value of the next so a curve is drawn unbroken.
    heads = schedules(rng.start + rng.every * first[1:width]) if width > 1 else None
    if heads is not None:
        low[:, :-1] = np.minimum(low[:, :-1], heads)
        high[:, :-1] = np.maximum(high[:, :-1], heads)
    final = schedules(rng.last)
    return Evaluation(peak, rng.start + rng.every * peak_pos, final, low, high, seconds)
