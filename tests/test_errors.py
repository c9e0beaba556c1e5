"""Bad input: refused with the right type and a message naming it.

Every bad config is refused by the pydantic `LearningRate` model (a ValidationError,
which is a ValueError) and by `compute_lr` / `Schedule` / `Schedules` given a raw
dict, and the message names the field and the bad value. Bad steps name their
position and value. A refused call leaves `out` as it was.
"""

from __future__ import annotations

import copy
import re
from types import SimpleNamespace
from typing import Any

import numpy as np
import pydantic
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.oracle import KINDS, namespace
from tests.strategies import original_configs as configs
from tml.optimizers import LearningRate, Schedule, Schedules, compute_lr, set_num_threads

NAN, INF = float("nan"), float("inf")


def ramp(**body: Any) -> dict[str, Any]:
    return {"linear_ramp_to_constant": {"learning_rate": 0.1, "num_ramp_steps": 10, **body}}


def cosine(**body: Any) -> dict[str, Any]:
    fields = {
        "learning_rate": 0.1,
        "final_learning_rate": 0.01,
        "num_ramp_steps": 10,
        "final_num_steps": 100,
    }
    return {"linear_ramp_to_cosine": {**fields, **body}}


def piecewise(boundaries: list[Any], values: list[Any]) -> dict[str, Any]:
    return {
        "piecewise_constant": {
            "learning_rate_boundaries": boundaries,
            "learning_rate_values": values,
        }
    }


# (id, config, words the message must contain: the field and the value)
BAD_CONFIGS: list[tuple[str, dict[str, Any], list[str]]] = [
    ("no-kind", {}, ["constant", "piecewise_constant", "linear_ramp_to_cosine"]),
    ("all-null", dict.fromkeys(KINDS), ["constant", "piecewise_constant", "linear_ramp_to_cosine"]),
    ("two-kinds", {"constant": 0.1, **ramp()}, ["constant", "linear_ramp_to_constant"]),
    ("three-kinds", {"constant": 0.1, **ramp(), **cosine()}, ["linear_ramp_to_cosine"]),
    ("unknown-top", {"constant": 0.1, "warmup": 5}, ["warmup"]),
    ("unknown-inner", ramp(warmup_steps=5), ["warmup_steps"]),
    ("unknown-inner-cosine", cosine(decay="cos"), ["decay"]),
    (
        "unknown-inner-piecewise",
        {"piecewise_constant": {**piecewise([1], [1.0, 2.0])["piecewise_constant"], "boundary": 1}},
        ["boundary"],
    ),
    ("constant-negative", {"constant": -0.5}, ["constant", "-0.5"]),
    ("constant-nan", {"constant": NAN}, ["constant", "nan"]),
    ("constant-inf", {"constant": INF}, ["constant", "inf"]),
    ("ramp-lr-negative", ramp(learning_rate=-1e-3), ["learning_rate", "-0.001"]),
    ("ramp-lr-nan", ramp(learning_rate=NAN), ["learning_rate", "nan"]),
    ("ramp-lr-inf", ramp(learning_rate=INF), ["learning_rate", "inf"]),
    ("cosine-lr-negative", cosine(learning_rate=-2.5), ["learning_rate", "-2.5"]),
    ("cosine-lr-nan", cosine(learning_rate=NAN), ["learning_rate", "nan"]),
    ("cosine-lr-inf", cosine(learning_rate=-INF), ["learning_rate", "inf"]),
    ("cosine-final-negative", cosine(final_learning_rate=-0.25), ["final_learning_rate", "-0.25"]),
    ("cosine-final-nan", cosine(final_learning_rate=NAN), ["final_learning_rate", "nan"]),
    ("cosine-final-inf", cosine(final_learning_rate=INF), ["final_learning_rate", "inf"]),
    ("piecewise-value-negative", piecewise([5], [0.1, -0.75]), ["learning_rate_values", "-0.75"]),
    ("piecewise-value-nan", piecewise([5], [NAN, 0.1]), ["learning_rate_values", "nan"]),
    ("piecewise-value-inf", piecewise([5, 6], [0.1, 0.2, INF]), ["learning_rate_values", "inf"]),
    ("ramp-steps-zero", ramp(num_ramp_steps=0), ["num_ramp_steps", "0"]),
    ("ramp-steps-negative", ramp(num_ramp_steps=-3), ["num_ramp_steps", "-3"]),
    ("ramp-steps-fraction", ramp(num_ramp_steps=10.5), ["num_ramp_steps", "10.5"]),
    ("cosine-ramp-zero", cosine(num_ramp_steps=0), ["num_ramp_steps", "0"]),
    (
        "cosine-final-equal",
        cosine(num_ramp_steps=50, final_num_steps=50),
        ["final_num_steps", "50"],
    ),
    (
        "cosine-final-before",
        cosine(num_ramp_steps=50, final_num_steps=49),
        ["final_num_steps", "49"],
    ),
    ("cosine-final-fraction", cosine(final_num_steps=100.5), ["final_num_steps", "100.5"]),
    ("piecewise-empty", piecewise([], []), ["learning_rate_values"]),
    (
        "piecewise-too-few-values",
        piecewise([10, 20], [0.1, 0.2]),
        ["learning_rate_values", "learning_rate_boundaries"],
    ),
    (
        "piecewise-too-many-values",
        piecewise([10], [0.1, 0.2, 0.3]),
        ["learning_rate_values", "learning_rate_boundaries"],
    ),
    (
        "piecewise-equal-boundaries",
        piecewise([10, 10], [0.1, 0.2, 0.3]),
        ["learning_rate_boundaries", "10"],
    ),
    (
        "piecewise-decreasing",
        piecewise([20, 30, 25], [0.1, 0.2, 0.3, 0.4]),
        ["learning_rate_boundaries", "30", "25"],
    ),
    ("piecewise-fraction", piecewise([10.5], [0.1, 0.2]), ["learning_rate_boundaries", "10.5"]),
    ("ramp-missing-field", {"linear_ramp_to_constant": {"learning_rate": 0.1}}, ["num_ramp_steps"]),
]
BAD_IDS = [case[0] for case in BAD_CONFIGS]
BAD_PARAMS = [pytest.param(config, words, id=name) for name, config, words in BAD_CONFIGS]


