"""The forms a step can take, and what comes back (README: Using it).

Python and numpy scalars, lists, tuples, ranges, arrays of any shape, dtype and
layout, `out=`, `dtype=`, and torch tensors. Expected values come from the oracle.
"""

from __future__ import annotations

import itertools
import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tml.optimizers
from tests.oracle import assert_same_bits, bits, namespace, reference_array, reference_lr
from tests.support import run_python
from tml.optimizers import Schedule, Schedules, compute_lr

COSINE = {
    "linear_ramp_to_cosine": {
        "learning_rate": 0.3,
        "final_learning_rate": 0.002,
        "num_ramp_steps": 7,
        "final_num_steps": 40,
    }
}
PIECEWISE = {
    "piecewise_constant": {
        "learning_rate_boundaries": [3, 10, 25],
        "learning_rate_values": [0.4, 0.3, 0.2, 0.1],
    }
}
RAMP = {"linear_ramp_to_constant": {"learning_rate": 0.1, "num_ramp_steps": 10}}
CONFIGS = [COSINE, PIECEWISE, RAMP, {"constant": 0.125}]
IDS = ["cosine", "piecewise", "ramp", "constant"]

STEPS = [0, 1, 3, 6, 7, 8, 10, 24, 25, 26, 39, 40, 41, 1000]


def expected_of(config: dict[str, Any], steps: Any) -> np.ndarray:
    return reference_array(config, steps)


# ---------------------------------------------------------------------------
# Scalars


@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_python_scalars_return_python_float(config: dict[str, Any]) -> None:
    ns = namespace(config)
    for step in [*STEPS, *(s + 0.5 for s in STEPS), 7 - 1e-9]:
        got = compute_lr(config, step)
        assert type(got) is float
        assert bits(got) == bits(reference_lr(ns, step))


@pytest.mark.parametrize(
    "scalar_type",
    [
        np.int8,
        np.int16,
        np.int32,
        np.int64,
        np.uint8,
        np.uint16,
        np.uint32,
        np.uint64,
        np.float16,
        np.float32,
        np.float64,
    ],
)
def test_numpy_scalars(scalar_type: Any) -> None:
    for config in CONFIGS:
        ns = namespace(config)
        for step in (0, 7, 24, 25, 40, 100):
            s = scalar_type(step)
            held = s.item()  # the Python int/float the scalar holds
            got = compute_lr(config, s)
            assert type(got) is float, type(got)
            assert bits(got) == bits(reference_lr(ns, held))
            assert bits(Schedule(config)(s)) == bits(reference_lr(ns, held))
        # A list or tuple of them, as iterating an array of this dtype gives.
        steps = [scalar_type(step) for step in (0, 7, 24, 25, 40, 100)]
        expected = [bits(reference_lr(ns, s.item())) for s in steps]
        assert [bits(v) for v in compute_lr(config, steps)] == expected
        assert [bits(v) for v in Schedules([config])(tuple(steps))[0]] == expected
    # A float32 step is the float32 value, not the decimal it was written as.
    s = np.float32(6.9999999)
    assert float(s) == 7.0
    assert bits(compute_lr(COSINE, s)) == bits(reference_lr(namespace(COSINE), 7.0))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, "float32", "float64"])
def test_dtype_with_a_scalar_step_returns_a_numpy_scalar(dtype: Any) -> None:
    want = np.dtype(dtype).type
    for step in (5, 5.5, np.int64(30)):
        got = compute_lr(COSINE, step, dtype=dtype)
        assert type(got) is want
        held = step.item() if isinstance(step, np.generic) else step
        assert got == want(reference_lr(namespace(COSINE), held))
        assert type(Schedule(COSINE)(step, dtype=dtype)) is want


