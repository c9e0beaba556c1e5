"""LRShim: torch's LRScheduler contract, bit-exact learning rates, exact resume."""

from __future__ import annotations

import bisect
import math
import types
from typing import Any

import pytest

pytest.importorskip("torch")
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.optim.lr_scheduler import LambdaLR

from tml.optimizers import Schedule, Schedules, compute_lr
from tml.optimizers.config import LearningRate
from tml.optimizers.optimizer import LRShim

CONFIGS: dict[str, dict[str, Any]] = {
    "const": {"constant": 0.05},
    "piecewise": {
        "piecewise_constant": {
            "learning_rate_boundaries": [3, 7],
            "learning_rate_values": [0.3, 0.2, 0.1],
        }
    },
    "ramp": {"linear_ramp_to_constant": {"learning_rate": 0.7, "num_ramp_steps": 6}},
    "cosine": {
        "linear_ramp_to_cosine": {
            "learning_rate": 0.9,
            "final_learning_rate": 0.01,
            "num_ramp_steps": 4,
            "final_num_steps": 15,
        }
    },
}


def reference_lr(config: dict[str, Any], step: int) -> float:
    """The original tml formulas in plain Python: an oracle independent of tml."""
    if "constant" in config:
        return config["constant"]
    if "piecewise_constant" in config:
        c = config["piecewise_constant"]
        return c["learning_rate_values"][bisect.bisect_right(c["learning_rate_boundaries"], step)]
    if "linear_ramp_to_constant" in config:
        c = config["linear_ramp_to_constant"]
        return min(c["learning_rate"], c["learning_rate"] / c["num_ramp_steps"] * step)
    c = config["linear_ramp_to_cosine"]
    lr, final, ramp, end = (
        c["learning_rate"],
        c["final_learning_rate"],
        c["num_ramp_steps"],
        c["final_num_steps"],
    )
    if step < ramp:
        return lr / ramp * step
    if step > end:
        return final
    return final + (lr - final) * 0.5 * (1.0 + math.cos(math.pi * (step - ramp) / (end - ramp)))


def make_optimizer(groups: int, cls: Any = torch.optim.SGD, **kwargs: Any) -> Any:
    params = [torch.nn.Parameter(torch.ones(3)) for _ in range(groups)]
    kwargs.setdefault("lr", 0.0)
    return cls([{"params": [p]} for p in params], **kwargs)


def train_step(optimizer: Any) -> None:
    for group in optimizer.param_groups:
        for p in group["params"]:
            p.grad = torch.full_like(p, 0.5)
    optimizer.step()


def hexes(values: list[Any]) -> list[str]:
    """Bitwise comparison of Python floats; anything that is not a float fails."""
    return [float.hex(v) for v in values]


def group_lrs(optimizer: Any) -> list[Any]:
    return [group["lr"] for group in optimizer.param_groups]


def expected(configs: list[Any], step: int) -> list[float]:
    return [compute_lr(c, step) for c in configs]


class CombinedOptimizer(torch.optim.Optimizer):
    """A minimal combined optimizer in the style of torchrec's CombinedOptimizer.

    Its parts are `_optims` (name, optimizer) pairs; its param_groups are theirs,
    concatenated; step() steps every part.
    """

    def __init__(self, optims: list[tuple[str, Any]]) -> None:
        # Optimizer.__init__ wants parameters of its own; the parts own them here.
        self._optims = optims
        self.defaults: dict[str, Any] = {}
        self.state: Any = {}

    @property
    def param_groups(self) -> list[dict[str, Any]]:  # type: ignore[override]
        return [group for _, optim in self._optims for group in optim.param_groups]

    def step(self, closure: Any = None) -> None:  # type: ignore[override]
        for _, optim in self._optims:
            optim.step(closure)


# --------------------------------------------------------------------------- basics


def test_constructor_sets_step_zero_and_each_step_follows_compute_lr() -> None:
    optimizer = make_optimizer(len(CONFIGS))
    shim = LRShim(optimizer, CONFIGS)
    configs = list(CONFIGS.values())
    assert shim.last_epoch == 0
    assert hexes(group_lrs(optimizer)) == hexes(expected(configs, 0))
    for step in range(1, 25):
        train_step(optimizer)
        shim.step()
        assert shim.last_epoch == step
        lrs = group_lrs(optimizer)
        assert all(type(lr) is float for lr in lrs)
        assert hexes(lrs) == hexes(expected(configs, step))
        assert hexes(shim.get_last_lr()) == hexes(lrs)


