"""Hypothesis strategies: random valid configs of the four kinds, and steps that hit edges.

Configs are YAML-shaped dicts (the form a user's YAML file loads into). Integer
fields are sometimes written as integral floats (`10.0`), unused kinds are
sometimes present as None, and learning rates range from 0 and subnormals to
near the largest float, with `final_learning_rate > learning_rate` allowed.

Steps are drawn either from the config's edges (0, every boundary and count
-1/0/+1, fractions just around them, 2**53 neighbours, 2**63 - 1) or at random,
as Python ints (up to 2**63 - 1) or non-negative finite floats.
"""

from __future__ import annotations

import sys
from typing import Any

from hypothesis import strategies as st

MAX_CONFIG_INT = 2**53  # integer config fields must be exact in float64
INT64_MAX = 2**63 - 1

# Learning rates: typical values, zero and subnormals, and the full finite range.
rates = st.one_of(
    st.sampled_from([0.0, -0.0, 1e-3, 0.1, 0.5, 1.0, 3e-4, 5e-324]),
    st.floats(min_value=0.0, max_value=10.0, allow_nan=False, allow_infinity=False),
    st.floats(min_value=0.0, max_value=sys.float_info.max, allow_nan=False, allow_infinity=False),
)

# Step counts: mostly small (so steps around them are small), sometimes up to 2**53.
counts = st.one_of(
    st.integers(min_value=1, max_value=100),
    st.integers(min_value=1, max_value=10**7),
    st.integers(min_value=MAX_CONFIG_INT - 100, max_value=MAX_CONFIG_INT),
)


@st.composite
def maybe_float(draw: st.DrawFn, n: int) -> int | float:
    """An integer config field, sometimes written as the integral float YAML may give."""
    return float(n) if draw(st.integers(0, 4)) == 0 else n


def _wrap(draw: st.DrawFn, kind: str, body: Any) -> dict[str, Any]:
    # YAML files may spell the unused kinds out as null.
    config: dict[str, Any] = {kind: body}
    for other in (
        "constant",
        "piecewise_constant",
        "linear_ramp_to_constant",
        "linear_ramp_to_cosine",
    ):
        if other != kind and draw(st.integers(0, 5)) == 0:
            config[other] = None
    return config


@st.composite
def constant_configs(draw: st.DrawFn) -> dict[str, Any]:
    return _wrap(draw, "constant", draw(rates))


@st.composite
def piecewise_configs(draw: st.DrawFn) -> dict[str, Any]:
    bound = draw(st.sampled_from([50, 10**6, MAX_CONFIG_INT]))
    low = draw(st.sampled_from([0, -bound]))
    boundaries = sorted(
        draw(st.sets(st.integers(min_value=low, max_value=bound), min_size=0, max_size=8))
    )
    values = draw(st.lists(rates, min_size=len(boundaries) + 1, max_size=len(boundaries) + 1))
    body = {
        "learning_rate_boundaries": [draw(maybe_float(b)) for b in boundaries],
        "learning_rate_values": values,
    }
    return _wrap(draw, "piecewise_constant", body)


@st.composite
def ramp_configs(draw: st.DrawFn) -> dict[str, Any]:
    body = {"learning_rate": draw(rates), "num_ramp_steps": draw(maybe_float(draw(counts)))}
    return _wrap(draw, "linear_ramp_to_constant", body)


@st.composite
def cosine_configs(draw: st.DrawFn) -> dict[str, Any]:
    ramp = draw(counts.filter(lambda n: n < MAX_CONFIG_INT))
    span = draw(
        st.one_of(
            st.integers(min_value=1, max_value=100),
            st.integers(min_value=1, max_value=MAX_CONFIG_INT - ramp),
        ).filter(lambda d: ramp + d <= MAX_CONFIG_INT)
    )
    body = {
        "learning_rate": draw(rates),
        "final_learning_rate": draw(rates),  # may exceed learning_rate: a cosine going up
        "num_ramp_steps": draw(maybe_float(ramp)),
        "final_num_steps": draw(maybe_float(ramp + span)),
    }
    return _wrap(draw, "linear_ramp_to_cosine", body)


configs = st.one_of(constant_configs(), piecewise_configs(), ramp_configs(), cosine_configs())


def config_points(config: dict[str, Any]) -> list[int]:
    """The integers where the config's value changes: boundaries, R, T."""
    body = next(v for v in config.values() if v is not None)
    if not isinstance(body, dict):
        return []
    points = list(body.get("learning_rate_boundaries", []))
    points += [body[k] for k in ("num_ramp_steps", "final_num_steps") if k in body]
    return [int(p) for p in points]


def edge_steps(config: dict[str, Any]) -> list[int | float]:
    """Every step where an off-by-one or a rounding slip would show, for this config."""
    steps: list[int | float] = [0, 0.0, 1, 0.5, 2**53 - 1, 2**53, 2**53 + 1, 2**62, INT64_MAX]
    steps += [float(2**53), float(2**63), 1e300]
    for p in config_points(config):
        for s in (p - 1, p, p + 1):
            if s >= 0:
                steps += [s, float(s)]
        for f in (p - 0.5, p + 0.5, p - 1e-9, p + 1e-9):
            if f >= 0:
                steps.append(float(f))
    return steps


int_steps = st.one_of(
    st.integers(min_value=0, max_value=1000),
    st.integers(min_value=0, max_value=2**54),
    st.integers(min_value=0, max_value=INT64_MAX),
)
float_steps = st.one_of(
    st.floats(min_value=0.0, max_value=1000.0),
    st.floats(min_value=0.0, max_value=2.0**64),
    st.floats(min_value=0.0, allow_nan=False, allow_infinity=False),
)


@st.composite
def steps_for(draw: st.DrawFn, config: dict[str, Any]) -> int | float:
    """One step for `config`: an edge, a point near one, or anything valid."""
    choice = draw(st.integers(0, 3))
    if choice == 0:
        return draw(st.sampled_from(edge_steps(config)))
    if choice == 1:
        points = config_points(config) or [0]
        p = draw(st.sampled_from(points))
        offset = draw(st.integers(-3, 3))
        if draw(st.booleans()):
            return max(0, p + offset)
        return max(0.0, p + offset + draw(st.floats(min_value=-1.0, max_value=1.0)))
    return draw(int_steps if choice == 2 else float_steps)


@st.composite
def config_and_steps(draw: st.DrawFn, max_size: int = 40) -> tuple[dict[str, Any], list[Any]]:
    """A config and a list of its steps, all ints or all floats (as one numpy dtype holds)."""
    config = draw(configs)
    want_int = draw(st.booleans())
    pool = st.one_of(steps_for(config), int_steps if want_int else float_steps)
    raw = draw(st.lists(pool, min_size=1, max_size=max_size))
    steps: list[Any] = (
        [int(s) for s in raw if float(s).is_integer() and int(s) <= INT64_MAX]
        if want_int
        else [float(s) for s in raw]
    )
    # Empty arrays are tested on their own (an empty-array crash would end the whole run).
    return config, steps or ([0] if want_int else [0.0])
