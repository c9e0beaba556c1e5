"""Bit-for-bit parity with the original tml `compute_lr` (the original four kinds).

Expected values come from `tests/oracle.py` (a plain-Python transcription of the
original) or, for a few anchors, from literals computed by hand. Every comparison
is on bit patterns (`float.hex`, or uint64 views of float64 arrays), never approx.
"""

from __future__ import annotations

import math
import numbers
import warnings
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.oracle import assert_same_bits, bits, namespace, reference_array, reference_lr
from tests.strategies import INT64_MAX, config_and_steps, edge_steps, steps_for
from tests.strategies import original_configs as configs
from tml.optimizers import LearningRate, Schedule, Schedules, compute_lr, set_num_threads

RAMP = {"linear_ramp_to_constant": {"learning_rate": 0.1, "num_ramp_steps": 10}}
PIECEWISE = {
    "piecewise_constant": {
        "learning_rate_boundaries": [10, 20],
        "learning_rate_values": [1.0, 0.5, 0.25],
    }
}
COSINE = {
    "linear_ramp_to_cosine": {
        "learning_rate": 1.0,
        "final_learning_rate": 0.0,
        "num_ramp_steps": 10,
        "final_num_steps": 20,
    }
}
COSINE_UP = {  # final_learning_rate > learning_rate: the "decay" goes up
    "linear_ramp_to_cosine": {
        "learning_rate": 0.0,
        "final_learning_rate": 1.0,
        "num_ramp_steps": 10,
        "final_num_steps": 20,
    }
}

# A spread of fixed configs: every kind, realistic and extreme values.
FIXED_CONFIGS: list[dict[str, Any]] = [
    {"constant": 0.25},
    {"constant": 0.0},
    {"constant": 1e-300},
    RAMP,
    PIECEWISE,
    COSINE,
    COSINE_UP,
    {"linear_ramp_to_constant": {"learning_rate": 3e-4, "num_ramp_steps": 1}},
    {"linear_ramp_to_constant": {"learning_rate": 0.0, "num_ramp_steps": 7}},
    {"linear_ramp_to_constant": {"learning_rate": 1e308, "num_ramp_steps": 3}},
    {"linear_ramp_to_constant": {"learning_rate": 0.1, "num_ramp_steps": 2**53}},
    {"piecewise_constant": {"learning_rate_boundaries": [], "learning_rate_values": [0.7]}},
    {
        "piecewise_constant": {
            "learning_rate_boundaries": [-5, 0, 1, 2**53],
            "learning_rate_values": [9.0, 8.0, 7.0, 6.0, 5.0],
        }
    },
    {
        "linear_ramp_to_cosine": {
            "learning_rate": 1e-3,
            "final_learning_rate": 1e-5,
            "num_ramp_steps": 1000,
            "final_num_steps": 100_000,
        }
    },
    {
        "linear_ramp_to_cosine": {
            "learning_rate": 0.1,
            "final_learning_rate": 0.1,
            "num_ramp_steps": 1,
            "final_num_steps": 2,
        }
    },
    {
        "linear_ramp_to_cosine": {
            "learning_rate": 0.3,
            "final_learning_rate": 0.001,
            "num_ramp_steps": 2**53 - 7,
            "final_num_steps": 2**53,
        }
    },
    {
        "linear_ramp_to_cosine": {
            "learning_rate": 0.3,
            "final_learning_rate": 0.001,
            "num_ramp_steps": 3,
            "final_num_steps": 2**53,
        }
    },
]


def _ids(configs: list[dict[str, Any]]) -> list[str]:
    return [f"{i}-{next(iter(c))}" for i, c in enumerate(configs)]


# ---------------------------------------------------------------------------
# Anchors: hand-computed literals, checked against the oracle and the kernel alike.

ANCHORS = [
    (RAMP, 0, 0.0),
    (RAMP, 5, 0.05),
    (RAMP, 10, 0.1),
    (RAMP, 10**9, 0.1),
    (PIECEWISE, 0, 1.0),
    (PIECEWISE, 9, 1.0),
    (PIECEWISE, 9.999, 1.0),
    (PIECEWISE, 10, 0.5),  # bisect right: at a boundary the next value already holds
    (PIECEWISE, 19.5, 0.5),
    (PIECEWISE, 20, 0.25),
    (COSINE, 0, 0.0),
    (COSINE, 5, 0.5),
    (COSINE, 10, 1.0),
    (COSINE, 15, 0.5),
    (COSINE, 20, 0.0),
    (COSINE, 21, 0.0),
    (COSINE_UP, 10, 0.0),
    (COSINE_UP, 20, 1.0),
    ({"constant": 0.25}, 123, 0.25),
]