def test_float32_is_the_float64_result_rounded_once() -> None:
    steps = np.arange(0, 45, dtype=np.int64)
    expected64 = expected_of(COSINE, steps)
    got = compute_lr(COSINE, steps, dtype=np.float32)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(
        got.view(np.uint32), expected64.astype(np.float32).view(np.uint32)
    )
    for s in (0, 8, 33):
        assert compute_lr(COSINE, s, dtype=np.float32) == np.float32(expected64[s])
    rows = Schedules(CONFIGS)(steps, dtype=np.float32)
    assert rows.dtype == np.float32
    for row, config in zip(rows, CONFIGS, strict=True):
        np.testing.assert_array_equal(
            row.view(np.uint32), expected_of(config, steps).astype(np.float32).view(np.uint32)
        )


# ---------------------------------------------------------------------------
# Sequences and arrays


@pytest.mark.parametrize(
    "steps",
    [
        [0, 7, 40],
        (0, 7, 40),
        [0.5, 7.0, 39.999],
        (1, 2.5),
        [[0, 1], [7, 8]],
        [[[0], [3]], [[10], [50]]],
        range(0, 45),
        range(3, 100, 7),
        range(50, 0, -3),
    ],
    ids=[
        "list",
        "tuple",
        "float-list",
        "mixed-tuple",
        "nested",
        "nested3",
        "range",
        "range-step",
        "range-down",
    ],
)
def test_sequences_give_float64_arrays(steps: Any) -> None:
    expected = expected_of(COSINE, np.array(steps))
    got = compute_lr(COSINE, steps)
    assert type(got) is np.ndarray
    assert_same_bits(got, expected)
    assert_same_bits(Schedule(COSINE)(steps), expected)
    assert_same_bits(Schedules([COSINE])(steps)[0], expected)


@pytest.mark.parametrize("shape", [(), (1,), (6,), (2, 3), (3, 1, 2), (2, 2, 2, 2)])
def test_array_shapes(shape: tuple[int, ...]) -> None:
    size = int(np.prod(shape))
    for config in CONFIGS:
        steps = (np.arange(size, dtype=np.int64) * 5).reshape(shape)
        got = compute_lr(config, steps)
        assert type(got) is np.ndarray
        assert got.shape == shape
        assert got.dtype == np.float64
        assert_same_bits(got, expected_of(config, steps))
        rows = Schedules([config, RAMP])(steps)
        assert rows.shape == (2, *shape)
        assert_same_bits(rows[0], expected_of(config, steps))


def test_zero_d_array_gives_zero_d_array() -> None:
    got = compute_lr(COSINE, np.array(9))
    assert type(got) is np.ndarray
    assert got.shape == ()
    assert bits(got[()]) == bits(reference_lr(namespace(COSINE), 9))
    got32 = compute_lr(COSINE, np.array(9.5), dtype=np.float32)
    assert got32.shape == ()
    assert got32.dtype == np.float32


def test_non_contiguous_steps() -> None:
    base = np.arange(0, 120, dtype=np.int64).reshape(10, 12)
    views = {
        "every-other": base[:, ::2],
        "reversed": base[::-1, ::-3],
        "transposed": base.T,
        "fortran": np.asfortranarray(base),
        "broadcast": np.broadcast_to(np.array([0, 7, 30]), (4, 3)),
        "float-strided": base.astype(np.float64)[1::3, 2::5] + 0.5,
        "big-endian-int": base.astype(">i8"),
        "big-endian-float": base.astype(">f8")[::2],
        "int32-view": base.astype(np.int32)[:, 1:7],
    }
    for name, steps in views.items():
        for config in CONFIGS:
            expected = expected_of(config, steps)
            got = compute_lr(config, steps)
            assert got.shape == steps.shape, name
            assert_same_bits(got, expected)
    # Steps are read, never written.
    before = base.copy()
    compute_lr(COSINE, base.T)
    np.testing.assert_array_equal(base, before)


