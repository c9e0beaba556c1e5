"""Shared example configs of every kind, and the steps where each can go wrong.

`EXAMPLES[kind]` holds valid YAML-shaped configs: realistic ones (what a user writes)
and extreme ones (zero and largest rates, counts of 1 and 2**53, multipliers 1, 2, 3
and 10, every mode, anneal and decay shape, nested sequences). `edge_steps(config)`
lists, for any config, every step where an off-by-one, a wrong cycle index or a
rounding slip would show: each boundary -1/0/+1, fractions around it, phase ends,
the end and past it, every restart, steps near 2**53 and 2**63 - 1, and float steps
>= 2**63 (which cosine_restarts and cyclic refuse: ask the oracle, which raises
ValueError exactly where the package must).
"""

from __future__ import annotations

import math
from typing import Any

from tests.oracle import (
    KINDS,
    namespace,
    one_cycle_phase_ends,
    restart_starts,
)

MAX_CONFIG_INT = 2**53  # integer config fields must be exact in float64
INT64_MAX = 2**63 - 1
BELOW_2_63 = math.nextafter(2.0**63, 0.0)  # the largest float step a cycle can take
MAX_RATE = 1.7976931348623157e308

Config = dict[str, Any]


def _stage(schedule: Config, num_steps: int | float | None = None) -> dict[str, Any]:
    if num_steps is None:
        return {"schedule": schedule}
    return {"num_steps": num_steps, "schedule": schedule}


def _linear(start: float, end: float, n: int) -> Config:
    return {"linear": {"learning_rate": start, "final_learning_rate": end, "num_steps": n}}


