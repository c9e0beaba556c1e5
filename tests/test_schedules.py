"""`Schedule` and `Schedules`: compiled once, called many times (README: Using it).

Mixed kinds, sequences and mappings, shapes, indexing, pickling, repr, and many
threads calling one object at once. Expected values come from the oracle.
"""

from __future__ import annotations

import copy
import inspect
import pickle
import re
import textwrap
import threading
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tml.optimizers
import tml.optimizers.optimizer
from tests.kinds import all_examples, edge_steps
from tests.oracle import assert_same_bits, bits, namespace, reference_array, reference_lr
from tests.strategies import original_configs as configs
from tests.support import run_python
from tml.optimizers import LearningRate, Schedule, Schedules, compute_lr

COSINE: dict[str, Any] = {
    "linear_ramp_to_cosine": {
        "learning_rate": 1e-3,
        "final_learning_rate": 1e-5,
        "num_ramp_steps": 100,
        "final_num_steps": 5000,
    }
}
PIECEWISE: dict[str, Any] = {
    "piecewise_constant": {
        "learning_rate_boundaries": [50, 1000, 4000],
        "learning_rate_values": [0.1, 0.05, 0.01, 0.001],
    }
}
RAMP: dict[str, Any] = {"linear_ramp_to_constant": {"learning_rate": 0.02, "num_ramp_steps": 300}}
CONSTANT = {"constant": 0.003}
MIXED = {"backbone": COSINE, "is_clicked": PIECEWISE, "is_replied": RAMP, "embeddings": CONSTANT}
STEPS = np.array(
    [0, 1, 49, 50, 51, 99, 100, 101, 299, 300, 999, 1000, 2500, 3999, 4000, 5000, 5001, 10**7]
)


def test_mixed_kinds_shapes_and_values() -> None:
    names = ["backbone", "is_clicked", "is_replied", "embeddings"]
    for schedules in (Schedules(MIXED), Schedules(list(MIXED.values()))):
        assert len(schedules) == 4
        assert schedules.kinds == (
            "linear_ramp_to_cosine",
            "piecewise_constant",
            "linear_ramp_to_constant",
            "constant",
        )
        one = schedules(1000)
        assert type(one) is np.ndarray
        assert one.shape == (4,)
        assert one.dtype == np.float64
        assert [bits(v) for v in one] == [
            bits(reference_lr(namespace(c), 1000)) for c in MIXED.values()
        ]
        one_float = schedules(1000.5)
        assert one_float.shape == (4,)
        grid = STEPS.reshape(3, 6)
        many = schedules(grid)
        assert many.shape == (4, 3, 6)
        for row, name in zip(many, names, strict=True):
            assert_same_bits(row, reference_array(MIXED[name], grid))
        assert schedules(np.int32(7)).shape == (4,)
        f32 = schedules(1000, dtype=np.float32)
        assert f32.shape == (4,)
        assert f32.dtype == np.float32
        np.testing.assert_array_equal(f32, one.astype(np.float32))
        assert schedules(np.array(7)).shape == (4,)
        assert schedules([7]).shape == (4, 1)


def test_names_of_a_mapping_keep_their_order() -> None:
    order = ["zeta", "alpha", "mid", "b"]
    configs = {name: {"constant": float(i)} for i, name in enumerate(order)}
    schedules = Schedules(configs)
    assert schedules.names == tuple(order)
    assert schedules(0).tolist() == [0.0, 1.0, 2.0, 3.0]
    assert Schedules(list(configs.values())).names is None
    assert Schedules(tuple(configs.values())).names is None
    assert Schedules(c for c in configs.values()).names is None  # any iterable


def test_indexing() -> None:
    schedules = Schedules(MIXED)
    for i, (name, config) in enumerate(MIXED.items()):
        for key in (i, name, i - len(MIXED)):
            one = schedules[key]
            assert isinstance(one, Schedule)
            assert_same_bits(one(STEPS), reference_array(config, STEPS))
    with pytest.raises(KeyError):
        schedules["missing"]
    with pytest.raises(IndexError):
        schedules[4]
    by_position = Schedules(list(MIXED.values()))
    assert_same_bits(by_position[2](STEPS), reference_array(RAMP, STEPS))
    with pytest.raises(KeyError):
        by_position["backbone"]


