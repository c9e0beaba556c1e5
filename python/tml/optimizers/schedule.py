"""`compute_lr`, `Schedule` and `Schedules`: compiled learning-rate schedules.

Every value is bitwise equal to the original tml `compute_lr` evaluated in Python
float64. Arrays of steps and many schedules are evaluated in one compiled call, with
the GIL released and large inputs split across the usable cores.

Fast mode (`exact=False`) trades that bitwise equality for speed: the formulas stay the
same, but libm's `cos` and `pow` are replaced by vectorised kernels built on fused
multiply-adds, and batch loops run on the widest SIMD instruction set the CPU has
(AVX-512 or AVX2 with FMA, chosen at run time; on an x86-64 CPU without AVX2 and FMA fast
mode gives the exact values). Every value is within 4 ulp of the schedule's largest rate
(its largest `learning_rate`, `final_learning_rate`, `max_learning_rate` or `constant`, a
table's largest value, `one_cycle`'s starting `learning_rate / div_factor` and its final
value, that divided by `final_div_factor`) of the exact one (measured: at most 2 ulp;
README, "Fast mode"). Kinds and modes without a `cos` or `pow` call give bitwise the
exact values: constant, piecewise_constant, linear_ramp_to_constant, linear,
multistep_decay, inverse_sqrt, inverse_time_decay, polynomial_decay with power 1,
one_cycle's linear anneal, warmup_stable_decay's linear and sqrt shapes, and cyclic's
triangular modes. Fast results are deterministic: the same on every run and thread count,
at every instruction set with FMA and on every machine that has it, and a step gives the
same value alone as in an array.
"""

from __future__ import annotations

import functools
import math
import sys
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar, overload

import numpy as np
import numpy.typing as npt

from tml import _core

if TYPE_CHECKING:
    import torch

__all__ = ["Schedule", "Schedules", "compute_lr", "get_num_threads", "set_num_threads"]

_INT64_MAX = np.iinfo(np.int64).max
_MAX_EXACT_INT = 2**53  # ints up to this magnitude are exact in float64
_FLOAT_DTYPES = (np.dtype(np.float64), np.dtype(np.float32))

# A config: LearningRate, YAML-shaped dict, or any object with the kind attributes.
Config: TypeAlias = Any
# One step: a Python or numpy number.
Scalar: TypeAlias = "int | float | np.integer[Any] | np.floating[Any]"
# Array-like steps (not scalars, not tensors): lists, tuples, ranges, numpy arrays.
Steps: TypeAlias = "Sequence[Any] | range | np.ndarray"
# The result of array steps: float64 by default, float32 with dtype=numpy.float32.
FloatArray: TypeAlias = "npt.NDArray[np.float64] | npt.NDArray[np.float32]"


def set_num_threads(n: int) -> None:
    """Caps the threads one batch call may use; 0 restores the default (usable cores)."""
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)):
        msg = f"n must be an integer, got n={n!r}"
        raise TypeError(msg)
    if not 0 <= n <= 1024:
        msg = f"n must be in [0, 1024], got n={n!r}"
        raise ValueError(msg)
    _core.set_max_threads(int(n))


def get_num_threads() -> int:
    """Threads one batch call may use."""
    return int(_core.get_max_threads())


def _check_exact(exact: Any, allowed: str = "True or False") -> bool:
    """`exact` as a bool; anything else is a TypeError naming what is `allowed`.

    A truthy object such as a list, or the number 0, is refused rather than read as a
    mode: the mode decides whether results are bitwise exact.
    """
    if isinstance(exact, (bool, np.bool_)):
        return bool(exact)
    msg = f"exact must be {allowed}, got exact={exact!r} ({type(exact).__name__})"
    raise TypeError(msg)


def _torch_tensor_type() -> Any:
    # torch is optional: only look for tensors if the caller already imported torch.
    torch = sys.modules.get("torch")
    return None if torch is None else torch.Tensor


def _float_dtype(dtype: Any) -> np.dtype[Any]:
    """Numpy float dtype from None, a numpy/str dtype or a torch dtype."""
    if dtype is None:
        return np.dtype(np.float64)
    name = str(dtype).removeprefix("torch.")
    try:
        resolved = np.dtype(name if name in ("float32", "float64") else dtype)
    except TypeError:
        resolved = None
    if resolved is None or resolved not in _FLOAT_DTYPES:
        msg = f"dtype must be float32 or float64, got dtype={dtype!r}"
        raise TypeError(msg)
    return resolved


def _position(shape: tuple[int, ...], flat: int) -> str:
    return ", ".join(str(i) for i in np.unravel_index(flat, shape)) if shape else ""


def _where(shape: tuple[int, ...], flat: int) -> str:
    """How an error names a step: `steps[2, 1]` in an array, `step` for a scalar."""
    return f"steps[{_position(shape, flat)}]" if shape else "step"


def _shown_number(value: Any) -> str:
    """A step as an error shows it: the number given (a long double's own digits)."""
    if isinstance(value, np.longdouble):
        return str(value)
    return repr(value.item() if isinstance(value, np.generic) else value)