@pytest.mark.parametrize("dtype", [np.int64, np.float64, ">i8", np.int32])
@pytest.mark.parametrize("exact", [True, False])
def test_contiguous_but_unaligned_steps(dtype: Any, exact: bool) -> None:
    # np.frombuffer at an odd offset, or a memory map: C-contiguous, not aligned. They
    # were refused with a message about `out`, which no one had passed.
    values = np.array([0, 5, 9, 30, 40, 1000], dtype=dtype)
    steps = np.frombuffer(b"\0" + values.tobytes(), dtype=values.dtype, offset=1)
    assert steps.flags.c_contiguous
    assert not steps.flags.aligned
    for config in CONFIGS:
        want = Schedule(config, exact=exact)(values)
        assert_same_bits(compute_lr(config, steps, exact=exact), want)
        assert_same_bits(Schedule(config, exact=exact)(steps), want)
        assert_same_bits(Schedules([config], exact=exact)(steps)[0], want)


def test_read_only_steps_are_fine() -> None:
    steps = np.arange(50)
    steps.flags.writeable = False
    assert_same_bits(compute_lr(COSINE, steps), expected_of(COSINE, steps))


EMPTY_CASES = """
    import numpy as np
    from tml.optimizers import compute_lr, Schedule, Schedules
    cfg = {"constant": 0.5}
    shapes = []
    for steps in ([], (), range(0), np.array([], dtype=np.int64), np.zeros((0,)),
                  np.zeros((2, 0)), np.zeros((0, 3), dtype=np.int32)):
        shapes.append(compute_lr(cfg, steps).shape)
        shapes.append(Schedules([cfg, cfg])(steps).shape)
    shapes.append(compute_lr(cfg, np.zeros((0, 2)), out=np.zeros((0, 2))).shape)
    shapes.append(compute_lr(cfg, np.zeros((0, 2)), dtype=np.float32).dtype.name)
    try:
        import torch
    except ImportError:
        shapes.append((0, 2))
    else:
        shapes.append(tuple(compute_lr(cfg, torch.zeros((0, 2))).shape))
    print(shapes)
"""


def test_empty_steps_give_empty_results() -> None:
    run = run_python(EMPTY_CASES)
    assert run.returncode == 0, f"crashed (rc={run.returncode}): {run.stderr[-2000:]}"
    expected = [
        (0,),
        (2, 0),
        (0,),
        (2, 0),
        (0,),
        (2, 0),
        (0,),
        (2, 0),
        (0,),
        (2, 0),
        (2, 0),
        (2, 2, 0),
        (0, 3),
        (2, 0, 3),
        (0, 2),
        "float32",
        (0, 2),
    ]
    assert run.stdout.strip() == str(expected)


# ---------------------------------------------------------------------------
# out=


def test_out_receives_the_result_and_is_returned() -> None:
    steps = np.arange(0, 45).reshape(5, 9)
    expected = expected_of(COSINE, steps)
    out = np.full((5, 9), -1.0)
    assert compute_lr(COSINE, steps, out=out) is out
    assert_same_bits(out, expected)
    out32 = np.full((5, 9), -1.0, dtype=np.float32)
    assert compute_lr(COSINE, steps, out=out32) is out32
    np.testing.assert_array_equal(
        out32.view(np.uint32), expected.astype(np.float32).view(np.uint32)
    )
    out32b = np.full((5, 9), -1.0, dtype=np.float32)
    assert compute_lr(COSINE, steps, out=out32b, dtype=np.float32) is out32b
    np.testing.assert_array_equal(out32b, out32)


def test_non_contiguous_out() -> None:
    steps = np.arange(0, 45).reshape(5, 9)
    expected = expected_of(COSINE, steps)
    big = np.full((10, 18), -1.0)
    view = big[::2, ::2]
    assert compute_lr(COSINE, steps, out=view) is view
    assert_same_bits(big[::2, ::2], expected)
    assert np.all(big[1::2, :] == -1.0)
    assert np.all(big[:, 1::2] == -1.0)
    fortran = np.asfortranarray(np.full((5, 9), -1.0))
    compute_lr(COSINE, steps, out=fortran)
    assert_same_bits(np.ascontiguousarray(fortran), expected)
    transposed = np.full((9, 5), -1.0).T
    compute_lr(COSINE, steps, out=transposed)
    assert_same_bits(np.ascontiguousarray(transposed), expected)