def _assert_names(message: str, words: list[str]) -> None:
    for word in words:
        assert word.lower() in message.lower(), f"{word!r} not in message: {message}"


@pytest.mark.parametrize(("config", "words"), BAD_PARAMS)
def test_learning_rate_model_refuses(config: dict[str, Any], words: list[str]) -> None:
    with pytest.raises(pydantic.ValidationError) as info:
        LearningRate.model_validate(copy.deepcopy(config))
    assert isinstance(info.value, ValueError)
    _assert_names(str(info.value), words)


@pytest.mark.parametrize(("config", "words"), BAD_PARAMS)
def test_raw_dict_refused_everywhere(config: dict[str, Any], words: list[str]) -> None:
    calls = {
        "compute_lr-int": lambda c: compute_lr(c, 3),
        "compute_lr-float": lambda c: compute_lr(c, 3.5),
        "compute_lr-array": lambda c: compute_lr(c, np.arange(4)),
        "compute_lr-numpy-scalar": lambda c: compute_lr(c, np.int64(3)),
        "Schedule": Schedule,
        "Schedules-mapping": lambda c: Schedules({"tower": c}),
    }
    for name, call in calls.items():
        with pytest.raises(ValueError, match=f"(?i){re.escape(words[0])}") as info:
            call(copy.deepcopy(config))
        assert not isinstance(info.value, pydantic.ValidationError), name
        _assert_names(str(info.value), words)


ATTRIBUTE_CASES = [p for p in BAD_PARAMS if "unknown" not in p.id and "missing" not in p.id]