@pytest.mark.parametrize("exact", [True, False])
def test_iteration_is_by_position_even_with_integer_names(exact: bool) -> None:
    # Without __iter__, Python iterated with self[0], self[1], ..., where a name wins.
    configs = {1: CONSTANT, 0: RAMP, 7: COSINE}
    schedules = Schedules(configs, exact=exact)
    assert list(schedules) == [Schedule(c, exact=exact) for c in configs.values()]
    assert [s(5000) for s in schedules] == schedules(5000).tolist()
    assert list(Schedules([])) == []


def test_equality_compares_schedules_names_and_mode() -> None:
    assert Schedules(MIXED) == Schedules(MIXED)
    assert Schedules(MIXED) == Schedules({k: namespace(v) for k, v in MIXED.items()})
    assert Schedules(MIXED) != Schedules(list(MIXED.values()))  # names
    assert Schedules(MIXED) != Schedules(MIXED, exact=False)
    assert Schedules([RAMP, COSINE]) != Schedules([COSINE, RAMP])
    assert Schedules([RAMP]) != Schedule(RAMP)
    with pytest.raises(TypeError, match="unhashable"):
        hash(Schedules(MIXED))


def test_config_forms_and_schedules_as_items() -> None:
    items = [
        LearningRate.model_validate(COSINE),
        PIECEWISE,
        namespace(RAMP),
        Schedule(CONSTANT),
        SimpleNamespace(
            constant=0.5,
            piecewise_constant=None,
            linear_ramp_to_constant=None,
            linear_ramp_to_cosine=None,
        ),
    ]
    rows = Schedules(items)(STEPS)
    for row, config in zip(
        rows, [COSINE, PIECEWISE, RAMP, CONSTANT, {"constant": 0.5}], strict=True
    ):
        assert_same_bits(row, reference_array(config, STEPS))


def test_schedule_behaves_as_compute_lr() -> None:
    for config in MIXED.values():
        schedule = Schedule(config)
        assert_same_bits(schedule(STEPS), compute_lr(config, STEPS))
        assert_same_bits(schedule(STEPS), reference_array(config, STEPS))
        assert [bits(schedule(s)) for s in STEPS.tolist()] == [
            bits(compute_lr(config, s)) for s in STEPS.tolist()
        ]
        # A Schedule is itself accepted wherever a config is.
        assert_same_bits(compute_lr(schedule, STEPS), reference_array(config, STEPS))
        assert bits(compute_lr(schedule, 321)) == bits(reference_lr(namespace(config), 321))
        assert_same_bits(Schedule(schedule)(STEPS), reference_array(config, STEPS))
        # Its config rebuilds it.
        assert_same_bits(Schedule(schedule.config)(STEPS), reference_array(config, STEPS))
        assert schedule.kind == next(iter(config))


@given(config=configs)
def test_pickle_round_trip(config: dict[str, Any]) -> None:
    steps = np.array(edge_steps(config), dtype=np.float64)
    expected = reference_array(config, steps)
    schedule = pickle.loads(pickle.dumps(Schedule(config)))
    assert_same_bits(schedule(steps), expected)
    named = pickle.loads(pickle.dumps(Schedules({"a": CONSTANT, "b": config})))
    assert named.names == ("a", "b")
    assert_same_bits(named(steps)[1], expected)
    plain = pickle.loads(pickle.dumps(Schedules([config, CONSTANT]), protocol=2))
    assert plain.names is None
    assert_same_bits(plain(steps)[0], expected)


class TowerSchedule(Schedule):
    """A user's subclass, at module level so that pickle can name it."""

    __slots__ = ()


class TowerSchedules(Schedules):
    __slots__ = ()


