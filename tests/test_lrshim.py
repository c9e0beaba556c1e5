"""LRShim: torch's LRScheduler contract, bit-exact learning rates, exact resume.

Expected learning rates come from the plain-Python oracle (`tests.oracle`) or from
torch's own schedulers run side by side.
"""

from __future__ import annotations

import copy
import pickle
import sys
import types
import warnings
from typing import Any

import pytest

pytest.importorskip("torch")
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.optim.lr_scheduler import LambdaLR

import tml
import tml.optimizers
from tests.oracle import namespace, reference_lr
from tests.support import run_python
from tests.torch_support import (
    CONFIGS,
    CombinedOptimizer,
    cycled,
    expected,
    group_lrs,
    hex_lrs,
    hexes,
    make_optimizer,
    train_step,
)
from tml.optimizers import Schedules
from tml.optimizers.config import LearningRate
from tml.optimizers.optimizer import LRShim

KINDS = list(CONFIGS.values())


def oracle_fn(config: dict[str, Any]) -> Any:
    """The oracle as a LambdaLR factor function (group base lr 1.0)."""
    ns = namespace(config)
    return lambda step: reference_lr(ns, step)


# --------------------------------------------------------------------------- basics


def test_constructor_sets_step_zero_and_each_step_follows_the_oracle() -> None:
    optimizer = make_optimizer(len(CONFIGS))
    shim = LRShim(optimizer, CONFIGS)
    assert shim.last_epoch == 0
    assert hex_lrs(optimizer) == hexes(expected(KINDS, 0))
    for step in range(1, 30):
        train_step(optimizer)
        shim.step()
        assert shim.last_epoch == step
        lrs = group_lrs(optimizer)
        assert all(type(lr) is float for lr in lrs)
        assert hexes(lrs) == hexes(expected(KINDS, step)), step
        assert hexes(shim.get_last_lr()) == hexes(lrs)


@pytest.mark.parametrize(
    ("cls", "kwargs"),
    [
        (torch.optim.SGD, {"momentum": 0.9}),
        (torch.optim.Adam, {}),
        (torch.optim.Adagrad, {}),
        (torch.optim.AdamW, {}),
        (torch.optim.RMSprop, {}),
    ],
)
def test_works_with_torch_optimizers(cls: Any, kwargs: dict[str, Any]) -> None:
    optimizer = make_optimizer(len(CONFIGS), cls, **kwargs)
    shim = LRShim(optimizer, CONFIGS)
    for step in range(1, 6):
        train_step(optimizer)
        shim.step()
        assert hex_lrs(optimizer) == hexes(expected(KINDS, step))


def test_many_groups_of_mixed_kinds() -> None:
    configs = cycled(301)
    optimizer = make_optimizer(len(configs))
    shim = LRShim(optimizer, configs)
    for step in range(1, 20):
        train_step(optimizer)
        shim.step()
        assert hex_lrs(optimizer) == hexes(expected(configs, step))


class CallCounter:
    """Counts the Python and builtin calls made while it is active (sys.setprofile)."""

    def __init__(self) -> None:
        self.calls = 0

    def __enter__(self) -> CallCounter:

        def profile(_frame: Any, event: str, _arg: Any) -> None:
            if event in ("call", "c_call"):
                self.calls += 1

        sys.setprofile(profile)
        return self

    def __exit__(self, *exc: object) -> None:

        sys.setprofile(None)


class OpCounter(torch.utils._python_dispatch.TorchDispatchMode):
    """Counts the torch operators run while it is active."""

    def __init__(self) -> None:
        super().__init__()
        self.ops: list[str] = []

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        if func is not torch.ops.aten.lift_fresh.default:  # torch.from_numpy: no work
            self.ops.append(str(func))
        return func(*args, **(kwargs or {}))


def step_costs(groups: int, tensor: bool, pack: bool) -> tuple[int, list[str]]:
    """Python calls and torch operators of one step (after the first ones) over `groups`."""
    optimizer = make_optimizer(groups)
    if tensor:
        for group in optimizer.param_groups:
            group["lr"] = torch.tensor(0.0)
    shim = LRShim(optimizer, cycled(groups), pack_tensor_lrs=pack)
    for _ in range(3):
        train_step(optimizer)
        shim.step()
    for _ in range(2):  # the first counted step also pays for one-time setup (dispatch caches)
        with CallCounter() as calls, OpCounter() as ops:
            shim.step()
    return calls.calls, ops.ops


@pytest.mark.parametrize(("tensor", "pack"), [(False, False), (True, False), (True, True)])
def test_a_step_does_no_work_per_group_in_python(tensor: bool, pack: bool) -> None:
    # The same calls and torch operators for 5 groups as for 60: the groups are
    # evaluated by one compiled call and written by one copy per pack, never one by one.
    few, many = step_costs(5, tensor, pack), step_costs(60, tensor, pack)
    assert few == many
    if not tensor:
        assert few[1] == []
    elif pack:
        assert few[1] == ["aten.copy_.default"]  # one write into the buffer
    else:
        assert few[1] == ["aten.copy_.default", "aten._foreach_copy_.default"]


def test_epoch_must_be_an_integer_step() -> None:
    optimizer = make_optimizer(4)
    shim = LRShim(optimizer, CONFIGS)
    train_step(optimizer)
    with (
        pytest.warns(UserWarning, match="epoch parameter"),
        pytest.raises(TypeError, match=r"2\.5"),
    ):
        shim.step(2.5)  # type: ignore[arg-type]
    with pytest.warns(UserWarning, match="epoch parameter"), pytest.raises(ValueError, match="-3"):
        shim.step(-3)
    assert shim.last_epoch == 0  # the refused steps changed nothing
    assert hex_lrs(optimizer) == hexes(expected(KINDS, 0))


# --------------------------------------------------------------------------- imports

TORCH_NAMES = ["LRShim", "build_multi_task_optimizer", "build_optimizer", "get_optimizer_class"]


def test_torch_adapters_are_importable_from_tml_optimizers() -> None:
    from tml.optimizers import LRShim as shim_class
    from tml.optimizers import build_multi_task_optimizer, build_optimizer, get_optimizer_class
    from tml.optimizers import optimizer as module

    assert shim_class is LRShim
    assert build_optimizer is module.build_optimizer
    assert build_multi_task_optimizer is module.build_multi_task_optimizer
    assert get_optimizer_class is module.get_optimizer_class
    assert set(TORCH_NAMES) <= set(dir(tml.optimizers))
    assert set(TORCH_NAMES) <= set(dir(module))
    assert not set(TORCH_NAMES) & set(tml.optimizers.__all__)  # star import needs no torch
    with pytest.raises(AttributeError, match="has no attribute 'LRShimm'"):
        tml.optimizers.LRShimm  # noqa: B018


def run_strict(code: str) -> Any:
    return run_python(code, warnings_are_errors=True)


def test_import_does_not_import_torch() -> None:
    run = run_strict(
        """
        import sys
        import tml.optimizers
        from tml.optimizers import compute_lr, Schedules
        from tml.optimizers.optimizer import compute_lr
        assert "torch" not in sys.modules, "import tml.optimizers imported torch"
        assert "LRShim" in dir(tml.optimizers)
        tml.optimizers.LRShim
        assert "torch" in sys.modules
        """
    )
    assert run.returncode == 0, run.stderr[-2000:]


