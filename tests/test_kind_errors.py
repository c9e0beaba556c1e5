"""Bad configs of the kinds of every kind: refused when built, naming the field and the value.

Every rule of the kinds' conventions (README) and each kind's own constraints of 7.2. A raw dict given to
`compute_lr`, `Schedule` or `Schedules` raises ValueError (TypeError for a wrong type)
whose message holds the full dotted path of the field from the config's top
(`exponential_decay.decay_rate`, `sequence[1].schedule.cosine_decay.num_steps`) and
the offending value as `field=<Python repr>` (or `got <repr>`); for a rule across
fields, each field involved. `LearningRate.model_validate` and `LearningRate(**cfg)`
raise pydantic's ValidationError, whose text names the field and the value.

Then the property that matters most: any config at all, valid or not, is either
refused when built or gives a finite lr >= 0 at every step (never a wrong number).
"""

from __future__ import annotations

import copy
import math
import re
from typing import Any

import numpy as np
import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.kinds import EXAMPLES, INT64_MAX, MAX_RATE, edge_steps
from tests.oracle import FIELDS, NEW_KINDS, REQUIRED, kind_of, namespace, reference_lr
from tests.strategies import KIND_STRATEGIES, arbitrary_configs, configs
from tml import _core
from tml.optimizers import LearningRate, Schedule, Schedules, compute_lr

NAN, INF = math.nan, math.inf
Config = dict[str, Any]

# A valid body of each kind with every field spelled out, to break one field at a time.
BASE: dict[str, dict[str, Any]] = {
    "linear": {"learning_rate": 0.1, "final_learning_rate": 0.01, "num_steps": 100},
    "exponential_decay": {
        "learning_rate": 0.1,
        "decay_rate": 0.5,
        "decay_steps": 10,
        "staircase": False,
        "final_learning_rate": 0.001,
    },
    "multistep_decay": {"learning_rate": 0.1, "milestones": [10, 20], "gamma": 0.1},
    "polynomial_decay": {
        "learning_rate": 0.1,
        "final_learning_rate": 0.001,
        "num_steps": 100,
        "power": 2.0,
    },
    "cosine_decay": {"learning_rate": 0.1, "final_learning_rate": 0.001, "num_steps": 100},
    "inverse_sqrt": {"learning_rate": 0.1, "num_warmup_steps": 10, "timescale": 20},
    "inverse_time_decay": {
        "learning_rate": 0.1,
        "decay_rate": 0.5,
        "decay_steps": 10,
        "staircase": True,
    },
    "cosine_restarts": {
        "learning_rate": 0.1,
        "final_learning_rate": 0.001,
        "num_steps": 10,
        "period_multiplier": 2,
        "peak_decay": 0.5,
        "num_cycles": 3,
    },
    "one_cycle": {
        "learning_rate": 0.1,
        "total_steps": 100,
        "pct_start": 0.3,
        "anneal": "cos",
        "div_factor": 25.0,
        "final_div_factor": 1e4,
        "three_phase": False,
    },
    "cyclic": {
        "learning_rate": 0.01,
        "max_learning_rate": 0.1,
        "step_size_up": 10,
        "step_size_down": 20,
        "mode": "exp_range",
        "gamma": 0.99,
    },
    "warmup_stable_decay": {
        "learning_rate": 0.1,
        "final_learning_rate": 0.001,
        "num_warmup_steps": 10,
        "num_stable_steps": 20,
        "num_decay_steps": 30,
        "decay_shape": "linear",
    },
}
assert set(BASE) == set(NEW_KINDS) - {"sequence"}

# Integer fields that may be 0 (torch's own formulas); every other integer field is >= 1.
MAY_BE_ZERO = {("inverse_sqrt", "num_warmup_steps")} | {
    ("warmup_stable_decay", f) for f in ("num_warmup_steps", "num_stable_steps")
}
# Float fields that are not rates, and what each accepts.
FLOAT_FIELDS_BELOW = {  # a value outside each field's range
    ("exponential_decay", "decay_rate"): [0.0, -0.5],
    ("multistep_decay", "gamma"): [0.0, -1.0],
    ("polynomial_decay", "power"): [0.0, -1.0],
    ("inverse_time_decay", "decay_rate"): [-0.5],
    ("cosine_restarts", "peak_decay"): [0.0, 1.5, -0.5],
    ("one_cycle", "pct_start"): [0.0, 1.0, 1.5, -0.1],
    ("one_cycle", "div_factor"): [0.0, -1.0],
    ("one_cycle", "final_div_factor"): [0.0, -1.0],
    ("cyclic", "gamma"): [0.0, 1.5],
}


