"""Hypothesis strategies: random configs of every kind, arbitrary bad ones, and steps.

Configs are YAML-shaped dicts (the form a user's YAML file loads into):

- `KIND_STRATEGIES[kind]` draws valid configs of one kind; `configs` draws any kind,
  sequences nested up to `MAX_DEPTH` levels; `original_configs` only the four kinds
  of the original tml. Integer fields are sometimes written as integral floats (`10.0`),
  unused kinds sometimes present as None, optional fields sometimes omitted and
  sometimes spelled out; learning rates range from 0 and subnormals to near the
  largest float, and every kind's constraints are respected by construction.
- `arbitrary_configs` draws configs that are often invalid: random kinds, keys,
  values and types, and valid configs with one field replaced, removed or added.

Steps are drawn either from the config's edges (`tests.kinds.edge_steps`) or at
random, as Python ints (up to 2**63 - 1) or non-negative finite floats.
"""

from __future__ import annotations

import math
import sys
from typing import Any

from hypothesis import strategies as st

from tests.kinds import INT64_MAX, MAX_CONFIG_INT, config_points, edge_steps
from tests.oracle import (
    FIELDS,
    KINDS,
    ORIGINAL_KINDS,
    _pow,
    namespace,
    one_cycle_phase_ends,
    reference_lr,
)

__all__ = [
    "INT64_MAX",
    "KIND_STRATEGIES",
    "MAX_CONFIG_INT",
    "arbitrary_configs",
    "config_and_steps",
    "config_points",
    "configs",
    "edge_steps",
    "original_configs",
    "steps_for",
]

MAX_DEPTH = 2  # a sequence inside a sequence, and no deeper (a fixed example goes to 3)

# Learning rates: typical values, zero and subnormals, and the full finite range.
rates = st.one_of(
    st.sampled_from([0.0, -0.0, 1e-3, 0.1, 0.5, 1.0, 3e-4, 5e-324]),
    st.floats(min_value=0.0, max_value=10.0, allow_nan=False, allow_infinity=False),
    st.floats(min_value=0.0, max_value=sys.float_info.max, allow_nan=False, allow_infinity=False),
)
positive_rates = rates.filter(lambda r: r > 0)

# Step counts: mostly small (so steps around them are small), sometimes up to 2**53.
counts = st.one_of(
    st.integers(min_value=1, max_value=100),
    st.integers(min_value=1, max_value=10**7),
    st.integers(min_value=MAX_CONFIG_INT - 100, max_value=MAX_CONFIG_INT),
)
# Cycle lengths: mostly short, so that random steps cross many cycles.
short_counts = st.one_of(st.integers(1, 20), st.integers(1, 1000), counts)
# Counts that may be 0 (warm-up and stable lengths).
counts_or_zero = st.one_of(st.just(0), counts)
# A factor in (0, 1].
unit_factors = st.one_of(
    st.sampled_from([1.0, 0.5, 0.9, 0.99, 0.1]),
    st.floats(min_value=0.0, max_value=1.0, exclude_min=True),
)


@st.composite
def maybe_float(draw: st.DrawFn, n: int) -> int | float:
    """An integer config field, sometimes written as the integral float YAML may give."""
    return float(n) if draw(st.integers(0, 4)) == 0 else n


def _wrap(draw: st.DrawFn, kind: str, body: Any) -> dict[str, Any]:
    # YAML files may spell the unused kinds out as null. A config of an original kind
    # names only the original four (as a YAML file written for the original tml does).
    config: dict[str, Any] = {kind: body}
    others = ORIGINAL_KINDS if kind in ORIGINAL_KINDS else KINDS
    for other in others:
        if other != kind and draw(st.integers(0, len(others) - 1)) == 0:
            config[other] = None
    return config


_DEFAULTS = {kind: {name: default for name, _, default in FIELDS[kind]} for kind in FIELDS}


