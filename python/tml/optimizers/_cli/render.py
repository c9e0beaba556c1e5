"""Text output of `tml-lr`: number formats, the tables and the terminal plots.

The summary table describes any kind the same way, from the evaluation and the
compiled schedules' metadata: the kind, the peak and the first step reaching it, the
value at the last step shown, and where the curve goes flat (or its period, for a
periodic schedule, or `never` for one that changes forever).
"""

from __future__ import annotations

import itertools
import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO, Any

import numpy as np

from tml.optimizers._cli.evaluation import Evaluation, StepRange, curve_ends
from tml.optimizers.schedule import Schedules

__all__ = [
    "AXIS_LABEL_WIDTH",
    "MAX_CHART_SERIES",
    "MAX_HEIGHT",
    "MAX_WIDTH",
    "default_table_steps",
    "format_lr",
    "format_step",
    "plot_kind",
    "plot_style",
    "render_plot",
    "shorten",
    "strip_indent",
    "summary_table",
    "unique_schedules",
    "values_table",
]

# The largest plot --width and --height accepted: far more than any terminal shows,
# small enough that the plot's arrays stay a few megabytes.
MAX_WIDTH = 1000
MAX_HEIGHT = 500
_NAME_WIDTH = 40  # group names in tables and strips are cut to this


def format_lr(value: float) -> str:
    """Learning rates in one fixed-width form so columns line up: `8.000e-04`."""
    return f"{value:.3e}"


def format_step(step: int) -> str:
    return f"{step:,}"


def compact_step(step: int) -> str:
    """Axis labels: 5500 -> `5.5k`, 2000000 -> `2M`."""
    for unit, suffix in ((10**9, "G"), (10**6, "M"), (10**3, "k")):
        if step >= unit:
            return f"{step / unit:.3g}{suffix}"
    return str(step)


