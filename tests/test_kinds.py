"""Every kind of every kind, bit for bit against the oracle, on every path.

Expected values come from `tests/oracle.py` (plain Python, written as the README's table of kinds writes
each formula) or, for anchors, from literals derived by hand. Paths: `compute_lr` on
Python and numpy scalars, int64/uint64/float64 arrays, lists; `Schedule`;
`Schedules` mixing kinds; dict, `LearningRate.model_validate`, `LearningRate(**cfg)`,
attribute-object and integral-float forms of one config; float32 output (the
float64 value rounded once). Steps: each example's edges (`tests.kinds.edge_steps`)
and Hypothesis draws, int steps up to 2**63 - 1. A float step >= 2**63 reaching
cosine_restarts or cyclic is a ValueError (the oracle raises exactly there).
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.kinds import BELOW_2_63, EXAMPLES, INT64_MAX, all_examples, edge_steps
from tests.oracle import (
    FIELDS,
    KINDS,
    NEW_KINDS,
    assert_same_bits,
    bits,
    kind_of,
    namespace,
    offset,
    reference_lr,
)
from tests.strategies import KIND_STRATEGIES, config_and_steps, configs, steps_for
from tml.optimizers import LearningRate, Schedule, Schedules, compute_lr

Config = dict[str, Any]
EXAMPLE_PARAMS = [pytest.param(config, id=name) for name, config in all_examples()]
NEW_EXAMPLE_PARAMS = [p for p in EXAMPLE_PARAMS if kind_of(p.values[0]) in NEW_KINDS]

# A float step a cycle cannot take: the message names the step or the 2**63 limit.
STEP_REFUSED = r"2\*\*63|step"

# Hypothesis runs once per kind here: a tenth of the profile's examples for each.
PER_KIND = settings(max_examples=max(20, settings.default.max_examples // 10))


def expected_at(config: Any, step: int | float) -> float | None:
    """The oracle's value, or None where the step must be refused (a ValueError)."""
    try:
        return float(reference_lr(namespace(config), step))
    except ValueError:
        return None


def split_steps(config: Any, steps: list[Any]) -> tuple[list[Any], list[Any]]:
    """Steps the oracle evaluates, and steps it refuses (float steps a cycle cannot take)."""
    ok = [s for s in steps if expected_at(config, s) is not None]
    refused = [s for s in steps if expected_at(config, s) is None]
    return ok, refused


def expected_array(config: Any, steps: np.ndarray) -> np.ndarray:
    ns = namespace(config)
    flat = [float(reference_lr(ns, s)) for s in steps.ravel().tolist()]
    return np.array(flat, dtype=np.float64).reshape(steps.shape)


# ---------------------------------------------------------------------------
# The oracle and the configs it is given: a valid config never gives a wrong number.


def assert_oracle_sane(config: Config) -> None:
    ns = namespace(config)
    for step in edge_steps(config):
        try:
            value = reference_lr(ns, step)
        except ValueError:
            assert isinstance(step, float), step
            assert step >= 2**63, step  # only a float step no cycle can hold
            continue
        assert type(value) is float, (step, value)
        assert math.isfinite(value), (step, value)
        assert value >= 0, (step, value)


@pytest.mark.parametrize("config", EXAMPLE_PARAMS)
def test_oracle_on_examples(config: Config) -> None:
    assert_oracle_sane(config)


@PER_KIND
@pytest.mark.parametrize("kind", KINDS)
@given(data=st.data())
def test_oracle_on_random_configs(kind: str, data: st.DataObject) -> None:
    assert_oracle_sane(data.draw(KIND_STRATEGIES[kind], label="config"))


# ---------------------------------------------------------------------------
# Anchors: literals derived by hand, checked against the oracle and the package alike.


def _c(kind: str, **body: Any) -> Config:
    return {kind: body}