def _optional(draw: st.DrawFn, kind: str, body: dict[str, Any], name: str, value: Any) -> None:
    """Set an optional field, or sometimes leave it out when `value` is its default."""
    default = _DEFAULTS[kind][name]
    if (value is default or value == default) and draw(st.booleans()):
        return
    body[name] = value


def _ordered(draw: st.DrawFn) -> tuple[float, float]:
    """Two rates, the first >= the second (a peak and a final value below it)."""
    a, b = draw(rates), draw(rates)
    return (a, b) if a >= b else (b, a)


# ---------------------------------------------------------------------------
# The four original kinds


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
    # Refused when built, so not drawn: a cosine starting past the largest float, or
    # below 0 (rising from L to an odd subnormal F, as cosine_decay's).
    if not 0.0 <= reference_lr(namespace({"linear_ramp_to_cosine": body}), ramp) < math.inf:
        body["final_learning_rate"] = 0.0
    return _wrap(draw, "linear_ramp_to_cosine", body)


# ---------------------------------------------------------------------------
# The later kinds


@st.composite
def linear_configs(draw: st.DrawFn) -> dict[str, Any]:
    body = {
        "learning_rate": draw(rates),
        "final_learning_rate": draw(rates),  # either side of learning_rate
        "num_steps": draw(maybe_float(draw(counts))),
    }
    return _wrap(draw, "linear", body)


decay_rates_below_one = st.one_of(
    st.sampled_from([0.5, 0.9, 0.96, 0.99, 0.9999, 1e-300, 5e-324]),
    st.floats(min_value=0.0, max_value=1.0, exclude_min=True, exclude_max=True),
)
decay_rates_above_one = st.one_of(
    st.sampled_from([1.01, 2.0, 10.0, 1.0000001]),
    st.floats(min_value=1.0, max_value=1e10, exclude_min=True),
    st.floats(min_value=1.0, max_value=sys.float_info.max, exclude_min=True),
)


@st.composite
def exponential_configs(draw: st.DrawFn) -> dict[str, Any]:
    side = draw(st.sampled_from(["below", "one", "above"]))
    body: dict[str, Any] = {}
    if side == "below":
        peak, final = _ordered(draw)
        body["learning_rate"] = peak
        body["decay_rate"] = draw(decay_rates_below_one)
        if draw(st.booleans()):
            body["final_learning_rate"] = final
    elif side == "one":
        body["learning_rate"] = draw(rates)
        body["decay_rate"] = 1.0
    else:  # growth needs L > 0 and a cap F >= L
        a, b = draw(positive_rates), draw(positive_rates)
        body["learning_rate"], body["final_learning_rate"] = min(a, b), max(a, b)
        body["decay_rate"] = draw(decay_rates_above_one)
    body["decay_steps"] = draw(maybe_float(draw(counts)))
    _optional(draw, "exponential_decay", body, "staircase", draw(st.booleans()))
    if "final_learning_rate" not in body and draw(st.integers(0, 3)) == 0:
        body["final_learning_rate"] = None
    return _wrap(draw, "exponential_decay", body)


@st.composite
def multistep_configs(draw: st.DrawFn) -> dict[str, Any]:
    bound = draw(st.sampled_from([50, 10**6, MAX_CONFIG_INT]))
    milestones = sorted(draw(st.sets(st.integers(1, bound), min_size=1, max_size=8)))
    peak = draw(rates)
    gamma = draw(
        st.one_of(
            st.sampled_from([0.1, 0.5, 1.0, 2.0, 10.0]),
            unit_factors,
            st.floats(min_value=1.0, max_value=1e10),
            st.floats(min_value=5e-324, max_value=sys.float_info.max),
        )
    )
    if not math.isfinite(peak * _pow(gamma, len(milestones))):
        gamma = 0.5  # the formula would overflow at the last milestone: refused
    body = {
        "learning_rate": peak,
        "milestones": [draw(maybe_float(m)) for m in milestones],
        "gamma": gamma,
    }
    return _wrap(draw, "multistep_decay", body)


