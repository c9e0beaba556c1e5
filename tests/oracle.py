"""An independent plain-Python oracle: every schedule kind.

Everything here is ordinary Python arithmetic on Python ints and floats, written
exactly as the spec writes each formula and evaluated left to right as CPython
does, so its results are the reference the compiled kernel must match bit for bit.

The four original kinds are the original tml `compute_lr`, transcribed:

- piecewise_constant indexes the values with `bisect.bisect_right`;
- linear_ramp_to_constant is `min(L, (L / R) * step)`;
- linear_ramp_to_cosine is `(L / R) * step` before R, then
  `F + (L - F) * 0.5 * (1.0 + math.cos(math.pi * (step - R) / (T - R)))` up to T,
  then `F`.

The twelve later kinds follow the README's table of kinds, with `t = float(s)`:

- a step keeps its Python type, so `s - W - S` is an exact int for an int step and
  `(t - W) - S` in floats for a float step, and an int meets a float only where the
  spec's expression makes it (`math.pi * p` rounds the int `p` once);
- `**` is C `pow`: Python's `**` on floats calls it, except that it raises where C
  returns inf, so `_pow` turns that OverflowError back into inf;
- cycles (`cosine_restarts`, `cyclic`) are counted with Python ints; a float step
  uses the cycle of `math.floor(s)` and the position `s - start`, and a float step
  >= 2**63 given to either kind is a ValueError, as the package must raise;
- a float step minus an integer start (a cycle's, a sequence stage's) is the exact
  difference rounded once (`offset`): Python's own `s - start` below 2**53, and the
  true position above, where Python would round the start first;
- one_cycle is torch's `OneCycleLR.get_lr` for 0 <= s <= T - 1 (its phase ends,
  its `pct`, its `_annealing_cos` / `_annealing_linear`), and the minimum after.

Configs are read as attributes of an object, as the original read them; `namespace`
turns a YAML-shaped dict into such an object, with the coercions of the config
models (float fields become floats, integral-float integer fields ints) and every
omitted field set to its default. A field whose default means "see another field"
(`inverse_sqrt.timescale`, `cyclic.step_size_down`) stays None and is resolved here,
so the oracle also reads the package's own pydantic configs.

Nothing here imports the package under test.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from fractions import Fraction
from types import SimpleNamespace
from typing import Any

import numpy as np

ORIGINAL_KINDS = (
    "constant",
    "piecewise_constant",
    "linear_ramp_to_constant",
    "linear_ramp_to_cosine",
)
NEW_KINDS = (
    "linear",
    "exponential_decay",
    "multistep_decay",
    "polynomial_decay",
    "cosine_decay",
    "inverse_sqrt",
    "inverse_time_decay",
    "cosine_restarts",
    "one_cycle",
    "cyclic",
    "warmup_stable_decay",
    "sequence",
)
KINDS = ORIGINAL_KINDS + NEW_KINDS

# Kinds whose cycle index needs an integer step: a float step this large has none.
CYCLIC_KINDS = ("cosine_restarts", "cyclic")
FLOAT_STEP_LIMIT = 2.0**63

REQUIRED = object()  # marks a field without a default

# Each kind's fields: (name, type, default). Types: "rate" (a learning rate, float),
# "float", "int", "bool", "str", "ints" (a list of ints), "rates" (a list of floats).
# `None` as a default means "unset" (the spec gives its meaning per kind).
FIELDS: dict[str, tuple[tuple[str, str, Any], ...]] = {
    "piecewise_constant": (
        ("learning_rate_boundaries", "ints", REQUIRED),
        ("learning_rate_values", "rates", REQUIRED),
    ),
    "linear_ramp_to_constant": (
        ("learning_rate", "rate", REQUIRED),
        ("num_ramp_steps", "int", REQUIRED),
    ),
    "linear_ramp_to_cosine": (
        ("learning_rate", "rate", REQUIRED),
        ("final_learning_rate", "rate", REQUIRED),
        ("num_ramp_steps", "int", REQUIRED),
        ("final_num_steps", "int", REQUIRED),
    ),
    "linear": (
        ("learning_rate", "rate", REQUIRED),
        ("final_learning_rate", "rate", REQUIRED),
        ("num_steps", "int", REQUIRED),
    ),
    "exponential_decay": (
        ("learning_rate", "rate", REQUIRED),
        ("decay_rate", "float", REQUIRED),
        ("decay_steps", "int", REQUIRED),
        ("staircase", "bool", False),
        ("final_learning_rate", "rate", None),
    ),
    "multistep_decay": (
        ("learning_rate", "rate", REQUIRED),
        ("milestones", "ints", REQUIRED),
        ("gamma", "float", REQUIRED),
    ),
    "polynomial_decay": (
        ("learning_rate", "rate", REQUIRED),
        ("final_learning_rate", "rate", 0.0),
        ("num_steps", "int", REQUIRED),
        ("power", "float", 1.0),
    ),
    "cosine_decay": (
        ("learning_rate", "rate", REQUIRED),
        ("final_learning_rate", "rate", 0.0),
        ("num_steps", "int", REQUIRED),
    ),
    "inverse_sqrt": (
        ("learning_rate", "rate", REQUIRED),
        ("num_warmup_steps", "int", 0),
        ("timescale", "int", None),
    ),
    "inverse_time_decay": (
        ("learning_rate", "rate", REQUIRED),
        ("decay_rate", "float", REQUIRED),
        ("decay_steps", "int", REQUIRED),
        ("staircase", "bool", False),
    ),
    "cosine_restarts": (
        ("learning_rate", "rate", REQUIRED),
        ("final_learning_rate", "rate", 0.0),
        ("num_steps", "int", REQUIRED),
        ("period_multiplier", "int", 1),
        ("peak_decay", "float", 1.0),
        ("num_cycles", "int", None),
    ),
    "one_cycle": (
        ("learning_rate", "rate", REQUIRED),
        ("total_steps", "int", REQUIRED),
        ("pct_start", "float", 0.3),
        ("anneal", "str", "cos"),
        ("div_factor", "float", 25.0),
        ("final_div_factor", "float", 1e4),
        ("three_phase", "bool", False),
    ),
    "cyclic": (
        ("learning_rate", "rate", REQUIRED),
        ("max_learning_rate", "rate", REQUIRED),
        ("step_size_up", "int", REQUIRED),
        ("step_size_down", "int", None),
        ("mode", "str", "triangular"),
        ("gamma", "float", 1.0),
    ),
    "warmup_stable_decay": (
        ("learning_rate", "rate", REQUIRED),
        ("final_learning_rate", "rate", 0.0),
        ("num_warmup_steps", "int", REQUIRED),
        ("num_stable_steps", "int", REQUIRED),
        ("num_decay_steps", "int", REQUIRED),
        ("decay_shape", "str", "cosine"),
    ),
}


def _pow(base: float, exponent: float) -> float:
    """C `pow`: Python's `**` on floats, with inf where Python raises instead."""
    try:
        return base**exponent
    except OverflowError:  # the result overflows; C gives HUGE_VAL
        return math.inf
    except ZeroDivisionError:  # 0.0 ** negative; C gives HUGE_VAL (bases here are >= 0)
        return math.inf