def body(kind: str, **changes: Any) -> Config:
    new = {**copy.deepcopy(BASE[kind]), **changes}
    return {kind: {k: v for k, v in new.items() if v is not _DROP}}


_DROP = object()


class Case:
    """A bad config and what its error must say."""

    def __init__(
        self,
        config: Config,
        paths: list[str],
        values: list[tuple[str, Any]] | None = None,
        error: type[Exception] = ValueError,
    ) -> None:
        self.config = config
        self.paths = paths  # each must appear verbatim in the message
        self.values = values or []  # (field, value): `field=repr(value)` or `got repr(value)`
        self.error = error


def _generated() -> dict[str, Case]:
    """One case per field and way of breaking it, from the field table."""
    cases: dict[str, Case] = {}
    for kind, fields in FIELDS.items():
        if kind not in BASE:
            continue
        for name, field_type, default in fields:
            path = f"{kind}.{name}"
            if field_type == "rate":
                for bad in (-0.5, NAN, INF, -INF):
                    cases[f"{path}={bad}"] = Case(body(kind, **{name: bad}), [path], [(name, bad)])
                cases[f"{path}=bool"] = Case(
                    body(kind, **{name: True}), [path], [(name, True)], TypeError
                )
            elif field_type == "float":
                for bad in (NAN, INF, *FLOAT_FIELDS_BELOW.get((kind, name), [])):
                    cases[f"{path}={bad}"] = Case(body(kind, **{name: bad}), [path], [(name, bad)])
            elif field_type == "int":
                low = 0 if (kind, name) in MAY_BE_ZERO else 1
                for bad in (10.5, 2**53 + 1, 10**30, low - 1):
                    cases[f"{path}={bad}"] = Case(body(kind, **{name: bad}), [path], [(name, bad)])
                cases[f"{path}=bool"] = Case(
                    body(kind, **{name: True}), [path], [(name, True)], TypeError
                )
            elif field_type == "str":
                cases[f"{path}=bogus"] = Case(
                    body(kind, **{name: "bogus"}), [path], [(name, "bogus")]
                )
            elif field_type == "bool":
                cases[f"{path}=maybe"] = Case(
                    body(kind, **{name: "maybe"}), [path], [(name, "maybe")], TypeError
                )
            if default is REQUIRED:
                cases[f"{path}-missing"] = Case(body(kind, **{name: _DROP}), [path])
        cases[f"{kind}-unknown-key"] = Case(body(kind, warmup_steps=5), [kind, "warmup_steps"])
    return cases


def _exp(**changes: Any) -> Config:
    return body("exponential_decay", **changes)