@pytest.mark.parametrize(("config", "words"), ATTRIBUTE_CASES)
def test_attribute_config_refused(config: dict[str, Any], words: list[str]) -> None:
    """The same configs as objects read by attribute (as the original tml models were)."""
    # Built by hand rather than with oracle.namespace, which coerces (10.5 is not an int).
    fields: dict[str, Any] = dict.fromkeys(KINDS)
    for kind, body in config.items():
        fields[kind] = SimpleNamespace(**body) if isinstance(body, dict) else body
    obj = SimpleNamespace(**fields)
    with pytest.raises(ValueError, match=f"(?i){re.escape(words[0])}") as info:
        compute_lr(obj, 3)
    _assert_names(str(info.value), words)
    with pytest.raises(ValueError, match=f"(?i){re.escape(words[0])}"):
        Schedule(obj)


BAD_RATES = st.one_of(
    st.floats(max_value=-1e-300, allow_nan=False),  # negative, including -inf
    st.just(NAN),
    st.just(INF),
)
BAD_COUNTS = st.one_of(st.integers(max_value=0), st.floats(0.01, 1e6).filter(lambda x: x != int(x)))


@given(config=configs, data=st.data())
def test_random_corruption_is_refused(config: dict[str, Any], data: st.DataObject) -> None:
    """Any valid config with one field made invalid is refused, naming that field."""
    config = copy.deepcopy(config)
    kind = next(k for k, v in config.items() if v is not None)
    if kind == "constant":
        config[kind] = data.draw(BAD_RATES)
        field = "constant"
    else:
        body = config[kind]
        names = [n for n in body if n != "learning_rate_boundaries" or body[n]]
        field = data.draw(st.sampled_from(names))
        if field == "learning_rate_values":
            i = data.draw(st.integers(0, len(body[field]) - 1))
            body[field][i] = data.draw(BAD_RATES)
        elif field == "learning_rate_boundaries":
            i = data.draw(st.integers(0, len(body[field]) - 1))
            body[field][i] = int(body[field][i]) % 1000 + 0.5  # not an integer (and exact)
        elif field in ("num_ramp_steps", "final_num_steps"):
            if field == "final_num_steps":
                body[field] = body["num_ramp_steps"] - data.draw(st.integers(0, 3))  # <= R
            else:
                body[field] = data.draw(BAD_COUNTS)
        else:
            body[field] = data.draw(BAD_RATES)
    with pytest.raises(pydantic.ValidationError, match=field):
        LearningRate.model_validate(copy.deepcopy(config))
    with pytest.raises(ValueError, match=field):
        compute_lr(config, 1)
    with pytest.raises(ValueError, match=field):
        Schedules({"g": config})


@pytest.mark.parametrize(
    "ten",
    [
        10.0,
        np.float64(10.0),
        np.int32(10),
        np.uint64(10),
        pytest.param(np.float32(10.0)),
    ],
    ids=repr,
)
def test_integral_counts_of_numpy_types(ten: Any) -> None:
    config = ramp(num_ramp_steps=ten)
    assert compute_lr(config, 5) == 0.05
    assert LearningRate.model_validate(config).linear_ramp_to_constant.num_ramp_steps == 10


def test_rate_too_large_for_a_float() -> None:
    with pytest.raises(ValueError, match="constant"):
        compute_lr({"constant": 10**400}, 1)


def test_integral_float_boundaries_are_integers() -> None:
    config = piecewise([10.0, 20.0], [0.3, 0.2, 0.1])
    assert LearningRate.model_validate(config).piecewise_constant.learning_rate_boundaries == [
        10,
        20,
    ]
    assert compute_lr(config, 9) == 0.3
    assert compute_lr(config, 10) == 0.2
    assert Schedule(config).config == piecewise([10, 20], [0.3, 0.2, 0.1])


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"constant": "fast"}, "constant"),
        (ramp(learning_rate="0.1x"), "learning_rate"),
        (ramp(num_ramp_steps="ten"), "num_ramp_steps"),
        (piecewise("10", [0.1, 0.2]), "learning_rate_boundaries"),
        ({"linear_ramp_to_constant": 0.1}, "linear_ramp_to_constant"),
    ],
)
def test_wrong_field_types(config: dict[str, Any], field: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=field):
        LearningRate.model_validate(config)
    with pytest.raises((TypeError, ValueError), match=field):
        compute_lr(config, 1)