@pytest.mark.parametrize(("config", "step", "expected"), ANCHORS)
def test_anchor_values(config: dict[str, Any], step: float, expected: float) -> None:
    assert bits(reference_lr(namespace(config), step)) == bits(expected)  # the oracle itself
    got = compute_lr(config, step)
    assert type(got) is float
    assert bits(got) == bits(expected)
    assert bits(compute_lr(config, np.array([step]))[0]) == bits(expected)


def test_oracle_rejects_a_wrong_formula() -> None:
    # The oracle must be sensitive to the order of operations it claims to follow:
    # pi * (s - R) / (T - R) is (pi * (s - R)) / (T - R); grouping the division first
    # gives a different float at step 8 of R=3, T=14 (found by search, kept literal).
    cfg = {
        "linear_ramp_to_cosine": {
            "learning_rate": 1.0,
            "final_learning_rate": 0.0,
            "num_ramp_steps": 3,
            "final_num_steps": 14,
        }
    }
    regrouped = 0.0 + (1.0 - 0.0) * 0.5 * (1.0 + math.cos(math.pi * ((8 - 3) / (14 - 3))))
    ours = reference_lr(namespace(cfg), 8)
    assert bits(ours) != bits(regrouped)
    assert bits(compute_lr(cfg, 8)) == bits(ours)
    assert bits(compute_lr(cfg, np.array([8]))[0]) == bits(ours)
    assert bits(compute_lr(cfg, np.array([8.0]))[0]) == bits(ours)


# ---------------------------------------------------------------------------
# Every edge of fixed configs, on every path.


@pytest.mark.parametrize("config", FIXED_CONFIGS, ids=_ids(FIXED_CONFIGS))
def test_edges_scalar(config: dict[str, Any]) -> None:
    ns = namespace(config)
    schedule = Schedule(config)
    for step in edge_steps(config):
        expected = bits(reference_lr(ns, step))
        assert bits(compute_lr(config, step)) == expected, step
        assert bits(schedule(step)) == expected, step
        numpy_step = np.int64(step) if isinstance(step, int) and step <= INT64_MAX else None
        if numpy_step is not None:
            assert bits(compute_lr(config, numpy_step)) == expected, step


@pytest.mark.parametrize("config", FIXED_CONFIGS, ids=_ids(FIXED_CONFIGS))
def test_edges_arrays(config: dict[str, Any]) -> None:
    edges = edge_steps(config)
    ints = np.array([s for s in edges if isinstance(s, int)], dtype=np.int64)
    floats = np.array([s for s in edges if isinstance(s, float)], dtype=np.float64)
    others = [{"constant": 0.5}, RAMP]
    for steps in (ints, floats):
        expected = reference_array(config, steps)
        assert_same_bits(compute_lr(config, steps), expected)
        assert_same_bits(Schedule(config)(steps), expected)
        assert_same_bits(Schedules([others[0], config, others[1]])(steps)[1], expected)
        assert_same_bits(compute_lr(config, steps.tolist()), expected)


@pytest.mark.parametrize("config", FIXED_CONFIGS, ids=_ids(FIXED_CONFIGS))
def test_config_forms_agree(config: dict[str, Any]) -> None:
    """LearningRate, dict, SimpleNamespace and integral-float fields give the same bits."""
    steps = np.array(
        edge_steps(config)[:1] + [s for s in edge_steps(config) if isinstance(s, float)]
    )
    expected = reference_array(config, steps)
    body_key = next(iter(config))
    body = config[body_key]
    floated = {
        body_key: (
            {k: (float(v) if k.endswith("_steps") else v) for k, v in body.items()}
            if isinstance(body, dict)
            else body
        )
    }
    forms = [config, floated, LearningRate.model_validate(config), namespace(config)]
    for form in forms:
        assert_same_bits(compute_lr(form, steps), expected)
        assert [bits(compute_lr(form, s)) for s in steps.tolist()] == [bits(e) for e in expected]


# ---------------------------------------------------------------------------
# Hypothesis: random configs and steps.


@given(data=st.data(), config=configs)
def test_random_scalar_parity(data: st.DataObject, config: dict[str, Any]) -> None:
    step = data.draw(steps_for(config), label="step")
    expected = bits(reference_lr(namespace(config), step))
    assert bits(compute_lr(config, step)) == expected
    assert bits(Schedule(config)(step)) == expected
    assert bits(Schedules({"x": {"constant": 1.0}, "y": config})(step)[1]) == expected