def test_learning_rates_equal_the_plain_python_reference() -> None:
    optimizer = make_optimizer(len(CONFIGS))
    shim = LRShim(optimizer, CONFIGS)
    for step in range(30):
        if step:
            train_step(optimizer)
            shim.step()
        want = [reference_lr(c, step) for c in CONFIGS.values()]
        assert hexes(group_lrs(optimizer)) == hexes(want), step


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
        assert hexes(group_lrs(optimizer)) == hexes(expected(list(CONFIGS.values()), step))


def test_many_groups_of_mixed_kinds() -> None:
    configs = [list(CONFIGS.values())[g % 4] for g in range(301)]
    optimizer = make_optimizer(len(configs))
    shim = LRShim(optimizer, configs)
    for step in range(1, 20):
        train_step(optimizer)
        shim.step()
        assert hexes(group_lrs(optimizer)) == hexes(expected(configs, step))


def test_each_step_is_one_compiled_call() -> None:
    configs = [list(CONFIGS.values())[g % 4] for g in range(50)]
    optimizer = make_optimizer(len(configs))
    shim = LRShim(optimizer, configs)
    calls: list[Any] = []
    schedules = shim._schedules

    class Counting:
        """Stands in for the compiled schedules, counting batch evaluations."""

        def __len__(self) -> int:
            return len(schedules)

        def assign(self, step: Any, targets: Any, key: str = "lr") -> list[float]:
            calls.append(step)
            return schedules.assign(step, targets, key)

        def values(self, step: Any) -> list[float]:
            calls.append(step)
            return schedules.values(step)

    shim._schedules = Counting()  # type: ignore[assignment]
    for step in range(1, 6):
        train_step(optimizer)
        shim.step()
        assert calls == [step]
        calls.clear()
    assert hexes(group_lrs(optimizer)) == hexes(expected(configs, 5))


def test_float_epoch_and_bad_steps_take_the_checked_path() -> None:
    optimizer = make_optimizer(4)
    shim = LRShim(optimizer, CONFIGS)
    train_step(optimizer)
    with pytest.warns(UserWarning, match="epoch parameter"):
        shim.step(2.5)
    assert hexes(group_lrs(optimizer)) == hexes(expected(list(CONFIGS.values()), 2.5))
    with pytest.warns(UserWarning, match="epoch parameter"), pytest.raises(ValueError, match="-3"):
        shim.step(-3)
    assert shim.last_epoch == 2.5


# --------------------------------------------------------------------------- lr_dict forms


def test_lr_dict_forms_give_the_same_learning_rates() -> None:
    def attrs(cfg: dict[str, Any]) -> Any:
        # A config object of the original tml style: the four kinds as attributes.
        kinds = (
            "constant",
            "piecewise_constant",
            "linear_ramp_to_constant",
            "linear_ramp_to_cosine",
        )
        fields: dict[str, Any] = dict.fromkeys(kinds)
        for kind, body in cfg.items():
            fields[kind] = types.SimpleNamespace(**body) if isinstance(body, dict) else body
        return types.SimpleNamespace(**fields)

    forms: list[Any] = [
        CONFIGS,
        {name: LearningRate.model_validate(cfg) for name, cfg in CONFIGS.items()},
        {name: attrs(cfg) for name, cfg in CONFIGS.items()},
        list(CONFIGS.values()),
        Schedules(CONFIGS),
    ]
    results = []
    for form in forms:
        optimizer = make_optimizer(len(CONFIGS))
        shim = LRShim(optimizer, form)
        for _ in range(9):
            train_step(optimizer)
            shim.step()
        results.append(hexes(group_lrs(optimizer)))
    assert all(r == results[0] for r in results)
    assert results[0] == hexes(expected(list(CONFIGS.values()), 9))