@pytest.mark.parametrize("exact", [True, False])
def test_subclasses_survive_pickle_and_copy(exact: bool) -> None:
    # __reduce__ named the base classes: a subclass came back as Schedule / Schedules.
    one = TowerSchedule(RAMP, exact=exact)
    many = TowerSchedules({"a": RAMP, "b": CONSTANT}, exact=exact)
    for obj in (one, many):
        for again in (pickle.loads(pickle.dumps(obj)), copy.copy(obj), copy.deepcopy(obj)):
            assert type(again) is type(obj)
            assert again == obj
            assert again.exact is exact


def test_repr() -> None:
    text = repr(Schedule(RAMP))
    assert text.startswith("Schedule(")
    assert "linear_ramp_to_constant" in text
    assert "300" in text
    assert "0.02" in text
    text = repr(Schedules(MIXED))
    assert text.startswith("Schedules(")
    for word in ("backbone", "is_clicked", "piecewise_constant", "constant"):
        assert word in text
    assert "Schedules(" in repr(Schedules([RAMP, COSINE]))


def test_reusable_and_unchanged_by_calls() -> None:
    schedules = Schedules(MIXED)
    first = schedules(STEPS)
    with pytest.raises(ValueError, match="-1"):
        schedules([-1])
    schedules(np.arange(10_000))
    assert_same_bits(schedules(STEPS), first)


# ---------------------------------------------------------------------------
# Thread safety


def test_threads_share_one_schedule() -> None:
    schedule = Schedule(COSINE)
    schedules = Schedules(MIXED)
    steps_int = np.arange(0, 6000 * 20, 20, dtype=np.int64) % 6000
    steps_float = steps_int.astype(np.float64) + 0.25
    expected = {
        "int": reference_array(COSINE, steps_int),
        "float": reference_array(COSINE, steps_float),
    }
    expected_rows = [reference_array(c, steps_int) for c in MIXED.values()]
    # Larger inputs than one thread's share, so the compiled call splits them too.
    big = np.tile(steps_int, 12)
    expected_big = np.tile(expected["int"], 12)
    start = threading.Barrier(8)

    def work(k: int) -> bool:
        start.wait()
        for _ in range(3):
            if k % 4 == 0:
                assert_same_bits(schedule(steps_int), expected["int"])
            elif k % 4 == 1:
                assert_same_bits(schedule(steps_float), expected["float"])
            elif k % 4 == 2:
                for row, want in zip(schedules(steps_int), expected_rows, strict=True):
                    assert_same_bits(row, want)
            else:
                assert_same_bits(schedule(big), expected_big)
            # Scalar calls from many threads at once, every kind (piecewise reads lists).
            for s in (0, 49, 50, 99, 100, 2500, 4000, 5000, 5001):
                for config in MIXED.values():
                    assert bits(compute_lr(config, s)) == bits(reference_lr(namespace(config), s))
                assert bits(schedule(s)) == bits(reference_lr(namespace(COSINE), s))
        return True

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert all(pool.map(work, range(8)))


# ---------------------------------------------------------------------------
# Module surface


def test_compute_lr_is_the_same_function_everywhere() -> None:
    assert tml.optimizers.optimizer.compute_lr is tml.optimizers.compute_lr


def test_compute_lr_signature_and_keywords() -> None:
    params = inspect.signature(compute_lr).parameters
    assert list(params) == ["lr_config", "step", "out", "dtype", "exact"]
    assert params["out"].kind is inspect.Parameter.KEYWORD_ONLY
    assert params["dtype"].kind is inspect.Parameter.KEYWORD_ONLY
    assert params["exact"].kind is inspect.Parameter.KEYWORD_ONLY
    assert compute_lr.__doc__
    assert "lr_config" in compute_lr.__doc__
    # The original was called positionally and by keyword; both keep working.
    assert compute_lr(lr_config=RAMP, step=150) == compute_lr(RAMP, 150) == 0.01
    assert compute_lr(RAMP, step=150.0) == 0.01
    with pytest.raises(TypeError):
        compute_lr(RAMP, 1, 2)  # type: ignore[misc]
    with pytest.raises(TypeError):
        compute_lr(RAMP)  # type: ignore[call-arg]