def _step_error(value: Any, where: str) -> Exception | None:
    """The error for one step given as a number (a list's element), or None if valid.

    A bool or a non-number is a TypeError; an integer outside int64, a negative, NaN or
    infinite step a ValueError, as the array path words them. (A long double float64
    cannot hold exactly is found where it is converted.)
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (int, float, np.integer, np.floating)
    ):
        return TypeError(
            f"{where} = {value!r}: steps must be integers or floats, got {type(value).__name__}"
        )
    if isinstance(value, (int, np.integer)) and not -_INT64_MAX - 1 <= value <= _INT64_MAX:
        reason = "integer steps must be in [0, 2**63 - 1]"
    elif not 0 <= value < math.inf:  # NaN too
        reason = "steps must be finite and >= 0"
    else:
        return None
    return ValueError(f"{where} = {_shown_number(value)} is not a valid step: {reason}")


def _element_error(values: np.ndarray) -> Exception:
    """The error for the first invalid list element, in order.

    `values` holds the list's own Python objects (dtype object): among them a bool, a
    non-number or an integer outside int64, which numpy would convert wrongly.
    """
    for flat, value in enumerate(values.reshape(-1)):
        error = _step_error(value, _where(values.shape, flat))
        if error is not None:
            return error
    return TypeError(f"steps must be integers or floats, got an array of dtype {values.dtype}")


def _leaf_types(seq: list[Any] | tuple[Any, ...]) -> set[type]:
    """Types of the elements of a (nested) list, at C speed for flat lists."""
    types = set(map(type, seq))
    for container in (list, tuple):
        if container in types:
            types.discard(container)
            for sub in seq:
                if type(sub) is container:
                    types |= _leaf_types(sub)
    return types


def _is_integer_type(t: type) -> bool:
    return issubclass(t, (int, np.integer)) and not issubclass(t, (bool, np.bool_))


def _wide_mixed(step: list[Any] | tuple[Any, ...]) -> bool:
    """Whether a list mixes types with integers that float64 cannot hold exactly.

    numpy would round such integers into one float64 array: mixed with floats
    (`[2**63 - 1, 0.5]` becomes `[2**63, 0.5]`), numpy's or Python's, or numpy's uint64
    with signed integers. Each element is evaluated as its own number instead.
    """
    types = _leaf_types(step)
    if len(types) < 2 or not any(map(_is_integer_type, types)):
        return False
    # Signed integers alone convert exactly (to int64); a float or a uint64 makes floats.
    if not any(issubclass(t, (float, np.floating, np.unsignedinteger)) for t in types):
        return False
    objects = np.array(step, dtype=object).reshape(-1)
    return any(_is_integer_type(type(v)) and abs(int(v)) > _MAX_EXACT_INT for v in objects)


def _evaluate_elementwise(
    compiled: _core.ScheduleSet, step: list[Any] | tuple[Any, ...], out: Any, dtype: Any
) -> Any:
    """A list whose elements keep their own types: each is evaluated as a scalar step."""
    objects = np.array(step, dtype=object)
    shape = objects.shape
    flat = objects.reshape(-1)
    out_dtype = _float_dtype(
        dtype if dtype is not None or out is None else out.dtype.newbyteorder("=")
    )
    groups = None if compiled._single else compiled._size()
    rows = np.empty((groups or 1, flat.size), dtype=out_dtype)
    column = np.empty(groups or 1, dtype=out_dtype)
    # In order, each step checked then evaluated: an error names the first bad one.
    for position, value in enumerate(flat):
        where = _where(shape, position)
        error = _step_error(value, where)
        if error is not None:
            raise error
        try:
            if isinstance(value, np.generic):  # its dtype checked as an array's would be
                value = _scalar_step(value)
            if groups is None:
                with np.errstate(over="ignore"):  # float32: inf, as the array paths give
                    rows[0, position] = compiled._scalar(value)
            else:
                compiled._evaluate_scalar(value, column)
                rows[:, position] = column
        except (TypeError, ValueError) as e:
            text = str(e)  # a bad or refused step ("step = ...") named as this element
            msg = text.replace("step", where, 1) if text.startswith("step = ") else f"{where}: {e}"
            raise type(e)(msg) from None
    result = rows.reshape(shape if groups is None else (groups, *shape))
    if out is None:
        return result
    if out.shape != result.shape:
        msg = f"out has shape {out.shape}, expected {result.shape}"
        raise ValueError(msg)
    out[...] = result
    return out


_NUMBER_TYPES = (int, float, np.generic)


def _numbers_list(step: list[Any] | tuple[Any, ...]) -> list[Any] | tuple[Any, ...]:
    """A list of steps with its 0-d arrays and tensors made numpy scalars.

    numpy would take them as numbers and convert them silently: a 0-d bool as 1, a large
    integer rounded in a list with floats. As numpy scalars they get a scalar step's
    checks. An array or tensor of more dimensions in a list is refused: a list of steps
    holds numbers.
    """
    if all(issubclass(t, _NUMBER_TYPES) for t in _leaf_types(step)):
        return step

    def number(value: Any, index: tuple[int, ...]) -> Any:
        if isinstance(value, (list, tuple)):
            return [number(v, (*index, i)) for i, v in enumerate(value)]
        tensor = _torch_tensor_type()
        where = f"steps[{', '.join(map(str, index))}]"
        if not isinstance(value, np.ndarray) and not (
            tensor is not None and isinstance(value, tensor)
        ):
            # A number: checked here too, so that an error names the first bad element.
            error = _step_error(value, where)
            if error is not None:
                raise error
            return value
        if value.ndim:
            msg = (
                f"{where} is an array of shape {tuple(value.shape)}: a list of steps holds "
                "numbers (pass the steps as one array instead)"
            )
            raise TypeError(msg)
        try:
            return _scalar_step(value)
        except (TypeError, ValueError) as e:
            msg = f"{where} = {value!r}: {e}"
            raise type(e)(msg) from None

    return [number(v, (i,)) for i, v in enumerate(step)]


def _list_steps(step: list[Any] | tuple[Any, ...]) -> np.ndarray:
    """A list of steps as an array; refuses what numpy would convert silently.

    numpy turns `[True, 2]` into `[1, 2]` and `[1, 2**63]` into floats; neither is a
    valid list of steps.
    """
    try:
        arr = np.asarray(step)
    except ValueError as e:  # ragged nesting
        msg = f"steps must be a rectangular (nested) list of numbers: {e}"
        raise ValueError(msg) from None
    types = _leaf_types(step)
    # Not a number (strings, complex, objects): _element_error names it by position. An
    # unsigned array (numpy's unsigned scalars, or an int above int64 as uint64) goes on:
    # _as_steps names a uint64 above int64 as it does for an array.
    suspicious = bool(types & {bool, np.bool_}) or arr.dtype.kind not in "iuf"
    # An int that left int64 (numpy made it a float), not a float step that large.
    if not suspicious and int in types and arr.dtype.kind == "f" and arr.size:
        objects = np.array(step, dtype=object).reshape(-1) if np.abs(arr).max() >= 2.0**63 else ()
        suspicious = any(type(v) is int and not 0 <= v <= _INT64_MAX for v in objects)
    if suspicious:
        raise _element_error(np.array(step, dtype=object))
    return arr


def _range_error(steps: range) -> Exception | None:
    """The error for a range's first step outside [0, 2**63 - 1], as a list's, or None.

    Steps move one way from the start: the first invalid one is the start, or the first
    past the bound they move towards.
    """
    start, stride = steps.start, steps.step
    if not 0 <= start <= _INT64_MAX:
        index = 0
    elif stride > 0:
        index = (_INT64_MAX - start) // stride + 1
    else:
        index = start // -stride + 1
    try:
        value = steps[index]
    except IndexError:  # every step is valid
        return None
    return _step_error(value, f"steps[{index}]")


def _as_steps(step: Any) -> np.ndarray:
    """Steps as a C-contiguous int64 or float64 array, converted once."""
    if isinstance(step, range):
        error = _range_error(step)
        if error is not None:
            raise error
        return np.arange(step.start, step.stop, step.step, dtype=np.int64)
    if isinstance(step, np.ma.MaskedArray):
        msg = "masked arrays are not supported: the mask would be ignored"
        raise TypeError(msg)
    if isinstance(step, (list, tuple)):
        arr = _list_steps(step)
    elif isinstance(step, (np.ndarray, int, float, np.generic)) and not isinstance(
        step, (str, bytes)
    ):
        arr = np.asarray(step)
    else:
        msg = (
            "step must be a number, a list, tuple, range, numpy array or torch tensor, "
            f"got {type(step).__name__}"
        )
        raise TypeError(msg)
    kind = arr.dtype.kind
    if kind in "iu":
        if arr.dtype == np.uint64 and arr.size and (arr > _INT64_MAX).any():
            flat = int(np.argmax(arr.reshape(-1) > _INT64_MAX))
            msg = (
                f"{_where(arr.shape, flat)} = {arr.reshape(-1)[flat]} is not a valid "
                "step: integer steps must be in [0, 2**63 - 1]"
            )
            raise ValueError(msg)
        # np.require, not asarray: a contiguous array that is not aligned (np.frombuffer
        # at an odd offset, a memory map) is copied too.
        return np.require(arr, dtype=np.int64, requirements=["C", "A"])
    if kind == "f":
        if arr.dtype.itemsize <= 8:
            return np.require(arr, dtype=np.float64, requirements=["C", "A"])
        # Long double: only valid steps that float64 holds exactly. Each is named by its
        # own digits, before a cast that would round it (or overflow, with a warning).
        with np.errstate(over="ignore", invalid="ignore"):
            steps = np.require(arr, dtype=np.float64, requirements=["C", "A"])
            bad = ~((arr >= 0) & (arr < np.inf)) | (steps != arr)
        if bad.any():
            flat = int(np.argmax(bad.reshape(-1)))
            error = _step_error(arr.reshape(-1)[flat], _where(arr.shape, flat))
            if error is not None:
                raise error
            msg = (
                f"{_where(arr.shape, flat)} = {_shown_number(arr.reshape(-1)[flat])} is not "
                "exactly a float64; the schedules evaluate float64 steps, as the reference"
            )
            raise ValueError(msg)
        return steps
    if kind == "O":
        raise _element_error(arr)
    msg = f"steps must be integers or floats, got dtype {arr.dtype}"
    raise TypeError(msg)


_F = TypeVar("_F", bound=Callable[..., Any])


def _as_call(owner: str) -> Callable[[_F], _F]:
    """Names a `_call` `__call__` in argument errors and tracebacks.

    The compiled type's `__call__` hands every call it does not take itself to `_call`;
    a wrong argument should read `Schedule.__call__() takes 2 positional arguments`,
    naming what the user called.
    """

    def rename(function: _F) -> _F:
        function.__name__ = "__call__"
        function.__qualname__ = f"{owner}.__call__"
        code = function.__code__
        if sys.version_info >= (3, 11):
            code = code.replace(co_name="__call__", co_qualname=f"{owner}.__call__")
        else:
            code = code.replace(co_name="__call__")
        function.__code__ = code
        return function

    return rename


def _scalar_step(step: Any) -> Any:
    """One step for the scalar paths.

    A numpy scalar, 0-d array or 0-d tensor goes through the dtype checks of arrays
    (long double...); a larger array is refused.
    """
    tensor = _torch_tensor_type()
    if tensor is not None and isinstance(step, tensor):
        step = _tensor_as_array(step)
    if isinstance(step, np.ndarray) and step.ndim:
        msg = f"step must be a scalar here, got an array of shape {step.shape}"
        raise TypeError(msg)
    if not isinstance(step, (np.generic, np.ndarray)):
        return step
    # The Python number it holds, converted as arrays are: an error names that value,
    # not the float64 or int64 it was converted to (`step=nan`, not `np.float64(nan)`).
    return _as_steps(step)[()].item()


def _evaluate(compiled: _core.ScheduleSet, step: Any, out: Any, dtype: Any) -> Any:
    """The general path of `Schedule.__call__` and `Schedules.__call__`.

    Python ints and floats, numpy int64/float64 scalars and contiguous int64/float64
    numpy arrays without `dtype`, and without `out` or with one written in place, never
    get here: the compiled type evaluates them itself, with the same functions this path
    ends in.
    """
    tensor = _torch_tensor_type()
    if tensor is not None and isinstance(step, tensor):
        return _evaluate_tensor(compiled, step, out, dtype)
    if isinstance(step, (bool, np.bool_)):
        msg = f"step must be an integer or a float, got {step!r} (bool)"
        raise TypeError(msg)
    if out is not None:
        _check_out(out, dtype)
    if isinstance(step, (int, float, np.integer, np.floating)):
        return _evaluate_scalar(compiled, _scalar_step(step), out, dtype)
    if isinstance(step, (list, tuple)):
        step = _numbers_list(step)
        if _wide_mixed(step):
            return _evaluate_elementwise(compiled, step, out, dtype)
    out_dtype = _float_dtype(
        dtype if dtype is not None or out is None else out.dtype.newbyteorder("=")
    )
    if isinstance(step, range):
        return _evaluate_range(compiled, step, out, out_dtype)
    steps = _as_steps(step)
    shape = steps.shape if compiled._single else (compiled._size(), *steps.shape)
    # Only float steps can be refused by a schedule (cycles counted exactly take float
    # steps below 2**63): those are found while writing, so they go through a scratch.
    refusable = compiled._may_reject and steps.dtype.kind == "f"
    return _write_results(
        shape,
        out,
        out_dtype,
        lambda dst, scratch: compiled._evaluate(steps, dst, scratch),
        direct_ok=out is None or not (refusable or np.may_share_memory(out, steps)),
    )


def _write_results(
    shape: tuple[int, ...],
    out: Any,
    out_dtype: Any,
    write: Callable[[np.ndarray, bool], None],
    *,
    direct_ok: bool = True,
) -> Any:
    """Results of `shape` written by `write(array, scratch)`: into a fresh array, or `out`.

    `write` fills `out` itself where `out` is C-contiguous, aligned and native and
    `direct_ok` (every step is then checked before `out` is written, so an error leaves it
    untouched); otherwise it fills a fresh scratch array (checked block by block while
    written), copied into `out`.
    """
    if out is None:
        result = np.empty(shape, dtype=out_dtype)
        write(result, True)
        return result
    if out.shape != shape:
        msg = f"out has shape {out.shape}, expected {shape}"
        raise ValueError(msg)
    if direct_ok and out.flags.c_contiguous and out.flags.aligned and out.dtype.isnative:
        write(out, False)
    else:  # strided, byte-swapped, aliasing the steps, or refusals found while writing
        result = np.empty(shape, dtype=out_dtype)
        write(result, True)
        out[...] = result
    return out


def _evaluate_range(compiled: _core.ScheduleSet, steps: range, out: Any, out_dtype: Any) -> Any:
    """A range of steps: `np.arange`'s values and errors, without making that array.

    The core makes the steps a block at a time where they are used, so a long range
    costs no memory for its steps.
    """
    error = _range_error(steps)
    if error is not None:
        raise error
    # Every step is in [0, 2**63 - 1], so there are at most 2**63 of them: one more than
    # an array (or len) can hold.
    try:
        n = len(steps)
    except OverflowError:
        msg = f"steps {steps!r} are 2**63 steps, more than an array holds"
        raise ValueError(msg) from None
    first = steps[0] if n else 0
    shape = (n,) if compiled._single else (compiled._size(), n)
    return _write_results(
        shape, out, out_dtype, lambda dst, _: compiled._evaluate_range(first, steps.step, n, dst)
    )


def _evaluate_scalar(compiled: _core.ScheduleSet, step: int | float, out: Any, dtype: Any) -> Any:
    """One step: a float for one schedule, shape `(G,)` for many."""
    if compiled._single:
        if out is not None:
            msg = "out is for array steps; a scalar step returns a float"
            raise TypeError(msg)
        value = compiled._scalar(step)
        if dtype is None:
            return value
        with np.errstate(over="ignore"):  # float32 overflows to inf, as the array paths
            return _float_dtype(dtype).type(value)
    shape = (compiled._size(),)
    out_dtype = _float_dtype(
        dtype if dtype is not None or out is None else out.dtype.newbyteorder("=")
    )
    result = np.empty(shape, dtype=out_dtype)
    compiled._evaluate_scalar(step, result)
    if out is None:
        return result
    if out.shape != shape:
        msg = f"out has shape {out.shape}, expected {shape}"
        raise ValueError(msg)
    out[...] = result
    return out


def _elements_overlap(shape: Sequence[int], strides: Sequence[int], itemsize: int) -> bool:
    """Whether an array's elements may share memory (an expanded or overlapping view).

    Sorted by stride, each dimension must step over everything the smaller ones span;
    `strides` and `itemsize` in one unit (bytes for numpy, elements for torch).
    """
    if 0 in shape:
        return False
    span = itemsize
    for stride, size in sorted((abs(st), n) for n, st in zip(shape, strides, strict=True)):
        if size > 1:
            if stride < span:
                return True
            span += stride * (size - 1)
    return False


_OVERLAP_MESSAGE = (
    "out has elements that share memory (an expanded or overlapping view): "
    "each result needs its own element"
)


def _check_out(out: Any, dtype: Any) -> None:
    if not isinstance(out, np.ndarray):
        msg = f"out must be a numpy array, got {type(out).__name__}"
        raise TypeError(msg)
    if out.dtype.newbyteorder("=") not in _FLOAT_DTYPES:
        msg = f"out must have dtype float32 or float64, got out.dtype={out.dtype}"
        raise TypeError(msg)
    if dtype is not None and out.dtype.newbyteorder("=") != _float_dtype(dtype):
        msg = f"out has dtype {out.dtype} but dtype={dtype!r} was asked for"
        raise TypeError(msg)
    if not out.flags.writeable:
        msg = "out is read-only"
        raise ValueError(msg)
    if _elements_overlap(out.shape, out.strides, out.itemsize):
        raise ValueError(_OVERLAP_MESSAGE)


def _tensor_as_array(step: Any) -> np.ndarray:
    """A tensor of steps as a numpy array on the host (integer or float dtype)."""
    import torch

    if step.dtype == torch.bool or step.is_complex():
        msg = f"steps must be integers or floats, got a tensor of dtype {step.dtype}"
        raise TypeError(msg)
    if step.device.type == "meta":
        msg = "steps on the 'meta' device have no values"
        raise TypeError(msg)
    if step.is_nested or step.is_quantized or step.layout != torch.strided:
        what = "nested" if step.is_nested else "quantized" if step.is_quantized else step.layout
        msg = f"steps must be a dense tensor of integers or floats, got a {what} tensor"
        raise TypeError(msg)
    # A view with torch's lazy negation bit (x.conj().imag) has no numpy form until the
    # negation is applied.
    host = step.detach().resolve_neg().cpu()
    if host.is_floating_point() and host.dtype not in (torch.float16, torch.float32, torch.float64):
        host = host.to(torch.float64)  # bfloat16 and friends have no numpy dtype; widening is exact
    return host.numpy()  # type: ignore[no-any-return]


def _evaluate_tensor(compiled: _core.ScheduleSet, step: Any, out: Any, dtype: Any) -> Any:
    import torch

    if out is not None:  # checked before anything is computed, as for numpy `out`
        if not isinstance(out, torch.Tensor):
            msg = f"out must be a tensor for tensor steps, got {type(out).__name__}"
            raise TypeError(msg)
        if out.dtype not in (torch.float32, torch.float64):
            msg = f"out must have dtype float32 or float64, got out.dtype={out.dtype}"
            raise TypeError(msg)
        if dtype is not None and _float_dtype(dtype) != _float_dtype(out.dtype):
            msg = f"out has dtype {out.dtype} but dtype={dtype!r} was asked for"
            raise TypeError(msg)
        if out.device != step.device:
            msg = f"out is on {out.device}, the steps on {step.device}: give out their device"
            raise ValueError(msg)
        if out.requires_grad:
            msg = "out requires grad: a learning-rate result is no part of a graph"
            raise ValueError(msg)
        if _elements_overlap(out.shape, out.stride(), 1):
            raise ValueError(_OVERLAP_MESSAGE)
    np_dtype = _float_dtype(dtype if dtype is not None or out is None else out.dtype)
    array = _tensor_as_array(step)
    values = torch.from_numpy(np.asarray(_evaluate(compiled, array, None, np_dtype)))
    if out is None:
        return values.to(step.device)
    if tuple(out.shape) != tuple(values.shape):
        msg = f"out has shape {tuple(out.shape)}, expected {tuple(values.shape)}"
        raise ValueError(msg)
    return out.copy_(values)


class Schedule(_core.ScheduleSet):
    """One learning-rate schedule, validated and compiled once.

    `Schedule(cfg)(step)` equals `compute_lr(cfg, step)`, bitwise, for any step form
    (`step`, `out` and `dtype` as in `compute_lr`). Calls with a Python int or float, a
    numpy int64/float64 scalar, or a contiguous int64/float64 numpy array (with an `out`
    array written in place, or none) run without a Python frame. Immutable, thread-safe
    and picklable.

    Args:
        lr_config: a `LearningRate`, a YAML-shaped dict such as
            `{"linear_ramp_to_constant": {"learning_rate": 0.1, "num_ramp_steps": 100}}`,
            any object with the kind attributes (`constant`, `piecewise_constant`,
            `linear_ramp_to_constant`, `linear_ramp_to_cosine`, and optionally the later
            kinds; one of them set), or a `Schedule` (its config; the mode is this
            call's `exact`).
        exact: True (default): bitwise the reference's values. False: fast mode, the
            same formulas with vectorised `cos`/`pow` kernels in place of libm's, every
            value within 4 ulp of the schedule's largest rate of the exact one (see the
            module docstring); scalar steps use the fast formulas too, so a step gives
            the same value alone as in an array.

    Raises:
        ValueError: the config is invalid (the message names the field and value).
        TypeError: the config is not a config, or a field has the wrong type, or
            `exact` is not a bool.

    Example:
        >>> s = Schedule({"linear_ramp_to_constant": {"learning_rate": 0.1, "num_ramp_steps": 10}})
        >>> s(5)
        0.05
        >>> s([0, 5, 20]).tolist()
        [0.0, 0.05, 0.1]
    """

    __slots__ = ()

    def __new__(cls, lr_config: Config, *, exact: bool = True) -> Schedule:  # noqa: D102
        mode = _check_exact(exact)
        if isinstance(lr_config, Schedule):
            lr_config = lr_config.config
        return super().__new__(cls, [lr_config], None, False, True, mode)

    if TYPE_CHECKING:

        @overload
        def __call__(self, step: Scalar, *, out: None = None, dtype: None = None) -> float: ...
        @overload
        def __call__(self, step: Scalar, *, out: None = None, dtype: Any) -> np.floating[Any]: ...
        @overload
        def __call__(
            self, step: torch.Tensor, *, out: torch.Tensor | None = None, dtype: Any = None
        ) -> torch.Tensor: ...
        @overload
        def __call__(
            self, step: Steps, *, out: None = None, dtype: None = None
        ) -> npt.NDArray[np.float64]: ...
        @overload
        def __call__(
            self, step: Steps, *, out: np.ndarray | None = None, dtype: Any = None
        ) -> FloatArray: ...
        def __call__(self, step: Any, *, out: Any = None, dtype: Any = None) -> Any:
            """The learning rates at `step` (typing only: the compiled type implements it)."""

    @_as_call("Schedule")
    def _call(self, step: Any, *, out: Any = None, dtype: Any = None) -> Any:
        return _evaluate(self, step, out, dtype)

    @property
    def exact(self) -> bool:
        """False in fast mode (`Schedule(cfg, exact=False)`), True for bitwise-exact values."""
        return bool(self._exact)

    @property
    def kind(self) -> str:
        """The kind's name: `constant`, `linear_ramp_to_cosine`, `cosine_decay`, ..."""
        return str(self._kinds()[0])

    @property
    def config(self) -> dict[str, Any]:
        """The schedule as a YAML-shaped dict."""
        return dict(self._configs()[0])

    @property
    def breakpoints(self) -> tuple[int, ...]:
        """Steps where the formula changes, increasing.

        Ramp end, cosine end, piecewise boundaries, phase ends, stage starts; for kinds
        with endlessly many (restarts, cycles, staircases), the first 64. A sequence
        lists its stages' in turn, up to the end of the first stage whose own list was
        cut before the stage ends: always the first breakpoints, never a gap.
        """
        return tuple(self._breakpoints()[0])

    @property
    def flat_from(self) -> int | None:
        """The step from which the value never changes, or None if there is none.

        Where the schedule's last phase begins (a decay to 0 where its value underflows
        to 0.0; a ramp to L where it reaches L). A config whose phases happen to give
        equal values (a decay with `final_learning_rate == learning_rate`, repeated
        table values) may be constant before it: this is the formula's end, not a
        search of the values. A periodic kind without an end (`cyclic`,
        `cosine_restarts` without `num_cycles`) has none, even where its cycles shrink
        until they round to a constant (`triangular2`, `exp_range`, `peak_decay`).
        """
        value = self._flat_from()[0]
        return None if value is None else int(value)

    @property
    def period(self) -> int | None:
        """The cycle length of a schedule made of equal-length cycles, or None.

        `cyclic`, and `cosine_restarts` of equal length without `num_cycles`. Each cycle
        repeats the shape of the first, as it is (`cyclic` triangular, restarts without
        `peak_decay`) or scaled (`triangular2` halves it, `exp_range` and `peak_decay`
        shrink it): strictly periodic only in the first case.
        """
        value = self._periods()[0]
        return None if value is None else int(value)

    def __reduce__(self) -> tuple[Any, ...]:
        cls = type(self)  # a subclass stays one
        if self.exact:
            return (cls, (self.config,))
        return (functools.partial(cls, exact=False), (self.config,))

    def __repr__(self) -> str:
        mode = "" if self.exact else ", exact=False"
        return f"Schedule({self.config!r}{mode})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Schedule)
            and self.exact == other.exact
            and self.config == other.config
        )

    __hash__ = None  # type: ignore[assignment]