SPECIFIC: dict[str, Case] = {
    # exponential_decay: the side of the cap must match the direction
    "exp-grows-without-cap": Case(
        _exp(decay_rate=1.5, final_learning_rate=_DROP),
        ["exponential_decay.final_learning_rate", "decay_rate"],
        [("decay_rate", 1.5)],
    ),
    "exp-grows-cap-null": Case(
        _exp(decay_rate=1.5, final_learning_rate=None),
        ["exponential_decay.final_learning_rate", "decay_rate"],
        [("decay_rate", 1.5)],
    ),
    "exp-grows-from-zero": Case(
        _exp(learning_rate=0.0, decay_rate=1.5, final_learning_rate=1.0),
        ["exponential_decay", "learning_rate", "decay_rate"],
        [("learning_rate", 0.0)],
    ),
    "exp-flat-with-cap": Case(
        _exp(decay_rate=1.0),
        ["exponential_decay", "final_learning_rate", "decay_rate"],
        [("decay_rate", 1.0)],
    ),
    "exp-decays-to-above-start": Case(
        _exp(final_learning_rate=0.2),
        ["exponential_decay", "final_learning_rate", "learning_rate"],
        [("final_learning_rate", 0.2), ("learning_rate", 0.1)],
    ),
    "exp-grows-to-below-start": Case(
        _exp(decay_rate=2.0, final_learning_rate=0.05),
        ["exponential_decay", "final_learning_rate", "learning_rate"],
        [("final_learning_rate", 0.05), ("learning_rate", 0.1)],
    ),
    # multistep_decay: milestones
    "milestones-empty": Case(
        body("multistep_decay", milestones=[]), ["multistep_decay.milestones"], [("milestones", [])]
    ),
    "milestones-equal": Case(
        body("multistep_decay", milestones=[10, 10]), ["multistep_decay.milestones", "10"]
    ),
    "milestones-unsorted": Case(
        body("multistep_decay", milestones=[20, 10]), ["multistep_decay.milestones", "20", "10"]
    ),
    "milestones-zero": Case(
        body("multistep_decay", milestones=[0, 5]), ["multistep_decay.milestones", "0"]
    ),
    "milestones-negative": Case(
        body("multistep_decay", milestones=[-3, 5]), ["multistep_decay.milestones", "-3"]
    ),
    "milestones-fraction": Case(
        body("multistep_decay", milestones=[5, 10.5]), ["multistep_decay.milestones", "10.5"]
    ),
    "milestones-huge": Case(
        body("multistep_decay", milestones=[5, 2**53 + 1]),
        ["multistep_decay.milestones", str(2**53 + 1)],
    ),
    "milestones-bool": Case(
        body("multistep_decay", milestones=[True]),
        ["multistep_decay.milestones", "True"],
        error=TypeError,
    ),
    "milestones-not-a-list": Case(
        body("multistep_decay", milestones=10),
        ["multistep_decay.milestones"],
        error=TypeError,
    ),
    "multistep-overflows": Case(
        body("multistep_decay", learning_rate=1.0, milestones=list(range(1, 320)), gamma=10.0),
        ["multistep_decay", "gamma"],
        [("gamma", 10.0)],
    ),
    "multistep-overflows-from-zero": Case(  # 0.0 * inf is nan
        body("multistep_decay", learning_rate=0.0, milestones=list(range(1, 320)), gamma=10.0),
        ["multistep_decay", "gamma"],
        [("gamma", 10.0)],
    ),
    "multistep-overflows-small-start": Case(  # 1e-300 * 1e10**40 is finite, but not in C
        body("multistep_decay", learning_rate=1e-300, milestones=list(range(1, 41)), gamma=1e10),
        ["multistep_decay", "gamma"],
        [("gamma", 1e10)],
    ),
    # polynomial_decay, cosine_restarts, warmup_stable_decay: F <= L
    "poly-final-above": Case(
        body("polynomial_decay", final_learning_rate=0.2),
        ["polynomial_decay", "final_learning_rate", "learning_rate"],
        [("final_learning_rate", 0.2)],
    ),
    "restarts-final-above": Case(
        body("cosine_restarts", final_learning_rate=0.2),
        ["cosine_restarts", "final_learning_rate", "learning_rate"],
        [("final_learning_rate", 0.2)],
    ),
    "wsd-final-above": Case(
        body("warmup_stable_decay", final_learning_rate=0.2),
        ["warmup_stable_decay", "final_learning_rate", "learning_rate"],
        [("final_learning_rate", 0.2)],
    ),
    # inverse_sqrt: a timescale is needed without a warm-up
    "isqrt-no-warmup-no-timescale": Case(
        body("inverse_sqrt", num_warmup_steps=0, timescale=_DROP),
        ["inverse_sqrt.timescale", "num_warmup_steps"],
    ),
    "isqrt-no-warmup-null-timescale": Case(
        body("inverse_sqrt", num_warmup_steps=0, timescale=None),
        ["inverse_sqrt.timescale", "num_warmup_steps"],
    ),
    "isqrt-defaults-only": Case(
        {"inverse_sqrt": {"learning_rate": 0.1}}, ["inverse_sqrt.timescale"]
    ),
    # one_cycle: phases at least 1.0 wide as torch computes the ends, finite rates
    "one-cycle-one-step": Case(
        body("one_cycle", total_steps=1), ["one_cycle", "total_steps"], [("total_steps", 1)]
    ),
    "one-cycle-first-phase-narrow": Case(  # ends at 0.15 * 10 - 1 = 0.5
        body("one_cycle", total_steps=10, pct_start=0.15),
        ["one_cycle", "total_steps", "pct_start"],
        [("total_steps", 10), ("pct_start", 0.15)],
    ),
    "one-cycle-last-phase-narrow": Case(  # 9 - (0.95 * 10 - 1) = 0.5
        body("one_cycle", total_steps=10, pct_start=0.95),
        ["one_cycle", "total_steps", "pct_start"],
        [("pct_start", 0.95)],
    ),
    "one-cycle-three-phase-narrow": Case(  # 0.4 * 3 - 1 = 0.2
        body("one_cycle", total_steps=3, pct_start=0.4, three_phase=True),
        ["one_cycle", "total_steps", "pct_start"],
    ),
    "one-cycle-three-phase-half": Case(
        body("one_cycle", pct_start=0.5, three_phase=True),
        ["one_cycle", "pct_start", "three_phase"],
        [("pct_start", 0.5)],
    ),
    "one-cycle-three-phase-above-half": Case(
        body("one_cycle", pct_start=0.6, three_phase=True),
        ["one_cycle", "pct_start", "three_phase"],
        [("pct_start", 0.6)],
    ),
    # Subnormal rates: (L - F) * 0.5 of an odd subnormal rounds away from 0, so a cosine
    # rising from L = 0 to F starts one subnormal below 0.
    "cosine-decay-subnormal-rise-below-zero": Case(
        body("cosine_decay", learning_rate=0.0, final_learning_rate=1.5e-323, num_steps=10),
        ["cosine_decay.learning_rate", "must keep the schedule >= 0"],
        [("learning_rate", 0.0), ("final_learning_rate", 1.5e-323)],
    ),
    "ramp-to-cosine-subnormal-rise-below-zero": Case(
        {
            "linear_ramp_to_cosine": {
                "learning_rate": 0.0,
                "final_learning_rate": 1.5e-323,
                "num_ramp_steps": 1,
                "final_num_steps": 5,
            }
        },
        ["linear_ramp_to_cosine.learning_rate", "must keep the schedule >= 0"],
        [("learning_rate", 0.0), ("final_learning_rate", 1.5e-323)],
    ),
    "one-cycle-subnormal-rise-below-zero": Case(
        body("one_cycle", learning_rate=1.5e-323, total_steps=10, div_factor=1e10),
        ["one_cycle.learning_rate", "must keep the schedule >= 0"],
        [("learning_rate", 1.5e-323)],
    ),
    # F + (L - F) rounds past the largest float though L and F are finite: the peak of
    # every kind whose values lie between two rates is checked when built.
    "cosine-decay-peak-overflows": Case(
        body("cosine_decay", learning_rate=MAX_RATE, final_learning_rate=5.214802558039429e307),
        ["cosine_decay.learning_rate", "must keep the schedule finite"],
        [("learning_rate", MAX_RATE), ("final_learning_rate", 5.214802558039429e307)],
    ),
    "ramp-to-cosine-peak-overflows": Case(
        {
            "linear_ramp_to_cosine": {
                "learning_rate": MAX_RATE,
                "final_learning_rate": 5.214802558039429e307,
                "num_ramp_steps": 2,
                "final_num_steps": 10,
            }
        },
        ["linear_ramp_to_cosine.learning_rate", "must keep the schedule finite"],
        [("learning_rate", MAX_RATE)],
    ),
    "restarts-peak-overflows": Case(
        body("cosine_restarts", learning_rate=MAX_RATE, final_learning_rate=6.014382553750412e306),
        ["cosine_restarts.learning_rate", "must keep the schedule finite"],
        [("learning_rate", MAX_RATE)],
    ),
    "wsd-peak-overflows": Case(
        body(
            "warmup_stable_decay", learning_rate=MAX_RATE, final_learning_rate=5.214802558039429e307
        ),
        ["warmup_stable_decay.learning_rate", "must keep the schedule finite"],
        [("learning_rate", MAX_RATE)],
    ),
    # float(W + S + D) - t counts past D at a float step where W + S + D is not exact
    "wsd-linear-float-steps-overflow": Case(
        body(
            "warmup_stable_decay",
            learning_rate=MAX_RATE,
            final_learning_rate=0.0,
            num_warmup_steps=2**53 - 2,
            num_stable_steps=0,
            num_decay_steps=1009,
            decay_shape="linear",
        ),
        ["warmup_stable_decay.learning_rate", "must keep the schedule finite"],
        [("learning_rate", MAX_RATE)],
    ),
    "cyclic-peak-overflows": Case(
        body(
            "cyclic",
            learning_rate=5.214802558039429e307,
            max_learning_rate=MAX_RATE,
            mode="triangular",
        ),
        ["cyclic.max_learning_rate", "must keep the schedule finite"],
        [("max_learning_rate", MAX_RATE)],
    ),
    "one-cycle-initial-overflows": Case(  # 1e300 / 1e-10
        body("one_cycle", learning_rate=1e300, div_factor=1e-10),
        ["one_cycle", "div_factor"],
        [("div_factor", 1e-10)],
    ),
    "one-cycle-min-overflows": Case(  # 1e300 / 1.0 / 1e-10
        body("one_cycle", learning_rate=1e300, div_factor=1.0, final_div_factor=1e-10),
        ["one_cycle", "final_div_factor"],
        [("final_div_factor", 1e-10)],
    ),
    "one-cycle-anneal-cosine": Case(
        body("one_cycle", anneal="cosine"), ["one_cycle.anneal"], [("anneal", "cosine")]
    ),
    "one-cycle-anneal-upper": Case(
        body("one_cycle", anneal="COS"), ["one_cycle.anneal"], [("anneal", "COS")]
    ),
    "one-cycle-anneal-number": Case(
        body("one_cycle", anneal=1), ["one_cycle.anneal"], error=TypeError
    ),
    # cyclic
    "cyclic-max-below-base": Case(
        body("cyclic", max_learning_rate=0.005),
        ["cyclic", "max_learning_rate", "learning_rate"],
        [("max_learning_rate", 0.005), ("learning_rate", 0.01)],
    ),
    "cyclic-period-too-long": Case(
        body("cyclic", step_size_up=2**52 + 1, step_size_down=2**52),
        ["cyclic", "step_size_up", "step_size_down"],
    ),
    "cyclic-period-too-long-default-down": Case(  # step_size_up's fault: the down is unset
        body("cyclic", step_size_up=2**52 + 1, step_size_down=_DROP),
        ["cyclic.step_size_up", "without step_size_down"],
        [("step_size_up", 2**52 + 1)],
    ),
    "cyclic-mode": Case(body("cyclic", mode="exp"), ["cyclic.mode"], [("mode", "exp")]),
    "cyclic-mode-case": Case(
        body("cyclic", mode="Triangular"), ["cyclic.mode"], [("mode", "Triangular")]
    ),
    # warmup_stable_decay
    "wsd-shape": Case(
        body("warmup_stable_decay", decay_shape="1-sqrt"),
        ["warmup_stable_decay.decay_shape"],
        [("decay_shape", "1-sqrt")],
    ),
    # The wrong kind's field.
    "field-of-another-kind": Case(body("cosine_decay", power=2.0), ["cosine_decay", "power"]),
}


