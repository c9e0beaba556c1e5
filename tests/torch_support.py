"""Helpers shared by the torch test files: optimizers, train steps, learning-rate readers.

Import it after `pytest.importorskip("torch")`: it imports torch. Expected learning rates
come from the plain-Python oracle (`tests.oracle`), never from the package under test.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch

from tests.oracle import namespace, reference_lr

# One schedule of each of the four original kinds, short enough that a few dozen steps cross
# every branch (ramps, cosine, piecewise boundaries, the constant tail).
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


def oracle_lr(config: Mapping[str, Any], step: int) -> float:
    """The oracle's learning rate of one YAML-shaped config at `step`."""
    return float(reference_lr(namespace(config), step))


def expected(configs: Iterable[Mapping[str, Any]], step: int) -> list[float]:
    """The oracle's learning rate of each config at `step`."""
    return [oracle_lr(c, step) for c in configs]


def cycled(count: int) -> list[dict[str, Any]]:
    """`count` configs cycling through the four kinds of CONFIGS."""
    kinds = list(CONFIGS.values())
    return [kinds[g % len(kinds)] for g in range(count)]


def make_optimizer(
    groups: int, cls: Any = torch.optim.SGD, lr: Any = 0.0, **kwargs: Any
) -> torch.optim.Optimizer:
    """`cls` with `groups` parameter groups of one 3-element parameter each.

    `lr` is the optimizer's default; a tensor default is the one tensor torch puts in
    every group (shared). Use `tensor_lrs` for one tensor per group.
    """
    params = [torch.nn.Parameter(torch.ones(3)) for _ in range(groups)]
    optimizer: torch.optim.Optimizer = cls([{"params": [p]} for p in params], lr=lr, **kwargs)
    return optimizer


def many_groups(groups: int, lr: float = 1.0) -> torch.optim.SGD:
    """SGD with `groups` one-parameter groups, built in linear time.

    `add_param_group` checks each new group against all earlier ones (quadratic in G),
    so the groups after the first copy the first one's settings: the dicts torch builds.
    """
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in range(groups)]
    optimizer = torch.optim.SGD([params[0]], lr=lr)
    template = {key: value for key, value in optimizer.param_groups[0].items() if key != "params"}
    optimizer.param_groups.extend({"params": [p], **template} for p in params[1:])
    return optimizer


def tensor_lrs(optimizer: torch.optim.Optimizer, dtypes: Iterable[Any]) -> list[Any]:
    """Gives group g its own 0-d lr tensor of dtype `dtypes[g]` (None: a float lr).

    Returns the tensors given (None for float groups).
    """
    given: list[Any] = []
    for group, dtype in zip(optimizer.param_groups, dtypes, strict=True):
        group["lr"] = 0.0 if dtype is None else torch.tensor(0.0, dtype=dtype)
        given.append(None if dtype is None else group["lr"])
    return given


def train_step(optimizer: torch.optim.Optimizer) -> None:
    """One optimizer step with a constant gradient on every parameter."""
    for group in optimizer.param_groups:
        for p in group["params"]:
            p.grad = torch.full_like(p, 0.5)
    optimizer.step()


def as_float(value: Any) -> float:
    """A learning rate as a Python float: a tensor's value, as it holds it."""
    return float(value.item()) if isinstance(value, torch.Tensor) else value


def hexes(values: Iterable[Any]) -> list[str]:
    """Learning rates as exact bit patterns; a value that is no float fails loudly."""
    return [float.hex(as_float(v)) for v in values]


def group_lrs(optimizer: torch.optim.Optimizer) -> list[Any]:
    return [group["lr"] for group in optimizer.param_groups]


def hex_lrs(optimizer: torch.optim.Optimizer) -> list[str]:
    """Every group's learning rate as an exact bit pattern."""
    return hexes(group_lrs(optimizer))


def rounded(values: Iterable[float], dtypes: Iterable[Any]) -> list[float]:
    """`values` as lr tensors of `dtypes` hold them (None: a Python float, unchanged)."""
    return [
        v if d is None else float(torch.tensor(v, dtype=d).item())
        for v, d in zip(values, dtypes, strict=True)
    ]


class CombinedOptimizer(torch.optim.Optimizer):
    """A minimal combined optimizer in the style of torchrec's CombinedOptimizer.

    Its parts are `_optims` (name, optimizer) pairs; its param_groups are theirs,
    concatenated, as a new list on every access (as torchrec builds them); step()
    steps every part.
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