@pytest.mark.parametrize("config", [None, 0.1, "constant", [0.1], SimpleNamespace(constant=0.1)])
def test_not_a_config(config: Any) -> None:
    with pytest.raises((TypeError, ValueError)):
        compute_lr(config, 1)
    with pytest.raises((TypeError, ValueError)):
        Schedule(config)


# ---------------------------------------------------------------------------
# Bad steps


@pytest.mark.parametrize(
    ("step", "shown"),
    [
        (-1, "-1"),
        (-0.5, "-0.5"),
        (NAN, "nan"),
        (INF, "inf"),
        (-INF, "-inf"),
        (np.int64(-7), "-7"),
        (np.int8(-7), "-7"),
        (np.float32(NAN), "nan"),
        (np.float16(-2), "-2.0"),
        (np.array(-3), "-3"),
        (np.array(NAN), "nan"),
    ],
)
def test_bad_scalar_step(step: Any, shown: str) -> None:
    # Named as the number, whatever holds it: `step=-7`, not `step=np.int64(-7)`, and a
    # 0-d array's `step = nan`, not `steps[] = nan`.
    for call in (compute_lr, lambda c, s: Schedule(c)(s), lambda c, s: Schedules([c, c])(s)):
        with pytest.raises(ValueError, match="step") as info:
            call(ramp(), step)
        assert re.search(rf"\bstep ?= ?{re.escape(shown)}(?![\w.])", str(info.value)), info.value


@pytest.mark.parametrize(
    ("steps", "position", "shown"),
    [
        ([0, 1, -1, -2], "[2]", "-1"),
        ([0.0, NAN, -1.0], "[1]", "nan"),
        ([3.0, 4.0, INF], "[2]", "inf"),
        ([-INF], "[0]", "-inf"),
        (np.array([5, 6, -9], dtype=np.int8), "[2]", "-9"),
        (np.array([5, 6, -9], dtype=np.int16)[::-1], "[0]", "-9"),
        (np.array([[0.0, 1.0, 2.0], [3.0, -4.5, NAN]]), "[1, 1]", "-4.5"),
        (np.array([[0, 1], [2, 3], [4, -5]]).T, "[1, 2]", "-5"),
        (np.array([[[1.0], [NAN]]], dtype=np.float16), "[0, 1, 0]", "nan"),
        # Lists whose elements are checked one by one (wide ints with floats, 0-d arrays):
        # still the first bad element, whatever kind of bad the later ones are.
        ([-0.5, 2**62 + 1, -1], "[0]", "-0.5"),
        ([NAN, 2**64], "[0]", "nan"),
        ([-1.5, 2**63], "[0]", "-1.5"),
        ([2**62 + 1, 3.5, INF, -1], "[2]", "inf"),
        ([-1, np.array(True)], "[0]", "-1"),
        ([[0, np.array(2)], [-3, np.array(-4)]], "[1, 0]", "-3"),
    ],
)
def test_bad_array_step_names_first_position(steps: Any, position: str, shown: str) -> None:
    for call in (compute_lr, lambda c, s: Schedule(c)(s), lambda c, s: Schedules([c, c])(s)):
        with pytest.raises(ValueError, match=re.escape(shown)) as info:
            call(cosine(), steps)
        message = str(info.value)
        assert position in message, message
        assert shown in message, message


