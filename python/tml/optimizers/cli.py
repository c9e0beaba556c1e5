"""`tml-lr`: evaluate the learning-rate schedules of a YAML config and show them.

Usage::

    tml-lr examples/multitask_lr.yaml                  # tables and a terminal plot
    tml-lr run.yaml --steps 2_000_000 --log-y          # a longer range, log-scale plot
    tml-lr run.yaml --csv lr.csv --npy lr.npy --png lr.png

The file may hold one `LearningRate`, an `OptimizerConfig`, a `MultiTaskLearningRates`
(`tower_learning_rates` plus `backbone_learning_rate`), an optimizer config holding a
`multi_task_learning_rates` or `single_task_learning_rate` section (the original recap
layout), a training config with such an `optimizer:` section, or a plain mapping
name -> `LearningRate`. `$VAR` / `${VAR}` are substituted from the environment.

Every schedule is evaluated at every step of the range by the compiled kernel
(`Schedules`, one call per block of a few million values, so memory stays bounded on
ranges of tens of millions of steps). User errors (missing file, bad YAML, an invalid
field, a bad option) print one line per problem, naming the YAML path of the bad
field, and exit with status 2; never a traceback.
"""

from __future__ import annotations

import argparse
import csv
import difflib
import itertools
import json
import math
import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

import numpy as np
import pydantic
import yaml

from tml.core.config import BaseConfig, load_config_from_yaml
from tml.optimizers.config import (
    AdagradConfig,
    AdamConfig,
    LearningRate,
    LinearRampToConstant,
    LinearRampToCosine,
    MultiTaskLearningRates,
    OptimizerConfig,
    PiecewiseConstant,
    SgdConfig,
    get_optimizer_algorithm_config,
)
from tml.optimizers.schedule import Schedules

__all__ = ["main"]

PROG = "tml-lr"
EXIT_USAGE = 2

# Values (groups x steps) evaluated per compiled call: 32 MiB of float64 per block keeps
# memory flat on long ranges while each call stays far above the per-call overhead.
_BLOCK_VALUES = 1 << 22
# More steps than this per schedule is almost certainly a typo (or wants --every).
_MAX_STEPS = 100_000_000
_LAST_STEP = 2**63 - 1  # the largest integer step
# A CSV beyond this many rows is written at a stride unless --csv-every says otherwise.
_MAX_CSV_ROWS = 1_000_000
_MIN_DEFAULT_SPAN = 100
_MAX_ERRORS_SHOWN = 20
# Points per schedule in the PNG, on top of every breakpoint (ramp ends, boundaries).
_PNG_POINTS = 2001

_LR_KINDS = ("constant", "piecewise_constant", "linear_ramp_to_constant", "linear_ramp_to_cosine")
_ALGORITHMS = ("adam", "sgd", "adagrad")
_MULTI_TASK_KEYS = ("tower_learning_rates", "backbone_learning_rate")
_RECAP_LR_KEYS = ("multi_task_learning_rates", "single_task_learning_rate")
_OPTIMIZER_KEYS = (*_ALGORITHMS, "learning_rate")

_ACCEPTED_SHAPES = """\
accepted shapes:
  - a LearningRate: one of constant, piecewise_constant, linear_ramp_to_constant,
    linear_ramp_to_cosine
  - an OptimizerConfig: one of adam, sgd, adagrad, and optionally learning_rate
  - a MultiTaskLearningRates: tower_learning_rates (task -> LearningRate) and optionally
    backbone_learning_rate
  - an optimizer config with multi_task_learning_rates or single_task_learning_rate
    (the recap layout; its adam/sgd/adagrad section is not needed and not read)
  - a training config whose optimizer: section is one of the optimizer shapes above
  - a mapping name -> LearningRate
  (--section a.b picks a part of a larger file)"""

M = TypeVar("M", bound=pydantic.BaseModel)


class UserError(Exception):
    """A problem with the input or the options: reported as lines, exit status 2."""

    def __init__(self, *lines: str, detail: str | None = None) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines
        self.detail = detail  # printed as is after the error lines


# --------------------------------------------------------------------------- loading


class _Document(BaseConfig):
    """The whole YAML document, unvalidated.

    Read through `load_config_from_yaml` so the environment substitution is exactly
    the package's, then validated part by part.
    """

    data: Any = None

    @pydantic.model_validator(mode="before")
    @classmethod
    def _wrap(cls, data: Any) -> dict[str, Any]:
        return {"data": data}