@given(case=config_and_steps())
@example(case=(RAMP, [0, 5, 10, 2**53 + 1, INT64_MAX]))
@example(case=(COSINE, [9.5, 10 - 1e-9, 10.0, 20.0, 20 + 1e-9]))
def test_random_array_parity(case: tuple[dict[str, Any], list[Any]]) -> None:
    config, steps = case
    is_int = all(isinstance(s, int) for s in steps) and steps
    arr = np.array(steps, dtype=np.int64 if is_int else np.float64)
    expected = reference_array(config, arr)
    assert_same_bits(compute_lr(config, arr), expected)
    assert_same_bits(Schedule(config)(arr), expected)
    assert_same_bits(compute_lr(LearningRate.model_validate(config), arr), expected)
    rows = Schedules([config, {"constant": 0.5}, config])(arr)
    assert_same_bits(rows[0], expected)
    assert_same_bits(rows[2], expected)
    # Into a caller's out (contiguous and strided), and rounded once to float32.
    out = np.full(arr.shape, -1.0)
    assert_same_bits(compute_lr(config, arr, out=out), expected)
    strided = np.full((2, *arr.shape), -1.0)[:, ::-1][1]
    assert_same_bits(np.ascontiguousarray(compute_lr(config, arr, out=strided)), expected)
    # Sorted steps (the usual whole-run array) take the kernel's incremental path.
    order = np.argsort(arr, kind="stable")
    assert_same_bits(compute_lr(config, arr[order]), expected[order])
    got32 = compute_lr(config, arr, dtype=np.float32)
    with np.errstate(over="ignore"):  # rates above the float32 range round to inf
        expected32 = expected.astype(np.float32)
    np.testing.assert_array_equal(got32.view(np.uint32), expected32.view(np.uint32))
    # Scalars one at a time: Python and numpy scalars.
    scalars = [compute_lr(config, s) for s in arr.tolist()]
    assert all(type(v) is float for v in scalars)
    assert_same_bits(np.array(scalars, dtype=np.float64), expected)
    assert_same_bits(np.array([compute_lr(config, s) for s in arr], dtype=np.float64), expected)


@given(config=configs, shape=st.sampled_from([(3, 4), (2, 3, 2), (1, 5, 1)]), data=st.data())
def test_random_multidim_parity(
    config: dict[str, Any], shape: tuple[int, ...], data: st.DataObject
) -> None:
    size = math.prod(shape)
    steps = data.draw(st.lists(steps_for(config), min_size=size, max_size=size), label="steps")
    arr = np.array([float(s) for s in steps], dtype=np.float64).reshape(shape)
    expected = reference_array(config, arr)
    assert_same_bits(compute_lr(config, arr), expected)
    assert_same_bits(compute_lr(config, arr.T), expected.T)  # non-contiguous steps
    assert_same_bits(Schedules([config, config])(arr)[1], expected)


# ---------------------------------------------------------------------------
# Integer steps as every numpy integer dtype, float steps as every float dtype.

INT_DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]
FLOAT_DTYPES = [np.float16, np.float32, np.float64]

# Boundaries chosen to sit at the edges of the small dtypes.
DTYPE_CONFIGS: list[dict[str, Any]] = [
    {
        "piecewise_constant": {
            "learning_rate_boundaries": [1, 127, 128, 255, 256, 32767, 65504, 2**31],
            "learning_rate_values": [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1],
        }
    },
    {"linear_ramp_to_constant": {"learning_rate": 0.1, "num_ramp_steps": 255}},
    {
        "linear_ramp_to_cosine": {
            "learning_rate": 0.3,
            "final_learning_rate": 0.01,
            "num_ramp_steps": 100,
            "final_num_steps": 30000,
        }
    },
    {
        "linear_ramp_to_cosine": {
            "learning_rate": 0.3,
            "final_learning_rate": 0.01,
            "num_ramp_steps": 127,
            "final_num_steps": 2**32,
        }
    },
]


def _candidates(config: dict[str, Any]) -> list[float]:
    values: list[float] = [0, 1, 2, 3, 100.5, 2**53, 2**63 - 1, 2**64 - 1]
    for s in edge_steps(config):
        values.append(s)
    return [float(v) for v in values]