def test_out_aliasing_the_steps() -> None:
    buf = np.arange(0, 45, dtype=np.float64)
    expected = expected_of(COSINE, buf.copy())
    assert compute_lr(COSINE, buf, out=buf) is buf
    assert_same_bits(buf, expected)
    # Overlapping but shifted: every step must be read before it is overwritten.
    buf = np.arange(0, 46, dtype=np.float64)
    steps, out = buf[:-1], buf[1:]
    expected = expected_of(COSINE, steps.copy())
    compute_lr(COSINE, steps, out=out)
    assert_same_bits(buf[1:], expected)
    # An int64 array and a float64 view of the same memory.
    ints = np.arange(0, 45, dtype=np.int64)
    expected = expected_of(COSINE, ints.copy())
    compute_lr(COSINE, ints, out=ints.view(np.float64))
    assert_same_bits(ints.view(np.float64), expected)


def test_schedules_out() -> None:
    steps = np.arange(0, 30, dtype=np.int64)
    out = np.zeros((4, 30))
    assert Schedules(CONFIGS)(steps, out=out) is out
    for row, config in zip(out, CONFIGS, strict=True):
        assert_same_bits(row, expected_of(config, steps))
    one = np.zeros(4, dtype=np.float32)
    assert Schedules(CONFIGS)(8, out=one) is one
    np.testing.assert_array_equal(
        one, np.array([reference_lr(namespace(c), 8) for c in CONFIGS], dtype=np.float32)
    )


# ---------------------------------------------------------------------------
# Torch tensors


@pytest.fixture
def torch() -> Any:
    return pytest.importorskip("torch")


def test_torch_float_tensors(torch: Any) -> None:
    steps = torch.arange(0, 48, dtype=torch.float64).reshape(4, 12) + 0.5
    got = compute_lr(COSINE, steps)
    assert isinstance(got, torch.Tensor)
    assert got.shape == steps.shape
    assert got.dtype == torch.float64
    assert got.device == steps.device
    assert_same_bits(got.numpy(), expected_of(COSINE, steps.numpy()))
    scalar = compute_lr(COSINE, 9, dtype=torch.float32)  # a scalar step: a numpy scalar
    assert type(scalar) is np.float32
    assert scalar == np.float32(reference_lr(namespace(COSINE), 9))
    got32 = compute_lr(COSINE, steps, dtype=torch.float32)
    assert got32.dtype == torch.float32
    np.testing.assert_array_equal(
        got32.numpy().view(np.uint32),
        expected_of(COSINE, steps.numpy()).astype(np.float32).view(np.uint32),
    )


@pytest.mark.parametrize(
    "name",
    [
        "int8",
        "int16",
        "int32",
        "int64",
        "uint8",
        "uint16",
        "uint32",
        "uint64",
        "float16",
        "bfloat16",
        "float32",
        "float64",
    ],
)
def test_torch_dtypes(torch: Any, name: str) -> None:
    dtype = getattr(torch, name, None)
    if dtype is None:
        pytest.skip(f"torch has no {name}")
    steps = torch.tensor([0, 1, 6, 7, 8, 25, 39, 40, 41, 100], dtype=dtype)
    held = steps.to(torch.float64).numpy()  # exact: every value here is small
    for config in CONFIGS:
        got = compute_lr(config, steps)
        assert got.dtype == torch.float64
        assert_same_bits(got.numpy(), expected_of(config, held))


def test_torch_zero_d_and_views(torch: Any) -> None:
    got = compute_lr(COSINE, torch.tensor(9))
    assert isinstance(got, torch.Tensor)
    assert got.shape == ()
    assert bits(got.item()) == bits(reference_lr(namespace(COSINE), 9))
    base = torch.arange(0, 60).reshape(6, 10)
    for view in (base.T, base[::2, 1::3], base.flip(0)):
        assert_same_bits(compute_lr(COSINE, view).numpy(), expected_of(COSINE, view.numpy()))
    grad = torch.arange(0.0, 5.0, requires_grad=True)
    assert_same_bits(compute_lr(COSINE, grad).numpy(), expected_of(COSINE, np.arange(0.0, 5.0)))