def nice_ticks(lo: int, hi: int, target: int) -> list[int]:
    """Round steps (1, 2 or 5 times a power of ten apart) inside [lo, hi]."""
    span = max(hi - lo, 1)
    raw = span / max(target, 1)
    power = 10 ** max(0, math.floor(math.log10(raw))) if raw >= 1 else 1
    spacing = next((m * power for m in (1, 2, 5, 10) if m * power >= raw), 10 * power)
    first = -(-lo // spacing) * spacing
    return list(range(first, hi + 1, spacing))


def shorten(name: str, width: int) -> str:
    if len(name) <= width:
        return name
    keep = width - 2  # ".." is plain ASCII: tables print on any terminal encoding
    return name[: (keep + 1) // 2] + ".." + name[len(name) - keep // 2 :]


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> list[str]:
    """Columns padded to their widest cell; the first `left` columns left-aligned."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        parts = [
            c.ljust(w) if i < left else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    return [line(headers), *(line(r) for r in rows)]


def _settles(flat_from: int | None, period: int | None) -> str:
    if period is not None:
        return f"period {format_step(period)}"
    return "never" if flat_from is None else format_step(flat_from)


def summary_table(names: Sequence[str], schedules: Schedules, ev: Evaluation) -> list[str]:
    """Per group: kind, peak and where first reached, final value, where it goes flat.

    `flat from` is the step from which the schedule is constant forever; one made of
    equal-length cycles (`Schedule.period`, each cycle the same or scaled) shows
    `period N` there, one that changes forever otherwise `never`.
    """
    flat_from, periods = curve_ends(schedules)
    rows = [
        [
            shorten(name, _NAME_WIDTH),
            kind,
            format_lr(float(ev.peak[g])),
            format_step(int(ev.peak_step[g])),
            format_lr(float(ev.final[g])),
            _settles(flat_from[g], periods[g]),
        ]
        for g, (name, kind) in enumerate(zip(names, schedules.kinds, strict=True))
    ]
    headers = ["group", "kind", "peak", "peak at", "final", "flat from"]
    return format_table(headers, rows, left=2)


def values_table(names: Sequence[str], at: Sequence[int], values: np.ndarray) -> list[str]:
    rows = [
        [shorten(name, _NAME_WIDTH), *(format_lr(float(v)) for v in values[g])]
        for g, name in enumerate(names)
    ]
    return format_table(["lr at step", *(format_step(s) for s in at)], rows)


def default_table_steps(rng: StepRange, names: Sequence[str], columns: int) -> list[int]:
    """First and last step plus round steps between, as many as fit in `columns`."""
    name_width = min(_NAME_WIDTH, max(len("lr at step"), *(len(n) for n in names)))
    fit = max(3, (columns - name_width) // 11)
    picks = {rng.start, rng.last}
    if rng.count > 2:
        inner = nice_ticks(rng.start, rng.last, fit - 1)
        pos = rng.position(np.asarray(inner, dtype=np.int64))
        steps = rng.start + rng.every * pos
        picks.update(int(s) for s in steps.tolist() if rng.start < s < rng.last)
    ordered = sorted(picks)
    while len(ordered) > fit:  # too many round steps for the width: thin the middle
        ordered = [ordered[0], *ordered[1:-1][1::2], ordered[-1]]
    return ordered


@dataclass(frozen=True)
class _Style:
    """Characters for the text plots: box drawing where the output can encode it."""

    vertical: str
    tick_left: str
    corner: str
    horizontal: str
    tick_down: str
    bars: str  # 9 levels, empty to full
    color: bool


_UNICODE_CHARS = ("│", "┤", "└", "─", "┬", " ▁▂▃▄▅▆▇█")
_ASCII_CHARS = ("|", "+", "+", "-", "+", " .:-=+*#@")
_COLORS = (31, 32, 34, 35, 36, 33, 91, 92, 94, 95, 96, 93)
_MARKERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
# Beyond this many distinct schedules one shared chart is mostly collisions: draw strips.
MAX_CHART_SERIES = 4
AXIS_LABEL_WIDTH = 9
# The terminal's log scale spans at most this many decades under the largest value.
_LOG_DECADES = 10


def unique_schedules(configs: Sequence[dict[str, Any]]) -> list[list[int]]:
    """Groups with identical schedules, in order of first appearance (drawn once)."""
    seen: dict[str, list[int]] = {}
    for g, cfg in enumerate(configs):
        seen.setdefault(json.dumps(cfg, sort_keys=True), []).append(g)
    return list(seen.values())


def _y_scale(
    peaks: np.ndarray, shown: np.ndarray, log_y: bool
) -> tuple[bool, Callable[[np.ndarray], np.ndarray], list[float], list[str]]:
    """(log scale used, value -> fraction of the height, round values to label, notes).

    The log scale reaches down to the decade of the smallest positive value `shown`, and
    at least one decade under the smallest positive peak, so every schedule's plateau is
    visible; but never more than `_LOG_DECADES` under the top. What lies below its
    bottom (0, which has no place on a log scale, or a value past that limit) is drawn
    on the bottom line, and a note says so.
    """
    top = float(peaks.max())
    positive = shown[shown > 0]
    if log_y and positive.size:
        smallest = min(float(positive.min()), float(peaks[peaks > 0].min()) / 10)
        low_exp = max(math.floor(math.log10(smallest)), math.floor(math.log10(top)) - _LOG_DECADES)
        log_lo = float(low_exp)
        span = max(math.log10(top), log_lo + 1) - log_lo
        bottom = 10.0**low_exp

        def frac_log(v: np.ndarray) -> np.ndarray:
            return np.asarray((np.log10(np.maximum(v, bottom)) - log_lo) / span)

        decades = range(low_exp, math.floor(log_lo + span + 1e-9) + 1)
        below = shown[shown < bottom]
        notes = []
        if below.size:
            what = "0, which a log scale cannot show, is"
            if below.max() > 0:
                what = f"values under {_axis_value(bottom)} are"
            notes.append(f"  {what} drawn on the bottom line")
        return True, frac_log, [10.0**k for k in decades] + [top], notes
    top = top if top > 0 else 1.0
    return False, lambda v: np.asarray(v) / top, _nice_values(top, 4), []


def _nice_values(top: float, target: int) -> list[float]:
    """0 and multiples of a round spacing (1, 2, 2.5 or 5 times a power of ten).

    The values go one past top: a peak a hair under a round value still gets that value
    as its label.
    """
    raw = top / target
    power = 10.0 ** math.floor(math.log10(raw))
    spacing = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw * (1 - 1e-9))
    return [k * spacing for k in range(int(top / spacing * (1 + 1e-9)) + 2)]


def _axis_value(value: float) -> str:
    if value == 0:
        return "0"
    short = f"{value:.1e}"
    return short if float(short) == float(f"{value:.6e}") else f"{value:.2e}"


def _x_axis(rng: StepRange, width: int, style: _Style, indent: int) -> list[str]:
    """The step axis under a plot: round-step ticks with compact labels that never overlap."""
    ticks = nice_ticks(rng.start, rng.last, max(1, width // 12))
    positions = rng.position(np.asarray(ticks, dtype=np.int64))
    axis = [style.horizontal] * width
    labels = [" "] * (width + 8)
    free_from = 0
    for step, pos in zip(ticks, positions.tolist(), strict=True):
        col = min(pos * width // rng.count, width - 1)
        text = compact_step(step)
        begin = max(0, col - len(text) // 2)
        if begin < free_from or begin + len(text) > len(labels):
            continue
        axis[col] = style.tick_down
        labels[begin : begin + len(text)] = text
        free_from = begin + len(text) + 1
    pad = " " * indent
    return [f"{pad}{style.corner}{''.join(axis)}", f"{pad} {''.join(labels).rstrip()}  step"]


def _paint(char: str, index: int, style: _Style) -> str:
    return f"\x1b[{_COLORS[index % len(_COLORS)]}m{char}\x1b[0m" if style.color else char


def render_chart(
    names: Sequence[str],
    configs: Sequence[dict[str, Any]],
    rng: StepRange,
    ev: Evaluation,
    height: int,
    log_y: bool,
    style: _Style,
) -> list[str]:
    """All schedules in one text chart.

    A letter per distinct schedule, `*` where several share a cell. Each column spans
    the min..max of its steps, joined to the next column, so ramps and jumps are drawn
    unbroken whatever the range.
    """
    width = ev.column_low.shape[1]
    height = max(2, height)
    series = unique_schedules(configs)
    drawn = [members[0] for members in series]
    shown = np.concatenate([ev.column_low[drawn], ev.column_high[drawn]], axis=None)
    used_log, to_frac, ticks, notes = _y_scale(ev.peak, shown, log_y)
    rows = np.arange(height)[:, None]
    owner = np.full((height, width), -1)
    count = np.zeros((height, width), dtype=np.int64)
    for u, members in enumerate(series):
        g = members[0]
        bottom = np.rint(np.clip(to_frac(ev.column_low[g]), 0, 1) * (height - 1)).astype(np.int64)
        top = np.rint(np.clip(to_frac(ev.column_high[g]), 0, 1) * (height - 1)).astype(np.int64)
        hit = (rows >= bottom) & (rows <= top)
        count += hit
        owner[hit] = u

    letters = [_MARKERS[u % len(_MARKERS)] for u in range(len(series))]
    marks = [_paint(letter, u, style) for u, letter in enumerate(letters)]
    # Each labelled row gets the round value nearest to the value it stands for.
    labels: dict[int, str] = {}
    nearest: dict[int, float] = {}
    for value in ticks:
        exact = float(to_frac(np.asarray(value))) * (height - 1)
        row = int(np.rint(exact))
        if 0 <= row < height and abs(exact - row) < nearest.get(row, 0.5 + 1e-9):
            nearest[row] = abs(exact - row)
            labels[row] = _axis_value(value)
    lines = []
    for r in range(height - 1, -1, -1):
        # One color escape per run of a marker, not per cell.
        codes = np.where(count[r] == 0, -2, np.where(count[r] > 1, -1, owner[r])).tolist()
        cells = ""
        for code, run in itertools.groupby(codes):
            n = len(list(run))
            if code == -2:
                cells += " " * n
            elif code == -1:
                cells += "*" * n
            else:
                cells += _paint(letters[code] * n, code, style)
        if r in labels:
            lines.append(f"{labels[r]:>{AXIS_LABEL_WIDTH}} {style.tick_left}{cells}".rstrip())
        else:
            lines.append(f"{'':>{AXIS_LABEL_WIDTH}} {style.vertical}{cells}".rstrip())
    lines += _x_axis(rng, width, style, AXIS_LABEL_WIDTH + 1)
    lines.append("")
    lines.append(f"  learning rate, {'log' if used_log else 'linear'} scale:")
    for u, members in enumerate(series):
        joined = ", ".join(names[g] for g in members)
        same = "  (same schedule)" if len(members) > 1 else ""
        lines.append(f"    {marks[u]}  {joined}{same}")
    if (count > 1).any():
        lines.append("    *  several schedules in one cell")
    return lines + notes


def render_strips(
    names: Sequence[str], rng: StepRange, ev: Evaluation, log_y: bool, style: _Style
) -> list[str]:
    """One bar strip per group on a shared step axis.

    Each strip is scaled to its own peak (printed beside it): the shape of every
    schedule at a glance, with no curves to tell apart. With `log_y`, every strip shares
    one log scale instead.
    """
    width = ev.column_low.shape[1]
    name_width = min(_NAME_WIDTH, max(len(n) for n in names))
    levels = len(style.bars) - 1
    used_log, to_frac, _, notes = _y_scale(ev.peak, ev.column_high, log_y)
    lines = []
    for g, name in enumerate(names):
        high = ev.column_high[g]
        if used_log:
            frac = np.clip(to_frac(high), 0, 1)
        else:
            peak = float(ev.peak[g])
            frac = high / peak if peak > 0 else np.zeros_like(high)
        level = np.rint(frac * levels).astype(np.int64)
        level[(level == 0) & (high > 0)] = 1  # a small positive rate is not zero
        bars = "".join(style.bars[v] for v in level.tolist())
        label = f"{shorten(name, name_width):<{name_width}}  {format_lr(float(ev.peak[g]))}"
        lines.append(f"{label} {style.tick_left}{_paint(bars, g, style) if style.color else bars}")
    lines += _x_axis(rng, width, style, strip_indent(names))
    lines.append("")
    if used_log:
        lines.append("  bar height: learning rate on one log scale for all groups")
    else:
        lines.append(
            "  bar height: learning rate / the group's peak (the number before each strip)"
        )
    return lines + notes


def render_plot(
    names: Sequence[str],
    configs: Sequence[dict[str, Any]],
    rng: StepRange,
    ev: Evaluation,
    kind: str,
    height: int,
    log_y: bool,
    style: _Style,
) -> list[str]:
    """The terminal plot.

    `chart` (one chart, a legend), `strips` (one bar strip per group) or `auto` (a chart
    for up to a few distinct schedules, strips beyond).
    """
    if plot_kind(kind, configs) == "chart":
        return render_chart(names, configs, rng, ev, height, log_y, style)
    return render_strips(names, rng, ev, log_y, style)


def plot_kind(option: str, configs: Sequence[dict[str, Any]]) -> str:
    """`chart` or `strips` for the `--plot` option."""
    if option != "auto":
        return option
    return "chart" if len(unique_schedules(configs)) <= MAX_CHART_SERIES else "strips"


def strip_indent(names: Sequence[str]) -> int:
    return min(_NAME_WIDTH, max(len(n) for n in names)) + 3 + len(format_lr(0.0))


def plot_style(color_option: str, stream: IO[str]) -> _Style:
    encoding = getattr(stream, "encoding", None) or "ascii"
    try:
        "".join(_UNICODE_CHARS).encode(encoding)
        chars = _UNICODE_CHARS
    except (UnicodeEncodeError, LookupError):
        chars = _ASCII_CHARS
    if color_option == "auto":
        isatty = getattr(stream, "isatty", None)
        color = bool(
            isatty is not None
            and isatty()
            and "NO_COLOR" not in os.environ
            and os.environ.get("TERM") != "dumb"
        )
    else:
        color = color_option == "always"
    return _Style(*chars, color=color)