def offset(step: int | float, start: int) -> int | float:
    """`step - start` for an integer start at or below the step: a cycle or stage position.

    For an int step, Python's exact integer difference. For a float step, the exact
    difference rounded once. Below 2**53 that is bitwise what Python's `step - start`
    gives (the difference is exact there); above, Python would first round `start` to
    a float, which can put the step outside its own cycle (cyclic would then go
    negative): the spec's "position s - start" is taken as the exact position.
    """
    if isinstance(step, int):
        return step - start
    return float(Fraction(step) - start)


def _cycle_step(kind: str, step: int | float) -> int:
    """The integer step whose cycle a step falls in (the kinds' conventions: cycles)."""
    if isinstance(step, float):
        if not step < FLOAT_STEP_LIMIT:
            raise ValueError(f"{kind}: float step {step!r} >= 2**63 has no cycle")
        return math.floor(step)
    return step


# ---------------------------------------------------------------------------
# The kinds. `s` is the step as given (int or float), `t = float(s)`.


def _linear(c: Any, s: int | float) -> float:
    L, F, N = c.learning_rate, c.final_learning_rate, c.num_steps
    t = float(s)
    if s < N and 2 * s < N:
        return L + (F - L) * (t / N)
    if s < N:
        return F + (L - F) * (float(N - s) / N)
    return F


