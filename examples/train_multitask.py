"""Train a small multi-tower model with one learning-rate schedule per tower.

A shared backbone feeds one tower per task (binary labels, synthetic data). The
optimizer and the schedules come from a YAML file (`examples/train_multitask.yaml`):
an optimizer config (adam, sgd or adagrad) plus multi-task learning rates, one per
tower and one for the backbone, as in the original recap optimizer config.
`build_multi_task_optimizer` puts each tower's parameters in that task's parameter
group and everything else in the backbone group; `LRShim` steps all the groups'
schedules at once.

Run (from the repository root, with the package installed: pip install '.[torch]'):

    python examples/train_multitask.py
    python examples/train_multitask.py --steps 50 --log-every 10

At the end it prints, per parameter group, the schedule kind and the learning rates it
used; `--summary-json PATH` also writes them, with every step's learning rate.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import pydantic
import torch
from torch import nn

from tml.core.config import BaseConfig, load_config_from_yaml
from tml.optimizers import Schedules, build_multi_task_optimizer
from tml.optimizers.config import MultiTaskLearningRates, OptimizerConfig

DEFAULT_CONFIG = Path(__file__).with_name("train_multitask.yaml")


class ModelConfig(BaseConfig):
    """Sizes of the model."""

    num_features: int = pydantic.Field(16, ge=1)
    backbone_hidden: int = pydantic.Field(32, ge=1)
    tower_hidden: int = pydantic.Field(16, ge=1)


class TrainingConfig(BaseConfig):
    """Length of the run and synthetic batches."""

    steps: int = pydantic.Field(300, ge=1)
    batch_size: int = pydantic.Field(256, ge=1)
    seed: int = 0
    log_every: int = pydantic.Field(50, ge=0, description="0: no progress lines.")


class ExampleConfig(BaseConfig):
    """The whole YAML file."""

    optimizer: OptimizerConfig
    multi_task_learning_rates: MultiTaskLearningRates
    model: ModelConfig = pydantic.Field(default_factory=ModelConfig)
    training: TrainingConfig = pydantic.Field(default_factory=TrainingConfig)


def sanitize(task: str) -> str:
    """A task name as a module name ("." is not allowed there), as recap names towers."""
    return task.replace(".", "__")


class MultiTowerModel(nn.Module):
    """A shared backbone and one small tower (one logit) per task."""

    def __init__(self, tasks: list[str], config: ModelConfig) -> None:
        super().__init__()
        self.tasks = list(tasks)
        self.backbone = nn.Sequential(
            nn.Linear(config.num_features, config.backbone_hidden), nn.ReLU()
        )
        # Parameter names become towers.<sanitized task>.<layer>.weight, which is what
        # build_multi_task_optimizer matches on.
        self.towers = nn.ModuleDict(
            {
                sanitize(task): nn.Sequential(
                    nn.Linear(config.backbone_hidden, config.tower_hidden),
                    nn.ReLU(),
                    nn.Linear(config.tower_hidden, 1),
                )
                for task in self.tasks
            }
        )

    def forward(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        shared = self.backbone(features)
        return {task: self.towers[sanitize(task)](shared).squeeze(-1) for task in self.tasks}


class SyntheticTasks:
    """Batches of features and one binary label per task, from fixed random linear models."""

    def __init__(self, tasks: list[str], num_features: int, seed: int) -> None:
        self.tasks = tasks
        self.generator = torch.Generator().manual_seed(seed)
        self.weights = {task: torch.randn(num_features, generator=self.generator) for task in tasks}

    def batch(self, size: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        num_features = next(iter(self.weights.values())).numel()
        features = torch.randn(size, num_features, generator=self.generator)
        labels = {}
        for task, weight in self.weights.items():
            probability = torch.sigmoid(features @ weight)
            labels[task] = torch.bernoulli(probability, generator=self.generator)
        return features, labels


def train(config: ExampleConfig, log_every: int) -> dict[str, Any]:
    """Trains and returns the per-group summary (also used by --summary-json)."""
    tasks = list(config.multi_task_learning_rates.tower_learning_rates)
    torch.manual_seed(config.training.seed)
    model = MultiTowerModel(tasks, config.model)
    data = SyntheticTasks(tasks, config.model.num_features, config.training.seed + 1)
    optimizer, scheduler = build_multi_task_optimizer(
        model, config.optimizer, config.multi_task_learning_rates
    )
    loss_fn = nn.BCEWithLogitsLoss()
    names = scheduler.group_names
    used: dict[str, list[float]] = {name: [] for name in names}
    losses: dict[str, float] = {}

    for step in range(config.training.steps):
        features, labels = data.batch(config.training.batch_size)
        logits = model(features)
        per_task = {task: loss_fn(logits[task], labels[task]) for task in tasks}
        loss = torch.stack(list(per_task.values())).sum()
        optimizer.zero_grad()
        loss.backward()
        for name, group in zip(names, optimizer.param_groups, strict=True):
            used[name].append(group["lr"])  # the learning rate this step trains with
        optimizer.step()
        scheduler.step()
        losses = {task: value.item() for task, value in per_task.items()}
        if log_every and (step % log_every == 0 or step == config.training.steps - 1):
            shown = "  ".join(f"{task}={value:.4f}" for task, value in losses.items())
            print(f"step {step:>5}  loss {loss.item():.4f}  ({shown})")

    kinds = Schedules(scheduler.lr_dict).kinds
    summary: dict[str, Any] = {"steps": config.training.steps, "groups": {}}
    for name, group, kind in zip(names, optimizer.param_groups, kinds, strict=True):
        lrs = used[name]
        summary["groups"][name] = {
            "kind": kind,
            "parameters": sum(p.numel() for p in group["params"]),
            "first_lr": lrs[0],
            "peak_lr": max(lrs),
            "last_lr": lrs[-1],
            "final_loss": losses.get(name),
            "lrs": lrs,
        }
    return summary


def print_summary(summary: dict[str, Any]) -> None:
    print(f"\nper-group learning rates over {summary['steps']} steps")
    header = f"{'group':<12} {'schedule':<24} {'params':>7} {'first lr':>10} {'peak lr':>10} {'last lr':>10} {'loss':>8}"
    print(header)
    print("-" * len(header))
    for name, g in summary["groups"].items():
        loss = "-" if g["final_loss"] is None else f"{g['final_loss']:.4f}"
        print(
            f"{name:<12} {g['kind']:<24} {g['parameters']:>7} {g['first_lr']:>10.6f} "
            f"{g['peak_lr']:>10.6f} {g['last_lr']:>10.6f} {loss:>8}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="YAML config file")
    parser.add_argument("--steps", type=int, default=None, help="override training.steps")
    parser.add_argument("--log-every", type=int, default=None, help="override training.log_every")
    parser.add_argument("--summary-json", type=Path, default=None, help="write the summary here")
    args = parser.parse_args(argv)

    config = load_config_from_yaml(ExampleConfig, args.config)
    if args.steps is not None:
        if args.steps < 1:
            parser.error(f"--steps must be >= 1, got {args.steps}")
        config.training.steps = args.steps
    log_every = config.training.log_every if args.log_every is None else args.log_every

    summary = train(config, log_every)
    print_summary(summary)
    if args.summary_json is not None:
        args.summary_json.write_text(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