LIN = _c("linear", learning_rate=1.0, final_learning_rate=0.0, num_steps=10)
EXP = _c("exponential_decay", learning_rate=1.0, decay_rate=0.5, decay_steps=2)
EXP_STAIR = _c(
    "exponential_decay", learning_rate=1.0, decay_rate=0.5, decay_steps=2, staircase=True
)
EXP_UP = _c(
    "exponential_decay", learning_rate=1.0, decay_rate=2.0, decay_steps=1, final_learning_rate=5.0
)
MULTI = _c("multistep_decay", learning_rate=1.0, milestones=[2, 4], gamma=0.5)
POLY = _c("polynomial_decay", learning_rate=1.0, num_steps=4, power=2.0)
COS = _c("cosine_decay", learning_rate=1.0, num_steps=4)
ISQRT = _c("inverse_sqrt", learning_rate=1.0, num_warmup_steps=4)
ITIME = _c("inverse_time_decay", learning_rate=1.0, decay_rate=1.0, decay_steps=1)
RESTART = _c("cosine_restarts", learning_rate=1.0, num_steps=2, period_multiplier=2)
RESTART_END = _c(
    "cosine_restarts", learning_rate=1.0, num_steps=2, period_multiplier=2, num_cycles=2
)
RESTART_DECAY = _c("cosine_restarts", learning_rate=1.0, num_steps=2, peak_decay=0.5)
ONE = _c("one_cycle", learning_rate=1.0, total_steps=10)  # phase ends 2.0 and 9
CYC = _c("cyclic", learning_rate=0.0, max_learning_rate=1.0, step_size_up=2)
CYC2 = _c("cyclic", learning_rate=0.0, max_learning_rate=1.0, step_size_up=2, mode="triangular2")
WSD = {
    "learning_rate": 1.0,
    "num_warmup_steps": 2,
    "num_stable_steps": 2,
    "num_decay_steps": 4,
}
SEQ = {
    "sequence": [
        {"num_steps": 3, "schedule": {"constant": 0.5}},
        {"schedule": _c("linear", learning_rate=0.0, final_learning_rate=1.0, num_steps=2)},
    ]
}

ANCHORS: list[tuple[str, Config, int | float, float]] = [
    ("linear-start", LIN, 0, 1.0),
    ("linear-near-side", LIN, 4, 0.6),  # 1.0 + (-1.0) * 0.4
    ("linear-far-side", LIN, 5, 0.5),  # 0.0 + 1.0 * (5 / 10)
    ("linear-end", LIN, 10, 0.0),
    ("linear-after", LIN, 10**15, 0.0),
    ("exp-smooth", EXP, 2, 0.5),
    ("exp-smooth-half", EXP, 1, 0.5**0.5),
    ("exp-stair", EXP_STAIR, 3, 0.5),
    ("exp-stair-float", EXP_STAIR, 3.9, 0.5),
    ("exp-stair-next", EXP_STAIR, 4, 0.25),
    ("exp-up", EXP_UP, 2, 4.0),
    ("exp-up-capped", EXP_UP, 3, 5.0),
    ("exp-up-capped-far", EXP_UP, 2**62, 5.0),  # 2.0 ** 2**62 is inf in C; min(inf, F)
    ("multi-before", MULTI, 1, 1.0),
    ("multi-at", MULTI, 2, 0.5),  # a milestone already counts at its own step
    ("multi-float", MULTI, 3.5, 0.5),
    ("multi-last", MULTI, 4, 0.25),
    ("poly-mid", POLY, 2, 0.25),
    ("poly-end", POLY, 4, 0.0),
    ("cos-mid", COS, 2, 0.5),  # 1.0 + cos(pi / 2) rounds to 1.0
    ("cos-end", COS, 4, 0.0),
    ("isqrt-warmup", ISQRT, 2, 0.5),
    ("isqrt-peak", ISQRT, 4, 1.0),
    ("isqrt-decay", ISQRT, 16, 0.5),  # 1 / sqrt((16 - 4 + 4) / 4)
    ("itime", ITIME, 3, 0.25),
    ("restart-0", RESTART, 0, 1.0),
    ("restart-1", RESTART, 1, 0.5),
    ("restart-2", RESTART, 2, 1.0),  # the second cycle starts at N = 2 and lasts 4
    ("restart-4", RESTART, 4, 0.5),
    ("restart-6", RESTART, 6, 1.0),  # the third starts at 2 + 4
    ("restart-end", RESTART_END, 6, 0.0),  # two cycles, then F
    ("restart-decay", RESTART_DECAY, 2, 0.5),  # second peak: 1.0 * 0.5 ** 1
    ("restart-decay-4", RESTART_DECAY, 4, 0.25),
    # torch's cos anneal at pct 0 is max + (initial - max) / 2.0 * 2.0, not initial itself.
    ("one-start", ONE, 0, 1.0 + (1.0 / 25.0 - 1.0) / 2.0 * 2.0),
    ("one-peak", ONE, 2, 1.0),  # end of phase 1: cos(pi) + 1 == 0, so exactly max
    ("one-last", ONE, 9, 1.0 / 25.0 / 1e4),
    ("one-after", ONE, 10, 1.0 / 25.0 / 1e4),
    ("one-after-float", ONE, 9.5, 1.0 / 25.0 / 1e4),
    ("cyc-0", CYC, 0, 0.0),
    ("cyc-1", CYC, 1, 0.5),
    ("cyc-top", CYC, 2, 1.0),
    ("cyc-3", CYC, 3, 0.5),
    ("cyc-next", CYC, 4, 0.0),
    ("cyc-float", CYC, 5.5, 0.75),
    ("cyc2-second-top", CYC2, 6, 0.5),
    ("cyc2-third-top", CYC2, 10, 0.25),
    ("wsd-warmup", _c("warmup_stable_decay", **WSD), 1, 0.5),
    ("wsd-stable", _c("warmup_stable_decay", **WSD), 3, 1.0),
    ("wsd-decay-start", _c("warmup_stable_decay", **WSD), 4, 1.0),
    ("wsd-cos-mid", _c("warmup_stable_decay", **WSD), 6, 0.5),
    ("wsd-linear-mid", _c("warmup_stable_decay", **WSD, decay_shape="linear"), 6, 0.5),
    ("wsd-sqrt", _c("warmup_stable_decay", **WSD, decay_shape="sqrt"), 5, 0.5),
    ("wsd-end", _c("warmup_stable_decay", **WSD), 8, 0.0),
    ("seq-first", SEQ, 2, 0.5),
    ("seq-second-start", SEQ, 3, 0.0),  # the second stage sees step 0
    ("seq-second", SEQ, 4, 0.5),
    ("seq-float", SEQ, 3.5, 0.25),
    ("seq-second-end", SEQ, 5, 1.0),
]