@dataclass(frozen=True)
class Groups:
    """The schedules found in a file: names in file order, configs and what the file was."""

    names: tuple[str, ...]
    configs: tuple[LearningRate, ...]
    shape: str


def _known_field_names() -> list[str]:
    models: tuple[type[pydantic.BaseModel], ...] = (
        LearningRate,
        PiecewiseConstant,
        LinearRampToConstant,
        LinearRampToCosine,
        OptimizerConfig,
        AdamConfig,
        SgdConfig,
        AdagradConfig,
        MultiTaskLearningRates,
    )
    names = {name for model in models for name in model.model_fields}
    return sorted(names | set(_RECAP_LR_KEYS))


_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def yaml_path(loc: Sequence[Any]) -> str:
    """`('tower_learning_rates', 'a.b', 'constant')` -> `tower_learning_rates["a.b"].constant`.

    Keys that are not plain identifiers (task names with dots, say) are quoted so the
    path stays unambiguous; list positions are `[i]`.
    """
    out = ""
    for item in loc:
        if isinstance(item, int):
            out += f"[{item}]"
        elif _PLAIN_KEY.match(str(item)):
            out += ("." if out else "") + str(item)
        else:
            out += f"[{json.dumps(str(item))}]"
    return out or "(top level)"


# What load_config_from_yaml leaves of a $VAR / ${VAR} the environment does not define.
_UNSET_VARIABLE = re.compile(r"\$(?:(\w+)|\{(\w+)\})")


def _yaml_repr(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, (dict, list)):
        text = json.dumps(value, default=str)
        return text if len(text) <= 60 else text[:57] + "..."
    return str(value)


def _error_message(error: Any) -> str:
    """A pydantic error dict as a short sentence that names the value where it helps."""
    kind = error.get("type", "")
    msg = str(error.get("msg", ""))
    loc = error.get("loc", ())
    value = error.get("input")
    if kind == "extra_forbidden":
        key = str(loc[-1]) if loc else ""
        close = difflib.get_close_matches(key, _known_field_names(), n=1)
        return "unknown key" + (f" (did you mean {close[0]!r}?)" if close else "")
    if kind == "missing":
        return "required field is missing"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"expected a mapping, got {_yaml_repr(value)}"
    msg = msg.removeprefix("Value error, ")
    # The kernel's messages name the kind again ("linear_ramp_to_cosine.final_num_steps
    # must be ..."); the path already ends with the kind, so say it once.
    if loc and msg.startswith(f"{loc[-1]}."):
        msg = msg[len(str(loc[-1])) + 1 :]
    if kind != "value_error" and not isinstance(value, (dict, list)):
        msg += f" (got {_yaml_repr(value)})"
        unset = _UNSET_VARIABLE.fullmatch(value) if isinstance(value, str) else None
        if unset:
            msg += f"; is the environment variable {unset.group(1) or unset.group(2)} set?"
    return msg


def _validate(model: type[M], data: Any, prefix: tuple[Any, ...], source: str) -> M:
    """Validates `data` into `model`; errors become one line each, with the YAML path."""
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as e:
        raise UserError(*_error_lines(e, prefix, source)) from None


def _error_lines(e: pydantic.ValidationError, prefix: tuple[Any, ...], source: str) -> list[str]:
    errors = e.errors()
    lines = [
        f"{source}: {yaml_path((*prefix, *err['loc']))}: {_error_message(err)}"
        for err in errors[:_MAX_ERRORS_SHOWN]
    ]
    if len(errors) > _MAX_ERRORS_SHOWN:
        lines.append(f"{source}: ... and {len(errors) - _MAX_ERRORS_SHOWN} more errors")
    return lines


def read_yaml(path: str) -> Any:
    """The parsed YAML document at `path`, environment variables substituted.

    Raises:
        UserError: the file cannot be read or is not valid YAML.
    """
    try:
        return load_config_from_yaml(_Document, path).data
    except FileNotFoundError:
        msg = f"{path}: no such file"
        raise UserError(msg) from None
    except IsADirectoryError:
        msg = f"{path}: is a directory, not a YAML file"
        raise UserError(msg) from None
    except UnicodeDecodeError as e:
        msg = f"{path}: not a UTF-8 text file ({e.reason} at byte {e.start})"
        raise UserError(msg) from None
    except OSError as e:
        msg = f"{path}: cannot read: {e.strerror or e}"
        raise UserError(msg) from None
    except yaml.YAMLError as e:
        where = ""
        mark = getattr(e, "problem_mark", None)
        if mark is not None:
            where = f":{mark.line + 1}:{mark.column + 1}"
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        context = getattr(e, "context", None)
        detail = f"{problem} ({context})" if context else str(problem)
        msg = f"{path}{where}: invalid YAML: {detail}"
        raise UserError(msg) from None