def test_without_torch_the_adapters_name_the_torch_extra() -> None:
    run = run_strict(
        """
        import sys

        class NoTorch:  # torch not installed: what a missing package raises
            def find_spec(self, name, path=None, target=None):
                if name == "torch" or name.startswith("torch."):
                    raise ModuleNotFoundError(f"No module named {name!r}", name=name)
                return None

        sys.meta_path.insert(0, NoTorch())
        import inspect, pydoc
        import tml.optimizers, tml.optimizers.optimizer
        # Listing the modules works: the adapters are left out of dir() and import *.
        for module in (tml.optimizers, tml.optimizers.optimizer):
            assert "LRShim" not in dir(module)
            inspect.getmembers(module)
            pydoc.render_doc(module)
        assert tml.optimizers.optimizer.__all__ == ["compute_lr"]
        from tml.optimizers.optimizer import *
        compute_lr
        for name in ("LRShim", "build_optimizer", "build_multi_task_optimizer",
                     "get_optimizer_class"):
            try:
                getattr(tml.optimizers, name)
            except ImportError as e:
                print(e)
            else:
                raise AssertionError(name)
        try:
            from tml.optimizers.optimizer import LRShim
        except ImportError as e:
            print(e)
        """
    )
    assert run.returncode == 0, run.stderr[-2000:]
    lines = run.stdout.splitlines()
    assert len(lines) == 5
    assert lines[0] == (
        "tml.optimizers.LRShim needs torch, which is not installed: install the torch extra, "
        "pip install 'tml-optimizers[torch]'"
    )
    assert all("torch extra" in line for line in lines)
    assert lines[4].startswith("tml.optimizers.optimizer.LRShim needs torch")


# --------------------------------------------------------------------------- lr_dict forms


def attrs(cfg: dict[str, Any]) -> Any:
    """A config object of the original tml style: the kinds as attributes."""
    fields: dict[str, Any] = dict.fromkeys(LearningRate.model_fields)
    for kind, body in cfg.items():
        fields[kind] = types.SimpleNamespace(**body) if isinstance(body, dict) else body
    return types.SimpleNamespace(**fields)


def test_lr_dict_forms_give_the_same_learning_rates() -> None:
    forms: list[Any] = [
        CONFIGS,
        {name: LearningRate.model_validate(cfg) for name, cfg in CONFIGS.items()},
        {name: attrs(cfg) for name, cfg in CONFIGS.items()},
        KINDS,
        Schedules(CONFIGS),
    ]
    for form in forms:
        optimizer = make_optimizer(len(CONFIGS))
        shim = LRShim(optimizer, form)
        for _ in range(9):
            train_step(optimizer)
            shim.step()
        assert hex_lrs(optimizer) == hexes(expected(KINDS, 9)), type(form)


def test_group_names() -> None:
    assert LRShim(make_optimizer(4), CONFIGS).group_names == list(CONFIGS)
    assert LRShim(make_optimizer(4), KINDS).group_names == ["0", "1", "2", "3"]


def test_groups_are_named_for_monitors_unless_named_already() -> None:
    optimizer = make_optimizer(4)
    optimizer.param_groups[1]["name"] = "mine"
    LRShim(optimizer, CONFIGS)
    assert [g["name"] for g in optimizer.param_groups] == ["const", "mine", "ramp", "cosine"]
    # Without names (a sequence of configs) the groups are left as they are.
    optimizer = make_optimizer(2)
    LRShim(optimizer, KINDS[:2])
    assert all("name" not in g for g in optimizer.param_groups)


@pytest.mark.parametrize(
    "single",
    [
        LearningRate(constant=0.1),
        {"constant": 0.1},
        {"linear_ramp_to_constant": {"learning_rate": 0.1, "num_ramp_steps": 5}},
        attrs({"constant": 0.1}),
    ],
    ids=["LearningRate", "constant dict", "ramp dict", "attribute object"],
)
def test_a_single_config_is_refused_showing_the_expected_shape(single: Any) -> None:
    with pytest.raises(TypeError, match=r"single config.*\{group_name: config\}.*ALL_PARAMS"):
        LRShim(make_optimizer(1), single)


def test_a_group_named_like_a_kind_is_still_a_group() -> None:
    shim = LRShim(make_optimizer(1), {"constant": {"constant": 0.25}})
    assert shim.group_names == ["constant"]
    assert shim.get_last_lr() == [0.25]
    # ... and its invalid config is reported as such, not as a single config.
    with pytest.raises(ValueError, match="constant") as error:
        LRShim(make_optimizer(1), {"constant": {"constant": -1.0}})
    assert "single config" not in str(error.value)


@pytest.mark.parametrize(("groups", "configs"), [(3, 2), (1, 4), (5, 4)])
def test_count_mismatch_names_both_counts(groups: int, configs: int) -> None:
    lr_dict = {f"g{i}": {"constant": 0.1} for i in range(configs)}
    with pytest.raises(ValueError, match=rf"{groups} parameter groups.* {configs} learning rates"):
        LRShim(make_optimizer(groups), lr_dict)


def test_invalid_config_is_refused_naming_the_group() -> None:
    bad = {
        "ok": {"constant": 0.1},
        "broken": {"linear_ramp_to_constant": {"learning_rate": 0.1, "num_ramp_steps": 0}},
    }
    with pytest.raises(ValueError, match=r"broken.*num_ramp_steps"):
        LRShim(make_optimizer(2), bad)


def test_repeated_group_names_are_refused() -> None:
    with pytest.raises(ValueError, match="repeated group names"):
        LRShim(make_optimizer(2), {1: {"constant": 0.1}, "1": {"constant": 0.2}})


def test_not_an_optimizer_is_a_type_error() -> None:
    with pytest.raises(TypeError, match=r"torch\.optim\.Optimizer"):
        LRShim(object(), {"a": {"constant": 0.1}})  # type: ignore[arg-type]


def test_plain_object_with_optims_is_refused_with_a_hint() -> None:
    inner = make_optimizer(1)
    plain = types.SimpleNamespace(_optims=[("dense", inner)], step=inner.step)
    with pytest.raises(TypeError, match="combined optimizer must subclass"):
        LRShim(plain, {"a": {"constant": 0.1}})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("last_epoch", "error"),
    [(-2, ValueError), (True, TypeError), (1.5, TypeError), (2**63 - 1, ValueError)],
)
def test_bad_last_epoch(last_epoch: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="last_epoch"):
        LRShim(make_optimizer(1), {"a": {"constant": 0.1}}, last_epoch=last_epoch)


def test_pack_tensor_lrs_must_be_a_bool() -> None:
    with pytest.raises(TypeError, match="pack_tensor_lrs"):
        LRShim(make_optimizer(1), {"a": {"constant": 0.1}}, pack_tensor_lrs=1)  # type: ignore[arg-type]


def test_a_refused_step_is_not_counted() -> None:
    # torch's step() counts a step before taking it; a refused one changes nothing.
    optimizer = make_optimizer(4)
    shim = LRShim(optimizer, CONFIGS)
    for _ in range(3):  # past the first steps: the shortest path
        train_step(optimizer)
        shim.step()
    count = shim._step_count
    with pytest.warns(UserWarning, match="epoch parameter"), pytest.raises(ValueError, match="-3"):
        shim.step(-3)
    shim.last_epoch = 2**63 - 1
    with pytest.raises(ValueError, match=r"<= 2\*\*63 - 1"):
        shim.step()
    assert (shim._step_count, shim.last_epoch) == (count, 2**63 - 1)


def test_a_subclass_get_lr_decides_as_for_torchs_schedulers() -> None:
    # torch's contract: step() takes the learning rates from get_lr().
    class Scaled(LRShim):
        def get_lr(self) -> list[Any]:
            return [lr * 8 for lr in super().get_lr()]

    class ScaledLambda(LambdaLR):
        def get_lr(self) -> list[Any]:
            return [lr * 8 for lr in super().get_lr()]

    ours, theirs = make_optimizer(len(CONFIGS)), make_optimizer(len(CONFIGS), lr=1.0)
    shim = Scaled(ours, CONFIGS)
    lam = ScaledLambda(theirs, [oracle_fn(c) for c in KINDS])
    for _ in range(12):
        assert hex_lrs(ours) == hex_lrs(theirs)
        assert hexes(shim.get_last_lr()) == hexes(lam.get_last_lr())
        train_step(ours)
        train_step(theirs)
        shim.step()
        lam.step()
    assert shim._step_count == lam._step_count