powers = st.one_of(
    st.sampled_from([1.0, 2.0, 0.5, 3.7, 1e-3]),
    st.floats(min_value=0.0, max_value=100.0, exclude_min=True),
    st.floats(min_value=0.0, max_value=sys.float_info.max, exclude_min=True),
)


@st.composite
def polynomial_configs(draw: st.DrawFn) -> dict[str, Any]:
    peak, final = _ordered(draw)
    body: dict[str, Any] = {"learning_rate": peak, "num_steps": draw(maybe_float(draw(counts)))}
    _optional(
        draw, "polynomial_decay", body, "final_learning_rate", final if draw(st.booleans()) else 0.0
    )
    _optional(draw, "polynomial_decay", body, "power", draw(st.one_of(st.just(1.0), powers)))
    return _wrap(draw, "polynomial_decay", body)


@st.composite
def cosine_decay_configs(draw: st.DrawFn) -> dict[str, Any]:
    body: dict[str, Any] = {
        "learning_rate": draw(rates),
        "num_steps": draw(maybe_float(draw(counts))),
    }
    _optional(
        draw, "cosine_decay", body, "final_learning_rate", draw(st.one_of(st.just(0.0), rates))
    )
    # Refused when built, so not drawn: a start past the largest float, or below 0 (a
    # cosine rising from L to an odd subnormal F: (L - F) * 0.5 rounds away from 0).
    if not 0.0 <= reference_lr(namespace({"cosine_decay": body}), 0) < math.inf:
        body["final_learning_rate"] = 0.0
    return _wrap(draw, "cosine_decay", body)


@st.composite
def inverse_sqrt_configs(draw: st.DrawFn) -> dict[str, Any]:
    warmup = draw(counts_or_zero)
    body: dict[str, Any] = {"learning_rate": draw(rates)}
    _optional(draw, "inverse_sqrt", body, "num_warmup_steps", draw(maybe_float(warmup)))
    if warmup == 0 or draw(st.booleans()):
        body["timescale"] = draw(maybe_float(draw(counts)))
    elif draw(st.booleans()):
        body["timescale"] = None
    return _wrap(draw, "inverse_sqrt", body)


@st.composite
def inverse_time_configs(draw: st.DrawFn) -> dict[str, Any]:
    rate = draw(
        st.one_of(
            st.sampled_from([0.0, 0.5, 1.0, 2.0]),
            st.floats(min_value=0.0, max_value=10.0),
            st.floats(min_value=0.0, max_value=sys.float_info.max),
        )
    )
    body: dict[str, Any] = {
        "learning_rate": draw(rates),
        "decay_rate": rate,
        "decay_steps": draw(maybe_float(draw(counts))),
    }
    _optional(draw, "inverse_time_decay", body, "staircase", draw(st.booleans()))
    return _wrap(draw, "inverse_time_decay", body)


@st.composite
def cosine_restarts_configs(draw: st.DrawFn) -> dict[str, Any]:
    peak, final = _ordered(draw)
    multiplier = draw(
        st.one_of(st.sampled_from([1, 2, 3, 10]), st.integers(1, 1000), st.just(MAX_CONFIG_INT))
    )
    body: dict[str, Any] = {
        "learning_rate": peak,
        "num_steps": draw(maybe_float(draw(short_counts))),
    }
    _optional(
        draw, "cosine_restarts", body, "final_learning_rate", final if draw(st.booleans()) else 0.0
    )
    _optional(draw, "cosine_restarts", body, "period_multiplier", draw(maybe_float(multiplier)))
    _optional(draw, "cosine_restarts", body, "peak_decay", draw(unit_factors))
    cycles = draw(
        st.one_of(st.none(), st.integers(1, 5), st.integers(1, 100), st.integers(1, MAX_CONFIG_INT))
    )
    _optional(
        draw,
        "cosine_restarts",
        body,
        "num_cycles",
        None if cycles is None else draw(maybe_float(cycles)),
    )
    return _wrap(draw, "cosine_restarts", body)