class Schedules(_core.ScheduleSet):
    """Many learning-rate schedules of any kinds, evaluated together.

    Called with one step, returns shape `(G,)`: schedule g at that step. Called with an
    array of steps, returns shape `(G, *steps.shape)`. One compiled call, no Python
    loop over schedules or steps. Immutable, thread-safe and picklable.

    Args:
        configs: a sequence of configs, or a mapping name -> config (order kept; the
            names are `.names`), or a `Schedules` (its configs and names; the mode is
            this call's `exact`). Each config is anything `Schedule` accepts.
        exact: True (default): bitwise the reference's values. False: fast mode for
            every schedule, as `Schedule(cfg, exact=False)`; `self[g]` keeps the mode.

    Raises:
        ValueError / TypeError: a config is invalid; the message names the schedule
            (by name, or by position for a sequence), the field and the value. TypeError:
            `exact` is not a bool.

    Example:
        >>> s = Schedules({"ctr": {"constant": 0.1}, "cvr": {"constant": 0.2}})
        >>> s(100).tolist()
        [0.1, 0.2]
        >>> s.names
        ('ctr', 'cvr')
    """

    __slots__ = ()

    def __new__(  # noqa: D102 (documented on the class)
        cls, configs: Mapping[Any, Config] | Iterable[Config], *, exact: bool = True
    ) -> Schedules:
        mode = _check_exact(exact)
        names: tuple[Any, ...] | None
        items: list[Any]
        if isinstance(configs, Schedules):  # its configs and names; the mode is this call's
            names, items = configs.names, configs.configs
        elif isinstance(configs, Mapping):
            names = tuple(configs.keys())
            items = [configs[name] for name in names]
        elif isinstance(configs, (str, bytes)) or not isinstance(configs, Iterable):
            msg = (
                f"configs must be a sequence or a mapping of configs, got {type(configs).__name__}"
            )
            raise TypeError(msg)
        else:
            names, items = None, list(configs)
        # A sequence of Schedule objects is compiled from their configs.
        items = [c.config if isinstance(c, Schedule) else c for c in items]
        try:
            return super().__new__(cls, items, names, True, False, mode)
        except (TypeError, ValueError) as e:
            if _is_single_config(configs):
                msg = (
                    f"configs looks like one config, not a sequence or mapping of them: "
                    f"pass [config] (or use Schedule(config)); reading it gave: {e}"
                )
                raise TypeError(msg) from None
            raise

    if TYPE_CHECKING:

        @overload
        def __call__(
            self, step: torch.Tensor, *, out: torch.Tensor | None = None, dtype: Any = None
        ) -> torch.Tensor: ...
        @overload
        def __call__(
            self, step: Scalar | Steps, *, out: None = None, dtype: None = None
        ) -> npt.NDArray[np.float64]: ...
        @overload
        def __call__(
            self, step: Scalar | Steps, *, out: np.ndarray | None = None, dtype: Any = None
        ) -> FloatArray: ...
        def __call__(self, step: Any, *, out: Any = None, dtype: Any = None) -> Any:
            """The learning rates at `step` (typing only: the compiled type implements it)."""

    @_as_call("Schedules")
    def _call(self, step: Any, *, out: Any = None, dtype: Any = None) -> Any:
        return _evaluate(self, step, out, dtype)

    def values(self, step: int | float | np.integer | np.floating) -> list[float]:
        """Every schedule at one step, as a list of Python floats (one compiled call)."""
        return self._values_at(_scalar_step(step))

    def assign(
        self, step: int | float | np.integer | np.floating, targets: Any, key: str = "lr"
    ) -> list[float]:
        """Stores schedule g's value at `step` as `targets[g][key]`; returns the values.

        Made for optimizer parameter groups: `schedules.assign(step,
        optimizer.param_groups)` sets every group's learning rate with one compiled call
        and no Python loop, the values being Python floats equal to `compute_lr`.

        Raises:
            ValueError: `targets` does not hold one item per schedule, or the step is
                invalid (nothing is stored then).
            TypeError: `targets` is None, or not a sequence of mappings.
        """
        if targets is None:  # _values_at's own default: values only, nothing stored
            msg = "targets must be a sequence of mappings (optimizer.param_groups), got None"
            raise TypeError(msg)
        return self._values_at(_scalar_step(step), targets, key)

    def __len__(self) -> int:
        return self._size()

    def __getitem__(self, key: Any) -> Schedule:
        """Schedule by name (built from a mapping; names win) or by position."""
        if isinstance(key, slice) or not isinstance(key, Hashable):  # no names either
            msg = f"Schedules are indexed by name or position, got {type(key).__name__}"
            raise TypeError(msg)
        names = self._names
        if names is not None and key in names:
            key = names.index(key)
        elif isinstance(key, (bool, np.bool_)) or not isinstance(key, (int, np.integer)):
            shown = "" if names is None else f"; names are {list(names)!r}"
            msg = f"no schedule named {key!r}{shown}"
            raise KeyError(msg)
        elif not -len(self) <= key < len(self):
            msg = f"schedule index {key} out of range for {len(self)} schedules"
            raise IndexError(msg)
        return Schedule(self._configs()[key], exact=self.exact)

    def __iter__(self) -> Iterator[Schedule]:
        """Each schedule in order, as `self[g]` for g = 0, 1, ...

        By position even when names are integers (where `self[1]` is the one named 1).
        """
        exact = self.exact
        return (Schedule(config, exact=exact) for config in self._configs())

    def __eq__(self, other: object) -> bool:
        """The same schedules, names and mode (as `Schedule` compares)."""
        return (
            isinstance(other, Schedules)
            and self.exact == other.exact
            and self.names == other.names
            and self.configs == other.configs
        )

    __hash__ = None  # type: ignore[assignment]

    @property
    def exact(self) -> bool:
        """False in fast mode (`Schedules(configs, exact=False)`), True for bitwise-exact values."""
        return bool(self._exact)

    @property
    def names(self) -> tuple[Any, ...] | None:
        """Names of the schedules (mapping keys), or None when built from a sequence."""
        return self._names

    @property
    def kinds(self) -> tuple[str, ...]:
        """Kind of each schedule."""
        return tuple(self._kinds())

    @property
    def configs(self) -> list[dict[str, Any]]:
        """Each schedule as a YAML-shaped dict."""
        return list(self._configs())

    @property
    def breakpoints(self) -> list[tuple[int, ...]]:
        """Each schedule's `Schedule.breakpoints`."""
        return list(self._breakpoints())

    @property
    def flat_from(self) -> tuple[int | None, ...]:
        """Each schedule's `Schedule.flat_from`."""
        return tuple(self._flat_from())

    @property
    def periods(self) -> tuple[int | None, ...]:
        """Each schedule's `Schedule.period`."""
        return tuple(self._periods())

    def __reduce__(self) -> tuple[Any, ...]:
        configs = self.configs
        names = self._names
        arg = configs if names is None else dict(zip(names, configs, strict=True))
        cls = type(self)  # a subclass stays one
        if self.exact:
            return (cls, (arg,))
        return (functools.partial(cls, exact=False), (arg,))

    def __repr__(self) -> str:
        names = self._names
        label = f"names={list(names)!r}" if names is not None else f"{len(self)} schedules"
        mode = "" if self.exact else ", exact=False"
        return f"Schedules({label}, kinds={list(self.kinds)!r}{mode})"