def test_a_subclass_get_lr_keeps_last_epoch_an_int_through_step_epoch() -> None:
    # torch's update was handed the raw epoch: a numpy int stayed in last_epoch, and a
    # state_dict holding it no longer loaded with weights_only.
    import io

    import numpy as np

    class Half(LRShim):
        def get_lr(self) -> list[Any]:
            return [lr / 2 for lr in super().get_lr()]

    optimizer = make_optimizer(len(CONFIGS))
    shim = Half(optimizer, CONFIGS)
    train_step(optimizer)
    with pytest.warns(UserWarning, match="epoch parameter"):
        shim.step(np.int64(5))  # type: ignore[arg-type]
    shim.step()
    assert type(shim.last_epoch) is int
    assert shim.last_epoch == 6
    buffer = io.BytesIO()
    torch.save(shim.state_dict(), buffer)
    buffer.seek(0)
    assert torch.load(buffer, weights_only=True)["last_epoch"] == 6


def test_a_refused_construction_restores_tensor_lr_values() -> None:
    # torch fills tensor lrs in place, group by group, before a bad get_lr() is refused.
    class Wrong(LRShim):
        def get_lr(self) -> list[Any]:
            return [0.9]  # one value for two groups

    optimizer = make_optimizer(2, lr=torch.tensor(0.5))
    optimizer.param_groups[1]["lr"] = torch.tensor(0.25)
    lrs = [g["lr"] for g in optimizer.param_groups]
    with pytest.raises(ValueError, match="zip"):
        Wrong(optimizer, {"a": CONFIGS["ramp"], "b": CONFIGS["ramp"]})
    assert [g["lr"] for g in optimizer.param_groups] == lrs  # the same tensors
    assert [float(lr) for lr in lrs] == [0.5, 0.25]  # holding what they held


@pytest.mark.parametrize("tensor_lrs", [False, True])
def test_groups_reordered_in_their_list_are_refused_by_name(tensor_lrs: bool) -> None:
    # The same list object, reordered in place, was taken as it was: each group silently
    # took the other's schedule.
    optimizer = make_optimizer(2, lr=torch.tensor(0.0) if tensor_lrs else 0.0)
    if tensor_lrs:
        optimizer.param_groups[1]["lr"] = torch.tensor(0.0)
    shim = LRShim(optimizer, {"a": {"constant": 1.0}, "b": {"constant": 2.0}})
    for _ in range(3):  # past the first steps: the shortest path
        train_step(optimizer)
        shim.step()
    optimizer.param_groups.reverse()
    with pytest.raises(
        ValueError, match="group 0 is named 'b', but lr_dict's key at position 0 is 'a'"
    ):
        shim.step()
    optimizer.param_groups.reverse()  # put back: stepping goes on
    shim.step()
    assert [float(g["lr"]) for g in optimizer.param_groups] == [1.0, 2.0]


def test_added_param_group_is_a_count_error_at_the_next_step() -> None:
    optimizer = make_optimizer(2)
    shim = LRShim(optimizer, {"a": {"constant": 0.1}, "b": {"constant": 0.2}})
    for _ in range(2):  # the later steps take the shortest path
        train_step(optimizer)
        shim.step()
    optimizer.add_param_group({"params": [torch.nn.Parameter(torch.ones(1))]})
    train_step(optimizer)
    with pytest.raises(ValueError, match=r"3 parameter groups.* 2 learning rates"):
        shim.step()
    assert shim.last_epoch == 2  # the refused step changed nothing
    assert group_lrs(optimizer)[:2] == [0.1, 0.2]


# --------------------------------------------------------------------------- torch conventions


def test_an_lr_scheduler_under_both_of_torchs_names() -> None:
    # The original LRShim derived from the deprecated _LRScheduler; code that checks
    # for it, or for LRScheduler, recognises this one.
    shim = LRShim(make_optimizer(4), CONFIGS)
    assert isinstance(shim, torch.optim.lr_scheduler.LRScheduler)
    if hasattr(torch.optim.lr_scheduler, "_LRScheduler"):
        assert isinstance(shim, torch.optim.lr_scheduler._LRScheduler)


def test_get_lr_outside_step_warns_like_torch() -> None:
    shim = LRShim(make_optimizer(4), CONFIGS)
    with pytest.warns(UserWarning, match="get_last_lr"):
        values = shim.get_lr()
    assert hexes(values) == hexes(expected(KINDS, 0))


def test_scheduler_step_before_optimizer_step_warns_like_torch() -> None:
    shim = LRShim(make_optimizer(4), CONFIGS)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        shim.step()


def test_optimizer_step_replaced_after_construction_warns_like_torch() -> None:
    optimizer = make_optimizer(4)
    shim = LRShim(optimizer, CONFIGS)
    optimizer.step = types.MethodType(torch.optim.SGD.step, optimizer)  # type: ignore[method-assign]
    with pytest.warns(UserWarning, match="has been overridden"):
        shim.step()


def test_warnings_on_the_first_step_only_as_torch() -> None:
    optimizer = make_optimizer(4)
    shim = LRShim(optimizer, CONFIGS)
    reference = LambdaLR(make_optimizer(4, lr=1.0), [oracle_fn(c) for c in KINDS])
    for scheduler in (shim, reference):
        with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
            scheduler.step()
        scheduler.step()  # torch warns once; filterwarnings=error fails the test otherwise
    assert shim._step_count == reference._step_count == 3
    assert shim.last_epoch == reference.last_epoch == 2


def test_warnings_name_the_callers_line_as_torchs_do() -> None:
    # As for LambdaLR, the warning is the line that called step(), not tml's own code:
    # filters by module, and Python's once-per-line default, see the user's call.
    optimizer = make_optimizer(4)
    shim = LRShim(optimizer, CONFIGS)
    reference = LambdaLR(make_optimizer(4, lr=1.0), [oracle_fn(c) for c in KINDS])
    for scheduler in (shim, reference):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            line = sys._getframe().f_lineno + 1
            scheduler.step()  # before optimizer.step()
            scheduler.step(5)  # the epoch argument
        assert [(w.category, w.filename, w.lineno) for w in caught] == [
            (UserWarning, __file__, line),
            (UserWarning, __file__, line + 1),
        ], scheduler
        assert "before `optimizer.step()`" in str(caught[0].message)
        assert "epoch parameter" in str(caught[1].message)


def test_a_warning_made_an_error_stops_the_step_before_anything_changes() -> None:
    # Under filterwarnings=error torch's warning raises before its step changes anything:
    # the same step, the same counts, the same lrs after it as LambdaLR.
    shim = LRShim(make_optimizer(4), CONFIGS)
    reference = LambdaLR(make_optimizer(4, lr=1.0), [oracle_fn(c) for c in KINDS])
    for scheduler in (shim, reference):
        lrs = hex_lrs(scheduler.optimizer)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with pytest.raises(UserWarning, match=r"before `optimizer.step\(\)`"):
                scheduler.step()
            assert (scheduler.last_epoch, scheduler._step_count) == (0, 1), scheduler
            assert hex_lrs(scheduler.optimizer) == lrs, scheduler
            train_step(scheduler.optimizer)
            with pytest.raises(UserWarning, match="epoch parameter"):
                scheduler.step(3)
        # (torch has counted this one in _step_count; a refused step here is not counted)
        assert scheduler.last_epoch == 0, scheduler
        assert hex_lrs(scheduler.optimizer) == lrs, scheduler
    train_step(shim.optimizer)
    shim.step()
    assert hex_lrs(shim.optimizer) == hexes(expected(KINDS, 1))