def test_group_names() -> None:
    assert LRShim(make_optimizer(4), CONFIGS).group_names == list(CONFIGS)
    assert LRShim(make_optimizer(4), list(CONFIGS.values())).group_names == ["0", "1", "2", "3"]


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
    ("last_epoch", "error"), [(-2, ValueError), (True, TypeError), (1.5, TypeError)]
)
def test_bad_last_epoch(last_epoch: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match=r"last_epoch|integer"):
        LRShim(make_optimizer(1), {"a": {"constant": 0.1}}, last_epoch=last_epoch)


def test_added_param_group_is_a_count_error_at_the_next_step() -> None:
    optimizer = make_optimizer(2)
    shim = LRShim(optimizer, {"a": {"constant": 0.1}, "b": {"constant": 0.2}})
    optimizer.add_param_group({"params": [torch.nn.Parameter(torch.ones(1))]})
    train_step(optimizer)
    with pytest.raises(ValueError, match=r"3 parameter groups.* 2 learning rates"):
        shim.step()
    assert shim.last_epoch == 0  # the refused step changed nothing


# --------------------------------------------------------------------------- tensor lr


def tensor_optimizer(dtypes: list[Any]) -> Any:
    groups = [
        {
            "params": [torch.nn.Parameter(torch.ones(2))],
            "lr": torch.tensor(0.0, dtype=d) if d else 0.0,
        }
        for d in dtypes
    ]
    return torch.optim.SGD(groups, lr=0.0)


def test_tensor_lr_is_filled_in_place() -> None:
    optimizer = tensor_optimizer([torch.float64, None, torch.float32, torch.float64])
    tensors = [g["lr"] for g in optimizer.param_groups]
    shim = LRShim(optimizer, CONFIGS)
    configs = list(CONFIGS.values())
    for step in range(12):
        if step:
            train_step(optimizer)
            shim.step()
        want = expected(configs, step)
        lrs = group_lrs(optimizer)
        for g in (0, 2, 3):
            assert lrs[g] is tensors[g], "tensor lr replaced instead of filled"
        assert lrs[0].item() == want[0]
        assert type(lrs[1]) is float
        assert lrs[1] == want[1]
        assert lrs[2].item() == torch.tensor(want[2], dtype=torch.float32).item()
        assert lrs[3].item() == want[3]
        last = shim.get_last_lr()
        assert isinstance(last[0], torch.Tensor)
        assert last[0] is not lrs[0]
        assert last[0].item() == want[0]
        assert last[1] == want[1]


def test_tensor_lr_with_adam_trains() -> None:
    groups = [
        {"params": [torch.nn.Parameter(torch.ones(2))], "lr": torch.tensor(0.0)} for _ in range(2)
    ]
    optimizer = torch.optim.Adam(groups, foreach=False)
    shim = LRShim(optimizer, {"a": CONFIGS["cosine"], "b": CONFIGS["ramp"]})
    for step in range(1, 6):
        train_step(optimizer)
        shim.step()
        assert [t.item() for t in group_lrs(optimizer)] == [
            torch.tensor(v, dtype=torch.float32).item()
            for v in expected([CONFIGS["cosine"], CONFIGS["ramp"]], step)
        ]


def test_shared_lr_tensor_with_different_schedules_is_refused() -> None:
    lr = torch.tensor(0.0, dtype=torch.float64)
    params = [torch.nn.Parameter(torch.ones(1)) for _ in range(3)]
    optimizer = torch.optim.SGD([{"params": [p], "lr": lr} for p in params], lr=0.0)
    with pytest.raises(ValueError, match=r"'tower_b' and 'tower_c' share one lr tensor"):
        LRShim(
            optimizer,
            {"tower_b": CONFIGS["ramp"], "tower_c": CONFIGS["cosine"], "x": CONFIGS["ramp"]},
        )


def test_default_lr_tensor_is_shared_by_groups_and_refused() -> None:
    # torch puts the one default `lr` tensor in every group that sets none.
    optimizer = make_optimizer(2, torch.optim.Adam, lr=torch.tensor(0.0), foreach=False)
    assert optimizer.param_groups[0]["lr"] is optimizer.param_groups[1]["lr"]
    with pytest.raises(ValueError, match="share one lr tensor"):
        LRShim(optimizer, {"a": CONFIGS["cosine"], "b": CONFIGS["ramp"]})