@pytest.mark.parametrize(
    ("config", "step", "value"), [pytest.param(c, s, v, id=i) for i, c, s, v in ANCHORS]
)
def test_anchor_values(config: Config, step: int | float, value: float) -> None:
    assert bits(reference_lr(namespace(config), step)) == bits(value)  # the oracle itself
    got = compute_lr(config, step)
    assert type(got) is float
    assert bits(got) == bits(value)
    assert bits(compute_lr(config, np.array([step]))[0]) == bits(value)


# ---------------------------------------------------------------------------
# The oracle follows the spec's grouping: a regrouped formula gives other bits
# (each case found by search and kept literal), and the package gives the oracle's.


def test_linear_computes_each_half_from_its_own_end() -> None:
    config = _c("linear", learning_rate=0.1, final_learning_rate=0.3, num_steps=3)
    one_sided = 0.1 + (0.3 - 0.1) * (2.0 / 3)
    assert bits(reference_lr(namespace(config), 2)) == bits(0.23333333333333334)
    assert bits(one_sided) == bits(0.2333333333333333)
    assert bits(compute_lr(config, 2)) == bits(0.23333333333333334)


def test_cosine_angle_is_pi_times_t_over_n() -> None:
    config = _c("cosine_decay", learning_rate=1.0, num_steps=11)
    regrouped = 0.5 * (1.0 + math.cos(math.pi * (5 / 11)))
    assert bits(regrouped) == bits(0.5711574191366426)
    assert bits(reference_lr(namespace(config), 5)) == bits(0.5711574191366425)
    assert bits(compute_lr(config, 5)) == bits(0.5711574191366425)
    assert bits(compute_lr(config, np.array([5.0]))[0]) == bits(0.5711574191366425)