def test_step_with_epoch_warns_and_uses_the_closed_form() -> None:
    optimizer = make_optimizer(4)
    shim = LRShim(optimizer, CONFIGS)
    train_step(optimizer)
    with pytest.warns(UserWarning, match="epoch parameter"):
        shim.step(11)
    assert shim.last_epoch == 11
    assert hex_lrs(optimizer) == hexes(expected(KINDS, 11))
    train_step(optimizer)
    shim.step()
    assert hex_lrs(optimizer) == hexes(expected(KINDS, 12))


def test_initial_lr_is_recorded() -> None:
    optimizer = make_optimizer(2, lr=0.25)
    shim = LRShim(optimizer, {"a": {"constant": 0.1}, "b": {"constant": 0.2}})
    assert [g["initial_lr"] for g in optimizer.param_groups] == [0.25, 0.25]
    assert shim.base_lrs == [0.25, 0.25]


def test_same_conventions_as_lambda_lr() -> None:
    """Torch's LambdaLR with base lr 1.0 and the oracle as factors: the same everything."""
    for last_epoch in (-1, 0, 3, 9):
        opt_a = make_optimizer(4, lr=1.0)
        opt_b = make_optimizer(4, lr=1.0)
        for optimizer in (opt_a, opt_b):
            for group in optimizer.param_groups:
                group["initial_lr"] = 1.0
        shim = LRShim(opt_a, KINDS, last_epoch=last_epoch)
        lam = LambdaLR(opt_b, [oracle_fn(c) for c in KINDS], last_epoch=last_epoch)
        for _ in range(8):
            assert shim.last_epoch == lam.last_epoch
            assert shim._step_count == lam._step_count
            assert hex_lrs(opt_a) == hex_lrs(opt_b)
            assert hexes(shim.get_last_lr()) == hexes(lam.get_last_lr())
            train_step(opt_a)
            train_step(opt_b)
            shim.step()
            lam.step()


# --------------------------------------------------------------------------- tensor lr


DTYPES = [torch.float64, None, torch.float32, torch.bfloat16]


def tensor_optimizer(dtypes: list[Any], cls: Any = torch.optim.SGD, **kwargs: Any) -> Any:
    groups = [
        {
            "params": [torch.nn.Parameter(torch.ones(2))],
            "lr": torch.tensor(0.0, dtype=d) if d else 0.0,
        }
        for d in dtypes
    ]
    return cls(groups, lr=0.0, **kwargs)


def as_held(values: list[float], dtypes: list[Any]) -> list[float]:
    """`values` as lr tensors of `dtypes` hold them (None: a float, unchanged)."""
    return [
        v if d is None else torch.tensor(v, dtype=d).item()
        for v, d in zip(values, dtypes, strict=True)
    ]


@pytest.mark.parametrize("pack", [False, True])
def test_tensor_lrs_follow_the_schedule_in_their_dtype(pack: bool) -> None:
    optimizer = tensor_optimizer(DTYPES)
    given = group_lrs(optimizer)
    shim = LRShim(optimizer, CONFIGS, pack_tensor_lrs=pack)
    for step in range(16):
        if step:
            train_step(optimizer)
            shim.step()
        lrs = group_lrs(optimizer)
        assert type(lrs[1]) is float
        for g in (0, 2, 3):
            assert isinstance(lrs[g], torch.Tensor)
            assert lrs[g].dtype == DTYPES[g]
            assert lrs[g].shape == ()
            # Unpacked, the user's tensors are written in place; packed, replaced once.
            assert (lrs[g] is given[g]) is not pack
        assert hexes(lrs) == hexes(as_held(expected(KINDS, step), DTYPES)), step
        last = shim.get_last_lr()
        assert hexes(last) == hexes(lrs)
        for g in (0, 2, 3):
            assert last[g].dtype == DTYPES[g]
            assert last[g].data_ptr() != lrs[g].data_ptr()  # a copy, never the group's lr


@pytest.mark.parametrize("pack", [False, True])
def test_get_last_lr_never_aliases_the_groups_lr(pack: bool) -> None:
    optimizer = tensor_optimizer([torch.float32] * 3)
    shim = LRShim(optimizer, KINDS[1:], pack_tensor_lrs=pack)
    train_step(optimizer)
    shim.step()
    last = shim.get_last_lr()
    held = hexes(last)
    for group in optimizer.param_groups:
        group["lr"].fill_(7.0)
    assert hexes(last) == held  # a snapshot, not the groups' tensors
    for value in last:
        value.fill_(123.0)
    assert hex_lrs(optimizer) == hexes([7.0] * 3)


@pytest.mark.parametrize("shape", [(), (1,)])
def test_get_last_lr_after_load_state_dict_keeps_the_lr_tensors_shape(shape: Any) -> None:
    # torch: get_last_lr() has the types of the groups' lrs; a saved state holds numbers.
    def make() -> Any:
        group = {"params": [torch.nn.Parameter(torch.zeros(3))], "lr": torch.zeros(shape)}
        return torch.optim.SGD([group])

    optimizer = make()
    shim = LRShim(optimizer, KINDS[1:2])
    train_step(optimizer)
    shim.step()
    resumed = LRShim(make(), KINDS[1:2])
    resumed.load_state_dict(shim.state_dict())
    before, after = shim.get_last_lr(), resumed.get_last_lr()
    assert [v.shape for v in after] == [v.shape for v in before] == [torch.Size(shape)]
    assert hexes(after) == hexes(before)


def test_lr_dict_is_a_read_only_view_of_the_configs_given() -> None:
    # The schedules are compiled when built: a changed lr_dict would silently not apply.
    config = LearningRate(constant=0.1)
    shim = LRShim(make_optimizer(1), {"a": config})
    assert dict(shim.lr_dict) == {"a": config}
    with pytest.raises(TypeError):
        shim.lr_dict["a"] = {"constant": 0.5}  # type: ignore[index]
    with pytest.raises(AttributeError):
        shim.lr_dict = {"a": {"constant": 0.5}}  # type: ignore[misc]
    assert dict(pickle.loads(pickle.dumps(shim)).lr_dict) == {"a": config}


@pytest.mark.parametrize("pack", [False, True])
def test_packed_groups_hold_views_of_one_buffer(pack: bool) -> None:
    optimizer = tensor_optimizer([torch.float32, torch.float64, torch.float32, None])
    LRShim(optimizer, CONFIGS, pack_tensor_lrs=pack)
    lrs = group_lrs(optimizer)
    bases = [lr._base for lr in lrs[:3]]
    if not pack:
        assert bases == [None, None, None]
        return
    # One buffer per dtype: groups 0 and 2 share one, group 1 has its own.
    assert bases[0] is not None
    assert bases[0] is bases[2]
    assert bases[1] is not None
    assert bases[1] is not bases[0]
    assert [lr.storage_offset() for lr in (lrs[0], lrs[2])] == [0, 1]


@pytest.mark.parametrize("pack", [False, True])
def test_tensor_lrs_with_adam_train(pack: bool) -> None:
    optimizer = tensor_optimizer([torch.float32, torch.float32], torch.optim.Adam, foreach=False)
    shim = LRShim(optimizer, {"a": CONFIGS["cosine"], "b": CONFIGS["ramp"]}, pack_tensor_lrs=pack)
    configs = [CONFIGS["cosine"], CONFIGS["ramp"]]
    for step in range(1, 8):
        train_step(optimizer)
        shim.step()
        assert hex_lrs(optimizer) == hexes(as_held(expected(configs, step), [torch.float32] * 2))
    assert all(torch.isfinite(p).all() for g in optimizer.param_groups for p in g["params"])