def test_torch_schedules(torch: Any) -> None:
    steps = torch.arange(0, 12).reshape(3, 4)
    got = Schedules(CONFIGS)(steps)
    assert isinstance(got, torch.Tensor)
    assert tuple(got.shape) == (4, 3, 4)
    for row, config in zip(got.numpy(), CONFIGS, strict=True):
        assert_same_bits(row, expected_of(config, steps.numpy()))
    one = Schedules(CONFIGS)(torch.tensor(8))
    assert tuple(one.shape) == (4,)


def test_torch_bool_tensor_is_a_type_error(torch: Any) -> None:
    with pytest.raises(TypeError, match="bool"):
        compute_lr(COSINE, torch.tensor([True, False]))
    with pytest.raises(TypeError, match="bool"):
        compute_lr(COSINE, torch.tensor(True))


def test_torch_complex_and_huge_steps(torch: Any) -> None:
    with pytest.raises(TypeError, match="complex"):
        compute_lr(COSINE, torch.tensor([1 + 1j]))
    if hasattr(torch, "uint64"):
        with pytest.raises(ValueError, match=str(2**63)):
            compute_lr(COSINE, torch.tensor([3, 2**63], dtype=torch.uint64))


def test_torch_steps_with_the_negative_bit_are_read(torch: Any) -> None:
    # x.conj().imag is a float tensor whose negation is lazy: .numpy() refused it.
    steps = torch.tensor([1 - 2j, 3 - 4j]).conj().imag
    assert steps.is_neg()
    want = compute_lr(COSINE, torch.tensor([2.0, 4.0])).numpy()
    assert_same_bits(compute_lr(COSINE, steps).numpy(), want)
    assert_same_bits(Schedules([COSINE])(steps)[0].numpy(), want)


def test_torch_steps_of_other_layouts_are_refused_by_name(torch: Any) -> None:
    with warnings.catch_warnings():  # a prototype and a deprecated constructor warn
        warnings.simplefilter("ignore")
        nested = torch.nested.nested_tensor([torch.arange(3.0), torch.arange(2.0)])
        quantized = torch.quantize_per_tensor(torch.arange(3.0), 0.1, 0, torch.quint8)
    for steps, what in (
        (nested, "nested"),
        (quantized, "quantized"),
        (torch.arange(3.0).to_sparse(), "sparse"),
    ):
        with pytest.raises(TypeError, match=f"steps must be a dense tensor .*{what}"):
            compute_lr(COSINE, steps)


def test_a_tensor_out_that_cannot_take_the_result_is_refused(torch: Any) -> None:
    # Each failed inside torch's copy_ with a RuntimeError, or (meta) wrote nothing.
    steps = torch.arange(3)
    cases = [
        (torch.zeros(3, dtype=torch.float64, requires_grad=True), "out requires grad"),
        (torch.zeros(1, dtype=torch.float64).expand(3), "share memory"),
        (torch.zeros(3, dtype=torch.float64, device="meta"), "out is on meta, the steps on cpu"),
    ]
    for out, match in cases:
        with pytest.raises(ValueError, match=match):
            compute_lr(COSINE, steps, out=out)
    assert cases[0][0].eq(0).all()


def test_torch_bad_step_is_a_value_error(torch: Any) -> None:
    with pytest.raises(ValueError, match=r"steps\[1\] = -3"):
        compute_lr(COSINE, torch.tensor([4, -3, 5]))
    with pytest.raises(ValueError, match="nan"):
        compute_lr(COSINE, torch.tensor([4.0, float("nan")]))


# ---------------------------------------------------------------------------
# Steps that a silent conversion would get wrong