@pytest.mark.parametrize("dtype", INT_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("config", DTYPE_CONFIGS, ids=_ids(DTYPE_CONFIGS))
def test_integer_dtypes(config: dict[str, Any], dtype: Any) -> None:
    info = np.iinfo(dtype)
    hi = min(int(info.max), INT64_MAX)
    ints = sorted({int(v) for v in _candidates(config) if v.is_integer() and 0 <= v <= hi} | {hi})
    arr = np.array(ints, dtype=dtype)
    expected = reference_array(config, arr)  # tolist() gives Python ints: exact
    assert_same_bits(compute_lr(config, arr), expected)
    assert_same_bits(Schedule(config)(arr), expected)
    assert_same_bits(Schedules([config])(arr)[0], expected)
    assert_same_bits(compute_lr(config, arr.reshape(-1, 1)), expected.reshape(-1, 1))
    assert [bits(compute_lr(config, s)) for s in arr] == [bits(e) for e in expected]


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("config", DTYPE_CONFIGS, ids=_ids(DTYPE_CONFIGS))
def test_float_dtypes(config: dict[str, Any], dtype: Any) -> None:
    with np.errstate(over="ignore"):
        held = np.array(_candidates(config), dtype=dtype)
    arr = held[np.isfinite(held)]
    expected = reference_array(config, arr)  # the value each element holds, as a Python float
    assert_same_bits(compute_lr(config, arr), expected)
    assert_same_bits(Schedule(config)(arr), expected)
    assert_same_bits(Schedules([config])(arr)[0], expected)
    assert [bits(compute_lr(config, s)) for s in arr] == [bits(e) for e in expected]


def test_float16_rounding_is_the_callers() -> None:
    # 2049 is not a float16: the array holds 2048, and the kernel sees 2048, not 2049.
    config = {
        "piecewise_constant": {
            "learning_rate_boundaries": [2049],
            "learning_rate_values": [1.0, 2.0],
        }
    }
    arr = np.array([2049], dtype=np.float16)
    assert float(arr[0]) == 2048.0
    assert compute_lr(config, arr).tolist() == [1.0]


# ---------------------------------------------------------------------------
# Large integer steps: Python ints in the oracle, int64/uint64 in the kernel.

BIG_STEPS = [2**53 - 1, 2**53, 2**53 + 1, 2**53 + 3, 2**62 + 1, 2**63 - 2**10 - 1, 2**63 - 1]


@pytest.mark.parametrize("config", FIXED_CONFIGS, ids=_ids(FIXED_CONFIGS))
def test_big_integer_steps(config: dict[str, Any]) -> None:
    ns = namespace(config)
    expected = np.array([reference_lr(ns, s) for s in BIG_STEPS], dtype=np.float64)
    for dtype in (np.int64, np.uint64):
        assert_same_bits(compute_lr(config, np.array(BIG_STEPS, dtype=dtype)), expected)
    assert_same_bits(compute_lr(config, BIG_STEPS), expected)
    assert [bits(compute_lr(config, s)) for s in BIG_STEPS] == [bits(e) for e in expected]


def test_big_integer_step_rounds_like_python() -> None:
    # slope * step converts the int to the nearest float (ties to even), as Python does.
    config = {"linear_ramp_to_constant": {"learning_rate": 1e300, "num_ramp_steps": 2**53}}
    slope = 1e300 / 2**53
    for step in (2**53 + 1, 2**53 + 3, 2**63 - 1):
        assert bits(compute_lr(config, step)) == bits(min(1e300, slope * step))
        assert bits(compute_lr(config, np.array([step]))[0]) == bits(min(1e300, slope * step))


# ---------------------------------------------------------------------------
# Large arrays: the threaded path must give the same bits as the oracle.


@pytest.fixture
def four_threads() -> Any:
    # More threads than this machine's cores, so the array really is split in slices.
    set_num_threads(4)
    yield
    set_num_threads(0)


@pytest.mark.usefixtures("four_threads")
def test_large_arrays_threaded() -> None:
    config = FIXED_CONFIGS[13]  # ramp to 1000, cosine to 100_000
    ints = np.arange(0, 300_000, 3, dtype=np.int64)
    floats = ints.astype(np.float64) + 0.25
    for steps in (ints, floats):
        expected = reference_array(config, steps)
        assert_same_bits(compute_lr(config, steps), expected)
    pieces = [PIECEWISE, {"constant": 0.5}, config]
    rows = Schedules(pieces)(ints)
    for row, cfg in zip(rows, pieces, strict=True):
        assert_same_bits(row, reference_array(cfg, ints))


# ---------------------------------------------------------------------------
# Configs read by attribute: a pydantic-v1-style object and a plain namespace.


class _V1Style:
    """Mimics a pydantic v1 model: attributes plus `dict()`/`json()` methods, no mapping."""

    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)
        self.__fields_set__ = set(fields)

    def dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def test_v1_style_and_namespace_configs() -> None:
    cosine = _V1Style(
        learning_rate=1e-3, final_learning_rate=1e-5, num_ramp_steps=1000, final_num_steps=100_000
    )
    v1 = _V1Style(
        constant=None,
        piecewise_constant=None,
        linear_ramp_to_constant=None,
        linear_ramp_to_cosine=cosine,
    )
    ns = SimpleNamespace(
        constant=None,
        piecewise_constant=None,
        linear_ramp_to_constant=None,
        linear_ramp_to_cosine=SimpleNamespace(**vars(cosine)),
    )
    steps = np.array([0, 1, 999, 1000, 1001, 50_000, 99_999, 100_000, 100_001], dtype=np.int64)
    expected = reference_array(FIXED_CONFIGS[13], steps)
    for cfg in (v1, ns):
        assert_same_bits(compute_lr(cfg, steps), expected)
        assert [bits(compute_lr(cfg, s)) for s in steps.tolist()] == [bits(e) for e in expected]
        # The original code itself runs on these objects and agrees.
        assert [bits(reference_lr(cfg, s)) for s in steps.tolist()] == [bits(e) for e in expected]