def one_cycle_problem(body: dict[str, Any]) -> str | None:
    """Why a one_cycle body is invalid (torch's own formulas), or None: used to keep draws valid."""
    ns = namespace({"one_cycle": body}).one_cycle
    pct, three = ns.pct_start, ns.three_phase
    if not (0 < pct < (0.5 if three else 1)):
        return "pct_start"
    for name in ("div_factor", "final_div_factor"):
        value = getattr(ns, name)
        if not (math.isfinite(value) and value > 0):
            return name
    initial = ns.learning_rate / ns.div_factor
    if not (math.isfinite(initial) and math.isfinite(initial / ns.final_div_factor)):
        return "div_factor"
    previous: float = 0.0
    for end in one_cycle_phase_ends(ns):
        if not end - previous >= 1.0:
            return "phase"
        previous = end
    # The rise's start, `L + (initial - L) / 2.0 * 2.0`, below 0 for an odd subnormal L.
    if reference_lr(namespace({"one_cycle": body}), 0) < 0:
        return "learning_rate"
    return None


@st.composite
def one_cycle_configs(draw: st.DrawFn) -> dict[str, Any]:
    total = draw(st.one_of(st.integers(4, 100), st.integers(10, 10**6), st.just(MAX_CONFIG_INT)))
    three = draw(st.booleans())
    body: dict[str, Any] = {"learning_rate": draw(rates), "total_steps": draw(maybe_float(total))}
    top = 0.5 if three else 1.0
    _optional(
        draw,
        "one_cycle",
        body,
        "pct_start",
        draw(
            st.one_of(
                st.sampled_from([0.3, 0.25, 0.1, 0.45]),
                st.floats(min_value=0.0, max_value=top, exclude_min=True, exclude_max=True),
            )
        ),
    )
    _optional(draw, "one_cycle", body, "anneal", draw(st.sampled_from(["cos", "linear"])))
    factors = st.one_of(
        st.sampled_from([25.0, 1e4, 1.0, 10.0, 0.5]),
        st.floats(min_value=1e-3, max_value=1e6),
        st.floats(min_value=0.0, max_value=sys.float_info.max, exclude_min=True),
    )
    _optional(draw, "one_cycle", body, "div_factor", draw(factors))
    _optional(draw, "one_cycle", body, "final_div_factor", draw(factors))
    _optional(draw, "one_cycle", body, "three_phase", three)
    if one_cycle_problem(body) in ("div_factor", "final_div_factor"):
        body["div_factor"], body["final_div_factor"] = 25.0, 1e4
    if one_cycle_problem(body) == "phase":  # a phase under 1.0 wide: use one that fits
        body["total_steps"], body["pct_start"] = max(total, 10), 0.3
    if one_cycle_problem(body) == "learning_rate":
        body["learning_rate"] = 0.0
    assert one_cycle_problem(body) is None, body
    return _wrap(draw, "one_cycle", body)


@st.composite
def cyclic_configs(draw: st.DrawFn) -> dict[str, Any]:
    peak, base = _ordered(draw)
    up = draw(short_counts)
    down = draw(st.one_of(st.none(), short_counts))
    if down is None and 2 * up > MAX_CONFIG_INT:
        up = MAX_CONFIG_INT // 2
    if down is not None and up + down > MAX_CONFIG_INT:
        up = min(up, MAX_CONFIG_INT - 1)
        down = MAX_CONFIG_INT - up
    body: dict[str, Any] = {
        "learning_rate": base,
        "max_learning_rate": peak,
        "step_size_up": draw(maybe_float(up)),
    }
    if down is not None or draw(st.booleans()):
        body["step_size_down"] = None if down is None else draw(maybe_float(down))
    mode = draw(st.sampled_from(["triangular", "triangular2", "exp_range"]))
    _optional(draw, "cyclic", body, "mode", mode)
    if mode == "exp_range" or draw(st.booleans()):
        _optional(draw, "cyclic", body, "gamma", draw(unit_factors))
    return _wrap(draw, "cyclic", body)