def test_longdouble_steps_are_not_rounded_silently() -> None:
    """A float128 step just below a boundary must not be rounded onto the boundary.

    The reference compares it exactly (value 1.0); float64 would round it to the
    boundary (value 2.0), so a step float64 cannot hold is refused, naming it.
    """
    if np.finfo(np.longdouble).nmant <= np.finfo(np.float64).nmant:
        pytest.skip("long double is float64 on this platform")
    step = np.longdouble(10) - np.longdouble(2) ** -60
    config = {
        "piecewise_constant": {"learning_rate_boundaries": [10], "learning_rate_values": [1.0, 2.0]}
    }
    assert reference_lr(namespace(config), step) == 1.0
    with pytest.raises(ValueError, match="not exactly a float64"):
        compute_lr(config, step)
    with pytest.raises(ValueError, match=r"steps\[1\] = .* not exactly a float64"):
        compute_lr(config, np.array([1, step], dtype=np.longdouble))
    exact = np.array([9, 10], dtype=np.longdouble)  # values float64 holds are accepted
    assert compute_lr(config, exact).tolist() == [1.0, 2.0]


@pytest.mark.parametrize("form", ["scalar", "array", "list"])
def test_bad_longdouble_steps_are_named_by_their_own_digits(form: str) -> None:
    # Named as float64 rounded them ("step = 1.0 is not exactly a float64", "inf"), a
    # NaN as inexact, and a value past float64's range warned of overflow (an error under
    # -W error) before the ValueError.
    if np.finfo(np.longdouble).nmant <= np.finfo(np.float64).nmant:
        pytest.skip("long double is float64 on this platform")
    close = np.longdouble(1) + np.longdouble(2) ** -60
    cases = [
        (close, r"= 1\.0000000000000000009 is not exactly a float64"),
        (np.longdouble("1e4000"), r"= 1e\+4000 is not exactly a float64"),
        (np.longdouble("nan"), r"= nan is not a valid step: steps must be finite and >= 0"),
        (-close, r"= -1\.0000000000000000009 is not a valid step: steps must be finite"),
    ]
    for value, match in cases:
        step: Any = {"scalar": value, "array": np.array([2, value]), "list": [2**62 + 1, value]}
        where = {"scalar": "step ", "array": r"steps\[1\] ", "list": r"steps\[1\] "}[form]
        with pytest.raises(ValueError, match=where + match):
            compute_lr(RAMP, step[form])


# ---------------------------------------------------------------------------
# dtype and out forms that must be refused or honoured, not guessed


@pytest.mark.parametrize("dtype", ["float16x", np.int64, "float16", int])
def test_bad_dtype_is_a_type_error_for_every_step_form(dtype: Any) -> None:
    for step in (2, np.arange(3), [1, 2]):
        with pytest.raises(TypeError, match="dtype must be float32 or float64"):
            compute_lr(RAMP, step, dtype=dtype)


def test_float32_overflow_is_inf_on_every_path_without_a_warning() -> None:
    # The scalar and per-element paths rounded through numpy, which warned (an error under
    # -W error); the array paths' cast does not. inf on all of them, as documented.
    schedule = Schedule({"constant": 1e300})
    assert schedule(5, dtype=np.float32) == np.float32(np.inf)
    for steps in ([5], [2**62 + 1, 0.5], np.arange(3), range(3)):
        assert np.isposinf(schedule(steps, dtype=np.float32)).all()


def test_an_out_whose_elements_overlap_is_refused(torch: Any) -> None:
    # Only a zero stride was caught (on tensors): other overlapping views were written,
    # each shared element left holding whichever result came last.
    steps = np.array([[0, 1], [2, 3]])
    base = np.zeros(3)
    views = [
        np.lib.stride_tricks.as_strided(base, (2, 2), (8, 8), writeable=True),
        np.lib.stride_tricks.as_strided(base, (2, 2), (0, 8), writeable=True),
    ]
    tensor_base = torch.zeros(3, dtype=torch.float64)
    tensors = [tensor_base.as_strided((2, 2), (1, 1)), tensor_base[:1].expand(2, 2)]
    pairs = [*((v, steps) for v in views), *((t, torch.tensor(steps)) for t in tensors)]
    for out, steps_given in pairs:
        with pytest.raises(ValueError, match="out has elements that share memory"):
            compute_lr(RAMP, steps_given, out=out)
    assert not base.any()
    assert not tensor_base.any()
    # Views with gaps, transposed or reversed, share nothing: written.
    for out in (np.zeros((2, 6))[:, ::3], np.zeros((2, 2)).T, np.zeros((2, 4))[::-1, ::-2]):
        result = compute_lr(RAMP, steps, out=out)
        assert result is out
        assert_same_bits(out, reference_array(RAMP, [[0, 1], [2, 3]]))