def test_compute_lr_reads_the_config_each_call_schedule_compiles_once() -> None:
    config: dict[str, Any] = {
        "piecewise_constant": {"learning_rate_boundaries": [10], "learning_rate_values": [1.0, 2.0]}
    }
    compiled = Schedule(config)
    names = Schedules({"a": config})
    assert compute_lr(config, 25) == 2.0
    # The original read attributes on every call: an edited config gives new values...
    config["piecewise_constant"]["learning_rate_boundaries"].append(20)
    config["piecewise_constant"]["learning_rate_values"].append(3.0)
    assert compute_lr(config, 25) == 3.0
    assert compute_lr(config, 25.0) == 3.0
    assert compute_lr(config, [25]).tolist() == [3.0]
    # ... and an edit that makes it invalid is caught on the next call.
    config["piecewise_constant"]["learning_rate_values"][0] = -1.0
    with pytest.raises(ValueError, match="learning_rate_values"):
        compute_lr(config, 25)
    # A compiled schedule is a snapshot: later edits do not reach it.
    assert compiled(25) == 2.0
    assert names(25).tolist() == [2.0]
    lr = LearningRate(constant=0.1)
    assert compute_lr(lr, 5) == 0.1
    lr.constant = 0.3
    assert compute_lr(lr, 5) == 0.3


def test_imports_and_works_without_torch() -> None:
    code = textwrap.dedent(
        """
        import sys

        class NoTorch:
            def find_spec(self, name, path=None, target=None):
                if name == "torch" or name.startswith("torch."):
                    raise ImportError("torch is blocked for this test")
                return None

        sys.meta_path.insert(0, NoTorch())
        import numpy as np
        import tml.optimizers
        from tml.optimizers.optimizer import compute_lr
        from tml.optimizers import Schedule, Schedules
        assert compute_lr is tml.optimizers.compute_lr
        cfg = {"linear_ramp_to_constant": {"learning_rate": 0.1, "num_ramp_steps": 10}}
        print(compute_lr(cfg, 5), compute_lr(cfg, np.array([5, 20])).tolist(),
              Schedules([cfg])([5]).tolist())
        assert "torch" not in sys.modules
        try:
            tml.optimizers.optimizer.LRShim
        except ImportError as e:
            print("LRShim:", "torch" in str(e))
        """
    )
    run = run_python(code)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split("\n")[0] == "0.05 [0.05, 0.1] [[0.05]]"
    assert "LRShim: True" in run.stdout


@pytest.mark.parametrize(
    "kind_config", [COSINE, PIECEWISE, RAMP, CONSTANT], ids=lambda c: next(iter(c))
)
@given(step=st.integers(min_value=0, max_value=2**63 - 1) | st.floats(min_value=0, max_value=1e20))
def test_schedule_matches_schedules_row(kind_config: dict[str, Any], step: Any) -> None:
    expected = bits(reference_lr(namespace(kind_config), step))
    assert bits(Schedule(kind_config)(step)) == expected
    assert bits(Schedules([CONSTANT, kind_config])(step)[1]) == expected
    assert bits(Schedules([kind_config])([step])[0, 0]) == expected


def test_assign_checks_every_target_before_writing() -> None:
    schedules = Schedules([RAMP, CONSTANT])
    groups: list[Any] = [{"lr": 1.0}, 5]
    with pytest.raises(TypeError, match=r"targets\[1\] must be a mapping"):
        schedules.assign(10, groups)
    assert groups[0] == {"lr": 1.0}
    groups = [{"lr": 1.0}, {"lr": 1.0}]
    values = schedules.assign(10, groups)
    assert values == [g["lr"] for g in groups] == schedules.values(10)
    with pytest.raises(ValueError, match="targets has 1 items"):
        schedules.assign(10, groups[:1])


def test_set_num_threads_bounds() -> None:
    from tml.optimizers import get_num_threads, set_num_threads

    before = get_num_threads()
    try:
        set_num_threads(np.int64(1))
        assert get_num_threads() == 1
        with pytest.raises(ValueError, match="n must be in"):
            set_num_threads(2**32)
        with pytest.raises(TypeError, match="integer"):
            set_num_threads(1.5)  # type: ignore[arg-type]
    finally:
        set_num_threads(0)
    assert get_num_threads() == before