def _seq(*stages: Any) -> Config:
    return {"sequence": list(stages)}


COSINE_OK = {"cosine_decay": {"learning_rate": 0.1, "num_steps": 10}}
CONSTANT = {"constant": 0.1}

SEQUENCES: dict[str, Case] = {
    "seq-empty": Case(_seq(), ["sequence"]),
    "seq-not-a-list": Case(
        {"sequence": {"num_steps": 5, "schedule": CONSTANT}}, ["sequence"], error=TypeError
    ),
    "seq-open-stage-first": Case(
        _seq({"schedule": CONSTANT}, {"schedule": CONSTANT}), ["sequence[0].num_steps"]
    ),
    "seq-open-stage-middle": Case(
        _seq(
            {"num_steps": 3, "schedule": CONSTANT},
            {"num_steps": None, "schedule": CONSTANT},
            {"schedule": CONSTANT},
        ),
        ["sequence[1].num_steps"],
    ),
    "seq-last-stage-ends": Case(
        _seq({"num_steps": 5, "schedule": CONSTANT}), ["sequence[0].num_steps"]
    ),
    "seq-stage-zero-steps": Case(
        _seq({"num_steps": 0, "schedule": CONSTANT}, {"schedule": CONSTANT}),
        ["sequence[0].num_steps"],
        [("num_steps", 0)],
    ),
    "seq-stage-negative-steps": Case(
        _seq({"num_steps": -5, "schedule": CONSTANT}, {"schedule": CONSTANT}),
        ["sequence[0].num_steps"],
        [("num_steps", -5)],
    ),
    "seq-stage-fraction": Case(
        _seq({"num_steps": 10.5, "schedule": CONSTANT}, {"schedule": CONSTANT}),
        ["sequence[0].num_steps"],
        [("num_steps", 10.5)],
    ),
    "seq-stage-huge": Case(
        _seq({"num_steps": 2**53 + 1, "schedule": CONSTANT}, {"schedule": CONSTANT}),
        ["sequence[0].num_steps"],
        [("num_steps", 2**53 + 1)],
    ),
    "seq-stage-bool": Case(
        _seq({"num_steps": True, "schedule": CONSTANT}, {"schedule": CONSTANT}),
        ["sequence[0].num_steps"],
        [("num_steps", True)],
        TypeError,
    ),
    "seq-stage-unknown-key": Case(
        _seq({"steps": 5, "schedule": CONSTANT}, {"schedule": CONSTANT}), ["sequence[0]", "steps"]
    ),
    "seq-stage-without-schedule": Case(
        _seq({"num_steps": 5}, {"schedule": CONSTANT}), ["sequence[0]", "schedule"]
    ),
    "seq-stage-no-kind": Case(
        _seq({"num_steps": 5, "schedule": {}}, {"schedule": CONSTANT}), ["sequence[0].schedule"]
    ),
    "seq-stage-two-kinds": Case(
        _seq({"num_steps": 5, "schedule": {**CONSTANT, **COSINE_OK}}, {"schedule": CONSTANT}),
        ["sequence[0].schedule", "constant", "cosine_decay"],
    ),
    "seq-spec-example-path": Case(
        _seq(
            {"num_steps": 5, "schedule": CONSTANT},
            {"schedule": {"cosine_decay": {"learning_rate": 0.1, "num_steps": 0}}},
        ),
        ["sequence[1].schedule.cosine_decay.num_steps"],
        [("num_steps", 0)],
    ),
    "seq-bad-rate-in-stage": Case(
        _seq({"num_steps": 5, "schedule": {"constant": -1.0}}, {"schedule": CONSTANT}),
        ["sequence[0].schedule.constant"],
        [("constant", -1.0)],
    ),
    "seq-nested-deep": Case(
        _seq(
            {"num_steps": 5, "schedule": CONSTANT},
            {
                "schedule": _seq(
                    {"num_steps": 3, "schedule": CONSTANT},
                    {
                        "schedule": _seq(
                            {"num_steps": 2, "schedule": COSINE_OK},
                            {"schedule": body("cyclic", gamma=0.0)},
                        )
                    },
                )
            },
        ),
        ["sequence[1].schedule.sequence[1].schedule.sequence[1].schedule.cyclic.gamma"],
        [("gamma", 0.0)],
    ),
    "seq-nested-open-stage": Case(
        _seq(
            {"num_steps": 5, "schedule": _seq({"schedule": CONSTANT}, {"schedule": CONSTANT})},
            {"schedule": CONSTANT},
        ),
        ["sequence[0].schedule.sequence[0].num_steps"],
    ),
    "seq-nested-empty": Case(
        _seq({"num_steps": 5, "schedule": _seq()}, {"schedule": CONSTANT}),
        ["sequence[0].schedule.sequence"],
    ),
}

