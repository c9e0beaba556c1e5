"""build_multi_task_optimizer: tower groups by sanitized task name, backbone, errors, YAML, example."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

pytest.importorskip("torch")
import torch

import tml
from tests.torch_support import oracle_lr
from tml.core.config import load_config_from_yaml
from tml.optimizers.config import LearningRate, MultiTaskLearningRates, OptimizerConfig
from tml.optimizers.optimizer import build_multi_task_optimizer

ROOT = Path(__file__).resolve().parents[1]
# The example runs in a subprocess against the same tml this test imported (the
# installed package, or the source tree with the module built in place).
TML_PATH = str(Path(tml.__file__).resolve().parents[1])

CLICK = {
    "linear_ramp_to_cosine": {
        "learning_rate": 0.01,
        "final_learning_rate": 0.001,
        "num_ramp_steps": 3,
        "final_num_steps": 20,
    }
}
LIKE = {"linear_ramp_to_constant": {"learning_rate": 0.005, "num_ramp_steps": 7}}
REPLY = {
    "piecewise_constant": {
        "learning_rate_boundaries": [4, 9],
        "learning_rate_values": [0.02, 0.01, 0.0],
    }
}
BACKBONE = {"constant": 0.003}
SGD = OptimizerConfig(sgd={"lr": 0.0})


class Towers(torch.nn.Module):
    """Backbone plus towers under a ModuleDict, named as recap names them."""

    def __init__(self, tasks: list[str], backbone: bool = True) -> None:
        super().__init__()
        if backbone:
            self.backbone = torch.nn.Linear(4, 6)
        self.towers = torch.nn.ModuleDict(
            {
                t.replace(".", "__"): torch.nn.Sequential(
                    torch.nn.Linear(6, 3), torch.nn.Linear(3, 1)
                )
                for t in tasks
            }
        )
        self.tasks = tasks

    def forward(self, x: Any) -> Any:
        h = self.backbone(x) if hasattr(self, "backbone") else x.new_ones(x.shape[0], 6)
        return sum(self.towers[t.replace(".", "__")](h).sum() for t in self.tasks)


def rates(backbone: Any = BACKBONE, **towers: Any) -> MultiTaskLearningRates:
    return MultiTaskLearningRates(tower_learning_rates=towers, backbone_learning_rate=backbone)


def names_of(model: Any, group: dict[str, Any]) -> list[str]:
    by_id = {id(p): n for n, p in model.named_parameters()}
    return [by_id[id(p)] for p in group["params"]]


def test_groups_follow_task_names_then_backbone() -> None:
    tasks = ["is_clicked", "is_liked.v2", "is_replied"]
    model = Towers(tasks)
    lrs = MultiTaskLearningRates(
        tower_learning_rates={"is_replied": REPLY, "is_clicked": CLICK, "is_liked.v2": LIKE},
        backbone_learning_rate=BACKBONE,
    )
    optimizer, scheduler = build_multi_task_optimizer(model, SGD, lrs)
    assert scheduler.group_names == ["is_replied", "is_clicked", "is_liked.v2", "backbone"]
    assert [g["name"] for g in optimizer.param_groups] == scheduler.group_names
    members = [names_of(model, g) for g in optimizer.param_groups]
    assert members[0] == [
        n for n, _ in model.named_parameters() if n.startswith("towers.is_replied.")
    ]
    assert members[1] == [
        n for n, _ in model.named_parameters() if n.startswith("towers.is_clicked.")
    ]
    assert members[2] == [
        n for n, _ in model.named_parameters() if n.startswith("towers.is_liked__v2.")
    ]
    assert members[3] == ["backbone.weight", "backbone.bias"]
    assert sorted(n for names in members for n in names) == sorted(
        n for n, _ in model.named_parameters()
    )


def test_each_group_follows_its_own_schedule() -> None:
    model = Towers(["is_clicked", "is_liked.v2", "is_replied"])
    lrs = rates(is_clicked=CLICK, **{"is_liked.v2": LIKE}, is_replied=REPLY)
    optimizer, scheduler = build_multi_task_optimizer(model, OptimizerConfig(adam={"lr": 0.1}), lrs)
    configs = [CLICK, LIKE, REPLY, BACKBONE]
    for step in range(25):
        assert [g["lr"] for g in optimizer.param_groups] == [oracle_lr(c, step) for c in configs]
        optimizer.zero_grad()
        model(torch.randn(5, 4)).backward()
        optimizer.step()
        scheduler.step()


def test_wrapped_model_parameter_names_still_match() -> None:
    # DistributedDataParallel (and other wrappers) prefix names with "module.".
    outer = torch.nn.Module()
    outer.module = Towers(["ctr"])
    optimizer, scheduler = build_multi_task_optimizer(outer, SGD, rates(ctr=CLICK))
    assert scheduler.group_names == ["ctr", "backbone"]
    assert names_of(outer, optimizer.param_groups[1]) == [
        "module.backbone.weight",
        "module.backbone.bias",
    ]


def test_no_backbone_group_when_every_parameter_is_in_a_tower() -> None:
    model = Towers(["a", "b"], backbone=False)
    optimizer, scheduler = build_multi_task_optimizer(
        model, SGD, rates(backbone=None, a=CLICK, b=LIKE)
    )
    assert scheduler.group_names == ["a", "b"]
    assert len(optimizer.param_groups) == 2


def test_parameter_matched_by_two_tasks_is_refused() -> None:
    model = torch.nn.Module()
    model.towers = torch.nn.ModuleDict(
        {"ctr": torch.nn.ModuleDict({"inner": torch.nn.Linear(2, 1)})}
    )
    with pytest.raises(
        ValueError,
        match=r"'towers\.ctr\.inner\.weight' is matched by several tasks: 'ctr'.*'inner'",
    ):
        build_multi_task_optimizer(model, SGD, rates(backbone=None, ctr=CLICK, inner=LIKE))


@pytest.mark.parametrize(
    ("tie", "match"),
    [
        # a tower's weight tied to another tower's: trained at the first tower's rate
        (
            lambda m: setattr(m.towers["like"][0], "weight", m.towers["ctr"][0].weight),
            r"'towers\.like\.0\.weight' is the same tensor as 'towers\.ctr\.0\.weight'.*"
            r"task 'ctr' and in task 'like'",
        ),
        # a tower's weight tied to the backbone's: trained at the backbone's rate
        (
            lambda m: setattr(m.towers["ctr"][0], "weight", m.backbone.weight),
            r"'towers\.ctr\.0\.weight' is the same tensor as 'backbone\.weight'.*"
            r"the backbone and in task 'ctr'",
        ),
        # a whole tower shared: it was "tasks match no parameter: 'like'"
        (
            lambda m: m.towers.__setitem__("like", m.towers["ctr"]),
            r"'towers\.like\.0\.weight' is the same tensor as 'towers\.ctr\.0\.weight'",
        ),
    ],
    ids=["tower-tower", "tower-backbone", "whole-tower"],
)
def test_a_tied_parameter_split_between_groups_is_refused(tie: Any, match: str) -> None:
    model = Towers(["ctr", "like"])
    model.backbone = torch.nn.Linear(6, 6)  # the towers' input size, so a tie fits
    tie(model)
    with pytest.raises(ValueError, match=match):
        build_multi_task_optimizer(model, SGD, rates(ctr=CLICK, like=LIKE))


def test_a_parameter_tied_within_one_group_is_in_it_once() -> None:
    model = Towers(["ctr"])
    model.towers["ctr"][1].weight = torch.nn.Parameter(torch.zeros(1, 3))
    model.towers["ctr"].add_module("again", model.towers["ctr"][1])  # same weights, 2 names
    optimizer, _ = build_multi_task_optimizer(model, SGD, rates(ctr=CLICK))
    ctr = optimizer.param_groups[0]["params"]
    assert len(ctr) == len({id(p) for p in ctr}) == 4


def test_a_model_with_only_named_parameters_is_grouped() -> None:
    # Not a torch.nn.Module, as _check_model allows: no remove_duplicate keyword.
    tower, core = torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(3))

    class Named:
        def named_parameters(self) -> list[tuple[str, torch.nn.Parameter]]:
            return [("towers.ctr.w", tower), ("backbone.w", core)]

    optimizer, scheduler = build_multi_task_optimizer(Named(), SGD, rates(ctr=CLICK))
    assert scheduler.group_names == ["ctr", "backbone"]
    assert [g["params"] for g in optimizer.param_groups] == [[tower], [core]]


def test_task_matching_no_parameter_is_refused() -> None:
    model = Towers(["ctr"])
    with pytest.raises(ValueError, match=r"'is\.liked' \(looked for '\.is__liked\.'\)"):
        build_multi_task_optimizer(model, SGD, rates(ctr=CLICK, **{"is.liked": LIKE}))


def test_top_level_module_named_like_the_task_does_not_match() -> None:
    # The rule needs a "." on both sides: a tower must sit inside a container module.
    model = torch.nn.Module()
    model.ctr = torch.nn.Linear(2, 1)
    with pytest.raises(ValueError, match=r"tasks match no parameter: 'ctr'.*'ctr\.weight'"):
        build_multi_task_optimizer(model, SGD, rates(ctr=CLICK))


def test_backbone_parameters_without_backbone_rate_are_refused() -> None:
    model = Towers(["ctr"])
    with pytest.raises(
        ValueError, match=r"'backbone\.weight', 'backbone\.bias' belong to no task tower"
    ):
        build_multi_task_optimizer(model, SGD, rates(backbone=None, ctr=CLICK))


def test_backbone_rate_without_backbone_parameters_is_unused() -> None:
    # A config shared by models with and without a backbone: no backbone group.
    model = Towers(["ctr"], backbone=False)
    optimizer, scheduler = build_multi_task_optimizer(model, SGD, rates(ctr=CLICK))
    assert [group["name"] for group in optimizer.param_groups] == ["ctr"]
    assert scheduler.group_names == ["ctr"]


def test_configs_as_dicts_and_wrong_types() -> None:
    model = Towers(["ctr"])
    dict_rates = {"tower_learning_rates": {"ctr": CLICK}, "backbone_learning_rate": BACKBONE}
    optimizer, scheduler = build_multi_task_optimizer(model, {"sgd": {"lr": 0.0}}, dict_rates)
    assert type(optimizer) is torch.optim.SGD
    assert scheduler.group_names == ["ctr", "backbone"]
    with pytest.raises(TypeError, match="learning_rates must be a MultiTaskLearningRates"):
        build_multi_task_optimizer(model, SGD, [1, 2])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="optimizer_config must be an OptimizerConfig"):
        build_multi_task_optimizer(model, 0.1, dict_rates)  # type: ignore[arg-type]
    parameters = list(model.parameters())
    with pytest.raises(TypeError, match=r"model must be a torch.nn.Module .*got list"):
        build_multi_task_optimizer(parameters, SGD, dict_rates)  # type: ignore[arg-type]


def test_task_named_backbone_clashes_with_the_backbone_group() -> None:
    model = torch.nn.Module()
    model.towers = torch.nn.ModuleDict({"backbone": torch.nn.Linear(2, 1)})
    model.shared = torch.nn.Linear(2, 2)
    lrs = MultiTaskLearningRates(
        tower_learning_rates={"backbone": CLICK}, backbone_learning_rate=BACKBONE
    )
    with pytest.raises(ValueError, match="task 'backbone' clashes"):
        build_multi_task_optimizer(model, SGD, lrs)


def test_optimizer_learning_rate_must_be_unset() -> None:
    config = OptimizerConfig(sgd={"lr": 0.1}, learning_rate={"constant": 0.1})
    with pytest.raises(ValueError, match=r"optimizer_config\.learning_rate is set"):
        build_multi_task_optimizer(Towers(["ctr"]), config, rates(ctr=CLICK))


def test_algorithm_and_its_fields_come_from_the_optimizer_config() -> None:
    config = OptimizerConfig(adam={"lr": 0.1, "betas": [0.5, 0.6], "eps": 1e-3})
    optimizer, _ = build_multi_task_optimizer(Towers(["ctr"]), config, rates(ctr=CLICK))
    assert type(optimizer) is torch.optim.Adam
    assert all(g["betas"] == (0.5, 0.6) and g["eps"] == 1e-3 for g in optimizer.param_groups)


def test_learning_rates_as_a_yaml_shaped_dict() -> None:
    lrs = {"tower_learning_rates": {"ctr": CLICK}, "backbone_learning_rate": BACKBONE}
    _, scheduler = build_multi_task_optimizer(Towers(["ctr"]), SGD, lrs)
    assert scheduler.get_last_lr() == [oracle_lr(CLICK, 0), 0.003]


def test_loads_from_yaml(tmp_path: Path) -> None:
    path = tmp_path / "lrs.yaml"
    path.write_text(
        textwrap.dedent(
            """
            tower_learning_rates:
              is_clicked:
                linear_ramp_to_cosine:
                  learning_rate: 0.01
                  final_learning_rate: 0.001
                  num_ramp_steps: 3
                  final_num_steps: 20
              is_liked.v2:
                linear_ramp_to_constant: {learning_rate: 0.005, num_ramp_steps: 7}
            backbone_learning_rate:
              constant: 0.003
            """
        )
    )
    lrs = load_config_from_yaml(MultiTaskLearningRates, path)
    assert lrs.tower_learning_rates["is_liked.v2"] == LearningRate.model_validate(LIKE)
    model = Towers(["is_clicked", "is_liked.v2"])
    optimizer, scheduler = build_multi_task_optimizer(model, SGD, lrs)
    for _ in range(9):
        optimizer.step()
        scheduler.step()
    assert scheduler.get_last_lr() == [oracle_lr(CLICK, 9), oracle_lr(LIKE, 9), 0.003]


def run_example(
    *args: str, tmp_path: Path
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    summary = tmp_path / "summary.json"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [TML_PATH, env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [
            sys.executable,
            "-W",
            "error",
            str(ROOT / "examples" / "train_multitask.py"),
            *args,
            "--summary-json",
            str(summary),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc, json.loads(summary.read_text())


def test_example_runs_briefly_and_reports_each_tower(tmp_path: Path) -> None:
    config = ROOT / "examples" / "train_multitask.yaml"
    proc, summary = run_example(
        "--config", str(config), "--steps", "12", "--log-every", "5", tmp_path=tmp_path
    )
    raw = yaml.safe_load(config.read_text())["multi_task_learning_rates"]
    expected = dict(raw["tower_learning_rates"], backbone=raw["backbone_learning_rate"])
    assert summary["steps"] == 12
    assert list(summary["groups"]) == list(expected)
    for name, cfg in expected.items():
        group = summary["groups"][name]
        assert group["lrs"] == [oracle_lr(cfg, step) for step in range(12)], name
        assert group["last_lr"] == oracle_lr(cfg, 11)
        assert name in proc.stdout
    assert "step    10" in proc.stdout
    assert "per-group learning rates over 12 steps" in proc.stdout


def test_example_rejects_a_bad_config(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    text = (ROOT / "examples" / "train_multitask.yaml").read_text()
    bad.write_text(text.replace("num_ramp_steps: 100", "num_ramp_steps: 0"))
    env = dict(os.environ, PYTHONPATH=TML_PATH)
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "train_multitask.py"),
            "--config",
            str(bad),
            "--steps",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert proc.returncode != 0
    assert "num_ramp_steps" in proc.stderr


def test_learning_rates_of_plain_attributes_are_read_or_refused_by_name() -> None:
    # An object of attributes is taken as it is: a missing backbone_learning_rate was an
    # AttributeError, tower_learning_rates=None a bare "not iterable".
    import types

    net = torch.nn.Linear(2, 1)
    sgd = {"sgd": {"lr": 0.0}}
    towerless = types.SimpleNamespace(tower_learning_rates=None, backbone_learning_rate=None)
    with pytest.raises(TypeError, match=r"tower_learning_rates must be a mapping .* NoneType"):
        build_multi_task_optimizer(net, sgd, towerless)
    no_backbone = types.SimpleNamespace(tower_learning_rates={"a": {"constant": 1.0}})
    with pytest.raises(ValueError, match="tasks match no parameter: 'a'"):
        build_multi_task_optimizer(net, sgd, no_backbone)  # read as unset, as in the model


def test_a_task_on_a_model_without_parameters_says_so() -> None:
    with pytest.raises(
        ValueError, match=r"match no parameter: 'a' .*; the model has no parameters$"
    ):
        build_multi_task_optimizer(
            torch.nn.Module(),
            {"sgd": {"lr": 0.0}},
            {"tower_learning_rates": {"a": {"constant": 1.0}}},
        )