def test_breakpoints_are_where_each_kind_changes_formula() -> None:
    schedules = Schedules(MIXED)
    by_kind = dict(zip(schedules.kinds, schedules.breakpoints, strict=True))
    cosine = COSINE["linear_ramp_to_cosine"]
    assert by_kind["linear_ramp_to_cosine"] == (cosine["num_ramp_steps"], cosine["final_num_steps"])
    assert by_kind["linear_ramp_to_constant"] == (
        RAMP["linear_ramp_to_constant"]["num_ramp_steps"],
    )
    assert by_kind["constant"] == ()
    bounds = tuple(PIECEWISE["piecewise_constant"]["learning_rate_boundaries"])
    assert by_kind["piecewise_constant"] == bounds
    for one in (Schedule(c) for c in MIXED.values()):  # constant after the last breakpoint
        last = one.breakpoints[-1] if one.breakpoints else 0
        assert np.unique(one(np.arange(last, last + 50))).size == 1


@given(
    st.floats(1e-12, 10.0),
    st.one_of(st.integers(1, 10**6), st.integers(1, 2**53)),
)
def test_ramp_to_constant_is_flat_from_where_it_reaches_l(rate: float, ramp: int) -> None:
    # min(L, L / R * s): where L / R * R rounds below L (1e-4 and 100), the ramp meets L
    # a step later, and flat_from and the breakpoint say so.
    one = Schedule({"linear_ramp_to_constant": {"learning_rate": rate, "num_ramp_steps": ramp}})
    flat = one.flat_from
    assert flat is not None
    assert one.breakpoints == (flat,)
    assert ramp <= flat <= ramp + 2
    assert list(one(np.array([flat, flat + 1, flat + 10**6]))) == [rate] * 3
    assert flat == ramp or one(flat - 1) < rate


@pytest.mark.parametrize(
    ("rate", "ramp"),
    [(1.5e-323, 10), (5e-324, 3), (0.0, 3), (1e-310, 2**53), (1e-300, 2**53), (3e-321, 7)],
)
def test_ramp_to_constant_with_a_coarse_slope_is_flat_from_where_it_reaches_l(
    rate: float, ramp: int
) -> None:
    # A subnormal L / R: the ramp reaches L far past R, or (L / R rounding to 0) never,
    # every value 0. flat_from stepped up from R one step at a time: years, for these.
    one = Schedule({"linear_ramp_to_constant": {"learning_rate": rate, "num_ramp_steps": ramp}})
    flat = one.flat_from
    assert flat is not None
    value = one(flat)
    assert all(one(s) == value for s in (flat + 1, flat + 10**6, 2**63 - 1))
    if flat == 0:
        assert value == 0.0
        assert one.breakpoints == ()
    else:
        assert value == rate
        assert one(flat - 1) < rate
        assert one.breakpoints == (flat,)


def test_cosine_restarts_of_equal_cycles_ends_in_closed_form() -> None:
    # With period_multiplier 1, flat_from counted num_cycles cycles one by one: 2**53 of
    # them took months (and tml-lr with it).
    def restarts(n: int, cycles: int, m: int = 1) -> Schedule:
        body = {"learning_rate": 0.1, "num_steps": n, "num_cycles": cycles}
        return Schedule({"cosine_restarts": {**body, "period_multiplier": m}})

    assert restarts(1000, 10**12).flat_from == 10**15
    assert restarts(2**10, 2**53).flat_from is None  # 2**63: past int64
    assert restarts(2**10, 2**53 - 1).flat_from == 2**63 - 2**10
    assert restarts(2**53, 2**53).flat_from is None
    assert restarts(3, 5).flat_from == 15
    assert restarts(3, 5, m=2).flat_from == 3 * 31
    for one, restarts_listed in (
        (restarts(2**10, 2**53 - 1), 64),
        (restarts(1000, 10**12), 64),
        (restarts(3, 5, m=2), 5),
    ):
        flat = one.flat_from
        assert flat is not None
        assert one(flat) == one(flat + 1) == one(2**63 - 1) == 0.0
        assert one(flat - 1) > 0.0
        assert len(one.breakpoints) == restarts_listed