@st.composite
def wsd_configs(draw: st.DrawFn) -> dict[str, Any]:
    peak, final = _ordered(draw)
    body: dict[str, Any] = {
        "num_warmup_steps": draw(maybe_float(draw(counts_or_zero))),
        "num_stable_steps": draw(maybe_float(draw(counts_or_zero))),
        "num_decay_steps": draw(maybe_float(draw(counts))),
    }
    # Past 2**53 steps float(W + S + D) - t can leave up to ~2048 more steps than D (the
    # spacing of doubles there), so the linear shape at a float step can reach 2049 L:
    # near the largest float that config is refused (it could give inf).
    if sum(int(v) for v in body.values()) > 2**53 and peak > sys.float_info.max / 4096:
        peak, final = peak / 4096, final / 4096
    body = {"learning_rate": peak, **body}
    _optional(
        draw,
        "warmup_stable_decay",
        body,
        "final_learning_rate",
        final if draw(st.booleans()) else 0.0,
    )
    _optional(
        draw,
        "warmup_stable_decay",
        body,
        "decay_shape",
        draw(st.sampled_from(["cosine", "linear", "sqrt"])),
    )
    return _wrap(draw, "warmup_stable_decay", body)


@st.composite
def sequence_configs(draw: st.DrawFn, depth: int = MAX_DEPTH) -> dict[str, Any]:
    inner = configs_at_depth(depth - 1)
    size = draw(st.integers(1, 4))
    stages: list[dict[str, Any]] = []
    for i in range(size):
        stage: dict[str, Any] = {"schedule": draw(inner)}
        if i < size - 1:
            stage["num_steps"] = draw(maybe_float(draw(st.one_of(st.integers(1, 50), counts))))
        elif draw(st.integers(0, 5)) == 0:
            stage["num_steps"] = None  # the last stage, spelled out
        stages.append(stage)
    return _wrap(draw, "sequence", stages)


KIND_STRATEGIES: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "constant": constant_configs(),
    "piecewise_constant": piecewise_configs(),
    "linear_ramp_to_constant": ramp_configs(),
    "linear_ramp_to_cosine": cosine_configs(),
    "linear": linear_configs(),
    "exponential_decay": exponential_configs(),
    "multistep_decay": multistep_configs(),
    "polynomial_decay": polynomial_configs(),
    "cosine_decay": cosine_decay_configs(),
    "inverse_sqrt": inverse_sqrt_configs(),
    "inverse_time_decay": inverse_time_configs(),
    "cosine_restarts": cosine_restarts_configs(),
    "one_cycle": one_cycle_configs(),
    "cyclic": cyclic_configs(),
    "warmup_stable_decay": wsd_configs(),
    "sequence": sequence_configs(),
}
assert tuple(KIND_STRATEGIES) == KINDS


def configs_at_depth(depth: int) -> st.SearchStrategy[dict[str, Any]]:
    """Any kind; sequences only while depth > 0 (so nesting stops)."""
    flat = [s for kind, s in KIND_STRATEGIES.items() if kind != "sequence"]
    if depth <= 0:
        return st.one_of(flat)
    return st.one_of(*flat, sequence_configs(depth))


original_configs = st.one_of([KIND_STRATEGIES[kind] for kind in ORIGINAL_KINDS])
configs = configs_at_depth(MAX_DEPTH)


# ---------------------------------------------------------------------------
# Arbitrary, often invalid, configs