@pytest.mark.parametrize("threads", [1, 4])
def test_first_bad_position_in_a_large_array(threads: int) -> None:
    set_num_threads(threads)
    try:
        steps = np.arange(400_000, dtype=np.float64)
        steps[[390_000, 250_001, 399_999]] = [-1.0, NAN, -3.0]
        with pytest.raises(ValueError, match=r"steps\[250001\] = nan"):
            compute_lr(cosine(), steps)
        with pytest.raises(ValueError, match=r"steps\[250001\] = nan"):
            Schedules([cosine(), ramp(), {"constant": 1.0}])(steps)
        ints = np.arange(400_000, dtype=np.int64)
        ints[[7, 300_000]] = -1
        with pytest.raises(ValueError, match=r"steps\[7\] = -1"):
            compute_lr(cosine(), ints)
    finally:
        set_num_threads(0)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize(
    ("n", "refused", "invalid"),
    [(100, 10, 60), (400_000, 10, 390_000), (400_000, 5000, 5001), (400_000, 250_000, 4)],
)
def test_the_first_offending_step_is_named_refused_or_invalid(
    threads: int, n: int, refused: int, invalid: int
) -> None:
    # A float step a cycle cannot place (>= 2**63) is found only by evaluating, and the
    # invalid one (negative) was reported even when the refused one came first.
    cyclic = {"cyclic": {"learning_rate": 0.01, "max_learning_rate": 0.3, "step_size_up": 4}}
    nested = {"sequence": [{"num_steps": 3, "schedule": {"constant": 0.1}}, {"schedule": cyclic}]}
    steps = np.arange(n, dtype=np.float64)
    steps[refused], steps[invalid] = 2.0**64, -1.0
    first = min(refused, invalid)
    match = rf"steps\[{first}\] = " + ("1.8446744073709552e\\+19" if first == refused else "-1.0")
    set_num_threads(threads)
    try:
        for config in (cyclic, nested):
            for exact in (True, False):
                out = np.full(n, 7.0)
                with pytest.raises(ValueError, match=match):
                    compute_lr(config, steps, out=out, exact=exact)
                assert (out == 7.0).all()
                with pytest.raises(ValueError, match=match):
                    Schedules([{"constant": 1.0}, config], exact=exact)(steps)
    finally:
        set_num_threads(0)


BIG = 2**63


@pytest.mark.parametrize(
    ("steps", "shown"),
    [
        (BIG, str(BIG)),
        (2**70, str(2**70)),
        (np.uint64(BIG), str(BIG)),
        pytest.param([1, BIG], str(BIG)),
        pytest.param([BIG, 1], str(BIG)),
        ([1, 2**64], str(2**64)),
        ((0, 2**100), str(2**100)),
        (np.array([1, BIG, 2**64 - 1], dtype=np.uint64), str(BIG)),
    ],
    ids=[
        "int",
        "int-2**70",
        "uint64-scalar",
        "list-int-then-huge",
        "list-huge-first",
        "list-object",
        "tuple-huge",
        "uint64-array",
    ],
)
def test_integer_steps_above_int64(steps: Any, shown: str) -> None:
    with pytest.raises(ValueError, match=re.escape(shown)) as info:
        compute_lr(ramp(), steps)
    assert shown in str(info.value)
    if isinstance(steps, (list, tuple, np.ndarray)):
        first = next(
            i for i, s in enumerate(np.asarray(steps, dtype=object).tolist()) if s > 2**63 - 1
        )
        assert f"[{first}]" in str(info.value)  # the position of the first offending step


def test_largest_integer_step_is_accepted() -> None:
    for steps in (2**63 - 1, [2**63 - 1], np.array([2**63 - 1], dtype=np.uint64)):
        compute_lr(ramp(), steps)