def test_warmup_is_slope_times_t() -> None:
    body = {"learning_rate": 0.1, "num_warmup_steps": 5, "num_stable_steps": 0}
    config = _c("warmup_stable_decay", **body, num_decay_steps=1)
    assert bits(0.1 * 3 / 5) == bits(0.06000000000000001)
    assert bits(reference_lr(namespace(config), 3)) == bits(0.06)  # (L / W) * t
    assert bits(compute_lr(config, 3)) == bits(0.06)


def test_cyclic_position_is_an_exact_integer() -> None:
    """The integer position gives 1.0 (torch's CyclicLR, in floats, 0.9999999999999998)."""
    config = _c(
        "cyclic", learning_rate=0.1, max_learning_rate=1.0, step_size_up=3, step_size_down=2
    )
    assert bits(reference_lr(namespace(config), 3)) == bits(1.0)
    assert bits(compute_lr(config, 3)) == bits(1.0)


def test_float_position_is_pythons_below_2_53() -> None:
    """`offset` is Python's `s - start` wherever that is exact: every float step < 2**53."""
    rng = np.random.default_rng(7)
    for _ in range(2000):
        start = int(rng.integers(0, 2**53))
        step = float(start) + float(rng.choice([0.0, 0.25, 0.5, 1e-9, 3.0, 1e6]))
        if step >= 2**53 or math.floor(step) < start:
            continue
        assert bits(offset(step, start)) == bits(step - start)