ALL_CASES = {**_generated(), **SPECIFIC, **SEQUENCES}
CASE_PARAMS = [pytest.param(case, id=name) for name, case in ALL_CASES.items()]


def _value_pattern(field: str, value: Any) -> str:
    shown = re.escape(repr(value))
    return rf"(?<![\w.]){re.escape(field)}\s*=\s*{shown}|got {shown}"


def assert_message(message: str, case: Case) -> None:
    for path in case.paths:
        assert path in message, f"{path!r} not in message: {message}"
    for field, value in case.values:
        assert re.search(_value_pattern(field, value), message), (
            f"{field}={value!r} not in message: {message}"
        )


@pytest.mark.parametrize("case", CASE_PARAMS)
def test_raw_dict_refused_everywhere(case: Case) -> None:
    calls = {
        "compute_lr-int": lambda c: compute_lr(c, 3),
        "compute_lr-float": lambda c: compute_lr(c, 3.5),
        "compute_lr-array": lambda c: compute_lr(c, np.arange(4)),
        "Schedule": Schedule,
        "Schedules-mapping": lambda c: Schedules({"tower": c}),
        "Schedules-list": lambda c: Schedules([{"constant": 1.0}, c]),
    }
    for name, call in calls.items():
        with pytest.raises(case.error) as info:
            call(copy.deepcopy(case.config))
        assert not isinstance(info.value, pydantic.ValidationError), name
        assert_message(str(info.value), case)


