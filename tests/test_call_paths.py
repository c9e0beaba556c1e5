"""The compiled call path and the general Python path agree.

`Schedule(cfg)(step)` and `Schedules(...)(step)` with a Python int or float, a numpy
int64 or float64 scalar, or a contiguous int64/float64 numpy array, with or without an
`out` array to write, are evaluated by the compiled type without a Python frame; every
other call goes to `_call`, the general path. For the inputs the compiled path takes,
both must give the same bits, or the same exception type and message, and leave `out`
the same.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.kinds import EXAMPLES, edge_steps
from tests.oracle import KINDS
from tml.optimizers import Schedule, Schedules, compute_lr

# Invalid steps of every form the compiled path takes (and one it hands on).
BAD_STEPS: list[Any] = [
    -1,
    -0.5,
    float("nan"),
    float("inf"),
    2**63,
    2**70,
    1e19,
    np.array([0, -3], dtype=np.int64),
    np.array([0.5, float("nan")]),
    np.array([[1.0, 2.0], [3.0, 1e300]]),
    np.array([2.0**63]),
]


def outcome(call: Any, step: Any) -> Any:
    """What a call gave: the result's bits and shape, or the exception's type and text."""
    try:
        value = call(step)
    except Exception as e:
        return ("raised", type(e), str(e))
    array = np.asarray(value)
    return ("value", type(value), array.shape, array.dtype, array.tobytes())


def steps_of(config: dict[str, Any]) -> list[Any]:
    edges = [s for s in edge_steps(config) if isinstance(s, (int, float))][:40]
    ints = [s for s in edges if isinstance(s, int)]
    floats = [float(s) for s in edges if isinstance(s, float) and s < 2.0**63]
    return [
        *edges,
        np.array(ints, dtype=np.int64),
        np.array(floats, dtype=np.float64),
        np.array(ints[:4], dtype=np.int64).reshape(2, 2) if len(ints) >= 4 else np.arange(4),
        np.array([], dtype=np.int64),
        np.array([], dtype=np.float64),
        np.int64(5),
        np.float64(5.5),
        np.int64(-2),
        np.float64("nan"),
        np.int32(5),  # the general path's: compared all the same
        *BAD_STEPS,
    ]


def outcome_into(call: Any, step: Any, shape: tuple[int, ...], dtype: Any) -> Any:
    """What a call with `out` gave: the result, or the exception, and `out` after it."""
    out = np.full(shape, -7.0, dtype=dtype)
    try:
        value = call(step, out=out)
    except Exception as e:
        return ("raised", type(e), str(e), out.tobytes())
    return ("value", value is out, out.tobytes())


def outs_for(step: Any, groups: int | None) -> list[tuple[tuple[int, ...], Any]]:
    """`out` shapes and dtypes to try: the result's, in both dtypes, and a wrong shape."""
    shape = np.shape(step) if groups is None else (groups, *np.shape(step))
    return [(shape, np.float64), (shape, np.float32), ((*shape, 2), np.float64)]


@pytest.mark.parametrize("kind", KINDS)
def test_schedule_paths_agree(kind: str) -> None:
    for config in EXAMPLES[kind][:3]:
        schedule = Schedule(config)
        for step in steps_of(config):
            fast = outcome(schedule, step)
            general = outcome(schedule._call, step)
            assert fast == general, (config, step, fast, general)
            # compute_lr takes the same compiled path for Python scalars
            via_compute_lr = outcome(lambda s, c=config: compute_lr(c, s), step)
            assert via_compute_lr == general, (config, step)
            for shape, dtype in outs_for(step, None):
                fast = outcome_into(schedule, step, shape, dtype)
                general = outcome_into(schedule._call, step, shape, dtype)
                assert fast == general, (config, step, shape, dtype, fast, general)


def test_schedules_paths_agree() -> None:
    configs = {f"{kind}-{i}": c for kind in KINDS for i, c in enumerate(EXAMPLES[kind][:2])}
    many = Schedules(configs)
    steps = [step for config in list(configs.values())[:6] for step in steps_of(config)]
    for step in steps:
        assert outcome(many, step) == outcome(many._call, step), step
        for shape, dtype in outs_for(step, len(configs)):
            fast = outcome_into(many, step, shape, dtype)
            assert fast == outcome_into(many._call, step, shape, dtype), (step, shape, dtype)


def test_out_sharing_the_steps_memory_is_written_as_the_general_path_writes_it() -> None:
    schedule = Schedule(EXAMPLES["cosine_decay"][0])
    steps = np.arange(0.0, 40.0, 5.0)
    want = schedule._call(steps.copy(), out=steps.copy())
    assert schedule(steps, out=steps) is steps
    np.testing.assert_array_equal(steps, want)


def test_options_other_than_out_and_dtype_are_refused_even_when_none() -> None:
    schedule, many = Schedule(EXAMPLES["linear"][0]), Schedules([EXAMPLES["linear"][0]] * 2)
    for call in (schedule, many):
        with pytest.raises(TypeError, match="unexpected keyword argument 'outt'"):
            call(3, outt=None)
        assert np.asarray(call(3, out=None, dtype=None)).tobytes() == np.asarray(call(3)).tobytes()


def test_the_compiled_path_is_taken() -> None:
    # A general-path call can be told apart by its Python frame; the compiled one has
    # none (it cannot be seen by a profile hook as a Python call).
    import sys

    schedule = Schedule(EXAMPLES["cosine_decay"][0])
    calls: list[str] = []

    def hook(frame: Any, event: str, _arg: Any) -> None:
        if event == "call":
            calls.append(frame.f_code.co_name)

    many = Schedules([EXAMPLES["cosine_decay"][0]] * 3)
    out, outs = np.empty(10), np.empty(3, dtype=np.float32)
    sys.setprofile(hook)
    try:
        schedule(5)
        schedule(5.5)
        schedule(np.int64(5))
        schedule(np.float64(5.5))
        schedule(np.arange(10))
        schedule(np.arange(10), out=out)
        many(5, out=outs)
        many(np.int64(5), out=outs, dtype=None)
    finally:
        sys.setprofile(None)
    assert calls == [], calls
    sys.setprofile(hook)
    try:
        schedule([1, 2])
    finally:
        sys.setprofile(None)
    assert "__call__" in calls  # _call, named for what the user called (_as_call)