def _is_single_config(value: Any, depth: int = 0) -> bool:
    """Whether `value` is one learning-rate config (not a mapping or list of them).

    A mapping whose keys are all kind names is one config, unless its values are
    configs themselves (schedules that happen to be named like kinds); an object with
    kind attributes (a `LearningRate`) or a `Schedule` is one.
    """
    if isinstance(value, Schedule):
        return True
    if isinstance(value, Mapping):
        if not value or not all(isinstance(key, str) and key in _KIND_NAMES for key in value):
            return False
        return depth > 0 or not any(_is_single_config(v, depth + 1) for v in value.values())
    return any(hasattr(value, kind) for kind in _KIND_NAMES)


# Every kind's name, as the core declares them (read once: kind_fields builds every
# kind's field table).
_KIND_NAMES = tuple(_core.kind_fields())


# Calls skip the argument tuple on Python < 3.12 too (see _core._fast_calls); the two
# classes become immutable.
_core._fast_calls(Schedule)
_core._fast_calls(Schedules)


def _compute_lr(
    lr_config: Config, step: Any, *, out: Any = None, dtype: Any = None, exact: Any = None
) -> Any:
    """The learning rate of `lr_config` at `step`, as the original tml `compute_lr`.

    The original four kinds (L = learning_rate, F = final_learning_rate,
    R = num_ramp_steps, T = final_num_steps, s = step):

    - constant c: `c`
    - piecewise_constant: `values[bisect_right(boundaries, s)]`
    - linear_ramp_to_constant: `min(L, L / R * s)`
    - linear_ramp_to_cosine: `L / R * s` for s < R;
      `F + (L - F) * 0.5 * (1 + cos(pi * (s - R) / (T - R)))` for R <= s <= T; `F` after.

    and the kinds of torch, optax, Hugging Face and Keras schedules (`linear`,
    `cosine_decay`, `one_cycle`, `sequence`, ...: each model in
    `tml.optimizers.config` gives its formula). Results are bitwise equal to these
    formulas evaluated in Python float64; every config value is taken as a float64
    (as the pydantic models store it), even a numpy float32 given to the duck-typed
    path.

    Args:
        lr_config: a `LearningRate`, a YAML-shaped dict, any object with the kind
            attributes (the original four required, the later kinds optional), or a
            compiled `Schedule`.
        step: an int or float (or numpy scalar) -> float; a list, tuple, range or numpy
            array of any shape and integer or float dtype -> numpy array of that shape;
            a torch tensor -> tensor of that shape on the same device.
        out: for array steps, a float32/float64 array of exactly the result's shape to
            write into (may be non-contiguous); returned.
        dtype: float64 (default) or float32 (the float64 result rounded once); for a
            scalar step, a numpy scalar of that dtype is returned.
        exact: True: bitwise the formulas above. False: fast mode, the same formulas
            with vectorised `cos`/`pow` kernels in place of libm's, every value within
            4 ulp of the schedule's largest rate of the exact one (`Schedule`'s
            `exact`). None (default): a compiled `Schedule`'s own mode, True for a
            config; a `Schedule` of the other mode is recompiled from its config.

    Raises:
        ValueError: a step is negative, NaN, infinite or above 2**63 - 1 (the message
            gives its position and value), the config is invalid, or `out` has the wrong
            shape. `out` is left unchanged.
        TypeError: steps of bool, complex, string or object dtype; a wrong `out` dtype;
            `exact` neither a bool nor None.
        KeyboardInterrupt: Ctrl-C stops a long evaluation within a few tens of ms;
            what `out` then holds is unspecified.

    Example:
        >>> cfg = {"piecewise_constant": {"learning_rate_boundaries": [10],
        ...                               "learning_rate_values": [1.0, 0.1]}}
        >>> compute_lr(cfg, 10)
        0.1
        >>> compute_lr(cfg, range(9, 12)).tolist()
        [1.0, 0.1, 0.1]
    """
    mode = None if exact is None else _check_exact(exact, "True, False or None")
    if isinstance(lr_config, Schedule) and mode in (None, lr_config.exact):
        compiled = lr_config
    else:
        compiled = Schedule(lr_config, exact=True if mode is None else mode)
    return _evaluate(compiled, step, out, dtype)