EXAMPLES: dict[str, list[Config]] = {
    "constant": [{"constant": 0.25}, {"constant": 0.0}, {"constant": MAX_RATE}],
    "piecewise_constant": [
        {
            "piecewise_constant": {
                "learning_rate_boundaries": [1000, 5000],
                "learning_rate_values": [0.1, 0.01, 0.001],
            }
        },
        {"piecewise_constant": {"learning_rate_boundaries": [], "learning_rate_values": [0.7]}},
    ],
    "linear_ramp_to_constant": [
        {"linear_ramp_to_constant": {"learning_rate": 0.1, "num_ramp_steps": 10}},
        {"linear_ramp_to_constant": {"learning_rate": 3e-4, "num_ramp_steps": 2**53}},
    ],
    "linear_ramp_to_cosine": [
        {
            "linear_ramp_to_cosine": {
                "learning_rate": 1e-3,
                "final_learning_rate": 1e-5,
                "num_ramp_steps": 1000,
                "final_num_steps": 100_000,
            }
        }
    ],
    "linear": [
        _linear(0.0, 1e-3, 2000),  # a warm-up
        _linear(1e-3, 1e-5, 100_000),
        _linear(0.1, 0.1, 1),
        _linear(1.0, 0.0, 3),  # odd: 2*s < N switches sides between 1 and 2
        _linear(0.0, 1.0, 4),  # even: s = N/2 is computed from the far side
        _linear(0.3, 0.001, 2**53),
        _linear(MAX_RATE, 0.0, 7),
        _linear(0.0, MAX_RATE, 2**53 - 1),
        _linear(0.0, 0.0, 10),
        {"linear": {"learning_rate": 0.5, "final_learning_rate": 0.25, "num_steps": 10.0}},
    ],
    "exponential_decay": [
        {"exponential_decay": {"learning_rate": 0.1, "decay_rate": 0.96, "decay_steps": 100}},
        {
            "exponential_decay": {
                "learning_rate": 0.1,
                "decay_rate": 0.5,
                "decay_steps": 30,
                "staircase": True,
            }
        },
        {
            "exponential_decay": {
                "learning_rate": 1e-3,
                "decay_rate": 0.9,
                "decay_steps": 1,
                "final_learning_rate": 1e-5,
            }
        },
        {  # growth, capped
            "exponential_decay": {
                "learning_rate": 1e-3,
                "decay_rate": 1.01,
                "decay_steps": 10,
                "final_learning_rate": 1.0,
            }
        },
        {"exponential_decay": {"learning_rate": 1.0, "decay_rate": 1.0, "decay_steps": 5}},
        {"exponential_decay": {"learning_rate": 1.0, "decay_rate": 1e-300, "decay_steps": 1}},
        {
            "exponential_decay": {
                "learning_rate": 1e-300,
                "decay_rate": 10.0,
                "decay_steps": 1,
                "staircase": True,
                "final_learning_rate": 1e300,
            }
        },
        {
            "exponential_decay": {
                "learning_rate": 0.5,
                "decay_rate": 0.99,
                "decay_steps": 2**53,
                "staircase": True,
            }
        },
        {"exponential_decay": {"learning_rate": 0.0, "decay_rate": 0.5, "decay_steps": 3}},
        {
            "constant": None,  # YAML may spell unused kinds out as null
            "exponential_decay": {
                "learning_rate": 2.0,
                "decay_rate": 0.1,
                "decay_steps": 7.0,
                "staircase": True,
                "final_learning_rate": 0.0,
            },
            "sequence": None,
        },
    ],
    "multistep_decay": [
        {"multistep_decay": {"learning_rate": 0.1, "milestones": [30, 80], "gamma": 0.1}},
        {"multistep_decay": {"learning_rate": 1.0, "milestones": [1], "gamma": 0.5}},
        {"multistep_decay": {"learning_rate": 1.0, "milestones": list(range(1, 41)), "gamma": 0.5}},
        {"multistep_decay": {"learning_rate": 1e-3, "milestones": [10, 2**53], "gamma": 2.0}},
        {"multistep_decay": {"learning_rate": 0.0, "milestones": [5], "gamma": 1e10}},
        {
            "multistep_decay": {
                "learning_rate": 1.0,
                "milestones": [100, 200, 300],
                "gamma": 1e-200,
            }
        },
        {"multistep_decay": {"learning_rate": 0.3, "milestones": [10.0, 20.0], "gamma": 1.0}},
    ],
    "polynomial_decay": [
        {"polynomial_decay": {"learning_rate": 0.1, "num_steps": 100}},
        {
            "polynomial_decay": {
                "learning_rate": 1e-2,
                "final_learning_rate": 1e-4,
                "num_steps": 500,
                "power": 2.0,
            }
        },
        {
            "polynomial_decay": {
                "learning_rate": 1.0,
                "final_learning_rate": 0.5,
                "num_steps": 1,
                "power": 0.5,
            }
        },
        {"polynomial_decay": {"learning_rate": 0.3, "num_steps": 2**53, "power": 7.0}},
        {
            "polynomial_decay": {
                "learning_rate": 0.1,
                "final_learning_rate": 0.1,
                "num_steps": 10,
                "power": 1e-3,
            }
        },
        {"polynomial_decay": {"learning_rate": 1.0, "num_steps": 3, "power": 1e300}},
        {"polynomial_decay": {"learning_rate": MAX_RATE, "num_steps": 9, "power": 5e-324}},
    ],
    "cosine_decay": [
        {"cosine_decay": {"learning_rate": 0.1, "num_steps": 100}},
        {
            "cosine_decay": {
                "learning_rate": 1e-3,
                "final_learning_rate": 1e-5,
                "num_steps": 100_000,
            }
        },
        {"cosine_decay": {"learning_rate": 0.0, "final_learning_rate": 1e-3, "num_steps": 50}},
        {"cosine_decay": {"learning_rate": 1.0, "final_learning_rate": 1.0, "num_steps": 1}},
        {
            "cosine_decay": {
                "learning_rate": 0.3,
                "final_learning_rate": 0.001,
                "num_steps": 2**53,
            }
        },
        {"cosine_decay": {"learning_rate": 1e-310, "num_steps": 10}},  # subnormal amplitude
        {"cosine_decay": {"learning_rate": MAX_RATE, "final_learning_rate": 0.0, "num_steps": 2}},
    ],
    "inverse_sqrt": [
        {"inverse_sqrt": {"learning_rate": 1e-3, "num_warmup_steps": 4000}},
        {"inverse_sqrt": {"learning_rate": 1.0, "num_warmup_steps": 0, "timescale": 10_000}},
        {"inverse_sqrt": {"learning_rate": 0.5, "num_warmup_steps": 50, "timescale": 200}},
        {"inverse_sqrt": {"learning_rate": 1.0, "num_warmup_steps": 1}},
        {"inverse_sqrt": {"learning_rate": 1.0, "num_warmup_steps": 2**53}},
        {"inverse_sqrt": {"learning_rate": 0.1, "timescale": 1}},
        {"inverse_sqrt": {"learning_rate": 1.0, "num_warmup_steps": 10, "timescale": 2**53}},
    ],
    "inverse_time_decay": [
        {"inverse_time_decay": {"learning_rate": 0.1, "decay_rate": 0.5, "decay_steps": 100}},
        {
            "inverse_time_decay": {
                "learning_rate": 0.1,
                "decay_rate": 0.5,
                "decay_steps": 100,
                "staircase": True,
            }
        },
        {"inverse_time_decay": {"learning_rate": 1.0, "decay_rate": 0.0, "decay_steps": 1}},
        {"inverse_time_decay": {"learning_rate": 1.0, "decay_rate": 1e300, "decay_steps": 1}},
        {
            "inverse_time_decay": {
                "learning_rate": 1e-3,
                "decay_rate": 2.0,
                "decay_steps": 2**53,
                "staircase": True,
            }
        },
    ],
    "cosine_restarts": [
        {"cosine_restarts": {"learning_rate": 0.1, "num_steps": 10}},
        {
            "cosine_restarts": {
                "learning_rate": 1.0,
                "final_learning_rate": 1e-3,
                "num_steps": 3,
                "period_multiplier": 2,
            }
        },
        {"cosine_restarts": {"learning_rate": 0.5, "num_steps": 1, "period_multiplier": 3}},
        {
            "cosine_restarts": {
                "learning_rate": 0.5,
                "num_steps": 7,
                "period_multiplier": 3,
                "peak_decay": 0.5,
            }
        },
        {"cosine_restarts": {"learning_rate": 1.0, "num_steps": 1, "period_multiplier": 10}},
        {
            "cosine_restarts": {
                "learning_rate": 1.0,
                "final_learning_rate": 0.01,
                "num_steps": 5,
                "period_multiplier": 10,
                "peak_decay": 0.9,
                "num_cycles": 3,
            }
        },
        {"cosine_restarts": {"learning_rate": 0.1, "num_steps": 100, "num_cycles": 1}},
        {"cosine_restarts": {"learning_rate": 1.0, "num_steps": 2**53, "period_multiplier": 2}},
        {"cosine_restarts": {"learning_rate": 1.0, "num_steps": 1, "period_multiplier": 2**53}},
        {"cosine_restarts": {"learning_rate": 1.0, "num_steps": 1, "peak_decay": 0.5}},
        {
            "cosine_restarts": {
                "learning_rate": 1.0,
                "num_steps": 3,
                "period_multiplier": 2.0,
                "num_cycles": 2**53,
            }
        },
        {
            "cosine_restarts": {
                "learning_rate": 0.25,
                "final_learning_rate": 0.25,
                "num_steps": 1,
                "num_cycles": 5,
            }
        },
    ],
    "one_cycle": [
        {"one_cycle": {"learning_rate": 0.1, "total_steps": 100}},
        {
            "one_cycle": {
                "learning_rate": 1.0,
                "total_steps": 1000,
                "pct_start": 0.25,
                "anneal": "linear",
            }
        },
        {"one_cycle": {"learning_rate": 0.01, "total_steps": 300, "three_phase": True}},
        {
            "one_cycle": {
                "learning_rate": 0.3,
                "total_steps": 97,
                "pct_start": 0.4,
                "three_phase": True,
                "anneal": "linear",
            }
        },
        {
            "one_cycle": {
                "learning_rate": 1e-3,
                "total_steps": 51,
                "pct_start": 0.1,
                "div_factor": 10.0,
                "final_div_factor": 100.0,
                "three_phase": True,
                "anneal": "linear",
            }
        },
        {
            "one_cycle": {
                "learning_rate": 2.0,
                "total_steps": 7,
                "pct_start": 0.5,
                "div_factor": 3.0,
            }
        },
        {"one_cycle": {"learning_rate": 1.0, "total_steps": 2**53}},
        # The first phase exactly 1.0 wide: torch's end is 0.2 * 10 - 1 == 1.0.
        {"one_cycle": {"learning_rate": 1.0, "total_steps": 10, "pct_start": 0.2}},
        {"one_cycle": {"learning_rate": 0.0, "total_steps": 100}},
        {
            "one_cycle": {
                "learning_rate": 1.0,
                "total_steps": 4.0,
                "pct_start": 0.5,
                "div_factor": 1.0,
                "final_div_factor": 1.0,
            }
        },
        {
            "one_cycle": {
                "learning_rate": 1e300,
                "total_steps": 1000,
                "div_factor": 0.5,
                "final_div_factor": 1e-7,
            }
        },
    ],
    "cyclic": [
        {"cyclic": {"learning_rate": 0.001, "max_learning_rate": 0.006, "step_size_up": 2000}},
        {
            "cyclic": {
                "learning_rate": 0.1,
                "max_learning_rate": 1.0,
                "step_size_up": 13,
                "step_size_down": 7,
                "mode": "triangular2",
            }
        },
        {
            "cyclic": {
                "learning_rate": 0.0,
                "max_learning_rate": 1.0,
                "step_size_up": 50,
                "step_size_down": 30,
                "mode": "exp_range",
                "gamma": 0.999,
            }
        },
        {"cyclic": {"learning_rate": 0.2, "max_learning_rate": 0.2, "step_size_up": 1}},
        {
            "cyclic": {
                "learning_rate": 0.0,
                "max_learning_rate": 1.0,
                "step_size_up": 1,
                "step_size_down": 2**53 - 1,
            }
        },
        {
            "cyclic": {
                "learning_rate": 0.0,
                "max_learning_rate": 1.0,
                "step_size_up": 3,
                "step_size_down": 5,
                "mode": "triangular2",
            }
        },
        {
            "cyclic": {
                "learning_rate": 0.5,
                "max_learning_rate": 1.0,
                "step_size_up": 2**52,
                "step_size_down": 2**52,
                "mode": "exp_range",
                "gamma": 0.5,
            }
        },
        {
            "cyclic": {
                "learning_rate": 0.0,
                "max_learning_rate": MAX_RATE,
                "step_size_up": 7.0,
                "mode": "exp_range",
            }
        },
    ],
    "warmup_stable_decay": [
        {
            "warmup_stable_decay": {
                "learning_rate": 1e-3,
                "final_learning_rate": 1e-5,
                "num_warmup_steps": 100,
                "num_stable_steps": 400,
                "num_decay_steps": 500,
            }
        },
        {
            "warmup_stable_decay": {
                "learning_rate": 1e-3,
                "num_warmup_steps": 100,
                "num_stable_steps": 400,
                "num_decay_steps": 500,
                "decay_shape": "linear",
            }
        },
        {
            "warmup_stable_decay": {
                "learning_rate": 1e-3,
                "final_learning_rate": 1e-4,
                "num_warmup_steps": 100,
                "num_stable_steps": 400,
                "num_decay_steps": 500,
                "decay_shape": "sqrt",
            }
        },
        {
            "warmup_stable_decay": {
                "learning_rate": 1.0,
                "num_warmup_steps": 0,
                "num_stable_steps": 0,
                "num_decay_steps": 1,
            }
        },
        {
            "warmup_stable_decay": {
                "learning_rate": 1.0,
                "num_warmup_steps": 0,
                "num_stable_steps": 10,
                "num_decay_steps": 5,
                "decay_shape": "sqrt",
            }
        },
        {
            "warmup_stable_decay": {
                "learning_rate": 0.1,
                "num_warmup_steps": 10,
                "num_stable_steps": 0,
                "num_decay_steps": 10,
                "decay_shape": "linear",
            }
        },
        {
            "warmup_stable_decay": {
                "learning_rate": 1.0,
                "final_learning_rate": 1.0,
                "num_warmup_steps": 2**53,
                "num_stable_steps": 2**53,
                "num_decay_steps": 2**53,
            }
        },
        {
            "warmup_stable_decay": {
                "learning_rate": 0.3,
                "final_learning_rate": 0.0,
                "num_warmup_steps": 3.0,
                "num_stable_steps": 3,
                "num_decay_steps": 2**53 - 1,
                "decay_shape": "linear",
            }
        },
    ],
    "sequence": [
        {  # the spec's YAML example
            "sequence": [
                _stage(_linear(0.0, 1e-3, 2000), 2000),
                _stage(
                    {
                        "cosine_decay": {
                            "learning_rate": 1e-3,
                            "final_learning_rate": 1e-5,
                            "num_steps": 98000,
                        }
                    }
                ),
            ]
        },
        {"sequence": [_stage({"constant": 0.1})]},
        {
            "sequence": [
                _stage({"constant": 0.1}, 10),
                _stage(
                    {
                        "sequence": [
                            _stage(_linear(0.1, 1.0, 5), 5),
                            _stage(
                                {
                                    "cyclic": {
                                        "learning_rate": 0.1,
                                        "max_learning_rate": 1.0,
                                        "step_size_up": 3,
                                    }
                                }
                            ),
                        ]
                    },
                    20,
                ),
                _stage(
                    {
                        "cosine_restarts": {
                            "learning_rate": 0.5,
                            "num_steps": 1,
                            "period_multiplier": 3,
                        }
                    }
                ),
            ]
        },
        {
            "sequence": [
                _stage({"constant": 1.0}, 1),
                _stage({"constant": 2.0}, 1.0),
                _stage({"constant": 3.0}, 1),
                _stage({"constant": 4.0}),
            ]
        },
        {
            "sequence": [
                _stage({"constant": 0.5}, 2**53),
                _stage(_linear(0.5, 0.0, 2**53), 2**53),
                _stage(
                    {"cyclic": {"learning_rate": 0.0, "max_learning_rate": 1.0, "step_size_up": 5}}
                ),
            ]
        },
        {  # a cycle in a finite stage: float steps past it are fine
            "sequence": [
                _stage({"cosine_restarts": {"learning_rate": 1.0, "num_steps": 4}}, 100),
                _stage(
                    {
                        "linear_ramp_to_cosine": {
                            "learning_rate": 1.0,
                            "final_learning_rate": 0.0,
                            "num_ramp_steps": 10,
                            "final_num_steps": 20,
                        }
                    }
                ),
            ]
        },
        {  # three levels deep, every level re-zeroing its steps
            "sequence": [
                _stage(
                    {
                        "sequence": [
                            _stage(_linear(0.0, 1.0, 4), 4),
                            _stage(
                                {
                                    "sequence": [
                                        _stage({"constant": 1.0}, 3),
                                        _stage(
                                            {
                                                "one_cycle": {
                                                    "learning_rate": 1.0,
                                                    "total_steps": 20,
                                                }
                                            }
                                        ),
                                    ]
                                }
                            ),
                        ]
                    },
                    30,
                ),
                _stage(
                    {
                        "warmup_stable_decay": {
                            "learning_rate": 0.5,
                            "num_warmup_steps": 2,
                            "num_stable_steps": 2,
                            "num_decay_steps": 4,
                        }
                    }
                ),
            ]
        },
    ],
}
assert tuple(EXAMPLES) == KINDS