def _select(data: Any, section: str, source: str) -> tuple[Any, tuple[str, ...]]:
    node = data
    loc: tuple[str, ...] = ()
    for key in section.split("."):
        if not isinstance(node, dict) or key not in node:
            where = yaml_path(loc) if loc else "the top level"
            have = ", ".join(map(str, node)) if isinstance(node, dict) else "not a mapping"
            msg = f"{source}: --section {section}: no key {key!r} at {where} (keys: {have})"
            raise UserError(msg)
        node, loc = node[key], (*loc, key)
    return node, loc


def _looks_like_lr(value: Any) -> bool:
    return isinstance(value, dict) and any(k in value for k in _LR_KINDS)


def groups_from_data(data: Any, source: str, prefix: tuple[str, ...] = ()) -> Groups:
    """Recognises the shape of a parsed YAML document and validates it.

    Args:
        data: the parsed document (or the part `--section` picked).
        source: the file name, for messages.
        prefix: the YAML path of `data` in the file, for messages.

    Raises:
        UserError: unknown shape, or a field is invalid (one line per bad field).
    """
    where = f" at {yaml_path(prefix)}" if prefix else ""
    if data is None:
        raise UserError(f"{source}: the file is empty" if not prefix else f"{source}{where}: empty")
    if not isinstance(data, dict):
        msg = f"{source}{where}: expected a mapping, got {type(data).__name__} {_yaml_repr(data)}"
        raise UserError(
            msg,
            detail=_ACCEPTED_SHAPES,
        )
    keys = set(data)
    if keys & set(_LR_KINDS):
        lr = _validate(LearningRate, data, prefix, source)
        return Groups(("learning_rate",), (lr,), "LearningRate")
    if keys & set(_MULTI_TASK_KEYS):
        return _multi_task_groups(_validate(MultiTaskLearningRates, data, prefix, source))
    if keys & set(_RECAP_LR_KEYS):
        return _recap_groups(data, source, prefix)
    if keys & set(_OPTIMIZER_KEYS):
        opt = _validate(OptimizerConfig, data, prefix, source)
        algorithm = next(name for name in _ALGORITHMS if getattr(opt, name) is not None)
        if opt.learning_rate is not None:
            return Groups((algorithm,), (opt.learning_rate,), f"OptimizerConfig ({algorithm})")
        base_lr = get_optimizer_algorithm_config(opt).lr
        return Groups(
            (algorithm,),
            (LearningRate(constant=base_lr),),
            f"OptimizerConfig ({algorithm}, learning_rate unset: constant {algorithm}.lr)",
        )
    inner = data.get("optimizer")
    if isinstance(inner, dict) and set(inner) & {*_OPTIMIZER_KEYS, *_RECAP_LR_KEYS}:
        return groups_from_data(inner, source, (*prefix, "optimizer"))
    if any(_looks_like_lr(v) for v in data.values()):
        return _named_groups(data, source, prefix)
    shown = ", ".join(map(str, list(data)[:8])) + (", ..." if len(data) > 8 else "")
    msg = f"{source}{where}: cannot tell which config this is (keys: {shown})"
    raise UserError(
        msg,
        detail=_ACCEPTED_SHAPES,
    )


def _multi_task_groups(mt: MultiTaskLearningRates, shape: str = "MultiTaskLearningRates") -> Groups:
    names = list(mt.tower_learning_rates)
    configs = list(mt.tower_learning_rates.values())
    if mt.backbone_learning_rate is not None:
        # A task literally named "backbone" keeps its name; the backbone group yields.
        names.append("backbone" if "backbone" not in names else "(backbone)")
        configs.append(mt.backbone_learning_rate)
    return Groups(tuple(names), tuple(configs), shape)