# compute_lr is a C function that evaluates Python int/float steps itself (no Python
# frame: per-step calls cost about what the original pure-Python function did) and
# hands every other call to _compute_lr above, whose docstring it carries.
_compute_lr.__name__ = _compute_lr.__qualname__ = "compute_lr"  # as errors name it
_core._register_compute_lr(
    _compute_lr,
    "compute_lr(lr_config, step, *, out=None, dtype=None, exact=None)\n--\n\n"
    + (_compute_lr.__doc__ or ""),
)
if TYPE_CHECKING:

    @overload
    def compute_lr(
        lr_config: Config,
        step: Scalar,
        *,
        out: None = None,
        dtype: None = None,
        exact: bool | None = None,
    ) -> float: ...
    @overload
    def compute_lr(
        lr_config: Config,
        step: Scalar,
        *,
        out: None = None,
        dtype: Any,
        exact: bool | None = None,
    ) -> np.floating[Any]: ...
    @overload
    def compute_lr(
        lr_config: Config,
        step: torch.Tensor,
        *,
        out: torch.Tensor | None = None,
        dtype: Any = None,
        exact: bool | None = None,
    ) -> torch.Tensor: ...
    @overload
    def compute_lr(
        lr_config: Config,
        step: Steps,
        *,
        out: None = None,
        dtype: None = None,
        exact: bool | None = None,
    ) -> npt.NDArray[np.float64]: ...
    @overload
    def compute_lr(
        lr_config: Config,
        step: Steps,
        *,
        out: np.ndarray | None = None,
        dtype: Any = None,
        exact: bool | None = None,
    ) -> FloatArray: ...
    def compute_lr(
        lr_config: Config,
        step: Any,
        *,
        out: Any = None,
        dtype: Any = None,
        exact: bool | None = None,
    ) -> Any:
        """Typing only: the compiled `_core.compute_lr` below is the function."""

else:
    compute_lr = _core.compute_lr