def test_byte_swapped_out_is_written_in_place() -> None:
    out = np.zeros(5, dtype=">f8")
    assert compute_lr(RAMP, np.arange(5), out=out) is out
    assert_same_bits(out.astype(np.float64), reference_array(RAMP, range(5)))


def test_masked_arrays_are_refused() -> None:
    with pytest.raises(TypeError, match="masked"):
        compute_lr(RAMP, np.ma.array([1, 2], mask=[0, 1]))


def test_ragged_lists_are_a_value_error() -> None:
    with pytest.raises(ValueError, match="rectangular"):
        compute_lr(RAMP, [[1, 2], [3]])


def test_numpy_scalar_errors_name_the_step_not_a_position() -> None:
    with pytest.raises(ValueError, match=r"^step = 9223372036854775808 is not a valid step"):
        compute_lr(RAMP, np.uint64(2**63))


def test_scalar_paths_take_zero_d_arrays_and_refuse_larger_ones() -> None:
    schedules = Schedules([RAMP, COSINE])
    want = [reference_lr(namespace(RAMP), 3), reference_lr(namespace(COSINE), 3)]
    assert schedules.values(np.array(3)) == want
    with pytest.raises(TypeError, match="scalar"):
        schedules.values(np.arange(3))


def test_tensor_steps_and_out_are_checked_before_computing() -> None:
    torch = pytest.importorskip("torch")
    out = torch.zeros(3, dtype=torch.float64)
    with pytest.raises(TypeError, match="asked for"):
        compute_lr(RAMP, torch.arange(3), out=out, dtype=torch.float32)
    with pytest.raises(TypeError, match=r"out\.dtype"):
        compute_lr(RAMP, torch.arange(3), out=torch.zeros(3, dtype=torch.float16))
    assert out.eq(0).all()
    with pytest.raises(TypeError, match="meta"):
        compute_lr(RAMP, torch.arange(3, device="meta"))
    schedules = Schedules([RAMP])
    assert schedules.values(torch.tensor(3)) == [reference_lr(namespace(RAMP), 3)]
    with pytest.raises(TypeError, match="scalar"):
        schedules.values(torch.tensor([3]))


def test_schedule_subclasses_are_schedules() -> None:
    class Named(Schedule):
        __slots__ = ()

    assert compute_lr(Named(RAMP), 4) == reference_lr(namespace(RAMP), 4)


# ---------------------------------------------------------------------------
# Ranges: evaluated without an array of their steps, as np.arange would give them


@given(
    start=st.integers(0, 2**63 - 1) | st.integers(0, 5000),
    length=st.integers(0, 5000),
    stride=st.integers(-(2**40), 2**40).filter(bool) | st.integers(-9, 9).filter(bool),
)
def test_ranges_equal_their_arrays(start: int, length: int, stride: int) -> None:
    stop = start + length * stride
    if not 0 <= stop - stride <= 2**63 - 1 or not -1 <= stop <= 2**63:
        stop = start  # an empty range: the valid ones are what this test is about
    steps = range(start, stop, stride)
    array = np.array(list(steps), dtype=np.int64)
    for config in [
        *CONFIGS,
        {"cyclic": {"learning_rate": 0.1, "max_learning_rate": 1.0, "step_size_up": 7}},
    ]:
        assert_same_bits(Schedule(config)(steps), Schedule(config)(array))
    group = Schedules([*CONFIGS, CONFIGS[0]])
    assert_same_bits(group(steps), group(array))
    got32 = group(steps, dtype=np.float32)
    np.testing.assert_array_equal(
        got32.view(np.uint32), group(array, dtype=np.float32).view(np.uint32)
    )