def all_examples() -> list[tuple[str, Config]]:
    """(id, config) for every example, ids like `cyclic-2`."""
    return [(f"{kind}-{i}", config) for kind in KINDS for i, config in enumerate(EXAMPLES[kind])]


# ---------------------------------------------------------------------------
# Edge steps


def _kind_points(kind: str, c: Any) -> tuple[list[int], list[float]]:
    """Integer points where `kind`'s value changes shape, and float points between steps."""
    ints: list[int] = []
    floats: list[float] = []
    if kind == "piecewise_constant":
        ints += c.learning_rate_boundaries
    elif kind == "linear_ramp_to_constant":
        ints.append(c.num_ramp_steps)
    elif kind == "linear_ramp_to_cosine":
        ints += [c.num_ramp_steps, c.final_num_steps]
    elif kind in ("linear", "polynomial_decay", "cosine_decay"):
        n = c.num_steps
        ints += [n, n // 2, (n + 1) // 2]
        floats.append(n / 2)
    elif kind in ("exponential_decay", "inverse_time_decay"):
        d = c.decay_steps
        ints += [d, 2 * d, 3 * d, (INT64_MAX // d) * d]
        if kind == "exponential_decay" and c.final_learning_rate is not None:
            ints += _exponential_crossing(c)
    elif kind == "multistep_decay":
        ints += c.milestones
    elif kind == "inverse_sqrt":
        w = c.num_warmup_steps
        ints += [w, w + (w if c.timescale is None else c.timescale)]
    elif kind == "cosine_restarts":
        ints += _restart_points(c)
    elif kind == "one_cycle":
        t = c.total_steps
        ends = one_cycle_phase_ends(c)
        for end in ends:
            ints += [math.floor(end), math.ceil(end)]
            floats += [float(end), math.nextafter(float(end), math.inf)]
        ints += [t - 1, t]
        floats.append(t - 0.5)
    elif kind == "cyclic":
        ints += _cyclic_points(c)
    elif kind == "warmup_stable_decay":
        w, s, d = c.num_warmup_steps, c.num_stable_steps, c.num_decay_steps
        ints += [w, w + s, w + s + d // 2, w + s + d]
    return ints, floats


def _exponential_crossing(c: Any) -> list[int]:
    # Where L * r**k meets the final value: the clamp takes over there.
    L, r, F, D = c.learning_rate, c.decay_rate, c.final_learning_rate, c.decay_steps
    if L <= 0 or F <= 0 or r == 1:
        return []
    k = (math.log(F) - math.log(L)) / math.log(r)
    if not 0 <= k * D < INT64_MAX:
        return []
    return [int(k * D)]


def _restart_points(c: Any) -> list[int]:
    n, m = c.num_steps, c.period_multiplier
    if m == 1:
        last = (INT64_MAX // n) * n
        points = [n, 2 * n, 3 * n, last, last - n]
        if n <= MAX_CONFIG_INT:
            points += [(MAX_CONFIG_INT // n) * n]
    else:
        points = restart_starts(n, m, INT64_MAX)  # every one: at most 63 of them
    cycles = c.num_cycles
    if cycles is not None and (m == 1 or cycles < 64):  # later ends are past 2**63
        points.append(n * cycles if m == 1 else n * (m**cycles - 1) // (m - 1))
    return points


def _cyclic_points(c: Any) -> list[int]:
    up = c.step_size_up
    total = up + (up if c.step_size_down is None else c.step_size_down)
    points = []
    for cycle in (0, 1, 2, 3, MAX_CONFIG_INT // total, INT64_MAX // total):
        start = cycle * total
        points += [start, start + up, start + up // 2]
    return points


def _points(config: Any) -> tuple[list[int], list[float]]:
    ns = namespace(config)
    ints: list[int] = []
    floats: list[float] = []
    for kind in KINDS:
        body = getattr(ns, kind)
        if body is None or kind == "constant":
            continue
        if kind != "sequence":
            more_ints, more_floats = _kind_points(kind, body)
            ints += more_ints
            floats += more_floats
            continue
        start = 0
        for stage in body:
            inner_ints, inner_floats = _points(stage.schedule)
            end = None if stage.num_steps is None else start + stage.num_steps
            ints += [start + p for p in [0, *inner_ints] if end is None or p <= end - start]
            floats += [start + f for f in inner_floats if end is None or f <= end - start]
            if end is None:
                break
            start = end
    return ints, floats


def config_points(config: Any) -> list[int]:
    """The integers where the config's value changes: boundaries, phase ends, restarts."""
    return _points(config)[0]


def edge_steps(config: Any) -> list[int | float]:
    """Every step where an off-by-one or a rounding slip would show, for this config.

    Ints are valid int64 steps; floats may be >= 2**63 (refused by cycle kinds).
    """
    steps: list[int | float] = [0, 0.0, 1, 0.5, 2**53 - 1, 2**53, 2**53 + 1, 2**62, INT64_MAX]
    steps += [float(2**53), BELOW_2_63, float(2**63), 1e300]
    ints, floats = _points(config)
    seen: set[int | float] = set()
    for p in ints:
        if p > 2**64:  # a cycle end no int64 step reaches
            continue
        for s in (p - 1, p, p + 1):
            if 0 <= s <= INT64_MAX and s not in seen:
                seen.add(s)
                steps += [s, float(s)]
        for f in (p - 0.5, p + 0.5, p - 1e-9, p + 1e-9):
            if f >= 0:
                steps.append(float(f))
    for f in floats:
        for g in (f, f - 0.5, f + 0.5):
            if 0 <= g < math.inf:
                steps.append(float(g))
    return steps