_FIELD_NAMES = sorted({name for fields in FIELDS.values() for name, _, _ in fields})
junk_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(-3, 3),
    st.sampled_from([0, 1, 2, 10, 2**53, 2**53 + 1, 2**63, -(2**53)]),
    st.floats(),
    st.sampled_from([0.0, -0.0, 0.5, 1.0, 1.5, 10.5, -1.0, 1e308, 5e-324, math.nan, math.inf]),
    st.text(max_size=5),
    st.sampled_from(["cos", "linear", "cosine", "sqrt", "triangular", "exp_range", "1e-3"]),
    st.lists(st.one_of(st.integers(-2, 100), st.floats(allow_nan=True)), max_size=4),
    st.dictionaries(st.sampled_from(["constant", "x"]), st.floats(0, 1), max_size=1),
)


@st.composite
def _mutated(draw: st.DrawFn) -> Any:
    """A valid config with one field replaced, removed or added (at any depth)."""
    config: Any = draw(configs)
    node: Any = config
    # Walk down into sequences, sometimes.
    while True:
        kind = next(k for k, v in node.items() if v is not None)
        body = node[kind]
        if kind == "sequence" and draw(st.booleans()):
            stage = draw(st.sampled_from(body))
            if draw(st.integers(0, 3)) == 0:
                action = draw(st.sampled_from(["num_steps", "drop", "extra"]))
                if action == "num_steps":
                    stage["num_steps"] = draw(junk_values)
                elif action == "drop":
                    stage.pop("num_steps", None)
                else:
                    stage[draw(st.sampled_from(["steps", "schedule_", "x"]))] = 1
                return config
            node = stage["schedule"]
            continue
        break
    if not isinstance(body, dict):
        node[kind] = draw(junk_values)
        return config
    action = draw(st.sampled_from(["replace", "replace", "drop", "add", "kind"]))
    if action == "replace" and body:
        body[draw(st.sampled_from(sorted(body)))] = draw(junk_values)
    elif action == "drop" and body:
        del body[draw(st.sampled_from(sorted(body)))]
    elif action == "add":
        body[draw(st.sampled_from([*_FIELD_NAMES, "warmup", "lr"]))] = draw(junk_values)
    else:
        node[draw(st.sampled_from([*KINDS, "cosine", "step"]))] = draw(
            st.one_of(junk_values, st.builds(dict))
        )
    return config


@st.composite
def _random_body(draw: st.DrawFn) -> Any:
    names = draw(st.lists(st.sampled_from([*_FIELD_NAMES, "x"]), max_size=6, unique=True))
    return {name: draw(junk_values) for name in names}


arbitrary_configs = st.one_of(
    _mutated(),
    _mutated(),
    st.dictionaries(
        st.sampled_from([*KINDS, "cosine", "warmup"]),
        st.one_of(_random_body(), junk_values),
        max_size=2,
    ),
    st.builds(
        lambda stages: {"sequence": stages},
        st.lists(
            st.fixed_dictionaries(
                {"schedule": configs_at_depth(0)},
                optional={"num_steps": st.one_of(st.integers(-1, 5), junk_values)},
            ),
            max_size=3,
        ),
    ),
)


# ---------------------------------------------------------------------------
# Steps

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
            return min(max(0, p + offset), INT64_MAX)
        # Cycle starts can pass float's range (multiplier 2**53): a float near one is
        # taken below 2**63, where float steps of the cyclic kinds are defined.
        base = float(min(p, INT64_MAX))
        return max(0.0, base + offset + draw(st.floats(min_value=-1.0, max_value=1.0)))
    return draw(int_steps if choice == 2 else float_steps)


@st.composite
def config_and_steps(
    draw: st.DrawFn,
    max_size: int = 40,
    source: st.SearchStrategy[dict[str, Any]] = original_configs,
) -> tuple[dict[str, Any], list[Any]]:
    """A config and a list of its steps, all ints or all floats (as one numpy dtype holds)."""
    config = draw(source)
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