def test_shared_lr_tensor_with_different_schedules_is_refused() -> None:
    lr = torch.tensor(0.0, dtype=torch.float64)
    params = [torch.nn.Parameter(torch.ones(1)) for _ in range(3)]
    optimizer = torch.optim.SGD([{"params": [p], "lr": lr} for p in params], lr=0.0)
    with pytest.raises(ValueError, match=r"'tower_b' and 'tower_c' share one lr tensor"):
        LRShim(
            optimizer,
            {"tower_b": CONFIGS["ramp"], "tower_c": CONFIGS["cosine"], "x": CONFIGS["ramp"]},
        )


def test_a_refused_construction_leaves_the_groups_as_they_were() -> None:
    lr = torch.tensor(0.25, dtype=torch.float64)
    params = [torch.nn.Parameter(torch.ones(1)) for _ in range(2)]
    optimizer = torch.optim.SGD([{"params": [p], "lr": lr} for p in params], lr=0.0)
    before = [dict(g) for g in optimizer.param_groups]
    configs = {"body": CONFIGS["ramp"], "head": CONFIGS["cosine"]}
    with pytest.raises(ValueError, match="share one lr tensor"):
        LRShim(optimizer, configs)
    # Refused after naming the groups: no name, lr or initial_lr is left behind, so a
    # retry in another order is not refused for names it never set.
    assert [dict(g) for g in optimizer.param_groups] == before
    assert all(g["lr"] is lr for g in optimizer.param_groups)
    LRShim(optimizer, {"head": CONFIGS["ramp"], "body": CONFIGS["ramp"]})
    assert [g["name"] for g in optimizer.param_groups] == ["head", "body"]
    # torch's own refusal (last_epoch >= 0 without initial_lr) comes after the naming too.
    fresh = make_optimizer(2)
    with pytest.raises(KeyError, match="initial_lr"):
        LRShim(fresh, {"a": CONFIGS["ramp"], "b": CONFIGS["ramp"]}, last_epoch=3)
    assert all("name" not in g and "initial_lr" not in g for g in fresh.param_groups)


@pytest.mark.parametrize(
    ("lr", "error", "match"),
    [
        (torch.tensor(1), TypeError, "group 'g' has an lr tensor of dtype torch.int64"),
        (torch.tensor(True), TypeError, "dtype torch.bool"),
        (torch.tensor([0.1, 0.2]), ValueError, r"group 'g' has an lr tensor of shape \(2,\)"),
    ],
)
def test_an_lr_tensor_that_cannot_hold_a_rate_is_refused(lr: Any, error: Any, match: str) -> None:
    # An integer tensor would truncate every rate to 0 and train on silently.
    optimizer = make_optimizer(1, lr=torch.tensor(0.5))
    shim = LRShim(optimizer, {"g": CONFIGS["ramp"]})
    train_step(optimizer)
    optimizer.param_groups[0]["lr"] = lr  # put there after construction: the next step
    with pytest.raises(error, match=match):
        shim.step()
    if lr.numel() == 1:
        with pytest.raises(error, match=match):
            LRShim(make_optimizer(1, lr=lr), {"g": CONFIGS["ramp"]})


def test_default_lr_tensor_is_shared_by_groups_and_refused_unless_packed() -> None:
    # torch puts the one default `lr` tensor in every group that sets none.
    optimizer = make_optimizer(2, torch.optim.Adam, lr=torch.tensor(0.0), foreach=False)
    assert optimizer.param_groups[0]["lr"] is optimizer.param_groups[1]["lr"]
    configs = {"a": CONFIGS["cosine"], "b": CONFIGS["ramp"]}
    with pytest.raises(ValueError, match=r"share one lr tensor.*pack_tensor_lrs=True"):
        LRShim(optimizer, configs)
    # Packed, each group gets its own view: the schedules no longer collide.
    shim = LRShim(optimizer, configs, pack_tensor_lrs=True)
    for step in range(1, 8):
        train_step(optimizer)
        shim.step()
        assert hex_lrs(optimizer) == hexes(
            as_held(expected(configs.values(), step), [torch.float32] * 2)
        )


def test_shared_lr_tensor_with_the_same_schedule_is_allowed() -> None:
    lr = torch.tensor(0.0, dtype=torch.float64)
    params = [torch.nn.Parameter(torch.ones(1)) for _ in range(2)]
    optimizer = torch.optim.SGD([{"params": [p], "lr": lr} for p in params], lr=0.0)
    shim = LRShim(optimizer, {"a": CONFIGS["cosine"], "b": dict(CONFIGS["cosine"])})
    for step in range(1, 8):
        train_step(optimizer)
        shim.step()
        assert lr.item() == expected([CONFIGS["cosine"]], step)[0]


def test_one_element_lr_of_another_shape_is_written_in_place_even_when_packing() -> None:
    optimizer = make_optimizer(1)
    lr = optimizer.param_groups[0]["lr"] = torch.zeros(1, dtype=torch.float64)
    shim = LRShim(optimizer, {"a": CONFIGS["ramp"]}, pack_tensor_lrs=True)
    for step in range(1, 5):
        train_step(optimizer)
        shim.step()
        assert optimizer.param_groups[0]["lr"] is lr
        assert lr.tolist() == expected([CONFIGS["ramp"]], step)
        assert shim.get_last_lr()[0].shape == (1,)


def test_packing_survives_optimizer_load_state_dict() -> None:
    optimizer = tensor_optimizer([torch.float32] * 4, torch.optim.Adam, foreach=False)
    shim = LRShim(optimizer, CONFIGS, pack_tensor_lrs=True)
    for _ in range(5):
        train_step(optimizer)
        shim.step()
    saved_opt, saved_shim = optimizer.state_dict(), shim.state_dict()

    optimizer = tensor_optimizer([torch.float32] * 4, torch.optim.Adam, foreach=False)
    shim = LRShim(optimizer, CONFIGS, pack_tensor_lrs=True)
    optimizer.load_state_dict(saved_opt)  # new groups, new lr tensors behind the shim's back
    shim.load_state_dict(saved_shim)
    loaded = group_lrs(optimizer)
    assert hexes(loaded) == hexes(as_held(expected(KINDS, 5), [torch.float32] * 4))
    for step in range(6, 20):
        train_step(optimizer)
        shim.step()
        assert hex_lrs(optimizer) == hexes(as_held(expected(KINDS, step), [torch.float32] * 4))
    lrs = group_lrs(optimizer)
    assert all(lr is not old for lr, old in zip(lrs, loaded, strict=True))  # packed again
    assert lrs[0]._base is not None
    assert all(lr._base is lrs[0]._base for lr in lrs)


@pytest.mark.parametrize("pack", [False, True])
@pytest.mark.parametrize("replacement", ["tensor", "float"])
def test_a_group_lr_replaced_behind_its_back_is_found(pack: bool, replacement: str) -> None:
    optimizer = tensor_optimizer([torch.float64] * 4)
    shim = LRShim(optimizer, CONFIGS, pack_tensor_lrs=pack)
    for _ in range(3):
        train_step(optimizer)
        shim.step()
    optimizer.param_groups[2]["lr"] = (
        torch.tensor(9.0, dtype=torch.float64) if replacement == "tensor" else 9.0
    )
    for step in range(4, 12):
        train_step(optimizer)
        shim.step()
        assert hex_lrs(optimizer) == hexes(expected(KINDS, step))