def test_shared_lr_tensor_with_the_same_schedule_is_allowed() -> None:
    lr = torch.tensor(0.0, dtype=torch.float64)
    params = [torch.nn.Parameter(torch.ones(1)) for _ in range(2)]
    optimizer = torch.optim.SGD([{"params": [p], "lr": lr} for p in params], lr=0.0)
    shim = LRShim(optimizer, {"a": CONFIGS["cosine"], "b": dict(CONFIGS["cosine"])})
    for step in range(1, 8):
        train_step(optimizer)
        shim.step()
        assert lr.item() == compute_lr(CONFIGS["cosine"], step)


# --------------------------------------------------------------------------- torch conventions


def test_get_lr_outside_step_warns_like_torch() -> None:
    shim = LRShim(make_optimizer(4), CONFIGS)
    with pytest.warns(UserWarning, match="get_last_lr"):
        values = shim.get_lr()
    assert hexes(values) == hexes(expected(list(CONFIGS.values()), 0))


def test_scheduler_step_before_optimizer_step_warns_like_torch() -> None:
    shim = LRShim(make_optimizer(4), CONFIGS)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        shim.step()


def test_step_with_epoch_uses_the_closed_form() -> None:
    optimizer = make_optimizer(4)
    shim = LRShim(optimizer, CONFIGS)
    train_step(optimizer)
    with pytest.warns(UserWarning, match="epoch parameter"):
        shim.step(11)
    assert shim.last_epoch == 11
    assert hexes(group_lrs(optimizer)) == hexes(expected(list(CONFIGS.values()), 11))


def test_initial_lr_is_recorded() -> None:
    optimizer = make_optimizer(2, lr=0.25)
    shim = LRShim(optimizer, {"a": {"constant": 0.1}, "b": {"constant": 0.2}})
    assert [g["initial_lr"] for g in optimizer.param_groups] == [0.25, 0.25]
    assert shim.base_lrs == [0.25, 0.25]


def test_same_last_epoch_convention_as_lambda_lr() -> None:
    """Torch's LambdaLR with base lr 1.0 computes exactly the same learning rates."""
    configs = list(CONFIGS.values())
    for last_epoch in (-1, 0, 3, 9):
        opt_a = make_optimizer(4, lr=1.0)
        opt_b = make_optimizer(4, lr=1.0)
        for optimizer in (opt_a, opt_b):
            for group in optimizer.param_groups:
                group["initial_lr"] = 1.0
        shim = LRShim(opt_a, configs, last_epoch=last_epoch)
        lam = LambdaLR(opt_b, [Schedule(c) for c in configs], last_epoch=last_epoch)
        assert shim.last_epoch == lam.last_epoch
        for _ in range(6):
            assert hexes(group_lrs(opt_a)) == hexes(group_lrs(opt_b))
            assert hexes(shim.get_last_lr()) == hexes(lam.get_last_lr())
            train_step(opt_a)
            train_step(opt_b)
            shim.step()
            lam.step()


# --------------------------------------------------------------------------- state and resume


def is_plain(value: Any) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and is_plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(is_plain(v) for v in value)
    return value is None or isinstance(value, (bool, int, float, str))


def test_state_dict_is_plain_data_and_loads_with_weights_only(tmp_path: Any) -> None:
    optimizer = tensor_optimizer([None, torch.float64, None, None])
    shim = LRShim(optimizer, {name: LearningRate.model_validate(c) for name, c in CONFIGS.items()})
    for _ in range(5):
        train_step(optimizer)
        shim.step()
    state = shim.state_dict()
    assert is_plain(state), state
    assert state["last_epoch"] == 5
    assert state["group_names"] == list(CONFIGS)
    assert state["lr_dict"] == dict(zip(CONFIGS, Schedules(CONFIGS).configs, strict=True))
    torch.save(state, tmp_path / "sched.pt")
    assert torch.load(tmp_path / "sched.pt", weights_only=True) == state


def run(
    configs: dict[str, Any], steps: int, optimizer: Any = None, shim: Any = None
) -> list[list[str]]:
    """Learning rates used by each of `steps` optimizer steps."""
    if optimizer is None:
        optimizer = make_optimizer(len(configs), torch.optim.Adam)
        shim = LRShim(optimizer, configs)
    seen = []
    for _ in range(steps):
        seen.append(hexes(group_lrs(optimizer)))
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