@pytest.mark.parametrize("case", CASE_PARAMS)
def test_learning_rate_model_refuses(case: Case) -> None:
    """The model reports its own way (a `loc` path, `input_value=`): field and value named."""
    for build in (
        lambda c: LearningRate.model_validate(c),
        lambda c: LearningRate(**c),
    ):
        with pytest.raises(pydantic.ValidationError) as info:
            build(copy.deepcopy(case.config))
        assert isinstance(info.value, ValueError)
        text = str(info.value)
        last = re.split(r"[.\[\]]", case.paths[0].rstrip("]"))[-1]
        assert last in text, f"{last!r} not in: {text}"
        for _, value in case.values:
            assert repr(value) in text or str(value) in text, f"{value!r} not in: {text}"


@pytest.mark.parametrize("case", [pytest.param(c, id=n) for n, c in SEQUENCES.items()])
def test_learning_rate_model_names_the_stage_path(case: Case) -> None:
    """Inside a sequence the model's messages hold the path as SPEC 7.2 writes it.

    pydantic's loc says `sequence.1.schedule.cosine_decay.num_steps`; the message says
    `sequence[1].schedule.cosine_decay.num_steps`, as the dict path's does.
    """
    with pytest.raises(pydantic.ValidationError) as info:
        LearningRate.model_validate(copy.deepcopy(case.config))
    for path in case.paths:  # the value as pydantic shows it: test_learning_rate_model_refuses
        assert path in str(info.value), f"{path!r} not in message: {info.value}"