@pytest.mark.parametrize(
    "step",
    [
        True,
        np.bool_(False),
        [True, False],
        np.array([True]),
        1 + 2j,
        np.complex128(1),
        np.array([1 + 0j, 2]),
        "5",
        np.str_("5"),
        ["1", "2"],
        np.array(["1"]),
        b"5",
        None,
        [1, None],
        np.array([1, 2], dtype=object),
        np.array([1, 2], dtype="m8[s]"),
        np.datetime64("2024-01-01"),
        object(),
        {1, 2},
    ],
    ids=lambda s: type(s).__name__ + (f"-{s.dtype}" if isinstance(s, np.ndarray) else ""),
)
def test_steps_of_wrong_type(step: Any) -> None:
    with pytest.raises(TypeError):
        compute_lr(ramp(), step)
    with pytest.raises(TypeError):
        Schedules([ramp(), cosine()])(step)


@pytest.mark.parametrize("steps", [[True, 2], [1.5, False], (3, True)])
def test_bool_inside_a_numeric_list(steps: Any) -> None:
    with pytest.raises(TypeError, match="bool"):
        compute_lr(ramp(), steps)


@pytest.mark.parametrize(
    ("steps", "shown"),
    [
        ([1, "2"], r"steps\[1\] = '2': .* got str"),
        ([[1, 2], [3, b"4"]], r"steps\[1, 1\] = b'4': .* got bytes"),
        ([1, 2 + 0j], r"steps\[1\] = \(2\+0j\): .* got complex"),
        ((0.5, np.complex64(1)), r"steps\[1\] = np.complex64\(1\+0j\): .* got complex64"),
    ],
)
def test_a_non_number_inside_a_list_is_named_by_position(steps: Any, shown: str) -> None:
    # numpy made the list an array of strings or complex numbers, refused by its dtype
    # alone ("got dtype <U21"), naming no element.
    with pytest.raises(TypeError, match=shown):
        compute_lr(ramp(), steps)
    with pytest.raises(TypeError, match=shown):
        Schedules([ramp(), cosine()])(steps)


@pytest.mark.parametrize(
    ("count", "shown"),
    [
        ("9" * 5000, "must be a finite number, got .*'99999"),  # past int()'s 4,300 digits
        ("1e400", "must be a finite number, got .*'1e400'"),
        (10**5000, "got num_ramp_steps=an integer of 5001 digits"),  # repr() refuses it
        (-(10**5000), "got num_ramp_steps=a negative integer of 5001 digits"),
        (2**16609, "got num_ramp_steps=an integer of 5000 digits"),  # bits * log10(2): 5000.2
    ],
    ids=["digits-string", "1e400-string", "huge-int", "huge-negative-int", "power-of-two"],
)
def test_a_count_too_large_to_show_is_named_as_written(count: Any, shown: str) -> None:
    # It read "got inf" (float() of a number int() refused), or the message was Python's
    # own "Exceeds the limit (4300 digits)", naming no field.
    config = {"linear_ramp_to_constant": {"learning_rate": 0.1, "num_ramp_steps": count}}
    with pytest.raises(ValueError, match=rf"num_ramp_steps.*{shown}"):
        compute_lr(config, 3)
    with pytest.raises(pydantic.ValidationError, match=shown):
        LearningRate.model_validate(config)


# ---------------------------------------------------------------------------
# Bad `out`: refused, and `out` left as it was


def _sentinel(shape: Any, dtype: Any = np.float64) -> np.ndarray:
    return np.full(shape, 123.0, dtype=dtype)


@pytest.mark.parametrize(
    ("make_out", "error"),
    [
        (lambda: _sentinel(4), ValueError),
        (lambda: _sentinel((3, 1)), ValueError),
        (lambda: _sentinel((1, 3)), ValueError),
        (lambda: _sentinel(()), ValueError),
        (lambda: _sentinel(3, np.int64), TypeError),
        (lambda: _sentinel(3, np.float16), TypeError),
        (lambda: _sentinel(3, np.complex128), TypeError),
    ],
    ids=["too-long", "column", "row", "0-d", "int64", "float16", "complex"],
)
def test_bad_out_is_refused_and_untouched(make_out: Any, error: type[Exception]) -> None:
    out = make_out()
    before = out.copy()
    with pytest.raises(error):
        compute_lr(cosine(), [1, 2, 3], out=out)
    np.testing.assert_array_equal(out, before)
    with pytest.raises(error):
        Schedules([cosine(), ramp()])([1, 2, 3], out=out)
    np.testing.assert_array_equal(out, before)