@pytest.mark.parametrize("pack", [False, True])
@pytest.mark.parametrize("start", [[None] * 4, [None, torch.float32, None, torch.float64]])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_a_float_lr_made_a_tensor_is_filled_in_place_as_lambdalr_does(
    pack: bool, start: list[Any], dtype: Any
) -> None:
    # Making lrs tensors after build_optimizer (whose lrs are floats) is how a compiled
    # optimizer step gets them: torch's schedulers fill such a tensor from then on.
    def run(make_scheduler: Any) -> list[list[str]]:
        groups = [
            {"params": [torch.nn.Parameter(torch.ones(2))], "lr": torch.tensor(1.0, dtype=d)}
            if d
            else {"params": [torch.nn.Parameter(torch.ones(2))], "lr": 1.0}
            for d in start
        ]
        optimizer = torch.optim.SGD(groups)  # lr 1.0: LambdaLR's factor is the lr itself
        scheduler = make_scheduler(optimizer)
        held = []
        for step in range(1, 12):
            if step == 4:
                tensor = torch.tensor(0.5, dtype=dtype)
                optimizer.param_groups[2]["lr"] = tensor
            train_step(optimizer)
            scheduler.step()
            if step >= 4:
                lr = optimizer.param_groups[2]["lr"]
                assert isinstance(lr, torch.Tensor)
                assert lr.dtype == dtype
                assert lr is tensor or (pack and lr._base is not None)
            held.append(hex_lrs(optimizer))
        return held

    ours = run(lambda opt: LRShim(opt, CONFIGS, pack_tensor_lrs=pack))
    want = [
        hexes(as_held(expected(KINDS, step), [*start[:2], dtype if step >= 4 else None, start[3]]))
        for step in range(1, 12)
    ]
    assert ours == want
    assert run(lambda opt: LambdaLR(opt, [oracle_fn(c) for c in KINDS])) == want


def test_groups_named_after_other_keys_are_refused() -> None:
    # Paired in order, `head` would silently get body's schedule and keep its name.
    a, b = torch.nn.Parameter(torch.ones(1)), torch.nn.Parameter(torch.ones(1))
    optimizer = torch.optim.SGD([{"params": [a], "name": "head"}, {"params": [b], "name": "body"}])
    with pytest.raises(ValueError, match="group 0 is named 'head', but lr_dict's key at"):
        LRShim(optimizer, {"body": {"constant": 0.1}, "head": {"constant": 0.5}})
    shim = LRShim(optimizer, {"head": {"constant": 0.5}, "body": {"constant": 0.1}})
    assert shim.get_last_lr() == [0.5, 0.1]
    # A name that is no key (the user's own) is left alone, as torch leaves it.
    other = torch.optim.SGD([{"params": [a], "name": "tower"}, {"params": [b]}])
    LRShim(other, {"head": {"constant": 0.5}, "body": {"constant": 0.1}})
    assert [g["name"] for g in other.param_groups] == ["tower", "body"]
    # A refused call names nothing: the corrected one is then accepted.
    third = torch.optim.SGD([{"params": [a]}, {"params": [b], "name": "a"}], lr=0.1)
    with pytest.raises(ValueError, match="group 1 is named 'a'"):
        LRShim(third, {"a": {"constant": 0.5}, "b": {"constant": 0.1}})
    assert "name" not in third.param_groups[0]
    LRShim(third, {"b": {"constant": 0.5}, "a": {"constant": 0.1}})
    assert [g["name"] for g in third.param_groups] == ["b", "a"]


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_copies_write_their_own_groups(how: str) -> None:
    optimizer = tensor_optimizer([torch.float32] * 4)
    shim = LRShim(optimizer, CONFIGS, pack_tensor_lrs=True)
    for _ in range(3):
        train_step(optimizer)
        shim.step()
    clone = copy.deepcopy(shim) if how == "deepcopy" else pickle.loads(pickle.dumps(shim))
    assert clone.optimizer is not optimizer
    assert hexes(clone.get_last_lr()) == hexes(shim.get_last_lr())
    original = hex_lrs(optimizer)
    for step in range(4, 9):
        train_step(clone.optimizer)
        clone.step()
        assert hex_lrs(clone.optimizer) == hexes(
            as_held(expected(KINDS, step), [torch.float32] * 4)
        )
    assert hex_lrs(optimizer) == original


def test_two_packed_shims_on_one_optimizer_share_the_buffer() -> None:
    # SequentialLR hands the groups from one LRShim to the next: no new tensors between.
    optimizer = tensor_optimizer([torch.float32] * 2)
    first = LRShim(optimizer, KINDS[:2], pack_tensor_lrs=True)
    views = group_lrs(optimizer)
    second = LRShim(optimizer, KINDS[2:], pack_tensor_lrs=True)
    for shim, configs in ((first, KINDS[:2]), (second, KINDS[2:]), (first, KINDS[:2])):
        train_step(optimizer)
        shim.step()
        assert all(a is b for a, b in zip(group_lrs(optimizer), views, strict=True))
        assert hex_lrs(optimizer) == hexes(
            as_held(expected(configs, shim.last_epoch), [torch.float32] * 2)
        )


# --------------------------------------------------------------------------- state and resume


def is_plain(value: Any) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and is_plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(is_plain(v) for v in value)
    return value is None or isinstance(value, (bool, int, float, str))


@pytest.mark.parametrize("pack", [False, True])
def test_state_dict_is_plain_data_and_loads_with_weights_only(tmp_path: Any, pack: bool) -> None:
    optimizer = tensor_optimizer([None, torch.float32, None, torch.float64])
    shim = LRShim(
        optimizer,
        {name: LearningRate.model_validate(c) for name, c in CONFIGS.items()},
        pack_tensor_lrs=pack,
    )
    for _ in range(5):
        train_step(optimizer)
        shim.step()
    state = shim.state_dict()
    assert is_plain(state), state
    assert state["last_epoch"] == 5
    assert state["group_names"] == list(CONFIGS)
    assert state["lr_dict"] == dict(zip(CONFIGS, Schedules(CONFIGS).configs, strict=True))
    held = as_held(expected(KINDS, 5), [None, torch.float32, None, torch.float64])
    assert hexes(state["_last_lr"]) == hexes(held)
    torch.save(state, tmp_path / "sched.pt")
    assert torch.load(tmp_path / "sched.pt", weights_only=True) == state


def run(configs: dict[str, Any], steps: int, optimizer: Any = None, shim: Any = None) -> list[Any]:
    """Learning rates used by each of `steps` optimizer steps."""
    if optimizer is None:
        optimizer = make_optimizer(len(configs), torch.optim.Adam)
        shim = LRShim(optimizer, configs)
    seen = []
    for _ in range(steps):
        seen.append(hex_lrs(optimizer))
        train_step(optimizer)
        shim.step()
    return seen


def checkpoint(configs: dict[str, Any], k: int, path: Any) -> list[list[str]]:
    optimizer = make_optimizer(len(configs), torch.optim.Adam)
    shim = LRShim(optimizer, configs)
    seen = run(configs, k, optimizer, shim)
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": shim.state_dict()}, path)
    return seen


@pytest.mark.parametrize("k", [0, 1, 4, 13])
def test_resume_from_state_dict_continues_exactly(tmp_path: Any, k: int) -> None:
    total = 24
    uninterrupted = run(CONFIGS, total)
    before = checkpoint(CONFIGS, k, tmp_path / "ckpt.pt")
    saved = torch.load(tmp_path / "ckpt.pt", weights_only=True)

    optimizer = make_optimizer(len(CONFIGS), torch.optim.Adam)
    shim = LRShim(optimizer, CONFIGS)  # scheduler first, then the states: torch's order
    optimizer.load_state_dict(saved["optimizer"])
    shim.load_state_dict(saved["scheduler"])
    assert shim.last_epoch == k
    after = run(CONFIGS, total - k, optimizer, shim)
    assert before + after == uninterrupted
    assert uninterrupted == [hexes(expected(KINDS, s)) for s in range(total)]


@pytest.mark.parametrize("k", [1, 5, 17])
def test_resume_with_last_epoch_continues_exactly(tmp_path: Any, k: int) -> None:
    total = 24
    uninterrupted = run(CONFIGS, total)
    before = checkpoint(CONFIGS, k, tmp_path / "ckpt.pt")
    saved = torch.load(tmp_path / "ckpt.pt", weights_only=True)

    optimizer = make_optimizer(len(CONFIGS), torch.optim.Adam)
    optimizer.load_state_dict(saved["optimizer"])  # brings initial_lr
    # torch's convention: last_epoch is the index of the last step taken; the
    # constructor then steps to k.
    shim = LRShim(optimizer, CONFIGS, last_epoch=k - 1)
    assert shim.last_epoch == k
    after = run(CONFIGS, total - k, optimizer, shim)
    assert before + after == uninterrupted