def _recap_groups(data: dict[Any, Any], source: str, prefix: tuple[str, ...]) -> Groups:
    allowed = {*_RECAP_LR_KEYS, *_ALGORITHMS}
    unknown = [k for k in data if k not in allowed]
    if unknown:
        raise UserError(
            *(
                f"{source}: {yaml_path((*prefix, k))}: unknown key in an optimizer config with "
                f"{' / '.join(_RECAP_LR_KEYS)} (allowed: {', '.join(sorted(allowed))})"
                for k in unknown
            )
        )
    chosen = [k for k in _RECAP_LR_KEYS if data.get(k) is not None]
    if len(chosen) != 1:
        got = ", ".join(chosen) if chosen else "neither is set"
        msg = (
            f"{source}: {yaml_path(prefix)}: exactly one of {', '.join(_RECAP_LR_KEYS)} "
            f"is required; got {got}"
        )
        raise UserError(msg)
    key = chosen[0]
    if key == "multi_task_learning_rates":
        mt = _validate(MultiTaskLearningRates, data[key], (*prefix, key), source)
        return _multi_task_groups(mt, "optimizer config with multi_task_learning_rates")
    lr = _validate(LearningRate, data[key], (*prefix, key), source)
    return Groups(("single_task",), (lr,), "optimizer config with single_task_learning_rate")


def _named_groups(data: dict[Any, Any], source: str, prefix: tuple[str, ...]) -> Groups:
    names, configs, lines = [], [], []
    for name, value in data.items():
        try:
            configs.append(LearningRate.model_validate(value))
            names.append(str(name))
        except pydantic.ValidationError as e:
            lines += _error_lines(e, (*prefix, name), source)
    if lines:
        raise UserError(*lines[:_MAX_ERRORS_SHOWN])
    return Groups(tuple(names), tuple(configs), "mapping name -> LearningRate")


def load_groups(path: str, section: str | None = None) -> Groups:
    """Reads `path` and returns its schedules (see the module docstring for the shapes).

    Raises:
        UserError: the file is missing, not YAML, of unknown shape or invalid.
    """
    data = read_yaml(path)
    prefix: tuple[str, ...] = ()
    if section:
        data, prefix = _select(data, section, path)
    return groups_from_data(data, path, prefix)


# ------------------------------------------------------------------------ evaluation


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


def settle_step(breakpoints: Sequence[int]) -> int:
    """The step from which a schedule no longer changes: its last breakpoint."""
    return max(0, breakpoints[-1]) if breakpoints else 0


def ramp_end(config: dict[str, Any]) -> int | None:
    """`num_ramp_steps` of a ramp kind, None for the other kinds."""
    for kind in ("linear_ramp_to_cosine", "linear_ramp_to_constant"):
        params = config.get(kind)
        if params is not None:
            return int(params["num_ramp_steps"])
    return None


