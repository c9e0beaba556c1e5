"""Hostile and odd input.

Nothing from plain Python crashes the interpreter or gives a wrong number; long calls
stop on Ctrl-C; inputs the paths disagreed on are settled.

What could crash runs in a subprocess, so a crash fails the test instead of ending the
run.
"""

from __future__ import annotations

import copy
import math
import pickle
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator, Mapping
from types import SimpleNamespace
from typing import Any

import numpy as np
import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.kinds import EXAMPLES
from tests.oracle import bits
from tests.support import run_python
from tml import _core
from tml.optimizers import LearningRate, Schedule, Schedules, compute_lr

COSINE = {"cosine_decay": {"learning_rate": 1.0, "final_learning_rate": 0.1, "num_steps": 100}}


# ---------------------------------------------------------------------------------------
# No object of _core usable before it is built; Schedule and Schedules immutable.


def test_schedule_set_cannot_be_created_unbuilt() -> None:
    with pytest.raises(TypeError, match="configs"):
        _core.ScheduleSet.__new__(_core.ScheduleSet)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="not safe"):
        object.__new__(Schedule)
    with pytest.raises(TypeError):
        Schedule.__new__(Schedule)  # type: ignore[call-arg]
    built = _core.ScheduleSet.__new__(_core.ScheduleSet, [{"constant": 0.5}])
    assert built._kinds() == ["constant"]
    assert built._size() == 1


