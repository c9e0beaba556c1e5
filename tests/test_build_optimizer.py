"""get_optimizer_class and build_optimizer: the algorithm set in the config, its fields, one schedule."""

from __future__ import annotations

import textwrap
import types
from typing import Any

import pydantic
import pytest

pytest.importorskip("torch")
import torch

from tests.torch_support import oracle_lr
from tml.core.config import load_config_from_yaml
from tml.optimizers.config import OptimizerConfig
from tml.optimizers.optimizer import LRShim, build_optimizer, get_optimizer_class

COSINE = {
    "linear_ramp_to_cosine": {
        "learning_rate": 0.02,
        "final_learning_rate": 0.001,
        "num_ramp_steps": 5,
        "final_num_steps": 30,
    }
}


def model() -> Any:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))


def train(net: Any, optimizer: Any, scheduler: Any, steps: int) -> list[float]:
    """The learning rate of each optimizer step."""
    torch.manual_seed(1)
    used = []
    for _ in range(steps):
        x = torch.randn(16, 4)
        loss = net(x).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        used.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return used


@pytest.mark.parametrize(
    ("field", "cls"),
    [("adam", torch.optim.Adam), ("sgd", torch.optim.SGD), ("adagrad", torch.optim.Adagrad)],
)
def test_get_optimizer_class(field: str, cls: Any) -> None:
    assert get_optimizer_class(OptimizerConfig(**{field: {"lr": 0.1}})) is cls


def test_no_algorithm_is_a_value_error() -> None:
    config = OptimizerConfig.model_construct(learning_rate=None, adam=None, sgd=None, adagrad=None)
    with pytest.raises(ValueError, match="exactly one of adam, sgd, adagrad; got none set"):
        get_optimizer_class(config)
    with pytest.raises(ValueError, match="adam, sgd, adagrad"):
        build_optimizer(model(), config)


@pytest.mark.parametrize("model", [[torch.nn.Parameter(torch.ones(2))], None, "model"])
def test_a_model_that_is_no_module_is_a_type_error(model: Any) -> None:
    with pytest.raises(TypeError, match=r"model must be a torch\.nn\.Module"):
        build_optimizer(model, OptimizerConfig(sgd={"lr": 0.1}))


def test_dict_config_is_validated_as_an_optimizer_config() -> None:
    optimizer, scheduler = build_optimizer(model(), {"sgd": {"lr": 0.1, "momentum": 0.5}})
    assert type(optimizer) is torch.optim.SGD
    assert optimizer.param_groups[0]["momentum"] == 0.5
    assert scheduler.get_last_lr() == [0.1]
    assert get_optimizer_class({"adagrad": {"lr": 0.1}}) is torch.optim.Adagrad
    with pytest.raises(ValueError, match="exactly one"):
        build_optimizer(model(), {"learning_rate": {"constant": 0.1}})


def test_two_algorithms_is_a_value_error() -> None:
    config = OptimizerConfig(adam={"lr": 0.1})
    object.__setattr__(config, "sgd", OptimizerConfig(sgd={"lr": 0.2}).sgd)
    with pytest.raises(ValueError, match="got adam, sgd"):
        get_optimizer_class(config)


def test_adam_gets_its_betas_and_eps() -> None:
    config = OptimizerConfig(adam={"lr": 0.003, "betas": [0.8, 0.95], "eps": 1e-5})
    optimizer, _ = build_optimizer(model(), config)
    assert type(optimizer) is torch.optim.Adam
    group = optimizer.param_groups[0]
    assert group["betas"] == (0.8, 0.95)
    assert group["eps"] == 1e-5
    assert group["initial_lr"] == 0.003


@pytest.mark.parametrize("betas", [(0.9, 1.0), (1.5, 0.9), (float("nan"), 0.9), (0.9, -0.1)])
def test_adam_betas_outside_zero_to_one_are_refused_with_the_config(betas: Any) -> None:
    # torch refuses them only when the optimizer is built; lr, eps and momentum were
    # checked when the config was loaded, the betas not.
    with pytest.raises(ValueError, match="Invalid beta"):  # torch itself
        torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], betas=betas)
    with pytest.raises(pydantic.ValidationError, match="betas"):
        OptimizerConfig(adam={"lr": 0.003, "betas": list(betas)})
    OptimizerConfig(adam={"lr": 0.003, "betas": [0.0, 0.5]})  # torch takes 0


def test_sgd_gets_its_momentum() -> None:
    optimizer, _ = build_optimizer(model(), OptimizerConfig(sgd={"lr": 0.1, "momentum": 0.7}))
    assert type(optimizer) is torch.optim.SGD
    assert optimizer.param_groups[0]["momentum"] == 0.7


def test_adagrad_gets_its_eps() -> None:
    optimizer, _ = build_optimizer(model(), OptimizerConfig(adagrad={"lr": 0.1, "eps": 1e-4}))
    assert type(optimizer) is torch.optim.Adagrad
    assert optimizer.param_groups[0]["eps"] == 1e-4


def test_adagrad_with_its_defaults_keeps_a_parameter_with_zero_gradients_finite() -> None:
    # With the original config's eps of 0, that parameter became 0 / (sqrt(0) + 0): NaN.
    net = torch.nn.Linear(2, 1)
    optimizer, scheduler = build_optimizer(net, {"adagrad": {"lr": 0.1}})
    net(torch.tensor([[1.0, 0.0]])).sum().backward()  # weight[0, 1] gets a 0 gradient
    optimizer.step()
    scheduler.step()
    assert torch.isfinite(net.weight).all()