def test_real_pydantic_v1_models() -> None:
    """Configs built by the original code were pydantic v1 models; they are read by attribute."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydantic.v1 may warn on newer Pythons
        pytest.importorskip("pydantic.v1")
        from pydantic import v1

    class Cosine(v1.BaseModel):
        learning_rate: float
        final_learning_rate: float
        num_ramp_steps: v1.PositiveInt
        final_num_steps: v1.PositiveInt

    class Piecewise(v1.BaseModel):
        learning_rate_boundaries: list[int] = v1.Field(None)
        learning_rate_values: list[float] = v1.Field(None)

    class Rate(v1.BaseModel):
        constant: float = v1.Field(None, one_of="lr")
        linear_ramp_to_cosine: Cosine = v1.Field(None, one_of="lr")
        linear_ramp_to_constant: dict = v1.Field(None, one_of="lr")  # type: ignore[type-arg]
        piecewise_constant: Piecewise = v1.Field(None, one_of="lr")

    # Annotations are strings here (postponed evaluation); resolve them for pydantic v1.
    for v1_model in (Cosine, Piecewise, Rate):
        v1_model.update_forward_refs(v1=v1, Cosine=Cosine, Piecewise=Piecewise)

    cosine = Rate(linear_ramp_to_cosine=FIXED_CONFIGS[13]["linear_ramp_to_cosine"])
    piecewise = Rate(
        piecewise_constant={
            "learning_rate_boundaries": [10.0, 20],
            "learning_rate_values": [1, 0.5, 0.25],
        }
    )
    steps = np.array([0, 5, 999, 1000, 1001, 10, 19, 20, 50_000, 100_000, 100_001])
    for model, config in ((cosine, FIXED_CONFIGS[13]), (piecewise, PIECEWISE)):
        expected = reference_array(config, steps)
        assert_same_bits(compute_lr(model, steps), expected)
        assert [bits(compute_lr(model, s)) for s in steps.tolist()] == [bits(e) for e in expected]
        assert_same_bits(Schedules([model])(steps)[0], expected)


def test_config_read_that_calls_compute_lr() -> None:
    """A config attribute computed by another compute_lr call must not leak its schedule."""

    class Derived:
        piecewise_constant = None
        linear_ramp_to_constant = None
        linear_ramp_to_cosine = None

        @property
        def constant(self) -> float:
            return compute_lr({"constant": 0.5}, 0) * 2  # 1.0

    assert reference_lr(Derived(), 3) == 1.0
    assert bits(compute_lr(Derived(), 3)) == bits(1.0)


class _NestedRate:
    """A number whose float value is itself computed by compute_lr (1.0)."""

    def __float__(self) -> float:
        inner = {
            "piecewise_constant": {
                "learning_rate_boundaries": [1, 2, 3],
                "learning_rate_values": [9.0, 8.0, 7.0, 6.0],
            }
        }
        return compute_lr(inner, 0) / 9.0


numbers.Real.register(_NestedRate)


def test_piecewise_value_computed_by_compute_lr() -> None:
    config = {
        "piecewise_constant": {
            "learning_rate_boundaries": [10],
            "learning_rate_values": [_NestedRate(), 2.0],
        }
    }
    ns = namespace(config)
    steps = [0, 9, 10, 15]
    expected = [bits(reference_lr(ns, s)) for s in steps]
    assert expected == [bits(1.0), bits(1.0), bits(2.0), bits(2.0)]
    assert [bits(v) for v in Schedule(config)(steps)] == expected
    assert [bits(compute_lr(config, s)) for s in steps] == expected