def _decay_exponent(c: Any, s: int | float) -> float | int:
    # k of exponential_decay and inverse_time_decay.
    t = float(s)
    D = c.decay_steps
    if not c.staircase:
        return t / D
    if isinstance(s, float):
        return math.floor(t / D)  # an int; `**` and `*` convert it back exactly
    return float(s // D)


def _exponential_decay(c: Any, s: int | float) -> float:
    L, r, F = c.learning_rate, c.decay_rate, c.final_learning_rate
    k = _decay_exponent(c, s)
    v = L * _pow(r, k)
    if F is not None:
        if r < 1:
            v = max(v, F)
        elif r > 1:
            v = min(v, F)
    return v


def _multistep_decay(c: Any, s: int | float) -> float:
    k = bisect.bisect_right(list(c.milestones), s)
    return c.learning_rate * _pow(c.gamma, k)


def _polynomial_decay(c: Any, s: int | float) -> float:
    L, F, N, p = c.learning_rate, c.final_learning_rate, c.num_steps, c.power
    t = float(s)
    if s < N:
        return (L - F) * _pow(1.0 - t / N, p) + F
    return F


def _cosine_decay(c: Any, s: int | float) -> float:
    L, F, N = c.learning_rate, c.final_learning_rate, c.num_steps
    t = float(s)
    if s <= N:
        return F + (L - F) * 0.5 * (1.0 + math.cos(math.pi * t / N))
    return F


def _inverse_sqrt(c: Any, s: int | float) -> float:
    L, W = c.learning_rate, c.num_warmup_steps
    tau = W if c.timescale is None else c.timescale
    t = float(s)
    if s < W:
        return L / W * t
    return L / math.sqrt(float(s - W + tau) / tau)


def _inverse_time_decay(c: Any, s: int | float) -> float:
    k = _decay_exponent(c, s)
    return c.learning_rate / (1.0 + c.decay_rate * k)


def restart_starts(num_steps: int, multiplier: int, limit: int) -> list[int]:
    """Every cycle start S_i of cosine_restarts that is <= limit (exact integers)."""
    starts: list[int] = []
    i = 0
    while True:
        if multiplier == 1:
            start = num_steps * i
        else:
            start = num_steps * (multiplier**i - 1) // (multiplier - 1)
        if start > limit:
            return starts
        starts.append(start)
        i += 1


def _cosine_restarts(c: Any, s: int | float) -> float:
    L, F, N = c.learning_rate, c.final_learning_rate, c.num_steps
    m, d, cycles = c.period_multiplier, c.peak_decay, c.num_cycles
    n = _cycle_step("cosine_restarts", s)
    if m == 1:
        i = n // N
        start = N * i
    else:
        # Walk the cycles: S_{i+1} = S_i + N * m**i, all exact.
        i, start, length = 0, 0, N
        while start + length <= n:
            start += length
            length *= m
            i += 1
    if cycles is not None and i >= cycles:
        return F
    T_i = N * m**i
    p = offset(s, start)
    peak = max(L * _pow(d, i), F)
    return F + (peak - F) * 0.5 * (1.0 + math.cos(math.pi * p / T_i))


def _annealing_cos(start: float, end: float, pct: float) -> float:
    cos_out = math.cos(math.pi * pct) + 1
    return end + (start - end) / 2.0 * cos_out


def _annealing_linear(start: float, end: float, pct: float) -> float:
    return (end - start) * pct + start


def one_cycle_phase_ends(c: Any) -> list[float | int]:
    """The phase ends of one_cycle, as torch's OneCycleLR computes them."""
    T, pct_start = c.total_steps, c.pct_start
    if c.three_phase:
        return [float(pct_start * T) - 1, float(2 * pct_start * T) - 2, T - 1]
    return [float(pct_start * T) - 1, T - 1]


def _one_cycle(c: Any, s: int | float) -> float:
    L, T = c.learning_rate, c.total_steps
    initial = L / c.div_factor
    minimum = initial / c.final_div_factor
    if s > T - 1:
        return minimum
    if c.three_phase:
        ends_and_rates = [(initial, L), (L, initial), (initial, minimum)]
    else:
        ends_and_rates = [(initial, L), (L, minimum)]
    anneal = {"cos": _annealing_cos, "linear": _annealing_linear}[c.anneal]
    ends = one_cycle_phase_ends(c)
    start_step: float | int = 0.0
    for i, (end_step, (start_lr, end_lr)) in enumerate(zip(ends, ends_and_rates, strict=True)):
        if s <= end_step or i == len(ends) - 1:
            pct = (s - start_step) / (end_step - start_step)
            return anneal(start_lr, end_lr, pct)
        start_step = end_step
    raise AssertionError("unreachable: the last phase always matches")


def _cyclic(c: Any, s: int | float) -> float:
    L, M, U = c.learning_rate, c.max_learning_rate, c.step_size_up
    D = U if c.step_size_down is None else c.step_size_down
    n = _cycle_step("cyclic", s)
    cycle = n // (U + D)
    p = offset(s, cycle * (U + D))
    scale = p / U if p < U else (U + D - p) / D
    if c.mode == "triangular":
        f = 1.0
    elif c.mode == "triangular2":
        f = 1.0 / _pow(2.0, cycle)
    elif c.mode == "exp_range":
        f = _pow(c.gamma, float(s))
    else:
        raise ValueError(f"cyclic mode {c.mode!r} is not one the oracle reads")
    return L + (M - L) * scale * f


def _warmup_stable_decay(c: Any, s: int | float) -> float:
    L, F = c.learning_rate, c.final_learning_rate
    W, S, D = c.num_warmup_steps, c.num_stable_steps, c.num_decay_steps
    t = float(s)
    if s < W:
        return L / W * t
    if s < W + S:
        return L
    if s < W + S + D:
        p = float(s - W - S) / D
        if c.decay_shape == "cosine":
            return F + (L - F) * 0.5 * (1.0 + math.cos(math.pi * p))
        if c.decay_shape == "linear":
            return F + (L - F) * (float(W + S + D - s) / D)
        if c.decay_shape == "sqrt":
            return F + (L - F) * (1.0 - math.sqrt(p))
        raise ValueError(f"decay_shape {c.decay_shape!r} is not one the oracle reads")
    return F


def _sequence(stages: Sequence[Any], s: int | float) -> float:
    start = 0
    for stage in stages:
        n = stage.num_steps
        if n is None or s < start + n:
            return reference_lr(stage.schedule, offset(s, start))
        start += n
    raise ValueError("sequence: the last stage must run forever (no num_steps)")


_FORMULAS = {
    "linear": _linear,
    "exponential_decay": _exponential_decay,
    "multistep_decay": _multistep_decay,
    "polynomial_decay": _polynomial_decay,
    "cosine_decay": _cosine_decay,
    "inverse_sqrt": _inverse_sqrt,
    "inverse_time_decay": _inverse_time_decay,
    "cosine_restarts": _cosine_restarts,
    "one_cycle": _one_cycle,
    "cyclic": _cyclic,
    "warmup_stable_decay": _warmup_stable_decay,
}


def reference_lr(lr_config: Any, step: int | float) -> float:
    """The learning rate of `lr_config` at `step`, as the spec defines it.

    Args:
        lr_config: an object with the kind attributes (see `namespace`); a kind
            missing as an attribute is unset, so objects with only the four original
            attributes work as they did.
        step: a Python int or float.

    Returns:
        The value exactly as the spec's Python expression gives it.

    Raises:
        ValueError: a float step >= 2**63 reaches cosine_restarts or cyclic.
    """
    constant = lr_config.constant
    if constant is not None:
        return constant
    piecewise = lr_config.piecewise_constant
    if piecewise is not None:
        index = bisect.bisect_right(piecewise.learning_rate_boundaries, step)
        return piecewise.learning_rate_values[index]
    ramp = lr_config.linear_ramp_to_constant
    if ramp is not None:
        slope = ramp.learning_rate / ramp.num_ramp_steps
        return min(ramp.learning_rate, slope * step)
    cosine = lr_config.linear_ramp_to_cosine
    if cosine is not None:
        peak, final = cosine.learning_rate, cosine.final_learning_rate
        ramp_steps, final_steps = cosine.num_ramp_steps, cosine.final_num_steps
        if step < ramp_steps:
            slope = peak / ramp_steps
            return slope * step
        if step <= final_steps:
            # Spelled out in Python's left-to-right order; the grouping is the point.
            angle = (math.pi * (step - ramp_steps)) / (final_steps - ramp_steps)
            return final + ((peak - final) * 0.5) * (1.0 + math.cos(angle))
        return final
    for kind, formula in _FORMULAS.items():
        body = getattr(lr_config, kind, None)
        if body is not None:
            return formula(body, step)
    stages = getattr(lr_config, "sequence", None)
    if stages is not None:
        return _sequence(stages, step)
    raise ValueError(f"no kind selected in {lr_config!r}")


# ---------------------------------------------------------------------------
# Configs: YAML-shaped dicts as attribute objects.


def _as_int(value: Any) -> int:
    # pydantic v1 accepted an integral float for an int field and refused 10.5.
    if isinstance(value, float):
        if value != math.floor(value):
            raise ValueError(f"not an integer: {value!r}")
        return int(value)
    return int(value)


def _rate(value: Any) -> float:
    # The package takes a rate of -0.0 as 0.0 on every path (no schedule returns a
    # negative zero); the reference is evaluated with the rate as the package reads it.
    return float(value) + 0.0


def _coerce(kind_type: str, value: Any) -> Any:
    if value is None:
        return None
    if kind_type == "rate":
        return _rate(value)
    if kind_type == "float":
        return float(value)
    if kind_type == "int":
        return _as_int(value)
    if kind_type == "ints":
        return [_as_int(v) for v in value]
    if kind_type == "rates":
        return [_rate(v) for v in value]
    if kind_type == "bool":
        return bool(value)
    return str(value)


def _kind_namespace(kind: str, body: Any) -> SimpleNamespace:
    def get(name: str, default: Any) -> Any:
        if isinstance(body, Mapping):
            value = body.get(name, default)
        else:
            value = getattr(body, name, default)
        if value is REQUIRED:
            raise ValueError(f"{kind}.{name} is required")
        return value

    return SimpleNamespace(
        **{
            name: _coerce(kind_type, get(name, default))
            for name, kind_type, default in FIELDS[kind]
        }
    )


def _stage_namespace(stage: Any) -> SimpleNamespace:
    if isinstance(stage, Mapping):
        num_steps, schedule = stage.get("num_steps"), stage["schedule"]
    else:
        num_steps, schedule = getattr(stage, "num_steps", None), stage.schedule
    return SimpleNamespace(
        num_steps=None if num_steps is None else _as_int(num_steps),
        schedule=namespace(schedule),
    )


def namespace(config: Any) -> SimpleNamespace:
    """A YAML-shaped dict as an attribute object, coerced as the config models do.

    Args:
        config: e.g. `{"linear_ramp_to_constant": {"learning_rate": 0.1, "num_ramp_steps": 10}}`;
            unused kinds may be absent or None. An attribute object (a pydantic
            model, a namespace) is read the same way.

    Returns:
        A SimpleNamespace with every kind attribute (None where unset); a kind's body
        has all its fields, defaults filled in; a sequence is a list of stages with
        `num_steps` (None for the last) and `schedule` (itself such a namespace).
    """
    fields: dict[str, Any] = dict.fromkeys(KINDS)
    for kind in KINDS:
        body = config.get(kind) if isinstance(config, Mapping) else getattr(config, kind, None)
        if body is None:
            continue
        if kind == "constant":
            fields[kind] = _rate(body)
        elif kind == "sequence":
            fields[kind] = [_stage_namespace(stage) for stage in body]
        else:
            fields[kind] = _kind_namespace(kind, body)
    return SimpleNamespace(**fields)


def kind_of(config: Mapping[str, Any]) -> str:
    """The one kind a YAML-shaped config sets."""
    (kind,) = [k for k, v in config.items() if v is not None]
    return kind


def reference_array(config: Any, steps: Any) -> np.ndarray:
    """The oracle at every element of `steps`, as a float64 array of the same shape.

    Elements are taken as the Python int or float the array holds (`tolist`), so a
    float16 or uint64 array is evaluated at the exact value it stores.
    """
    arr = np.asarray(steps)
    ns = namespace(config)
    flat = [float(reference_lr(ns, s)) for s in np.ravel(arr).tolist()]
    return np.array(flat, dtype=np.float64).reshape(arr.shape)


def bits(x: Any) -> str:
    """A float's exact bit pattern as text, so a comparison never rounds (`-0.0` != `0.0`)."""
    return float(x).hex()


def assert_same_bits(actual: Any, expected: Any) -> None:
    """Bitwise equality of two float64 arrays, naming the first difference."""
    a = np.asarray(actual)
    e = np.asarray(expected)
    assert a.dtype == np.float64, a.dtype
    assert e.dtype == np.float64, e.dtype
    assert a.shape == e.shape, (a.shape, e.shape)
    same = a.view(np.uint64) == e.view(np.uint64)
    if not np.all(same):
        where = np.unravel_index(int(np.argmin(same)), a.shape)
        raise AssertionError(
            f"first difference at {where}: got {bits(a[where])}, expected {bits(e[where])} "
            f"({int(np.size(same) - np.count_nonzero(same))} of {np.size(same)} differ)"
        )