def test_last_epoch_needs_initial_lr() -> None:
    with pytest.raises(KeyError, match="initial_lr"):
        LRShim(make_optimizer(4), CONFIGS, last_epoch=3)


def test_load_state_dict_refuses_other_schedules_and_says_how_to_start_afresh() -> None:
    shim = LRShim(make_optimizer(4), CONFIGS)
    changed = dict(
        CONFIGS, ramp={"linear_ramp_to_constant": {"learning_rate": 0.7, "num_ramp_steps": 60}}
    )
    state = LRShim(make_optimizer(4), changed).state_dict()
    with pytest.raises(ValueError, match=r"group 'ramp'.*num_ramp_steps': 60.*afresh from step 0"):
        shim.load_state_dict(state)
    renamed = LRShim(make_optimizer(4), dict(zip("abcd", KINDS, strict=True)))
    with pytest.raises(ValueError, match=r"saved for groups 'const'.*afresh"):
        renamed.load_state_dict(shim.state_dict())


def test_load_state_dict_without_lr_dict_keeps_own_schedules() -> None:
    old = LRShim(make_optimizer(4), KINDS)
    for _ in range(6):
        old.optimizer.step()
        old.step()
    changed = [{"constant": 0.5}] * 4
    optimizer = make_optimizer(4)
    shim = LRShim(optimizer, changed)
    state = old.state_dict()
    del state["lr_dict"]
    shim.load_state_dict(state)
    assert shim.last_epoch == 6
    train_step(optimizer)
    shim.step()
    assert group_lrs(optimizer) == [0.5] * 4


def test_load_state_dict_accepts_normalised_equal_configs_and_keeps_input() -> None:
    shim = LRShim(
        make_optimizer(1),
        {"a": {"linear_ramp_to_constant": {"learning_rate": 1, "num_ramp_steps": 10}}},
    )
    state = shim.state_dict()
    state["lr_dict"] = {
        "a": {"linear_ramp_to_constant": {"learning_rate": 1.0, "num_ramp_steps": 10.0}}
    }
    snapshot = copy.deepcopy(state)
    shim.load_state_dict(state)
    assert state == snapshot


# Every entry of a state is checked as the constructor checks its arguments.
BAD_STATES = [
    ("last_epoch", 1.5, TypeError, "last_epoch'.*1.5"),
    ("last_epoch", True, TypeError, "last_epoch'.*True"),
    ("last_epoch", "abc", TypeError, "last_epoch'.*'abc'"),
    ("last_epoch", None, TypeError, "last_epoch'.*None"),
    ("last_epoch", float("nan"), TypeError, "last_epoch'.*nan"),
    ("last_epoch", 10**30, ValueError, "last_epoch'.*between -1 and"),
    ("last_epoch", -2, ValueError, "last_epoch'.*-2"),
    ("_step_count", 2.0, TypeError, "_step_count'.*2.0"),
    ("_step_count", -1, ValueError, "_step_count'.*-1"),
    ("_is_initial", "no", TypeError, "_is_initial'.*'no'"),
    ("base_lrs", [0.1], ValueError, r"base_lrs'\] must be a list of 4"),
    ("base_lrs", "0.1", ValueError, r"base_lrs'\] must be a list of 4"),
    ("base_lrs", [0.1, 0.1, "x", 0.1], TypeError, r"base_lrs'\]\[2\] must be a number"),
    ("base_lrs", [0.1, 0.1, 0.1, float("inf")], ValueError, r"base_lrs'\]\[3\].*finite"),
    ("_last_lr", [0.1, None, 0.1, 0.1], TypeError, r"_last_lr'\]\[1\] must be a number"),
    ("_last_lr", [0.1, 0.1, -0.5, 0.1], ValueError, r"_last_lr'\]\[2\].*>= 0"),
    ("_last_lr", [0.1, True, 0.1, 0.1], TypeError, r"_last_lr'\]\[1\] must be a number"),
    ("group_names", "const", TypeError, r"group_names'\] must be a list of strings"),
    ("group_names", ["a", "b", "c", "d"], ValueError, "saved for groups 'a'"),
    ("lr_dict", [1, 2], TypeError, r"lr_dict'\] must be a dict"),
    ("lr_dict", {n: {"constant": -1} for n in CONFIGS}, ValueError, "invalid config"),
    ("step", 5, ValueError, "unknown key 'step'"),
    ("get_last_lr", None, ValueError, "unknown key 'get_last_lr'"),
    ("optimizer", None, ValueError, "unknown key 'optimizer'"),
    ("_schedules", None, ValueError, "unknown key '_schedules'"),
]


@pytest.mark.parametrize(
    ("key", "value", "error", "match"),
    BAD_STATES,
    ids=[f"{key}={value!r}"[:40] for key, value, _, _ in BAD_STATES],
)
def test_load_state_dict_refuses_a_bad_entry_naming_it(
    key: str, value: Any, error: type[Exception], match: str
) -> None:
    optimizer = make_optimizer(4)
    shim = LRShim(optimizer, CONFIGS)
    for _ in range(3):
        train_step(optimizer)
        shim.step()
    before = (shim.last_epoch, shim._step_count, hexes(shim.get_last_lr()), list(shim.base_lrs))
    state = shim.state_dict()
    state["last_epoch"] = 7  # a good entry the refused load must not apply
    state[key] = value
    with pytest.raises(error, match=match):
        shim.load_state_dict(state)
    after = (shim.last_epoch, shim._step_count, hexes(shim.get_last_lr()), list(shim.base_lrs))
    assert after == before
    assert callable(shim.step)
    assert callable(shim.get_last_lr)
    train_step(optimizer)
    shim.step()
    assert hex_lrs(optimizer) == hexes(expected(KINDS, 4))


def test_load_state_dict_needs_a_dict_with_last_epoch() -> None:
    shim = LRShim(make_optimizer(4), CONFIGS)
    with pytest.raises(TypeError, match="state_dict must be a dict"):
        shim.load_state_dict([("last_epoch", 3)])  # type: ignore[arg-type]
    state = shim.state_dict()
    del state["last_epoch"]
    with pytest.raises(ValueError, match="no 'last_epoch'"):
        shim.load_state_dict(state)


def test_load_state_dict_ignores_torchs_stateless_entries() -> None:
    # torch's own state_dict() writes _get_lr_called_within_step; torch < 2.7 (and so
    # the original tml LRShim's checkpoints) also verbose. Neither holds any state.
    optimizer = make_optimizer(4)
    shim = LRShim(optimizer, CONFIGS)
    state = shim.state_dict()
    state.update(last_epoch=6, verbose=False, _get_lr_called_within_step=False)
    assert (
        "_get_lr_called_within_step"
        in LambdaLR(make_optimizer(1), oracle_fn(KINDS[0])).state_dict()
    )
    shim.load_state_dict(state)
    assert "verbose" not in vars(shim)  # nothing applied from it
    train_step(optimizer)
    shim.step()
    assert hex_lrs(optimizer) == hexes(expected(KINDS, 7))