def test_one_group_named_all_params_with_every_parameter() -> None:
    net = model()
    optimizer, scheduler = build_optimizer(net, OptimizerConfig(sgd={"lr": 0.1}))
    assert isinstance(scheduler, LRShim)
    assert scheduler.group_names == ["ALL_PARAMS"]
    assert len(optimizer.param_groups) == 1
    assert [id(p) for p in optimizer.param_groups[0]["params"]] == [id(p) for p in net.parameters()]


@pytest.mark.parametrize("field", ["adam", "sgd", "adagrad"])
def test_schedule_drives_the_learning_rate(field: str) -> None:
    net = model()
    optimizer, scheduler = build_optimizer(
        net, OptimizerConfig(**{field: {"lr": 0.5}}, learning_rate=COSINE)
    )
    used = train(net, optimizer, scheduler, 40)
    assert used == [oracle_lr(COSINE, step) for step in range(40)]
    assert all(type(lr) is float for lr in used)


def test_unset_learning_rate_is_the_algorithm_lr_as_a_constant() -> None:
    net = model()
    optimizer, scheduler = build_optimizer(net, OptimizerConfig(adam={"lr": 0.0042}))
    assert train(net, optimizer, scheduler, 5) == [0.0042] * 5
    assert scheduler.state_dict()["lr_dict"] == {"ALL_PARAMS": {"constant": 0.0042}}


def test_training_changes_the_model_and_resumes_exactly(tmp_path: Any) -> None:
    config = OptimizerConfig(adam={"lr": 0.1}, learning_rate=COSINE)
    net = model()
    optimizer, scheduler = build_optimizer(net, config)
    full = train(net, optimizer, scheduler, 20)
    full_params = [p.detach().clone() for p in net.parameters()]

    net = model()
    optimizer, scheduler = build_optimizer(net, config)
    first = train(net, optimizer, scheduler, 8)
    state = {
        "model": net.state_dict(),
        "opt": optimizer.state_dict(),
        "sched": scheduler.state_dict(),
    }
    torch.save(state, tmp_path / "ckpt.pt")
    saved = torch.load(tmp_path / "ckpt.pt", weights_only=True)

    net = model()
    optimizer, scheduler = build_optimizer(net, config)
    net.load_state_dict(saved["model"])
    optimizer.load_state_dict(saved["opt"])
    scheduler.load_state_dict(saved["sched"])
    # train() reseeds its data; replay the 8 batches already seen so the rest match.
    torch.manual_seed(1)
    for _ in range(8):
        torch.randn(16, 4)
    rest = []
    for _ in range(12):
        x = torch.randn(16, 4)
        loss = net(x).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        rest.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert first + rest == full
    assert all(torch.equal(a, b) for a, b in zip(net.parameters(), full_params, strict=True))


def test_from_yaml(tmp_path: Any) -> None:
    path = tmp_path / "opt.yaml"
    path.write_text(
        textwrap.dedent(
            """
            adam:
              lr: 0.001
              betas: [0.85, 0.99]
            learning_rate:
              linear_ramp_to_constant:
                learning_rate: 0.01
                num_ramp_steps: 4
            """
        )
    )
    config = load_config_from_yaml(OptimizerConfig, path)
    net = model()
    optimizer, scheduler = build_optimizer(net, config)
    assert optimizer.param_groups[0]["betas"] == (0.85, 0.99)
    ramp = {"linear_ramp_to_constant": {"learning_rate": 0.01, "num_ramp_steps": 4}}
    assert train(net, optimizer, scheduler, 7) == [oracle_lr(ramp, s) for s in range(7)]


def test_adam_with_eps_zero_is_refused_by_name() -> None:
    # Adam divides by sqrt(v) + eps: with 0, a parameter with zero gradients so far is
    # 0 / 0 = NaN after the first step.
    with pytest.raises(pydantic.ValidationError, match=r"adam\.eps"):
        build_optimizer(model(), {"adam": {"lr": 0.1, "eps": 0.0}})
    optimizer, _ = build_optimizer(model(), {"adam": {"lr": 0.1, "eps": 1e-12}})
    assert optimizer.param_groups[0]["eps"] == 1e-12


def test_a_config_object_of_plain_attributes_builds_like_its_model() -> None:
    # _optimizer_config takes any object with adam, sgd and adagrad attributes; one that
    # is no pydantic model (and has no learning_rate) builds as its model does.
    adam = types.SimpleNamespace(lr=0.01, betas=(0.9, 0.99), eps=1e-8)
    plain = types.SimpleNamespace(adam=adam, sgd=None, adagrad=None)
    optimizer, scheduler = build_optimizer(model(), plain)
    want, _ = build_optimizer(model(), {"adam": {"lr": 0.01, "betas": [0.9, 0.99], "eps": 1e-8}})
    assert type(optimizer) is torch.optim.Adam
    for key in ("lr", "betas", "eps"):
        assert optimizer.param_groups[0][key] == want.param_groups[0][key], key
    assert scheduler.get_last_lr() == [0.01]
    assert get_optimizer_class(plain) is torch.optim.Adam