@pytest.mark.parametrize("threads", [1, 2])
def test_long_ranges_every_path(threads: int) -> None:
    tml.optimizers.set_num_threads(threads)
    try:
        steps = range(3, 600_003, 3)  # blocks, chunks and threads
        array = np.arange(3, 600_003, 3, dtype=np.int64)
        for config in CONFIGS:
            expected = Schedule(config)(array)
            assert_same_bits(compute_lr(config, steps), expected)
            out = np.full(len(steps), -1.0)
            assert Schedule(config)(steps, out=out) is out
            assert_same_bits(out, expected)
            strided = np.full(2 * len(steps), -1.0)[::2]
            Schedule(config)(steps, out=strided)
            assert_same_bits(strided, expected)
        few = range(40, 0, -4)  # few steps of many schedules: the by-kind pass
        assert_same_bits(Schedules(CONFIGS * 50)(few), Schedules(CONFIGS * 50)(np.array(few)))
    finally:
        tml.optimizers.set_num_threads(0)


def test_range_errors_match_the_array_path() -> None:
    schedule = Schedule(COSINE)
    for steps in [range(-3, 3), range(5, -5, -2), range(4, -9, -2), range(-1, -9, -1)]:
        with pytest.raises(ValueError, match="is not a valid step") as from_array:
            schedule(np.array(steps, dtype=np.int64))
        with pytest.raises(ValueError, match="is not a valid step") as from_range:
            schedule(steps)
        assert str(from_range.value) == str(from_array.value)
    out = np.full(10, -1.0)
    with pytest.raises(ValueError, match=r"steps\[3\] = -1 is not a valid step"):
        schedule(range(5, -15, -2), out=out)
    assert (out == -1.0).all()  # untouched
    # Outside int64: the first such step named, as the same steps in a list name it.
    for steps in [
        range(2**63 - 1, 2**63 + 1),
        range(0, 2**65, 2**62),
        range(-(2**64), 0),
        range(2**64, 0, -(2**62)),
        range(5, -(2**64), -(2**62)),
    ]:
        with pytest.raises(ValueError, match="is not a valid step") as from_range:
            schedule(steps)
        with pytest.raises(ValueError, match="is not a valid step") as from_list:
            schedule(list(itertools.islice(steps, 8)))  # each one's first bad step is there
        assert str(from_range.value) == str(from_list.value)
    with pytest.raises(ValueError, match="2\\*\\*63 steps, more than an array holds"):
        schedule(range(0, 2**63))
    with pytest.raises(ValueError, match="out has shape"):
        schedule(range(5), out=np.empty(4))
    assert_same_bits(schedule(range(2**63 - 3, 2**63)), schedule([2**63 - 3, 2**63 - 2, 2**63 - 1]))
    assert_same_bits(schedule(range(0, 2**63 + 5, 2**63 - 1)), schedule([0, 2**63 - 1]))


def test_private_range_entry_refuses_bad_arguments() -> None:
    compiled = Schedule(COSINE)
    out = np.empty(4)
    for args, error in [
        ((0, 1, 5, out), "out has 4 elements, expected 5"),
        ((-1, 1, 4, out), r"\[0, 2\*\*63 - 1\]"),
        ((3, -2, 4, out), r"\[0, 2\*\*63 - 1\]"),
        ((2**62, 2**62, 4, out), r"\[0, 2\*\*63 - 1\]"),
        ((0, 0, 4, out), "non-zero stride"),
        ((0, 1, -1, out), "n >= 0"),
    ]:
        with pytest.raises(ValueError, match=error):
            compiled._evaluate_range(*args)
    with pytest.raises(TypeError, match="float64 or float32"):
        compiled._evaluate_range(0, 1, 4, np.empty(4, dtype=np.int64))
    with pytest.raises(ValueError, match="C-contiguous"):
        compiled._evaluate_range(0, 1, 4, np.empty(8)[::2])
    with pytest.raises(OverflowError):
        compiled._evaluate_range(2**64, 1, 4, out)
