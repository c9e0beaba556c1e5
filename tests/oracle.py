"""An independent plain-Python oracle: the original tml `compute_lr`, transcribed.

Everything here is ordinary Python arithmetic on Python ints and floats, in the
order the original function evaluates it (SPEC section 4), so its results are the
reference the compiled kernel must match bit for bit:

- piecewise_constant indexes the values with `bisect.bisect_right`;
- linear_ramp_to_constant is `min(L, (L / R) * step)`;
- linear_ramp_to_cosine is `(L / R) * step` before R, then
  `F + (L - F) * 0.5 * (1.0 + math.cos(math.pi * (step - R) / (T - R)))` up to T,
  then `F`.

Integer steps stay Python ints until they meet a float (`step - R` is an exact
integer difference; `slope * step` rounds the int once, as Python does). Configs
are read the way the original read them, as attributes of an object; `namespace`
turns a YAML-shaped dict into such an object with the coercions the original
pydantic v1 models applied (float fields become floats, integer fields ints).

Nothing here imports the package under test.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

import numpy as np

KINDS = ("constant", "piecewise_constant", "linear_ramp_to_constant", "linear_ramp_to_cosine")


def reference_lr(lr_config: Any, step: int | float) -> float:
    """The learning rate of `lr_config` at `step`, as the original tml code computed it.

    Args:
        lr_config: an object with the four kind attributes (see `namespace`).
        step: a Python int or float.

    Returns:
        The value exactly as the original returns it (a float for validated configs).
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
    raise ValueError(f"no kind selected in {lr_config!r}")


def _as_int(value: Any) -> int:
    # pydantic v1 accepted an integral float for an int field and refused 10.5.
    if isinstance(value, float):
        if value != math.floor(value):
            raise ValueError(f"not an integer: {value!r}")
        return int(value)
    return int(value)


def _rate(value: Any) -> float:
    # The package takes a rate of -0.0 as 0.0 (no schedule returns a negative zero).
    return float(value) + 0.0


def _kind_namespace(kind: str, body: Any) -> SimpleNamespace:
    get = body.get if isinstance(body, Mapping) else lambda name: getattr(body, name)
    if kind == "piecewise_constant":
        return SimpleNamespace(
            learning_rate_boundaries=[_as_int(b) for b in get("learning_rate_boundaries")],
            learning_rate_values=[_rate(v) for v in get("learning_rate_values")],
        )
    if kind == "linear_ramp_to_constant":
        return SimpleNamespace(
            learning_rate=_rate(get("learning_rate")),
            num_ramp_steps=_as_int(get("num_ramp_steps")),
        )
    return SimpleNamespace(
        learning_rate=_rate(get("learning_rate")),
        final_learning_rate=_rate(get("final_learning_rate")),
        num_ramp_steps=_as_int(get("num_ramp_steps")),
        final_num_steps=_as_int(get("final_num_steps")),
    )


def namespace(config: Mapping[str, Any]) -> SimpleNamespace:
    """A YAML-shaped dict as an attribute object, coerced as the original models did.

    Args:
        config: e.g. `{"linear_ramp_to_constant": {"learning_rate": 0.1, "num_ramp_steps": 10}}`;
            unused kinds may be absent or None.

    Returns:
        A SimpleNamespace with all four kind attributes (None where unset).
    """
    fields: dict[str, Any] = dict.fromkeys(KINDS)
    for kind in KINDS:
        body = config.get(kind)
        if body is None:
            continue
        fields[kind] = _rate(body) if kind == "constant" else _kind_namespace(kind, body)
    return SimpleNamespace(**fields)


def reference_array(config: Mapping[str, Any], steps: Any) -> np.ndarray:
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