# ---------------------------------------------------------------------------
# Valid neighbours of the refused cases: the limits themselves are accepted.

ACCEPTED: list[Config] = [
    body("cyclic", step_size_up=2**52, step_size_down=2**52),  # U + D == 2**53
    # L + (M - L) would be inf, but exp_range's gamma ** t keeps its largest value finite
    body(
        "cyclic",
        learning_rate=5.214802558039429e307,
        max_learning_rate=MAX_RATE,
        step_size_up=1,
        mode="exp_range",
        gamma=0.5,
    ),
    body("cosine_decay", learning_rate=MAX_RATE, final_learning_rate=0.0),  # F + 2 * (L / 2)
    body("cosine_restarts", learning_rate=MAX_RATE, final_learning_rate=0.0),
    body("cyclic", step_size_up=2**52, step_size_down=_DROP),
    body("one_cycle", total_steps=10, pct_start=0.2),  # first phase exactly 1.0 wide
    body("one_cycle", total_steps=10, pct_start=0.9),  # last phase 9 - 8.0 == 1.0 wide
    body("one_cycle", pct_start=0.49, three_phase=True),
    body("exponential_decay", final_learning_rate=0.1),  # F == L
    body("exponential_decay", decay_rate=1.0, final_learning_rate=_DROP),
    body("exponential_decay", decay_rate=2.0, final_learning_rate=0.1),  # F == L, growing
    body("polynomial_decay", final_learning_rate=0.1),
    body("cosine_decay", final_learning_rate=0.2),  # F > L: a cosine warm-up
    body("cosine_restarts", peak_decay=1.0, period_multiplier=1, num_cycles=2**53),
    body("inverse_sqrt", num_warmup_steps=0, timescale=1),
    body("inverse_time_decay", decay_rate=0.0),
    body("multistep_decay", milestones=[1, 2**53], gamma=1.0),
    body("multistep_decay", learning_rate=1e-300, milestones=list(range(1, 31)), gamma=1e10),
    body("warmup_stable_decay", num_warmup_steps=0, num_stable_steps=0),
    body("linear", num_steps=2**53, learning_rate=0.0),
    {"sequence": [{"num_steps": 2**53, "schedule": CONSTANT}, {"schedule": CONSTANT}]},
    {
        "sequence": [
            {"num_steps": 1, "schedule": CONSTANT},
            {"num_steps": None, "schedule": CONSTANT},
        ]
    },
    {"constant": None, "sequence": [{"schedule": _seq({"schedule": COSINE_OK})}], "linear": None},
]


@pytest.mark.parametrize("config", ACCEPTED, ids=lambda c: kind_of(c))
def test_limits_are_accepted(config: Config) -> None:
    steps = np.array([0, 1, 5, 10, 99, 100, 2**53, INT64_MAX], dtype=np.int64)
    values = compute_lr(config, steps)
    ns = namespace(config)
    assert [v.hex() for v in values.tolist()] == [
        float(reference_lr(ns, s)).hex() for s in steps.tolist()
    ]
    LearningRate.model_validate(copy.deepcopy(config))


# ---------------------------------------------------------------------------
# Hypothesis: one field of a valid config broken, at any depth of a sequence.

_BAD_BY_TYPE: dict[str, st.SearchStrategy[Any]] = {
    "rate": st.sampled_from([-1.0, -1e-300, NAN, INF, -INF]),
    "float": st.sampled_from([NAN, INF, -INF]),
    "int": st.sampled_from([10.5, 0.25, 2**53 + 1, -1]),
    "ints": st.sampled_from([[], [0], [5, 5], [7, 3], [1.5]]),
    "str": st.sampled_from(["bogus", "", "COS"]),
    "bool": st.sampled_from(["maybe", 2.5]),
}


@given(config=configs, data=st.data())
def test_random_corruption_names_the_field(config: Config, data: st.DataObject) -> None:
    config = copy.deepcopy(config)
    node, path = config, ""
    while (kind := kind_of(node)) == "sequence":
        i = data.draw(st.integers(0, len(node["sequence"]) - 1))
        node, path = node["sequence"][i]["schedule"], f"{path}sequence[{i}].schedule."
    if kind not in BASE:
        return  # the original kinds are corrupted in test_errors.py
    name, field_type = data.draw(st.sampled_from([(n, t) for n, t, _ in FIELDS[kind]]))
    bad = data.draw(_BAD_BY_TYPE[field_type])
    if field_type == "float" and (kind, name) in FLOAT_FIELDS_BELOW:
        bad = data.draw(st.sampled_from([NAN, INF, *FLOAT_FIELDS_BELOW[kind, name]]))
    node[kind][name] = bad
    with pytest.raises((ValueError, TypeError)) as info:
        Schedule(config)
    assert f"{path}{kind}.{name}" in str(info.value)
    with pytest.raises(pydantic.ValidationError, match=name):
        LearningRate.model_validate(copy.deepcopy(config))