def _round_up_2_digits(n: int) -> int:
    if n < 100:
        return n
    unit: int = 10 ** (len(str(n)) - 2)
    return -(-n // unit) * unit


def default_end(settle: int, start: int) -> int:
    """Last step shown by default: 10% past the last change, at least a short span."""
    return max(_round_up_2_digits(math.ceil(settle * 1.1)), settle + 1, start + _MIN_DEFAULT_SPAN)


@dataclass
class Evaluation:
    """What one pass over the range found, per group."""

    peak: np.ndarray  # (G,) max over the range
    peak_step: np.ndarray  # (G,) first step reaching it
    final: np.ndarray  # (G,) value at the last step
    column_low: np.ndarray  # (G, W) min over each plot column's steps, joined to the next
    column_high: np.ndarray  # (G, W) max likewise
    seconds: float  # spent in the compiled evaluation


class _Writer:
    """CSV and .npy outputs filled block by block, so big ranges never sit in memory.

    The .npy array, shape (groups, steps), is stored in Fortran order: each block of
    steps is then one sequential write (a full disk is an OSError, not the SIGBUS a
    memory map would give). `numpy.load` reads it back as the same array.
    """

    def __init__(
        self,
        names: Sequence[str],
        rng: StepRange,
        csv_path: str | None,
        csv_every: int,
        npy_path: str | None,
    ) -> None:
        self._csv_every = csv_every
        self._csv_file: IO[str] | None = None
        self._csv: Any = None
        self._npy: IO[bytes] | None = None
        self.csv_rows = 0
        try:
            if csv_path is not None:
                self._csv_file = Path(csv_path).open("w", encoding="utf-8", newline="")  # noqa: SIM115
                self._csv = csv.writer(self._csv_file, lineterminator="\n")
                self._csv.writerow(["step", *names])
            if npy_path is not None:
                self._npy = Path(npy_path).open("wb")  # noqa: SIM115
                header = {"descr": "<f8", "fortran_order": True, "shape": (len(names), rng.count)}
                np.lib.format.write_array_header_1_0(self._npy, header)
        except OSError as e:
            self.close()
            msg = f"{e.filename}: cannot write: {e.strerror or e}"
            raise UserError(msg) from None

    def write(self, first: int, steps: np.ndarray, values: np.ndarray) -> None:
        if self._npy is not None:
            self._npy.write(values.T.astype("<f8", order="C").tobytes())
        if self._csv is not None:
            keep = slice((-first) % self._csv_every, None, self._csv_every)
            rows_steps, rows = steps[keep], values[:, keep]
            # Python's float str is the shortest text that reads back to the same double.
            self._csv.writerows(zip(rows_steps.tolist(), *rows.tolist(), strict=True))
            self.csv_rows += rows_steps.size

    def close(self) -> None:
        if self._csv_file is not None:
            self._csv_file.close()
            self._csv_file = None
        if self._npy is not None:
            self._npy.close()
            self._npy = None


def evaluate(schedules: Schedules, rng: StepRange, columns: int, writer: _Writer) -> Evaluation:
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


# --------------------------------------------------------------------------- output


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


def _shorten(name: str, width: int) -> str:
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


def summary_table(names: Sequence[str], schedules: Schedules, ev: Evaluation) -> list[str]:
    rows = []
    configs, kinds, breakpoints = schedules.configs, schedules.kinds, schedules.breakpoints
    for g, name in enumerate(names):
        end = ramp_end(configs[g])
        rows.append(
            [
                _shorten(name, 40),
                kinds[g],
                "-" if end is None else format_step(end),
                format_lr(float(ev.peak[g])),
                format_step(int(ev.peak_step[g])),
                format_lr(float(ev.final[g])),
                format_step(settle_step(breakpoints[g])),
            ]
        )
    headers = ["group", "kind", "ramp end", "peak", "at step", "final", "flat from"]
    return format_table(headers, rows, left=2)


def values_table(names: Sequence[str], at: Sequence[int], values: np.ndarray) -> list[str]:
    rows = [
        [_shorten(name, 40), *(format_lr(float(v)) for v in values[g])]
        for g, name in enumerate(names)
    ]
    return format_table(["lr at step", *(format_step(s) for s in at)], rows)


def default_table_steps(rng: StepRange, names: Sequence[str], columns: int) -> list[int]:
    """First and last step plus round steps between, as many as fit in `columns`."""
    name_width = min(40, max(len("lr at step"), *(len(n) for n in names)))
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
_MAX_CHART_SERIES = 4
_AXIS_LABEL_WIDTH = 9


def unique_schedules(configs: Sequence[dict[str, Any]]) -> list[list[int]]:
    """Groups with identical schedules, in order of first appearance (drawn once)."""
    seen: dict[str, list[int]] = {}
    for g, cfg in enumerate(configs):
        seen.setdefault(json.dumps(cfg, sort_keys=True), []).append(g)
    return list(seen.values())


def _y_scale(
    peaks: np.ndarray, log_y: bool
) -> tuple[bool, Callable[[np.ndarray], np.ndarray], list[float]]:
    """(log scale used, value -> fraction of the height, round values to label).

    The log scale starts one decade under the smallest positive peak, so every
    schedule's plateau is visible and values below (the start of a ramp) sit on the floor.
    """
    top = float(peaks.max())
    positive = peaks[peaks > 0]
    if log_y and positive.size:
        low_exp = math.floor(math.log10(float(positive.min()))) - 1
        log_lo = float(low_exp)
        span = max(math.log10(top), log_lo + 1) - log_lo

        def frac_log(v: np.ndarray) -> np.ndarray:
            return np.asarray((np.log10(np.maximum(v, 10.0**low_exp)) - log_lo) / span)

        decades = range(low_exp, math.floor(log_lo + span + 1e-9) + 1)
        return True, frac_log, [10.0**k for k in decades] + [top]
    top = top if top > 0 else 1.0
    return False, lambda v: np.asarray(v) / top, _nice_values(top, 4)


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
    used_log, to_frac, ticks = _y_scale(ev.peak, log_y)
    series = unique_schedules(configs)
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
            lines.append(f"{labels[r]:>{_AXIS_LABEL_WIDTH}} {style.tick_left}{cells}".rstrip())
        else:
            lines.append(f"{'':>{_AXIS_LABEL_WIDTH}} {style.vertical}{cells}".rstrip())
    lines += _x_axis(rng, width, style, _AXIS_LABEL_WIDTH + 1)
    lines.append("")
    lines.append(f"  learning rate, {'log' if used_log else 'linear'} scale:")
    for u, members in enumerate(series):
        joined = ", ".join(names[g] for g in members)
        same = "  (same schedule)" if len(members) > 1 else ""
        lines.append(f"    {marks[u]}  {joined}{same}")
    if (count > 1).any():
        lines.append("    *  several schedules in one cell")
    return lines


def render_strips(
    names: Sequence[str], rng: StepRange, ev: Evaluation, log_y: bool, style: _Style
) -> list[str]:
    """One bar strip per group on a shared step axis.

    Each strip is scaled to its own peak (printed beside it): the shape of every
    schedule at a glance, with no curves to tell apart. With `log_y`, every strip shares
    one log scale instead.
    """
    width = ev.column_low.shape[1]
    name_width = min(40, max(len(n) for n in names))
    levels = len(style.bars) - 1
    if log_y:
        used_log, to_frac, _ = _y_scale(ev.peak, True)
    lines = []
    for g, name in enumerate(names):
        high = ev.column_high[g]
        if log_y and used_log:
            frac = np.clip(to_frac(high), 0, 1)
        else:
            peak = float(ev.peak[g])
            frac = high / peak if peak > 0 else np.zeros_like(high)
        level = np.rint(frac * levels).astype(np.int64)
        level[(level == 0) & (high > 0)] = 1  # a small positive rate is not zero
        bars = "".join(style.bars[v] for v in level.tolist())
        label = f"{_shorten(name, name_width):<{name_width}}  {format_lr(float(ev.peak[g]))}"
        lines.append(f"{label} {style.tick_left}{_paint(bars, g, style) if style.color else bars}")
    lines += _x_axis(rng, width, style, _strip_indent(names))
    lines.append("")
    if log_y and used_log:
        lines.append("  bar height: learning rate on one log scale for all groups")
    else:
        lines.append(
            "  bar height: learning rate / the group's peak (the number before each strip)"
        )
    return lines


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
    return "chart" if len(unique_schedules(configs)) <= _MAX_CHART_SERIES else "strips"


def _strip_indent(names: Sequence[str]) -> int:
    return min(40, max(len(n) for n in names)) + 3 + len(format_lr(0.0))


def _plot_style(color_option: str, stream: IO[str]) -> _Style:
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


def _import_matplotlib() -> tuple[Any, Any]:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        msg = "--png needs matplotlib: pip install 'tml-optimizers[plot]'"
        raise UserError(msg) from None
    return Figure, FigureCanvasAgg


def write_png(
    path: str,
    names: Sequence[str],
    configs: Sequence[dict[str, Any]],
    schedules: Schedules,
    rng: StepRange,
    log_y: bool,
    title: str,
) -> None:
    """A matplotlib chart of every distinct schedule.

    Drawn with the Agg backend only (no pyplot, so no global state and no display
    needed). Each curve is evaluated at evenly spaced steps plus both sides of every
    breakpoint, so corners stay sharp.
    """
    figure_cls, canvas_cls = _import_matplotlib()
    grid = np.unique(np.rint(np.linspace(0, rng.count - 1, min(rng.count, _PNG_POINTS))))
    corners = np.asarray([b for bps in schedules.breakpoints for b in bps], dtype=np.int64)
    near = rng.position(corners) if corners.size else np.empty(0, dtype=np.int64)
    positions = np.unique(np.concatenate([grid.astype(np.int64), near, np.maximum(near - 1, 0)]))
    steps = rng.start + rng.every * positions
    values = schedules(steps)

    fig = figure_cls(figsize=(11, 5.5), layout="constrained")
    canvas_cls(fig)
    ax = fig.add_subplot()
    styles = ("-", "--", ":", "-.")
    for u, members in enumerate(unique_schedules(configs)):
        label = ", ".join(names[g] for g in members)
        ax.plot(
            steps, values[members[0]], label=_shorten(label, 60), linestyle=styles[(u // 10) % 4]
        )
    if log_y and (values > 0).any():
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("learning rate")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False)
    try:
        fig.savefig(path, format="png", dpi=120)
    except OSError as e:
        msg = f"{path}: cannot write: {e.strerror or e}"
        raise UserError(msg) from None


# ----------------------------------------------------------------------------- main


def _step_value(text: str) -> int:
    """An argparse type for steps: `5000`, `5_000`, `5e3` (an integral float)."""
    try:
        value = int(text)
    except ValueError:
        try:
            number = float(text)
        except ValueError:
            msg = f"not a step: {text!r}"
            raise argparse.ArgumentTypeError(msg) from None
        if not number.is_integer():
            msg = f"not a whole step: {text!r}"
            raise argparse.ArgumentTypeError(msg) from None
        value = int(number)
    if value < 0:
        msg = f"steps are >= 0, got {text}"
        raise argparse.ArgumentTypeError(msg)
    if value > np.iinfo(np.int64).max:
        msg = f"{text} is beyond the largest step, 2**63 - 1"
        raise argparse.ArgumentTypeError(msg)
    return value


def _positive(text: str) -> int:
    value = _step_value(text)
    if value < 1:
        msg = f"must be >= 1, got {text}"
        raise argparse.ArgumentTypeError(msg)
    return value


def _step_list(text: str) -> list[int]:
    return [_step_value(part.strip()) for part in text.split(",") if part.strip()]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Evaluate the learning-rate schedules in a YAML config at every step of a range\n"
            "and show them: a summary per group (peak, final value, where the ramp ends),\n"
            "learning rates at chosen steps and a terminal plot; optionally write CSV, .npy\n"
            "and PNG. Exit status 2 on a bad file or option, with the YAML path of each bad\n"
            "field."
        ),
        epilog=_ACCEPTED_SHAPES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("config", help="YAML file ($VAR / ${VAR} are taken from the environment)")
    parser.add_argument("--section", metavar="A.B", help="evaluate this part of the file only")
    rng = parser.add_argument_group("steps")
    rng.add_argument(
        "--steps",
        type=_step_value,
        metavar="N",
        help="evaluate through step N, inclusive (default: 10%% past the last step where any "
        "schedule changes)",
    )
    rng.add_argument("--start", type=_step_value, default=0, metavar="S", help="first step (0)")
    rng.add_argument("--every", type=_positive, default=1, metavar="K", help="stride (1)")
    rng.add_argument(
        "--at",
        type=_step_list,
        metavar="S1,S2,...",
        help="steps for the 'lr at step' table (default: round steps across the range)",
    )
    show = parser.add_argument_group("display")
    show.add_argument("--no-table", action="store_true", help="do not print the tables")
    show.add_argument("--no-plot", action="store_true", help="do not print the terminal plot")
    show.add_argument(
        "--plot",
        choices=("auto", "chart", "strips"),
        default="auto",
        help="chart: all schedules in one chart; strips: one bar strip per group; auto "
        f"(default): a chart for up to {_MAX_CHART_SERIES} distinct schedules, strips beyond",
    )
    show.add_argument("--width", type=_positive, help="plot width in characters (terminal width)")
    show.add_argument("--height", type=_positive, default=16, help="plot height in lines (16)")
    show.add_argument("--log-y", action="store_true", help="log-scale learning-rate axis")
    show.add_argument(
        "--color", choices=("auto", "always", "never"), default="auto", help="colored plot markers"
    )
    out = parser.add_argument_group("outputs")
    out.add_argument("--csv", metavar="PATH", help="write step,<group>,... rows")
    out.add_argument(
        "--csv-every",
        type=_positive,
        metavar="K",
        help=f"write every K-th step to the CSV (default: 1, or a stride keeping it "
        f"under {_MAX_CSV_ROWS:,} rows)",
    )
    out.add_argument(
        "--npy",
        metavar="PATH",
        help="write the (groups, steps) float64 array; column j is step start + j * every",
    )
    out.add_argument("--png", metavar="PATH", help="write a PNG chart (needs matplotlib)")
    return parser


def _step_range(args: argparse.Namespace, schedules: Schedules) -> StepRange:
    settle = max(settle_step(bps) for bps in schedules.breakpoints)
    end = args.steps if args.steps is not None else default_end(settle, args.start)
    end = min(end, _LAST_STEP)  # a default end past the largest step a schedule takes
    if end < args.start:
        msg = f"--steps {end} is before --start {args.start}"
        raise UserError(msg)
    count = (end - args.start) // args.every + 1
    if count > _MAX_STEPS:
        stride = -(-(end - args.start) // _MAX_STEPS)
        msg = (
            f"steps {args.start:,} to {end:,} are {count:,} steps per schedule, more than the "
            f"{_MAX_STEPS:,} this tool evaluates; pass --every {stride} (or more) or a smaller --steps"
        )
        raise UserError(msg)
    return StepRange(args.start, args.every, count)


def run(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    """The whole job once the options are parsed; raises UserError for user mistakes."""
    if args.png is not None:
        _import_matplotlib()  # fail before doing any work
    groups = load_groups(args.config, args.section)
    if not groups.names:
        msg = f"{args.config}: {groups.shape} with no learning-rate schedules in it"
        raise UserError(msg)
    repeated = sorted({n for n in groups.names if groups.names.count(n) > 1})
    if repeated:  # YAML keys 1 and "1" are both the group "1"
        msg = f"{args.config}: group names repeat: {', '.join(map(repr, repeated))}"
        raise UserError(msg)
    schedules = Schedules(dict(zip(groups.names, groups.configs, strict=True)))
    names, configs = groups.names, schedules.configs
    rng = _step_range(args, schedules)

    term_columns = shutil.get_terminal_size((100, 24)).columns
    if plot_kind(args.plot, configs) == "chart":
        margin = _AXIS_LABEL_WIDTH + 2
    else:
        margin = _strip_indent(names) + 1
    plot_width = args.width or max(20, min(term_columns - margin, 110))
    csv_every = args.csv_every
    if csv_every is None:
        csv_every = max(1, -(-rng.count // _MAX_CSV_ROWS))
    writer = _Writer(names, rng, args.csv, csv_every, args.npy)
    try:
        ev = evaluate(schedules, rng, plot_width, writer)
    except OSError as e:
        msg = f"{e.filename or 'output'}: cannot write: {e.strerror or e}"
        raise UserError(msg) from None
    finally:
        writer.close()

    where = f" [{args.section}]" if args.section else ""
    span = f"steps {format_step(rng.start)} to {format_step(rng.last)}"
    span += f" every {format_step(rng.every)}" if rng.every > 1 else ""
    plural = "s" if len(names) > 1 else ""
    print(f"{args.config}{where}: {groups.shape}, {len(names)} schedule{plural}", file=stdout)
    print(
        f"{span}: {rng.count:,} step{'s' if rng.count > 1 else ''} x {len(names)} = "
        f"{rng.count * len(names):,} values, evaluated in {ev.seconds * 1e3:.1f} ms",
        file=stdout,
    )
    if not args.no_table:
        at = args.at if args.at else default_table_steps(rng, names, term_columns)
        at_values = schedules(np.asarray(at, dtype=np.int64)) if at else np.empty((len(names), 0))
        print("", file=stdout)
        print("\n".join(summary_table(names, schedules, ev)), file=stdout)
        print("", file=stdout)
        print("\n".join(values_table(names, at, at_values)), file=stdout)
    if not args.no_plot:
        style = _plot_style(args.color, stdout)
        print("", file=stdout)
        plot = render_plot(names, configs, rng, ev, args.plot, args.height, args.log_y, style)
        print("\n".join(plot), file=stdout)

    written = []
    if args.csv is not None:
        stride = f", every {csv_every} steps" if csv_every > 1 else ""
        written.append(f"wrote {args.csv} ({writer.csv_rows:,} rows{stride})")
        if args.csv_every is None and csv_every > 1:
            print(
                f"{PROG}: note: {args.csv} holds one step in {csv_every} to stay under "
                f"{_MAX_CSV_ROWS:,} rows; --csv-every 1 writes them all",
                file=stderr,
            )
    if args.npy is not None:
        written.append(f"wrote {args.npy} (float64 array of shape ({len(names)}, {rng.count}))")
    if args.png is not None:
        write_png(args.png, names, configs, schedules, rng, args.log_y, args.config)
        written.append(f"wrote {args.png}")
    if written:
        print("", file=stdout)
        print("\n".join(written), file=stdout)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `tml-lr` and `python -m tml.optimizers`.

    Args:
        argv: the arguments (without the program name); `sys.argv[1:]` when None.

    Returns:
        0 on success, 2 for a usage or input error (reported on stderr, no traceback).
    """
    parser = build_parser()
    try:
        args = parser.parse_args(None if argv is None else list(argv))
    except SystemExit as e:  # argparse reports its own errors (status 2) and --help (0)
        return int(e.code) if isinstance(e.code, int) else EXIT_USAGE
    try:
        return run(args, sys.stdout, sys.stderr)
    except UserError as e:
        for line in e.lines:
            print(f"{PROG}: error: {line}", file=sys.stderr)
        if e.detail:
            print(e.detail, file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # `tml-lr x.yaml | head`: the reader left; stop quietly, as Unix tools do.
        _silence_stdout()
        return 0
    except KeyboardInterrupt:
        return 130


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass  # stdout is not a real file (tests, notebooks): nothing left to flush