def test_load_state_dict_refuses_other_schedules() -> None:
    shim = LRShim(make_optimizer(4), CONFIGS)
    changed = dict(
        CONFIGS, ramp={"linear_ramp_to_constant": {"learning_rate": 0.7, "num_ramp_steps": 60}}
    )
    state = LRShim(make_optimizer(4), changed).state_dict()
    with pytest.raises(ValueError, match=r"group 'ramp'.*num_ramp_steps': 60"):
        shim.load_state_dict(state)
    renamed = LRShim(
        make_optimizer(4), dict(zip(["a", "b", "c", "d"], CONFIGS.values(), strict=True))
    )
    with pytest.raises(ValueError, match="saved for groups 'const'"):
        renamed.load_state_dict(shim.state_dict())


def test_load_state_dict_without_lr_dict_keeps_own_schedules() -> None:
    old = LRShim(make_optimizer(4), list(CONFIGS.values()))
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
    snapshot = dict(state.items())
    shim.load_state_dict(state)
    assert state == snapshot


def test_resume_on_a_combined_optimizer(tmp_path: Any) -> None:
    def build() -> tuple[Any, Any]:
        dense = make_optimizer(2, torch.optim.Adam)
        sparse = make_optimizer(1, torch.optim.SGD)
        combined = CombinedOptimizer([("dense", dense), ("sparse", sparse)])
        return combined, LRShim(
            combined, {"a": CONFIGS["cosine"], "b": CONFIGS["ramp"], "c": CONFIGS["piecewise"]}
        )

    combined, shim = build()
    seen = []
    for _ in range(10):
        seen.append(hexes(group_lrs(combined)))
        train_step(combined)
        shim.step()
    want = [
        hexes(expected([CONFIGS["cosine"], CONFIGS["ramp"], CONFIGS["piecewise"]], s))
        for s in range(10)
    ]
    assert seen == want
    parts = {name: optim.state_dict() for name, optim in combined._optims}
    torch.save({"parts": parts, "scheduler": shim.state_dict()}, tmp_path / "c.pt")

    saved = torch.load(tmp_path / "c.pt", weights_only=True)
    combined, shim = build()
    for name, optim in combined._optims:
        optim.load_state_dict(saved["parts"][name])
    shim.load_state_dict(saved["scheduler"])
    for step in range(10, 16):
        assert hexes(group_lrs(combined)) == hexes(
            expected([CONFIGS["cosine"], CONFIGS["ramp"], CONFIGS["piecewise"]], step)
        )
        train_step(combined)
        shim.step()


def test_combined_optimizer_count_mismatch_names_the_parts() -> None:
    combined = CombinedOptimizer([("dense", make_optimizer(2)), ("sparse", make_optimizer(3))])
    with pytest.raises(
        ValueError, match=r"5 parameter groups \(dense: 2, sparse: 3\).* 4 learning rates"
    ):
        LRShim(combined, CONFIGS)


kinds = st.sampled_from(list(CONFIGS.values()))


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
    import copy
    import pickle

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
            want = expected(list(CONFIGS.values()), step)
            assert hexes(group_lrs(clone.optimizer)) == hexes(want)


def test_groups_rebuilt_on_every_access_are_recognised() -> None:
    params = [torch.nn.Parameter(torch.ones(1)) for _ in range(3)]
    optimizer = torch.optim.SGD([{"params": [p]} for p in params], lr=0.0)
    groups = optimizer.param_groups

    class Rebuilding(torch.optim.SGD):
        """Returns a new list of the same group dicts on every access, as torchrec does."""

        @property  # type: ignore[override]
        def param_groups(self) -> list[dict[str, Any]]:
            return list(groups)

        @param_groups.setter
        def param_groups(self, value: list[dict[str, Any]]) -> None:
            groups[:] = value

    optimizer.__class__ = Rebuilding
    assert optimizer.param_groups is not optimizer.param_groups
    configs = list(CONFIGS.values())[:3]
    shim = LRShim(optimizer, configs)
    inspections = []
    original = shim._inspect_groups

    def counting(groups: Any) -> None:
        inspections.append(1)
        original(groups)

    shim._inspect_groups = counting  # type: ignore[method-assign]
    for step in range(1, 4):
        train_step(optimizer)
        shim.step()
        assert hexes(group_lrs(optimizer)) == hexes(expected(configs, step))
    assert inspections == []