# ---------------------------------------------------------------------------
# Never a wrong number: any config is refused, or finite and >= 0 everywhere.


def _steps_of(config: Any, data: st.DataObject) -> tuple[np.ndarray, np.ndarray]:
    try:
        edges = edge_steps(config)
    except Exception:  # an invalid config has no edges to speak of
        edges = []
    ints = [s for s in edges if isinstance(s, int)] + [0, 1, 2, 3, 10, 100, 2**53, INT64_MAX]
    ints += data.draw(st.lists(st.integers(0, INT64_MAX), max_size=10), label="ints")
    ints += data.draw(st.lists(st.integers(0, 10_000), max_size=10), label="small ints")
    floats = [float(s) for s in edges if isinstance(s, float) and s < 2**63]
    floats += data.draw(
        st.lists(st.floats(0.0, 2.0**63, exclude_max=True), max_size=10), label="floats"
    )
    floats += [0.5, 1.5, 99.5]
    return np.array(ints, dtype=np.int64), np.array(floats, dtype=np.float64)


def _only_canonical_values(value: Any) -> bool:
    """No strings except choices, no bools outside bool fields: the oracle reads it as is."""
    if isinstance(value, dict):
        return all(
            _only_canonical_values(v)
            and (not isinstance(v, str) or k in ("mode", "anneal", "decay_shape"))
            for k, v in value.items()
        )
    if isinstance(value, list):
        return all(_only_canonical_values(v) and not isinstance(v, str) for v in value)
    return not isinstance(value, (bytes, complex))


@settings(max_examples=max(100, settings.default.max_examples))
@given(config=arbitrary_configs, data=st.data())
def test_any_config_is_refused_or_never_wrong(config: Any, data: st.DataObject) -> None:
    try:
        schedule = Schedule(copy.deepcopy(config))
    except (ValueError, TypeError):
        return
    ints, floats = _steps_of(config, data)
    for steps in (ints, floats):
        values = schedule(steps)
        bad = ~(np.isfinite(values) & (values >= 0))
        assert not bad.any(), (config, steps[bad][:3], values[bad][:3])
    # Accepted: then it means what the oracle says it means, where the oracle can read it.
    if _only_canonical_values(config):
        try:
            ns = namespace(config)
            expected = [float(reference_lr(ns, s)).hex() for s in ints.tolist()]
        except Exception:  # a spelling the oracle does not read (None for a default, ...)
            return
        assert [v.hex() for v in schedule(ints).tolist()] == expected


@pytest.mark.parametrize("kind", NEW_KINDS)
def test_every_kind_rejects_its_own_bad_configs(kind: str) -> None:
    """Guard: each kind has generated and specific cases above (none silently skipped)."""
    names = [n for n, c in ALL_CASES.items() if kind in {kind_of(c.config)}]
    assert len(names) >= 5, (kind, names)
    assert KIND_STRATEGIES[kind] is not None


def _optional_fields() -> list[tuple[str, str, bool]]:
    """(kind, field, nullable) for every field of a mapping kind that has a default."""
    return [
        (kind, field["name"], field["nullable"])
        for kind, declared in _core.kind_fields().items()
        if declared["shape"] == "mapping"
        for field in declared["fields"]
        if not field["required"]
    ]


@pytest.mark.parametrize(("kind", "field", "nullable"), _optional_fields())
def test_an_explicit_none_is_read_alike_by_dicts_and_models(
    kind: str, field: str, nullable: bool
) -> None:
    # The dict reader took None for any field with a default as that default, where the
    # models refuse it unless the field is nullable (the core's declaration).
    config = copy.deepcopy(EXAMPLES[kind][0])
    config[kind][field] = None
    if nullable:
        want = compute_lr(config, 7)
        assert compute_lr(LearningRate.model_validate(config), 7) == want
        return
    with pytest.raises(TypeError, match=rf"{kind}\.{field} must be .*, got None"):
        compute_lr(config, 7)
    with pytest.raises(pydantic.ValidationError, match=rf"{kind}\.{field}"):
        LearningRate.model_validate(config)
