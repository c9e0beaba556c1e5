"""LRShim with torch.compile: tensor learning rates, no recompiles, and the lr = 0.0 trap.

Compiled with the `eager` backend (dynamo traces, guards and recompiles exactly as
with inductor; only the code generation is skipped), except for the slow test, which
runs inductor once. Expected learning rates come from the plain-Python oracle.
"""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("torch")
import torch
import torch._dynamo
from torch._dynamo.utils import counters

from tests.torch_support import expected, hexes
from tml.optimizers import LRShim

pytestmark = pytest.mark.filterwarnings(
    # dynamo imports torch.utils.mkldnn, which uses the deprecated torch.jit.script_method.
    "ignore:`torch.jit.script_method` is deprecated:DeprecationWarning"
)

RAMP = {"linear_ramp_to_constant": {"learning_rate": 0.01, "num_ramp_steps": 10}}
COSINE = {
    "linear_ramp_to_cosine": {
        "learning_rate": 0.02,
        "final_learning_rate": 0.001,
        "num_ramp_steps": 5,
        "final_num_steps": 40,
    }
}
STEPS = 50


class Net(torch.nn.Module):
    """Two layers, one parameter group each; input feature 0 is always zero."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.body = torch.nn.Linear(4, 8)
        self.head = torch.nn.Linear(8, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.tanh(self.body(x)))


def batch(step: int) -> torch.Tensor:
    x = torch.randn(16, 4, generator=torch.Generator().manual_seed(step))
    # A feature that is always zero leaves its weights without gradient, so their
    # second moment stays exactly 0: where capturable Adam divides 0 by -0.0 at lr 0.
    x[:, 0] = 0.0
    return x


def build(
    configs: dict[str, Any], pack: bool, last_epoch: int = -1
) -> tuple[Net, torch.optim.Optimizer, LRShim]:
    net = Net()
    groups = [
        {"params": list(net.body.parameters()), "lr": torch.tensor(0.0)},
        {"params": list(net.head.parameters()), "lr": torch.tensor(0.0)},
    ]
    optimizer = torch.optim.Adam(groups, foreach=False)
    if last_epoch >= 0:
        for group in optimizer.param_groups:  # torch's rule for last_epoch >= 0
            group.setdefault("initial_lr", group["lr"].clone())
    return net, optimizer, LRShim(optimizer, configs, last_epoch, pack_tensor_lrs=pack)


def train(
    configs: dict[str, Any],
    pack: bool = False,
    last_epoch: int = -1,
    backend: str = "eager",
    steps: int = STEPS,
) -> tuple[list[list[str]], Net, int]:
    """Trains `steps` compiled steps; returns the lrs used, the net and graphs compiled."""
    torch._dynamo.reset()
    counters.clear()
    net, optimizer, scheduler = build(configs, pack, last_epoch)

    @torch.compile(backend=backend)
    def train_step(x: torch.Tensor) -> None:
        loss = net(x).pow(2).mean()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()

    used = []
    graphs = 0
    for step in range(steps):
        used.append(hexes(group["lr"] for group in optimizer.param_groups))
        # After the first step any recompile is an error.
        with torch._dynamo.config.patch(error_on_recompile=step > 0):
            train_step(batch(step))
        scheduler.step()
        if step == 0:
            graphs = counters["stats"]["unique_graphs"]
            assert graphs >= 1
    assert counters["stats"]["unique_graphs"] == graphs, "recompiled after the first step"
    return used, net, graphs


def float32(values: list[float]) -> list[float]:
    return [torch.tensor(v, dtype=torch.float32).item() for v in values]


def test_compiled_adam_turns_weights_nan_at_lr_zero() -> None:
    # pytorch/pytorch#126514: compiled Adam runs its capturable update (dynamo turns
    # `capturable` on in the traced program, on any device), which computes
    # sqrt(v) / (bias_correction * -lr) + eps / -lr; at lr == 0.0, where v == 0, that
    # is 0 / -0.0 = NaN. Step 0 of every tml linear ramp is exactly 0.0.
    configs = {"body": RAMP, "head": RAMP}
    used, net, _ = train(configs, steps=1)
    assert used[0] == hexes([0.0, 0.0])
    nan = torch.isnan(net.body.weight)
    assert nan[:, 0].all(), (
        "torch no longer turns weights NaN at lr 0.0 (pytorch/pytorch#126514 fixed?): "
        "update the README's torch.compile section"
    )
    assert not nan[:, 1:].any()


@pytest.mark.parametrize("pack", [False, True])
def test_remedy_compiled_steps_from_step_one_never_recompile_and_stay_finite(pack: bool) -> None:
    # The README's remedy with the four original kinds: evaluate the schedules from
    # step 1 (last_epoch=0), so the first lr is learning_rate / num_ramp_steps, not 0.0.
    configs = {"body": RAMP, "head": COSINE}
    used, net, _ = train(configs, pack=pack, last_epoch=0)
    assert used == [hexes(float32(expected(configs.values(), s + 1))) for s in range(STEPS)]
    assert all(torch.isfinite(p).all() for p in net.parameters())


def test_remedy_a_warm_up_from_a_small_lr_trains_without_nan() -> None:
    # The README's remedy: a warm-up whose first stage is a linear ramp from 1e-8.
    warm_up = {
        "sequence": [
            {
                "num_steps": 10,
                "schedule": {
                    "linear": {
                        "learning_rate": 1e-8,
                        "final_learning_rate": 0.01,
                        "num_steps": 10,
                    }
                },
            },
            {"schedule": {"constant": 0.01}},
        ]
    }
    configs = {"body": warm_up, "head": warm_up}
    used, net, _ = train(configs)
    assert used[0] == hexes(float32([1e-8, 1e-8]))
    assert all(torch.isfinite(p).all() for p in net.parameters())


@pytest.mark.slow
def test_inductor_compiled_step_with_packed_lrs() -> None:
    configs = {"body": COSINE, "head": RAMP}
    used, net, _ = train(configs, pack=True, last_epoch=0, backend="inductor")
    assert used == [hexes(float32(expected(configs.values(), s + 1))) for s in range(STEPS)]
    assert all(torch.isfinite(p).all() for p in net.parameters())