def test_crafted_pickles_raise_and_never_crash() -> None:
    # Each payload tries to get a Schedule without running its constructor: by NEWOBJ
    # with no arguments, through copyreg's object reconstructor, or by BUILD with a
    # state on a built one. Run in a subprocess: a crash would end this test only.
    result = run_python(
        """
        import pickle
        import tml.optimizers
        payloads = [
            b"\\x80\\x04ctml.optimizers.schedule\\nSchedule\\n)\\x81.",
            b"\\x80\\x04ctml.optimizers.schedule\\nSchedules\\n)\\x81.",
            b"\\x80\\x04ctml._core\\nScheduleSet\\n)\\x81.",
            b"ccopyreg\\n_reconstructor\\n(ctml.optimizers.schedule\\nSchedule\\n"
            b"c__builtin__\\nobject\\nNtR.",
            b"\\x80\\x04ctml.optimizers.schedule\\nSchedule\\n(}(Vconstant\\nG?\\xe0\\x00\\x00"
            b"\\x00\\x00\\x00\\x00utR}(V_compiled\\nI1\\nsb.",
        ]
        for payload in payloads:
            try:
                obj = pickle.loads(payload)
            except Exception as e:
                print("refused", type(e).__name__)
            else:
                print("built", type(obj).__name__, obj(3))
        """
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 5, result.stdout
    assert all(line.startswith("refused") for line in lines), result.stdout


def test_schedules_are_immutable() -> None:
    s = Schedule(COSINE)
    with pytest.raises(TypeError, match="immutable"):
        s.__init__({"constant": 0.25})  # type: ignore[misc]
    assert s(0) == 1.0
    with pytest.raises(AttributeError):
        s._compiled = None  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        object.__setattr__(s, "extra", 1)
    with pytest.raises(TypeError, match="immutable"):
        Schedule.__call__ = lambda *_: 0.0  # type: ignore[method-assign,assignment]
    many = Schedules({"a": COSINE})
    with pytest.raises(TypeError, match="immutable"):
        many.__init__({"b": COSINE})  # type: ignore[misc]
    assert many.names == ("a",)


def test_pickle_round_trip_keeps_values() -> None:
    s = Schedule(COSINE)
    again = pickle.loads(pickle.dumps(s))
    assert type(again) is Schedule
    assert bits(again(37)) == bits(s(37))


def test_compute_lr_without_the_python_layer_is_an_error_not_a_crash() -> None:
    result = run_python(
        """
        import sys, types
        stub = types.ModuleType("tml.optimizers.schedule")  # registers nothing
        sys.modules["tml.optimizers.schedule"] = stub
        from tml import _core
        print(_core.compute_lr({"constant": 0.5}, 3))  # the C path needs no registration
        try:
            _core.compute_lr({"constant": 0.5}, [1, 2])
        except RuntimeError as e:
            print("RuntimeError", "tml.optimizers.schedule" in str(e))
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0.5", "RuntimeError", "True"]


def test_names_and_configs_must_agree_in_number() -> None:
    with pytest.raises(ValueError, match="names has 2 entries but there are 1 configs"):
        _core.ScheduleSet([COSINE], ("a", "b"))


class Inconsistent(Mapping[str, Any]):
    """A mapping whose keys and values disagree in length (values() drops one)."""

    def __init__(self) -> None:
        self._data = {"a": COSINE, "b": {"constant": 0.5}}

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def values(self) -> Any:  # type: ignore[override]
        return [COSINE]


def test_a_mapping_is_read_key_by_key() -> None:
    many = Schedules(Inconsistent())
    assert many.names == ("a", "b")
    assert many.kinds == ("cosine_decay", "constant")
    assert many(0).tolist() == [1.0, 0.5]


# ---------------------------------------------------------------------------------------
# Ctrl-C stops a long evaluation between chunks.


@pytest.mark.slow
def test_ctrl_c_interrupts_a_long_evaluation() -> None:
    # One call over cosine_restarts steps (a libm cos each), as many as take about 5 s on
    # this machine, estimated from a small call: the child then reports how long after its
    # start the call stopped.
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                """
                import time
                import numpy as np
                from tml.optimizers import Schedule
                s = Schedule({"cosine_restarts": {"learning_rate": 1.0, "num_steps": 1000,
                              "period_multiplier": 3, "peak_decay": 0.9}})
                # Enough steps for about 5 s of work on this machine (a range: no memory
                # for the steps; of `out`, only the pages written before the signal).
                probe = 1_000_000
                start = time.perf_counter()
                s(range(probe), out=np.empty(probe, dtype=np.float32))
                per_step = (time.perf_counter() - start) / probe
                n = min(int(5.0 / per_step), 2_000_000_000)
                estimate = per_step * n
                out = np.empty(n, dtype=np.float32)
                print("go", estimate, flush=True)
                start = time.perf_counter()
                try:
                    s(range(n), out=out)
                except KeyboardInterrupt:
                    print("interrupted", time.perf_counter() - start, flush=True)
                else:
                    print("finished", time.perf_counter() - start, flush=True)
                """
            ),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        word, estimate = child.stdout.readline().split()
        assert word == "go"
        time.sleep(0.3)
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=120)
    finally:
        child.kill()
    word, seconds = out.split()
    assert word == "interrupted", out + err
    assert float(estimate) > 1.0, estimate  # the call would have run on for seconds
    # Stopped within 100 ms of the signal; a loaded CI machine gets some slack.
    assert float(seconds) < 0.3 + 0.4, (seconds, estimate)


# ---------------------------------------------------------------------------------------
# Inputs the paths disagreed on.


@pytest.mark.parametrize(
    "text",
    ["\uff11", "\u0661", "\u0660.\u0665", "0.\uff11"],
    ids=["fullwidth", "arabic-indic", "arabic-dot", "mixed"],
)
def test_digits_of_other_scripts_are_refused_on_every_path(text: str) -> None:
    with pytest.raises(ValueError, match="must be a number"):
        compute_lr({"constant": text}, 1)
    with pytest.raises(ValueError, match=r"num_ramp_steps must be a number"):
        Schedule({"linear_ramp_to_constant": {"learning_rate": 0.1, "num_ramp_steps": text}})
    with pytest.raises(ValueError, match=r"constant"):  # a pydantic.ValidationError
        LearningRate.model_validate({"constant": text})


def test_negative_zero_rate_is_zero_on_every_path() -> None:
    dict_config = {"constant": -0.0}
    for value in (
        compute_lr(dict_config, 3),
        Schedule(dict_config)(3),
        compute_lr(LearningRate(constant=-0.0), 3),
        compute_lr(SimpleNamespace(**_four(constant=-0.0)), 3),
        float(compute_lr(dict_config, np.arange(2))[1]),
    ):
        assert bits(value) == bits(0.0)
    assert LearningRate(constant=-0.0).constant == 0.0
    assert not math.copysign(1.0, LearningRate(constant=-0.0).constant or 0.0) < 0
    assert Schedule(dict_config).config == {"constant": 0.0}


def _four(**kinds: Any) -> dict[str, Any]:
    return {
        "constant": None,
        "piecewise_constant": None,
        "linear_ramp_to_constant": None,
        "linear_ramp_to_cosine": None,
        **kinds,
    }


def test_mixed_list_with_a_wide_int_is_valid() -> None:
    restarts = {"cosine_restarts": {"learning_rate": 1.0, "num_steps": 7, "period_multiplier": 3}}
    got = compute_lr(restarts, [2**63 - 1, 0.5])
    assert [bits(v) for v in got] == [
        bits(compute_lr(restarts, 2**63 - 1)),
        bits(compute_lr(restarts, 0.5)),
    ]
    # An int above 2**53 next to floats keeps its exact value (numpy would round it).
    wide = [2**53 + 1, 1.5]
    assert bits(compute_lr(restarts, wide)[0]) == bits(compute_lr(restarts, 2**53 + 1))
    with pytest.raises(ValueError, match=r"steps\[1\] = -0\.5"):
        compute_lr(restarts, [2**63 - 1, -0.5])
    with pytest.raises(TypeError, match=r"steps\[1\] = True"):
        compute_lr(restarts, [2**63 - 1, True])


CYCLIC = {
    "cyclic": {
        "learning_rate": 0.0,
        "max_learning_rate": 3.0,
        "step_size_up": 1,
        "step_size_down": 2,
    }
}


@pytest.mark.parametrize(
    "steps",
    [
        [2**53 + 1, np.float64(0.5)],
        [np.int64(2**53 + 1), 0.5],
        [np.int64(2**53 + 1), np.float32(0.5)],
        [np.uint64(2**53 + 1), 1],
        [np.uint64(2**53 + 1), np.int64(1)],
        [[np.int64(2**53 + 1)], [np.float16(0.5)]],
        (np.int64(2**63 - 1), 0.5),
        [np.array(2**53 + 1), 0.5],  # 0-d arrays are numbers too
        [[np.array(2**53 + 1)], [np.array(0.5, dtype=np.float32)]],
    ],
    ids=repr,
)
def test_mixed_lists_with_numpy_scalars_keep_every_integer_exact(steps: Any) -> None:
    # numpy makes each of these one float64 array, rounding the integer (2**53 + 1 is
    # 2**53 there, a different cycle position); each element is its own step instead.
    got = compute_lr(CYCLIC, steps)
    flat = np.array(steps, dtype=object).reshape(-1)
    want = [
        compute_lr(CYCLIC, v.item() if isinstance(v, (np.generic, np.ndarray)) else v) for v in flat
    ]
    assert [bits(v) for v in got.reshape(-1)] == [bits(v) for v in want]
    assert got.shape == np.array(steps, dtype=object).shape
    assert Schedule(CYCLIC)(steps).tolist() == got.tolist()
    assert Schedules([CYCLIC, CYCLIC])(steps).tolist() == [got.tolist()] * 2


@pytest.mark.parametrize(
    ("steps", "error", "match"),
    [
        ([np.uint64(2**63 + 5), np.int64(1)], ValueError, r"steps\[0\] = .*2\*\*63 - 1\]"),
        ([np.uint64(2**63 + 5), 0.5], ValueError, r"steps\[0\] = .*2\*\*63 - 1\]"),
        ([np.int64(2**60), np.float64("nan")], ValueError, r"steps\[1\] = nan"),
        ([np.int64(2**60), -0.5], ValueError, r"steps\[1\] = -0\.5"),
        ([np.int64(2**60), np.bool_(True)], TypeError, r"steps\[1\] = .*True"),
        ([np.array(True), 2], TypeError, r"steps\[0\] = array\(True\).*dtype bool"),
        ([[1, np.array(-1)]], ValueError, r"steps\[0, 1\] = -1"),
        ([np.array([1, 2]), 3], TypeError, r"steps\[0\] is an array of shape \(2,\)"),
    ],
    ids=repr,
)
def test_mixed_lists_with_numpy_scalars_refuse_a_bad_element(
    steps: Any, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        compute_lr({"constant": 1.0}, steps)


def test_zero_d_tensors_in_a_list_are_numbers_with_their_checks() -> None:
    torch = pytest.importorskip("torch")
    n = 2**53 + 1
    got = compute_lr(CYCLIC, [torch.tensor(n), 0.5])
    assert [bits(v) for v in got] == [bits(compute_lr(CYCLIC, n)), bits(compute_lr(CYCLIC, 0.5))]
    with pytest.raises(TypeError, match=r"steps\[0\] = tensor\(True\).*torch.bool"):
        compute_lr(CYCLIC, [torch.tensor(True), 2])
    with pytest.raises(TypeError, match=r"steps\[1\] is an array of shape \(1,\)"):
        compute_lr(CYCLIC, [2, torch.tensor([3])])


def test_a_float_step_past_2_63_in_a_list_of_ints_is_a_float_step() -> None:
    # numpy makes [1, 1e19] a float64 array, which the check for an int past int64 (also
    # a float there) took for one, naming no element.
    constant = {"constant": 0.25}
    for steps in ([1, 1e19], (0, 2.0**63), [[1], [1e300]]):
        want = compute_lr(constant, np.array(steps, dtype=np.float64))
        assert compute_lr(constant, steps).tolist() == want.tolist()
        assert Schedule(constant)(steps).tolist() == want.tolist()


def test_attribute_error_inside_a_property_gets_through() -> None:
    class Config:
        piecewise_constant = None
        linear_ramp_to_constant = None
        linear_ramp_to_cosine = None

        @property
        def constant(self) -> float:
            return self.missing_helper  # type: ignore[attr-defined,no-any-return]

    with pytest.raises(AttributeError, match="missing_helper"):
        compute_lr(Config(), 1)


def test_configs_are_evaluated_in_float64() -> None:
    # A float32 value on the duck-typed path is widened to float64 exactly, as the
    # pydantic models store floats: float32 arithmetic of the original is not copied.
    lr32 = np.float32(0.1)
    namespace = SimpleNamespace(
        **_four(linear_ramp_to_constant=SimpleNamespace(learning_rate=lr32, num_ramp_steps=3))
    )
    got = compute_lr(namespace, 1)
    assert bits(got) == bits(float(lr32) / 3 * 1)
    assert got != float(lr32 / np.float32(3))  # not float32 arithmetic


# ---------------------------------------------------------------------------------------
# Fuzz: odd values in configs and odd step lists are refused or evaluated, never wrong.

_ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["1e-3", "10", "-0.0", "\uff11", "\u0661\u0660", "nan", "inf", "", " 5 "]),
    st.text(max_size=6),
    st.lists(st.integers(min_value=-5, max_value=50), max_size=4),
)


@settings(max_examples=200, deadline=None)
@given(kind=st.sampled_from(sorted(EXAMPLES)), data=st.data())
def test_odd_field_values_are_refused_or_evaluated_correctly(kind: str, data: Any) -> None:
    config = copy.deepcopy(EXAMPLES[kind][0])
    body = config[kind]
    if isinstance(body, dict) and body:
        field = data.draw(st.sampled_from(sorted(body)))
        body[field] = data.draw(_ODD_VALUES)
    else:
        config[kind] = data.draw(_ODD_VALUES)
    try:
        value = compute_lr(config, data.draw(st.integers(min_value=0, max_value=10**6)))
    except (ValueError, TypeError):
        return
    assert math.isfinite(value)
    assert value >= 0.0


_STEP_ITEMS = st.one_of(
    st.integers(min_value=0, max_value=2**63 - 1),
    st.floats(min_value=0.0, max_value=2.0**62),
    st.integers(min_value=-5, max_value=-1),
    st.sampled_from([True, float("nan"), "3", None, 2**63, 2**64]),
)


@settings(max_examples=200, deadline=None)
@given(items=st.lists(_STEP_ITEMS, min_size=1, max_size=6))
def test_odd_step_lists_are_refused_or_match_each_element(items: list[Any]) -> None:
    schedule = Schedule(COSINE)
    try:
        got = schedule(items)
    except (ValueError, TypeError):
        # Refused: then some element is refused on its own too.
        refused = 0
        for item in items:
            try:
                schedule(item)
            except (ValueError, TypeError):
                refused += 1
        assert refused > 0, items
        return
    assert [bits(v) for v in got] == [bits(schedule(item)) for item in items]


# --------------------------------------------------------------------------- nesting


def nested_sequence(depth: int) -> dict[str, Any]:
    """`depth` sequences, each a 3-step stage and then the next; constant 0.5 innermost."""
    cfg: dict[str, Any] = {"constant": 0.5}
    for _ in range(depth):
        cfg = {"sequence": [{"num_steps": 3, "schedule": {"constant": 0.1}}, {"schedule": cfg}]}
    return cfg


def test_sequences_nest_32_deep_and_no_deeper() -> None:
    deepest = nested_sequence(32)
    steps = np.array([0, 3 * 32 - 1, 3 * 32, 10**6])
    assert Schedule(deepest)(steps).tolist() == [0.1, 0.1, 0.5, 0.5]
    assert Schedule(LearningRate.model_validate(deepest))(3 * 32) == 0.5
    with pytest.raises(ValueError, match=r"\.sequence nests sequences more than 32 deep"):
        Schedule(nested_sequence(33))
    with pytest.raises(ValueError, match="nests sequences more than 32 deep"):
        compute_lr(nested_sequence(33), 0)
    # Through the models: one path, and a loc that ends where the error is (a colon
    # after the path hid it from the models, which then gave two paths and loc ()).
    # (pydantic validates the inner models first: the one 33 deep refuses itself.)
    for depth in (33, 34):
        with pytest.raises(pydantic.ValidationError) as info:
            LearningRate.model_validate(nested_sequence(depth))
        (error,) = info.value.errors()
        assert error["loc"] == ("sequence", 1, "schedule") * (depth - 1) + ("sequence",)
        message = str(error["ctx"]["error"])
        assert message.startswith("sequence[1].schedule." * (depth - 1) + "sequence nests")
        assert message.count("sequence[") == depth - 1  # one path, not two


def test_a_config_that_contains_itself_is_refused_not_a_crash() -> None:
    # It recursed until the stack overflowed: a segfault, in the caller's thread.
    result = run_python(
        """
        import threading
        from tml.optimizers import Schedule, Schedules, compute_lr

        looped = {"sequence": []}
        looped["sequence"].append({"schedule": looped})
        threading.stack_size(256 * 1024)  # a small stack, as in a worker thread
        for call in (Schedule, Schedules, lambda c: compute_lr(c, 0)):
            def run():
                try:
                    call([looped] if call is Schedules else looped)
                except ValueError as e:
                    assert "does the config contain itself?" in str(e), e
                    print("refused")
            thread = threading.Thread(target=run)
            thread.start()
            thread.join()
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["refused"] * 3


def test_the_deepest_sequence_evaluates_on_a_small_thread_stack() -> None:
    # Evaluation recurses once a level too, on the package's worker threads and the caller's.
    result = run_python(
        """
        import threading
        import numpy as np
        from tests.test_hardening import nested_sequence
        from tml.optimizers import Schedule

        def run():
            for exact in (True, False):
                s = Schedule(nested_sequence(32), exact=exact)
                for steps in (np.arange(4_000_000), np.arange(4_000_000.0)):
                    values = s(steps)
                    assert values[0] == 0.1 and values[96] == 0.5 and values[-1] == 0.5
            print("ok")

        threading.stack_size(256 * 1024)
        thread = threading.Thread(target=run)
        thread.start()
        thread.join()
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["ok"]


def test_targets_emptied_by_their_own_methods_are_refused_not_a_crash(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # assign kept reading the list after a target's __setitem__ (or __getitem__, with
    # numbers_only, or a dict key's __eq__ during the lookup of "lr") had emptied it: a
    # segfault, or with the list's reference gone, a use after free (which the debug
    # allocator makes a crash every time).
    monkeypatch.setenv("PYTHONMALLOC", "debug")
    result = run_python(
        """
        from collections.abc import MutableMapping
        from tml.optimizers import Schedules

        class CollidesWithLr:
            def __hash__(self): return hash("lr")
            def __eq__(self, other):
                targets.clear()
                return False

        class Clears(dict):
            def __setitem__(self, key, value):
                super().__setitem__(key, value)
                targets.clear()

        class ClearsOnRead(MutableMapping):
            def __init__(self): self.d = {"lr": 0.5}
            def __getitem__(self, key):
                targets.clear()
                return self.d[key]
            def __setitem__(self, key, value): self.d[key] = value
            def __delitem__(self, key): del self.d[key]
            def __iter__(self): return iter(self.d)
            def __len__(self): return len(self.d)

        s = Schedules([{"constant": 0.1}] * 100)
        cases = (
            (Clears, False),
            (ClearsOnRead, True),
            (lambda: {CollidesWithLr(): 1, "lr": 0.5}, True),
            (lambda: {CollidesWithLr(): 1, "lr": 0.5}, False),
        )
        for make, numbers_only in cases:
            targets = [make() for _ in range(100)]
            try:
                s._values_at(5, targets, "lr", numbers_only)
            except ValueError as e:
                assert "targets changed size" in str(e), e
                print("refused")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["refused"] * 4