def test_a_sequence_lists_its_first_breakpoints_without_a_gap() -> None:
    def cyclic(up: int) -> dict[str, Any]:
        return {"cyclic": {"learning_rate": 0.1, "max_learning_rate": 0.2, "step_size_up": up}}

    # Stage 0 changes at every step to 999; its own list stops at 64, so the list does.
    cut = Schedule(
        {"sequence": [{"num_steps": 1000, "schedule": cyclic(1)}, {"schedule": cyclic(7)}]}
    )
    assert cut.breakpoints == tuple(range(1, 65))
    # Stage 0's list ends inside the stage: the next stage's follow (its first 64).
    whole = Schedule(
        {"sequence": [{"num_steps": 95, "schedule": cyclic(10)}, {"schedule": cyclic(7)}]}
    )
    assert whole.breakpoints == (*range(10, 95, 10), *range(95, 95 + 7 * 65, 7))


def test_ramp_to_constant_one_step_late() -> None:
    one = Schedule({"linear_ramp_to_constant": {"learning_rate": 1e-4, "num_ramp_steps": 100}})
    assert one(100) < one(101) == 1e-4
    assert (one.flat_from, one.breakpoints) == (101, (101,))


def test_many_restart_schedules_past_the_lookahead_budget_agree() -> None:
    # A set keeps look-ahead tables (cosine_restarts' first peaks) for its first
    # schedules only; the later ones compute each peak when asked. Both must give the
    # oracle's bits, at cycles inside and beyond the tables' 64 entries.
    rng = np.random.default_rng(5)
    configs = [
        {
            "cosine_restarts": {
                "learning_rate": float(rng.uniform(0.01, 0.1)),
                "final_learning_rate": float(rng.uniform(0.0, 1e-4)),
                "num_steps": int(n),
                "peak_decay": float(rng.uniform(0.9, 0.999)),
            }
        }
        for n in rng.integers(1, 50, 1500)
    ]
    steps = [0, 5, 62 * 49 + 3, 64 * 49 + 1, 300 * 49, 10**6]
    values = Schedules(configs)(steps)
    first_and_last = [0, len(configs) - 1]
    for g in [*first_and_last, *rng.integers(0, len(configs), 40).tolist()]:
        expected = reference_array(namespace(configs[g]), steps)
        assert_same_bits(values[g], expected)
        assert_same_bits(Schedule(configs[g])(steps), expected)
    assert_same_bits(Schedules(configs)(64 * 49 + 1), values[:, 3])


RATES = ("learning_rate", "final_learning_rate", "max_learning_rate", "constant")


def _numbers(x: Any, key: Any = None) -> list[tuple[Any, Any, Any]]:
    """(container, key, the rate field it belongs to) of every number in a config."""
    items = x.items() if isinstance(x, dict) else enumerate(x) if isinstance(x, list) else ()
    found = []
    for k, value in items:
        field = k if isinstance(k, str) else key
        if isinstance(value, int | float) and not isinstance(value, bool):
            found.append((x, k, field))
        else:
            found += _numbers(value, field)
    return found


def _variants(config: Any) -> list[Any]:
    """Valid copies of `config`: one number changed in each, or every rate doubled.

    Floats change by a relative 2**-30, integers by one; doubled rates keep the shape.
    """
    candidates = []
    for k in range(len(_numbers(config))):
        changed = copy.deepcopy(config)
        parent, key, _ = _numbers(changed)[k]
        value = parent[key]
        parent[key] = value + 1 if isinstance(value, int) else value * (1 + 2.0**-30)
        candidates.append(changed)
    doubled = copy.deepcopy(config)
    for parent, key, field in _numbers(doubled):
        if field in RATES or field == "learning_rate_values":
            parent[key] *= 2
    variants = []
    for candidate in [*candidates, doubled]:
        try:
            Schedule(candidate)
        except ValueError:  # out of a field's range, or breaking a rule between fields
            continue
        variants.append(candidate)
    return variants