def test_bad_out_shape_message() -> None:
    with pytest.raises(ValueError, match=r"out.*\(4,\).*\(3,\)"):
        compute_lr(cosine(), [1, 2, 3], out=_sentinel(4))


@pytest.mark.parametrize("dtype", [np.int64, np.float16])
def test_bad_out_dtype_message_names_out(dtype: Any) -> None:
    with pytest.raises(TypeError, match="out"):
        compute_lr(cosine(), [1, 2, 3], out=_sentinel(3, dtype))


def test_read_only_out() -> None:
    out = _sentinel(3)
    out.flags.writeable = False
    with pytest.raises(ValueError, match="out"):
        compute_lr(cosine(), [1, 2, 3], out=out)
    np.testing.assert_array_equal(out, _sentinel(3))


@pytest.mark.parametrize(
    "out", [[0.0, 0.0, 0.0], (0.0, 0.0, 0.0), 5.0], ids=["list", "tuple", "float"]
)
def test_out_not_an_array(out: Any) -> None:
    before = copy.copy(out)
    with pytest.raises(TypeError, match="out"):
        compute_lr(cosine(), [1, 2, 3], out=out)
    assert out == before


def test_out_dtype_conflicting_with_dtype() -> None:
    out = _sentinel(3)
    with pytest.raises(TypeError):
        compute_lr(cosine(), [1, 2, 3], out=out, dtype=np.float32)
    np.testing.assert_array_equal(out, _sentinel(3))


@pytest.mark.parametrize("dtype", [np.float16, np.int64, "int32", complex])
def test_bad_dtype(dtype: Any) -> None:
    with pytest.raises(TypeError):
        compute_lr(cosine(), [1, 2, 3], dtype=dtype)
    with pytest.raises(TypeError):
        compute_lr(cosine(), 1, dtype=dtype)


def test_out_with_a_scalar_step() -> None:
    out = _sentinel(())
    with pytest.raises((TypeError, ValueError)):
        compute_lr(cosine(), 5, out=out)
    assert out[()] == 123.0


@pytest.mark.parametrize("layout", ["contiguous", "strided", "float32", "aliasing"])
def test_bad_step_leaves_out_untouched(layout: str) -> None:
    steps = np.arange(0.0, 2000.0)
    steps[1500] = -2.0
    if layout == "contiguous":
        out = _sentinel(2000)
    elif layout == "strided":
        out = _sentinel(4000)[::2]
    elif layout == "float32":
        out = _sentinel(2000, np.float32)
    else:
        out = steps
    before = out.copy()
    with pytest.raises(ValueError, match=r"steps\[1500\] = -2"):
        compute_lr(cosine(), steps, out=out)
    np.testing.assert_array_equal(out, before)
    rows = _sentinel((2, 2000))
    with pytest.raises(ValueError, match=r"steps\[1500\]"):
        Schedules([cosine(), ramp()])(steps, out=rows)
    np.testing.assert_array_equal(rows, _sentinel((2, 2000)))


# ---------------------------------------------------------------------------
# Errors inside Schedules name the schedule


def test_schedules_mapping_errors_name_the_schedule() -> None:
    configs = {
        "ctr": ramp(),
        "engagement.tower": cosine(final_num_steps=5),
        "cvr": {"constant": 1.0},
    }
    with pytest.raises(ValueError, match=re.escape("engagement.tower")) as info:
        Schedules(configs)
    assert "final_num_steps" in str(info.value)
    with pytest.raises(ValueError, match="'warmup'") as info:
        Schedules({"a": ramp(), "b": {"constant": 0.5, "warmup": 3}})
    assert "'b'" in str(info.value)
    with pytest.raises(TypeError, match="'only'"):
        Schedules({"only": {"constant": [0.1]}})