def test_a_state_at_the_last_step_loads_and_the_next_step_is_refused() -> None:
    optimizer = make_optimizer(4)
    for group in optimizer.param_groups:
        group["initial_lr"] = 0.0
    shim = LRShim(optimizer, CONFIGS, last_epoch=2**63 - 2)  # steps once, to 2**63 - 1
    assert shim.last_epoch == 2**63 - 1
    state = shim.state_dict()
    other = LRShim(make_optimizer(4), CONFIGS)
    other.load_state_dict(state)
    assert other.last_epoch == 2**63 - 1
    assert hexes(other.get_last_lr()) == hexes(expected(KINDS, 2**63 - 1))
    train_step(other.optimizer)
    with pytest.raises(ValueError, match=r"step must be <= 2\*\*63 - 1"):
        other.step()
    assert other.last_epoch == 2**63 - 1


def test_a_state_remembers_fast_mode() -> None:
    # Fast and exact values differ in the last bits: resuming one as the other would not
    # continue the saved run exactly.
    fast = LRShim(make_optimizer(4), Schedules(CONFIGS, exact=False))
    state = fast.state_dict()
    assert state["exact"] is False
    exact = LRShim(make_optimizer(4), CONFIGS)
    with pytest.raises(ValueError, match=r"saved by a scheduler in fast \(exact=False\) mode"):
        exact.load_state_dict(state)
    with pytest.raises(ValueError, match="saved by a scheduler in exact mode"):
        fast.load_state_dict(exact.state_dict())
    LRShim(make_optimizer(4), Schedules(CONFIGS, exact=False)).load_state_dict(state)
    del state["exact"]  # a state from before the entry: taken as this scheduler's mode
    exact.load_state_dict(state)
    with pytest.raises(TypeError, match=r"state_dict\['exact'\] must be True or False"):
        exact.load_state_dict({"last_epoch": 3, "exact": 1})


def test_load_state_dict_accepts_a_minimal_state() -> None:
    optimizer = make_optimizer(4)
    shim = LRShim(optimizer, CONFIGS)
    shim.load_state_dict({"last_epoch": 9})
    train_step(optimizer)
    shim.step()
    assert hex_lrs(optimizer) == hexes(expected(KINDS, 10))


def test_resume_on_a_combined_optimizer(tmp_path: Any) -> None:
    configs = {"a": CONFIGS["cosine"], "b": CONFIGS["ramp"], "c": CONFIGS["piecewise"]}

    def build() -> tuple[Any, Any]:
        dense = make_optimizer(2, torch.optim.Adam)
        sparse = make_optimizer(1, torch.optim.SGD)
        combined = CombinedOptimizer([("dense", dense), ("sparse", sparse)])
        return combined, LRShim(combined, configs)

    combined, shim = build()
    seen = []
    for _ in range(10):
        seen.append(hex_lrs(combined))
        train_step(combined)
        shim.step()
    assert seen == [hexes(expected(configs.values(), s)) for s in range(10)]
    parts = {name: optim.state_dict() for name, optim in combined._optims}
    torch.save({"parts": parts, "scheduler": shim.state_dict()}, tmp_path / "c.pt")

    saved = torch.load(tmp_path / "c.pt", weights_only=True)
    combined, shim = build()
    for name, optim in combined._optims:
        optim.load_state_dict(saved["parts"][name])
    shim.load_state_dict(saved["scheduler"])
    for step in range(10, 16):
        assert hex_lrs(combined) == hexes(expected(configs.values(), step))
        train_step(combined)
        shim.step()


def test_combined_optimizer_count_mismatch_names_the_parts() -> None:
    combined = CombinedOptimizer([("dense", make_optimizer(2)), ("sparse", make_optimizer(3))])
    with pytest.raises(
        ValueError, match=r"5 parameter groups \(dense: 2, sparse: 3\).* 4 learning rates"
    ):
        LRShim(combined, CONFIGS)


kinds = st.sampled_from(KINDS)


@settings(max_examples=25, deadline=None)
@given(
    configs=st.lists(kinds, min_size=1, max_size=5), k=st.integers(0, 30), more=st.integers(1, 10)
)
def test_property_resume_equals_uninterrupted(configs: list[Any], k: int, more: int) -> None:
    lr_dict = {f"g{i}": c for i, c in enumerate(configs)}
    uninterrupted = run(lr_dict, k + more)
    optimizer = make_optimizer(len(configs), torch.optim.Adam)
    shim = LRShim(optimizer, lr_dict)
    before = run(lr_dict, k, optimizer, shim)
    opt_state, shim_state = optimizer.state_dict(), shim.state_dict()
    optimizer = make_optimizer(len(configs), torch.optim.Adam)
    shim = LRShim(optimizer, lr_dict)
    optimizer.load_state_dict(opt_state)
    shim.load_state_dict(shim_state)
    assert before + run(lr_dict, more, optimizer, shim) == uninterrupted


def test_deepcopy_and_pickle_continue_with_the_same_learning_rates() -> None:
    optimizer = make_optimizer(4)
    shim = LRShim(optimizer, CONFIGS)
    for _ in range(3):
        train_step(optimizer)
        shim.step()
    for clone in (copy.deepcopy(shim), pickle.loads(pickle.dumps(shim))):
        assert clone.optimizer is not optimizer
        assert clone.last_epoch == 3
        for step in range(4, 9):
            train_step(clone.optimizer)
            clone.step()
            assert hex_lrs(clone.optimizer) == hexes(expected(KINDS, step))


def test_groups_rebuilt_on_every_access_are_written() -> None:
    # torchrec's CombinedOptimizer builds a new list of the same group dicts each time.
    combined = CombinedOptimizer([("a", make_optimizer(2)), ("b", make_optimizer(1))])
    assert combined.param_groups is not combined.param_groups
    configs = KINDS[:3]
    shim = LRShim(combined, configs)
    for step in range(1, 6):
        train_step(combined)
        shim.step()
        assert hex_lrs(combined) == hexes(expected(configs, step))


# --------------------------------------------------------------------------- torch composites


def composite(kind: str, first: Any, optimizer: Any) -> Any:
    """`first` (an LRShim or a LambdaLR) inside one of torch's composite schedulers."""
    if kind == "sequential":
        warmup = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=0.25, total_iters=3)
        return torch.optim.lr_scheduler.SequentialLR(optimizer, [warmup, first], milestones=[3])
    decay = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.9)
    return torch.optim.lr_scheduler.ChainedScheduler([first, decay])


@pytest.mark.parametrize("kind", ["sequential", "chained"])
@pytest.mark.parametrize("pack", [False, True])
def test_inside_sequential_lr_and_chained_scheduler_as_lambda_lr(kind: str, pack: bool) -> None:
    # LambdaLR with base lr 1.0 and the oracle as factors is the same schedule as the
    # LRShim: torch's composites must give both the same learning rates at every step.
    def build(shim: bool) -> tuple[Any, Any]:
        optimizer = tensor_optimizer([torch.float64, None, torch.float64, None])
        for group in optimizer.param_groups:
            group["lr"] = group["lr"].fill_(1.0) if isinstance(group["lr"], torch.Tensor) else 1.0
        first = (
            LRShim(optimizer, CONFIGS, pack_tensor_lrs=pack)
            if shim
            else LambdaLR(optimizer, [oracle_fn(c) for c in KINDS])
        )
        return optimizer, composite(kind, first, optimizer)

    (opt_a, sched_a), (opt_b, sched_b) = build(True), build(False)
    for step in range(20):
        assert hex_lrs(opt_a) == hex_lrs(opt_b), step
        assert hexes(sched_a.get_last_lr()) == hexes(sched_b.get_last_lr()), step
        for optimizer, scheduler in ((opt_a, sched_a), (opt_b, sched_b)):
            train_step(optimizer)
            scheduler.step()
    state = sched_a.state_dict()
    opt_c, sched_c = build(True)
    sched_c.load_state_dict(state)
    opt_c.load_state_dict(opt_a.state_dict())
    for _ in range(5):
        for optimizer, scheduler in ((opt_a, sched_a), (opt_c, sched_c)):
            train_step(optimizer)
            scheduler.step()
        assert hex_lrs(opt_c) == hex_lrs(opt_a)