@pytest.mark.parametrize(
    "config", [c for _, c in all_examples()], ids=[i for i, _ in all_examples()]
)
def test_one_step_of_schedules_sharing_a_shape_is_each_alone(config: Any) -> None:
    # At one step a set makes a libm call once for consecutive schedules whose cos or pow
    # arguments have the same bits (LibmMemo). Runs of the same config (hits), a config
    # after a copy with one number changed (a pow's base or exponent alone, a cos
    # argument), and rates doubled: each row must be that schedule's bits alone.
    variants = _variants(config)
    configs = [config, config]  # two at least: one schedule alone takes another path
    for v in variants:
        configs += [v, v, config]
    schedules = Schedules(configs)
    singles = [Schedule(c) for c in configs]
    # Ints and floats of one value both (a set would keep one: 3 == 3.0).
    steps = sorted(
        {(type(s), s) for s in edge_steps(config)}, key=lambda p: (float(p[1]), p[0] is float)
    )
    for _, step in steps:
        try:
            expected = np.array([s(step) for s in singles])
        except ValueError as refused:  # a float step past 2**63 for cycles: refused alike
            with pytest.raises(ValueError, match=re.escape(str(refused))):
                schedules(step)
            continue
        assert_same_bits(schedules(step), expected)


def test_one_step_of_many_schedules_sharing_shapes_across_threads() -> None:
    # Thousands of schedules at one step are split into blocks over threads, each block
    # with its own memo of libm calls: runs of one shape cross the blocks' edges.
    from tml.optimizers import get_num_threads, set_num_threads

    kinds = ("cosine_decay", "cosine_restarts", "cyclic")
    shapes = [c for i, c in all_examples() if i.split("-")[0] in kinds]
    configs = [shapes[(g // 7) % len(shapes)] for g in range(20_000)]
    singles = [Schedule(c) for c in shapes]
    # Steps inside the shapes' cosines, cycles and restarts (and some past them).
    points = sorted({s for c in shapes for s in edge_steps(c) if type(s) is int and s < 2**40})
    before = get_num_threads()
    try:
        set_num_threads(2)
        for step in points[:: max(1, len(points) // 40)]:
            expected = np.array([singles[(g // 7) % len(shapes)](step) for g in range(20_000)])
            assert_same_bits(Schedules(configs)(step), expected)
    finally:
        set_num_threads(0)
    assert get_num_threads() == before


def test_indexing_by_anything_but_a_name_or_position_is_a_type_error() -> None:
    # A slice read "no schedule named slice(0, 1, None)"; an array, numpy's "truth value
    # of an array is ambiguous".
    named = Schedules({"a": {"constant": 0.1}, "b": {"constant": 0.2}})
    for key in (slice(0, 1), np.array([0, 1]), [0]):
        with pytest.raises(TypeError, match="indexed by name or position"):
            named[key]
    assert named["b"] == named[1] == Schedule({"constant": 0.2})


def test_schedules_of_schedules_keeps_the_names() -> None:
    named = Schedules(
        {
            "a": {"constant": 0.1},
            "b": {"linear_ramp_to_constant": {"learning_rate": 1.0, "num_ramp_steps": 4}},
        }
    )
    copy_ = Schedules(named)
    assert copy_ == named
    assert copy_.names == ("a", "b")
    fast = Schedules(named, exact=False)  # the mode is the call's, as for Schedule
    assert not fast.exact
    assert fast.names == named.names


def test_assign_without_targets_is_refused() -> None:
    with pytest.raises(TypeError, match="targets must be a sequence of mappings"):
        Schedules([{"constant": 0.1}]).assign(3, None)


@pytest.mark.parametrize(
    "one",
    [
        {"cosine_decay": {"learning_rate": 0.1, "num_steps": 10}},
        {"constant": 0.1},
        "model",
    ],
)
def test_one_config_given_for_many_is_named_as_such(one: Any) -> None:
    from tml.optimizers.config import LearningRate

    config = LearningRate(constant=0.1) if one == "model" else one
    with pytest.raises(TypeError, match=r"looks like one config.*pass \[config\]"):
        Schedules(config)
    # A mapping of schedules named after kinds is no mistake.
    assert Schedules({"constant": {"constant": 0.1}}).names == ("constant",)