def test_float_position_above_2_53_stays_in_its_cycle() -> None:
    """Above 2**53 Python's `s - start` rounds the start first; the position must not.

    At this float step (just below 2**63), in cycles of 740 steps, Python's
    `s - c * 740` is 1024.0: past the cycle's end, where the triangle's down slope is
    negative (an lr of -3.8e-4). The exact position, 684, is on the down slope.
    """
    config = _c(
        "cyclic", learning_rate=0.0, max_learning_rate=1e-3, step_size_up=1, step_size_down=739
    )
    step = 9.223372036854775e18
    start = (math.floor(step) // 740) * 740
    assert step - start == 1024.0  # Python's float-minus-int rounds start to a float
    assert 0.0 + 1e-3 * ((740 - 1024.0) / 739) * 1.0 < 0.0
    assert offset(step, start) == 684.0 == math.floor(step) - start
    value = reference_lr(namespace(config), step)
    assert bits(value) == bits(0.0 + 1e-3 * ((740 - 684.0) / 739) * 1.0)
    assert bits(compute_lr(config, step)) == bits(value)
    assert bits(compute_lr(config, np.array([step]))[0]) == bits(value)


# ---------------------------------------------------------------------------
# Every example at every edge step, on every path.


@pytest.mark.parametrize("config", EXAMPLE_PARAMS)
def test_examples_scalar(config: Config) -> None:
    schedule = Schedule(config)

    def direct(step: Any) -> Any:
        return compute_lr(config, step)

    for step in edge_steps(config):
        expected = expected_at(config, step)
        numpy_step = np.int64(step) if isinstance(step, int) else np.float64(step)
        for call, arg in ((direct, step), (schedule, step), (direct, numpy_step)):
            if expected is None:
                with pytest.raises(ValueError, match=STEP_REFUSED):
                    call(arg)
            else:
                got = call(arg)
                assert type(got) is float, (step, type(got))
                assert bits(got) == bits(expected), step


@pytest.mark.parametrize("config", EXAMPLE_PARAMS)
def test_examples_arrays(config: Config) -> None:
    edges = edge_steps(config)
    ints = np.array([s for s in edges if isinstance(s, int)], dtype=np.int64)
    floats_ok, refused = split_steps(config, [s for s in edges if isinstance(s, float)])
    floats = np.array(floats_ok, dtype=np.float64)
    # Neighbours without cycles: a cycle kind would refuse the whole call at 2**63.
    neighbours = [{"constant": 0.5}, EXAMPLES["cosine_decay"][1]]
    schedules = Schedules([neighbours[0], config, neighbours[1]])
    for steps in (ints, floats, ints.astype(np.uint64)):
        expected = expected_array(config, steps)
        assert_same_bits(compute_lr(config, steps), expected)
        assert_same_bits(Schedule(config)(steps), expected)
        assert_same_bits(schedules(steps)[1], expected)
        assert_same_bits(compute_lr(config, steps.tolist()), expected)
        order = np.argsort(steps, kind="stable")  # sorted: a whole run's array
        assert_same_bits(compute_lr(config, steps[order]), expected[order])
        out = np.full(steps.shape, -1.0)
        compute_lr(config, steps, out=out)
        assert_same_bits(out, expected)
        got32 = compute_lr(config, steps, dtype=np.float32)
        with np.errstate(over="ignore"):  # rates above the float32 range round to inf
            np.testing.assert_array_equal(
                got32.view(np.uint32), expected.astype(np.float32).view(np.uint32)
            )
    for step in refused:
        with pytest.raises(ValueError, match=STEP_REFUSED):
            compute_lr(config, np.array([0.0, step]))
        with pytest.raises(ValueError, match=STEP_REFUSED):
            compute_lr(config, np.array([0.0, step]), dtype=np.float32)
        with pytest.raises(ValueError, match=STEP_REFUSED):
            schedules(np.array([step]))
        late = np.arange(5000, dtype=np.float64)  # past the first blocks and runs
        late[4321] = step
        for dtype in (np.float64, np.float32):
            with pytest.raises(ValueError, match=r"steps\[4321\]"):
                compute_lr(config, late, dtype=dtype)


@pytest.mark.parametrize("config", EXAMPLE_PARAMS)
def test_examples_long_arrays(config: Config) -> None:
    """Steps by the thousand: the batch forms' blocks, runs and threads, and one step alone.

    Every step from 0 past the last edge below 10**5 (a run through each phase, split
    into blocks and between threads), the same steps as floats, and each step alone
    (the one-step path of many schedules), each equal to the oracle at that step.
    """
    edges = [s for s in edge_steps(config) if isinstance(s, int) and s < 10**5]
    ints = np.arange(max(edges, default=0) + 3000, dtype=np.int64)
    expected = expected_array(config, ints)
    assert_same_bits(Schedule(config)(ints), expected)
    floats = ints.astype(np.float64)  # exact; the formula may still round differently
    expected_floats = expected_array(config, floats)
    assert_same_bits(Schedule(config)(floats), expected_floats)
    # Out of order here and there: runs inside a cycle, phase or stage end anywhere.
    shuffled = ints.copy()
    rng = np.random.default_rng(len(ints))
    for a, b in rng.integers(0, len(ints), (len(ints) // 300 + 1, 2)):
        shuffled[[a, b]] = shuffled[[b, a]]
    assert_same_bits(Schedule(config)(shuffled), expected[shuffled])
    assert_same_bits(Schedule(config)(floats[shuffled]), expected_floats[shuffled])
    picks = ints[:: max(1, len(ints) // 97)]
    group = Schedules([config] * len(picks))
    one_step = [group(int(s))[0] for s in picks]
    assert_same_bits(np.array(one_step, dtype=np.float64), expected[picks])


def _floated(value: Any, key: str = "") -> Any:
    """The config with every integer field written as an integral float (YAML 10.0)."""
    int_fields = {name for f in FIELDS.values() for name, kind, _ in f if kind in ("int", "ints")}
    int_fields.add("num_steps")
    if isinstance(value, dict):
        return {k: _floated(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_floated(v, key) for v in value]
    if key in int_fields and isinstance(value, int) and not isinstance(value, bool):
        return float(value) if value <= 2**53 else value
    return value


@pytest.mark.parametrize("config", EXAMPLE_PARAMS)
def test_examples_config_forms(config: Config) -> None:
    """dict, LearningRate (both ways), attributes, integral floats and a Schedule agree."""
    edges = edge_steps(config)
    steps = np.array(split_steps(config, [float(s) for s in edges])[0], dtype=np.float64)
    ints = np.array([s for s in edges if isinstance(s, int)], dtype=np.int64)
    forms = [
        config,
        _floated(config),
        LearningRate.model_validate(copy.deepcopy(config)),
        LearningRate(**copy.deepcopy(config)),
        namespace(config),  # attribute objects, every field set (as pydantic v1 models)
        Schedule(config),
        Schedule(config).config,
    ]
    for steps_of_a_kind in (steps, ints):
        expected = expected_array(config, steps_of_a_kind)
        for form in forms:
            assert_same_bits(compute_lr(form, steps_of_a_kind), expected)
    # The model's own fields, read back by the oracle, give the same values too.
    model = LearningRate.model_validate(copy.deepcopy(config))
    assert_same_bits(expected_array(model, ints), expected_array(config, ints))


@pytest.mark.parametrize("config", NEW_EXAMPLE_PARAMS)
def test_kind_is_reported(config: Config) -> None:
    kind = kind_of(config)
    assert Schedule(config).kind == kind
    assert Schedules([config, {"constant": 1.0}]).kinds == (kind, "constant")


BIG_STEPS = [2**53 - 1, 2**53, 2**53 + 1, 2**53 + 3, 2**62 + 1, 2**63 - 2**10 - 1, INT64_MAX]


@pytest.mark.parametrize("config", EXAMPLE_PARAMS)
def test_big_integer_steps(config: Config) -> None:
    expected = np.array([expected_at(config, s) for s in BIG_STEPS], dtype=np.float64)
    for dtype in (np.int64, np.uint64):
        assert_same_bits(compute_lr(config, np.array(BIG_STEPS, dtype=dtype)), expected)
    assert [bits(compute_lr(config, s)) for s in BIG_STEPS] == [bits(e) for e in expected]


# ---------------------------------------------------------------------------
# Float steps at 2**63: no cycle for cosine_restarts and cyclic, anywhere.

HUGE_FLOATS = [float(2**63), 2.0**64, 1e300, 1.7976931348623157e308]
# Cycle starts here are multiples of 1024, floats all the way to 2**63, so the float
# position of a step is exact however it is computed (see the test above for others).
CYCLIC = _c(
    "cyclic", learning_rate=0.1, max_learning_rate=1.0, step_size_up=512, step_size_down=512
)
RESTARTS = _c("cosine_restarts", learning_rate=1.0, num_steps=1024, period_multiplier=2)
RESTARTS_FINITE = _c("cosine_restarts", learning_rate=1.0, num_steps=1024, num_cycles=3)


@pytest.mark.parametrize("config", [CYCLIC, RESTARTS, RESTARTS_FINITE], ids=kind_of)
@pytest.mark.parametrize("step", HUGE_FLOATS, ids=repr)
def test_cycle_kinds_refuse_float_steps_from_2_63(config: Config, step: float) -> None:
    assert expected_at(config, step) is None
    for call in (
        lambda: compute_lr(config, step),
        lambda: compute_lr(config, np.float64(step)),
        lambda: compute_lr(config, np.array([1.0, step])),
        lambda: Schedule(config)(step),
        lambda: Schedules([{"constant": 1.0}, config])(np.array([step])),
    ):
        with pytest.raises(ValueError, match=STEP_REFUSED):
            call()
    # The largest float below 2**63 has a cycle.
    assert bits(compute_lr(config, BELOW_2_63)) == bits(expected_at(config, BELOW_2_63))


def test_other_kinds_take_huge_float_steps() -> None:
    for kind in NEW_KINDS:
        if kind in ("cyclic", "cosine_restarts", "sequence"):
            continue
        config = EXAMPLES[kind][0]
        steps = np.array(HUGE_FLOATS)
        assert_same_bits(compute_lr(config, steps), expected_array(config, steps))


def test_sequence_checks_the_local_step() -> None:
    """Inside a sequence, the cycle kind sees `s - S_k`: below 2**63 it has a cycle."""
    config = {
        "sequence": [
            {"num_steps": 2**53, "schedule": {"constant": 0.5}},
            {"num_steps": 2**53, "schedule": {"constant": 0.25}},
            {"schedule": CYCLIC},
        ]
    }
    inside = float(2**63)  # local step 2**63 - 2**54, exact
    outside = float(2**63 + 2**54)  # local step 2**63
    assert expected_at(config, inside) is not None
    assert bits(compute_lr(config, inside)) == bits(expected_at(config, inside))
    assert expected_at(config, outside) is None
    with pytest.raises(ValueError, match=STEP_REFUSED):
        compute_lr(config, outside)
    # A cycle in a finite stage never sees the huge step at all.
    finite = EXAMPLES["sequence"][5]
    assert bits(compute_lr(finite, 1e300)) == bits(expected_at(finite, 1e300))


# ---------------------------------------------------------------------------
# Hypothesis, once per kind


@PER_KIND
@pytest.mark.parametrize("kind", KINDS)
@given(data=st.data())
def test_random_scalar_parity(kind: str, data: st.DataObject) -> None:
    config = data.draw(KIND_STRATEGIES[kind], label="config")
    step = data.draw(steps_for(config), label="step")
    expected = expected_at(config, step)
    if expected is None:
        with pytest.raises(ValueError, match=STEP_REFUSED):
            compute_lr(config, step)
        return
    assert bits(compute_lr(config, step)) == bits(expected)
    assert bits(Schedule(config)(step)) == bits(expected)
    assert bits(Schedules({"x": {"constant": 1.0}, "y": config})(step)[1]) == bits(expected)


@PER_KIND
@pytest.mark.parametrize("kind", KINDS)
@given(data=st.data())
def test_random_array_parity(kind: str, data: st.DataObject) -> None:
    config, steps = data.draw(config_and_steps(source=KIND_STRATEGIES[kind]), label="case")
    ok, refused = split_steps(config, steps)
    is_int = all(isinstance(s, int) for s in steps)
    arr = np.array(ok, dtype=np.int64 if is_int else np.float64)
    expected = expected_array(config, arr)
    assert_same_bits(compute_lr(config, arr), expected)
    assert_same_bits(Schedule(config)(arr), expected)
    assert_same_bits(compute_lr(LearningRate.model_validate(copy.deepcopy(config)), arr), expected)
    rows = Schedules([config, {"constant": 0.5}, config])(arr)
    assert_same_bits(rows[0], expected)
    assert_same_bits(rows[2], expected)
    order = np.argsort(arr, kind="stable")
    assert_same_bits(compute_lr(config, arr[order]), expected[order])
    got32 = compute_lr(config, arr, dtype=np.float32)
    with np.errstate(over="ignore"):
        expected32 = expected.astype(np.float32)
    np.testing.assert_array_equal(got32.view(np.uint32), expected32.view(np.uint32))
    scalars = [compute_lr(config, s) for s in arr.tolist()]
    assert_same_bits(np.array(scalars, dtype=np.float64), expected)
    if refused:
        with pytest.raises(ValueError, match=STEP_REFUSED):
            compute_lr(config, np.array([*ok, refused[0]], dtype=np.float64))


@given(
    group=st.lists(configs, min_size=1, max_size=5),
    steps=st.lists(st.integers(0, 10**6) | st.integers(0, INT64_MAX), min_size=1, max_size=20),
    shape=st.sampled_from([None, (2, -1)]),
)
def test_random_schedules_of_mixed_kinds(
    group: list[Config], steps: list[int], shape: tuple[int, int] | None
) -> None:
    arr = np.array(steps, dtype=np.int64)
    if shape is not None and arr.size % 2 == 0:
        arr = arr.reshape(shape)
    rows = Schedules(group)(arr)
    assert rows.shape == (len(group), *arr.shape)
    for row, config in zip(rows, group, strict=True):
        assert_same_bits(row, expected_array(config, arr))
    one = Schedules(group)(int(arr.ravel()[0]))
    assert [bits(v) for v in one] == [bits(expected_at(c, int(arr.ravel()[0]))) for c in group]


@given(config=configs, data=st.data())
def test_random_multidim_float_steps(config: Config, data: st.DataObject) -> None:
    raw = data.draw(st.lists(steps_for(config), min_size=6, max_size=6), label="steps")
    floats = [float(s) for s in raw]
    ok = [s if expected_at(config, s) is not None else 0.5 for s in floats]
    arr = np.array(ok, dtype=np.float64).reshape(2, 3)
    expected = expected_array(config, arr)
    assert_same_bits(compute_lr(config, arr), expected)
    assert_same_bits(compute_lr(config, arr.T), expected.T)  # non-contiguous steps
    assert_same_bits(Schedules([config, config])(arr)[1], expected)