def test_schedules_sequence_errors_name_the_position() -> None:
    with pytest.raises(ValueError, match=r"\b2\b") as info:
        Schedules([ramp(), cosine(), {"constant": -1.0}])
    assert "constant" in str(info.value)
    assert "-1" in str(info.value)
    with pytest.raises(ValueError, match=r"schedule 1\b"):
        Schedules([ramp(), ramp(num_ramp_steps=0)])


def test_schedules_single_element_sequence_names_position_zero() -> None:
    with pytest.raises(ValueError, match=r"schedule 0\b"):
        Schedules([{"constant": -1.0}])


def test_valid_namespace_config_still_evaluates() -> None:
    # Guard for the cases above: the attribute form is accepted when the values are good.
    assert compute_lr(namespace(ramp()), 5) == 0.05


# ---------------------------------------------------------------------------
# Both config paths (pydantic model, raw dict) take and refuse the same values


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"constant": "1e-3"}, 0.001),  # YAML 1.1 loaders leave 1e-3 a string
        (ramp(learning_rate="0.1", num_ramp_steps="10"), 0.05),
        (ramp(num_ramp_steps="10.0"), 0.05),
    ],
)
def test_numeric_strings_are_numbers(config: dict[str, Any], expected: float) -> None:
    assert compute_lr(config, 5) == expected
    assert compute_lr(LearningRate.model_validate(config), 5) == expected


@pytest.mark.parametrize(
    "config",
    [
        {"constant": True},
        ramp(learning_rate=True),
        ramp(num_ramp_steps=True),
        piecewise([True], [1.0, 2.0]),
    ],
)
def test_bools_are_not_numbers(config: dict[str, Any]) -> None:
    with pytest.raises(pydantic.ValidationError, match="bool"):
        LearningRate.model_validate(config)
    with pytest.raises(TypeError, match="bool"):
        compute_lr(config, 1)


def test_out_of_range_count_names_the_field_and_value() -> None:
    with pytest.raises(
        ValueError,
        match=r"num_ramp_steps must be an integer in \[1, 2\*\*53\], got num_ramp_steps=10{30}",
    ):
        compute_lr(ramp(num_ramp_steps=10**30), 1)
    with pytest.raises(
        ValueError,
        match=r"num_ramp_steps must be an integer in \[1, 2\*\*53\], "
        r"got num_ramp_steps=9007199254740993",
    ):
        compute_lr(ramp(num_ramp_steps=2**53 + 1), 1)


def test_values_in_messages_are_shortest_and_python_spelled() -> None:
    with pytest.raises(ValueError, match=r"got constant=-0\.1$"):
        compute_lr({"constant": -0.1}, 1)
    with pytest.raises(ValueError, match=r"got constant=nan$"):
        compute_lr({"constant": float("nan")}, 1)
    with pytest.raises(ValueError, match=r"got constant=inf$"):
        compute_lr({"constant": float("inf")}, 1)


@pytest.mark.parametrize(
    "make", [Schedule, lambda c: Schedules([c])], ids=["Schedule", "Schedules"]
)
def test_wrong_call_arguments_name_the_call_not_a_private_method(make: Any) -> None:
    # The compiled type hands such calls to _call, which the messages named.
    compiled = make({"constant": 0.1})
    name = type(compiled).__name__
    with pytest.raises(TypeError, match=rf"^{name}\.__call__\(\) takes 2 positional arguments"):
        compiled(5, None)
    with pytest.raises(TypeError, match=rf"^{name}\.__call__\(\) missing 1 required"):
        compiled()
    with pytest.raises(TypeError, match=rf"^{name}\.__call__\(\) got an unexpected keyword"):
        compiled(5, foo=1)
