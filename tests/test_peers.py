"""The kinds of every kind side by side with the peers users come from (the README's migration table).

Each peer runs here, in the test, and both the oracle (`tests/oracle.py`) and the
package are checked against it (the `impl` fixture), so a disagreement points at
one of them, not at a copied number:

- torch: bitwise against the closed form (`_get_closed_form_lr`), or the absolute
  `get_lr` reached by stepping, for MultiStepLR, ExponentialLR, StepLR,
  PolynomialLR, CosineAnnealingLR (s <= T_max), CosineAnnealingWarmRestarts and
  OneCycleLR (s <= T - 1); within 1e-12 of the largest lr over the first 1,000
  steps of torch's training path for LinearLR, CyclicLR and SequentialLR, whose
  chainable updates drift by ulps;
- Hugging Face `transformers.get_scheduler`, optax and Keras where installed, each
  with the tolerance its arithmetic allows (stated per test);
- where a mapping differs by design (torch's periodic cosine past T_max, HF's cosine
  rising after the end, Keras' `floor(log(...))` restart index, ...), the test checks
  that the schedule does what the spec says at those steps.

The README's migration table ("Coming from torch, Hugging Face, optax or Keras") is what these tests back.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

from tests.oracle import bits, namespace, reference_lr

torch = pytest.importorskip("torch")

Values = Callable[[dict[str, Any], list[int]], list[float]]
Config = dict[str, Any]


@pytest.fixture(params=["oracle", "package"])
def impl(request: pytest.FixtureRequest) -> Values:
    """The values of a config at integer steps, from the oracle or from the package."""
    if request.param == "oracle":

        def oracle(config: Config, steps: list[int]) -> list[float]:
            ns = namespace(config)
            return [float(reference_lr(ns, s)) for s in steps]

        return oracle
    from tml.optimizers import compute_lr

    def package(config: Config, steps: list[int]) -> list[float]:
        out: list[float] = compute_lr(config, np.array(steps, dtype=np.int64)).tolist()
        return out

    return package


def _optimizer(lr: float, *, momentum: float = 0.0) -> Any:
    param = torch.nn.Parameter(torch.zeros(1))
    return torch.optim.SGD([param], lr=lr, momentum=momentum)


def closed_form(make: Callable[[Any], Any], base_lr: float, steps: list[int]) -> list[float]:
    """The closed form of torch (`_get_closed_form_lr`) at each step, as `step(epoch)` sets it."""
    scheduler = make(_optimizer(base_lr))
    values = []
    for step in steps:
        scheduler.last_epoch = step
        values.append(float(scheduler._get_closed_form_lr()[0]))
    return values


def training_path(
    make: Callable[[Any], Any], base_lr: float, num_steps: int, *, momentum: float = 0.0
) -> list[float]:
    """The lr torch's scheduler sets at steps 0 .. num_steps - 1, stepped as in training."""
    optimizer = _optimizer(base_lr, momentum=momentum)
    scheduler = make(optimizer)
    values = [float(scheduler.get_last_lr()[0])]
    for _ in range(num_steps - 1):
        optimizer.step()  # a no-op without gradients; torch warns if it is skipped
        scheduler.step()
        values.append(float(scheduler.get_last_lr()[0]))
    return values


def assert_bitwise(got: list[float], expected: list[float], steps: list[int]) -> None:
    for step, g, e in zip(steps, got, expected, strict=True):
        assert bits(g) == bits(e), f"step {step}: got {g!r}, torch {e!r}"


def assert_close(got: list[float], expected: list[float], atol: float) -> None:
    worst = max(abs(g - e) for g, e in zip(got, expected, strict=True))
    step = max(range(len(got)), key=lambda i: abs(got[i] - expected[i]))
    assert worst <= atol, f"step {step}: got {got[step]!r}, peer {expected[step]!r}"


STEPS = list(range(301))

# ---------------------------------------------------------------------------
# torch, bitwise against the closed form


MULTISTEP = [(0.1, [30, 80], 0.1), (1.0, [1, 2, 3, 5, 8, 13, 21], 0.5), (3e-4, [100], 0.3)]
MULTISTEP += [(0.5, [10, 20, 250], 2.0), (1e-3, [299, 300], 1e-3)]


@pytest.mark.parametrize(("lr", "milestones", "gamma"), MULTISTEP)
def test_multistep_lr(impl: Values, lr: float, milestones: list[int], gamma: float) -> None:
    sched = torch.optim.lr_scheduler
    expected = closed_form(lambda o: sched.MultiStepLR(o, milestones, gamma), lr, STEPS)
    config = {"multistep_decay": {"learning_rate": lr, "milestones": milestones, "gamma": gamma}}
    assert_bitwise(impl(config, STEPS), expected, STEPS)


@pytest.mark.parametrize(
    ("lr", "gamma"), [(0.1, 0.99), (1.0, 0.5), (0.01, 0.9999), (2.5, 0.1), (1e-3, 0.95)]
)
def test_exponential_lr(impl: Values, lr: float, gamma: float) -> None:
    sched = torch.optim.lr_scheduler
    expected = closed_form(lambda o: sched.ExponentialLR(o, gamma), lr, STEPS)
    config = {"exponential_decay": {"learning_rate": lr, "decay_rate": gamma, "decay_steps": 1}}
    assert_bitwise(impl(config, STEPS), expected, STEPS)


def test_exponential_lr_growing(impl: Values) -> None:
    """A gamma > 1 needs a final_learning_rate (a cap); below it the curve is torch's."""
    sched = torch.optim.lr_scheduler
    expected = closed_form(lambda o: sched.ExponentialLR(o, 1.01), 1e-3, STEPS)
    config = {
        "exponential_decay": {
            "learning_rate": 1e-3,
            "decay_rate": 1.01,
            "decay_steps": 1,
            "final_learning_rate": 1.0,
        }
    }
    assert max(expected) < 1.0
    assert_bitwise(impl(config, STEPS), expected, STEPS)


@pytest.mark.parametrize(
    ("lr", "step_size", "gamma"), [(0.1, 30, 0.1), (1.0, 7, 0.5), (0.05, 1, 0.9), (0.3, 299, 0.2)]
)
def test_step_lr(impl: Values, lr: float, step_size: int, gamma: float) -> None:
    sched = torch.optim.lr_scheduler
    expected = closed_form(lambda o: sched.StepLR(o, step_size, gamma), lr, STEPS)
    config = {
        "exponential_decay": {
            "learning_rate": lr,
            "decay_rate": gamma,
            "decay_steps": step_size,
            "staircase": True,
        }
    }
    assert_bitwise(impl(config, STEPS), expected, STEPS)


@pytest.mark.parametrize(
    ("lr", "total", "power"),
    [(0.1, 100, 1.0), (1.0, 37, 2.0), (0.3, 250, 0.5), (1e-2, 5, 3.7), (0.7, 1, 1.0)],
)
def test_polynomial_lr(impl: Values, lr: float, total: int, power: float) -> None:
    """Bitwise at every step, past total_iters included (both hold 0 there)."""
    sched = torch.optim.lr_scheduler
    expected = closed_form(lambda o: sched.PolynomialLR(o, total, power), lr, STEPS)
    config = {"polynomial_decay": {"learning_rate": lr, "num_steps": total, "power": power}}
    assert_bitwise(impl(config, STEPS), expected, STEPS)


COSINE = [(0.1, 100, 0.0), (1.0, 37, 0.01), (1e-3, 250, 1e-5), (0.01, 50, 0.05), (0.2, 1, 0.0)]


@pytest.mark.parametrize(("lr", "t_max", "eta_min"), COSINE)
def test_cosine_annealing_lr(impl: Values, lr: float, t_max: int, eta_min: float) -> None:
    """Bitwise for s <= T_max; after it torch's closed form is periodic, the kind holds F.

    torch's `(L - F) * (1 + cos) / 2` and the spec's `(L - F) * 0.5 * (1.0 + cos)` round
    the same way while the amplitude is a normal float (halving is exact there).
    """
    sched = torch.optim.lr_scheduler
    steps = list(range(t_max + 1))
    expected = closed_form(lambda o: sched.CosineAnnealingLR(o, t_max, eta_min), lr, steps)
    config = {
        "cosine_decay": {"learning_rate": lr, "final_learning_rate": eta_min, "num_steps": t_max}
    }
    assert_bitwise(impl(config, steps), expected, steps)
    # Past the end: the final value holds (torch's cosine would climb back to lr).
    after = list(range(t_max + 1, 3 * t_max + 3))
    assert [bits(v) for v in impl(config, after)] == [bits(eta_min)] * len(after)


RESTARTS = [(0.1, 10, 1, 0.0), (1.0, 3, 2, 1e-3), (0.5, 1, 3, 0.0), (0.05, 7, 10, 1e-4)]
RESTARTS += [(1.0, 1, 10, 0.0), (0.3, 2, 3, 0.01)]


@pytest.mark.parametrize(("lr", "t_0", "t_mult", "eta_min"), RESTARTS)
def test_cosine_annealing_warm_restarts(
    impl: Values, lr: float, t_0: int, t_mult: int, eta_min: float
) -> None:
    """Stepped (integer T_cur), torch restarts at every S_i, 121 for T_0=1, T_mult=3 too."""
    sched = torch.optim.lr_scheduler
    n = 1500
    expected = training_path(
        lambda o: sched.CosineAnnealingWarmRestarts(o, t_0, t_mult, eta_min), lr, n
    )
    config = {
        "cosine_restarts": {
            "learning_rate": lr,
            "final_learning_rate": eta_min,
            "num_steps": t_0,
            "period_multiplier": t_mult,
        }
    }
    steps = list(range(n))
    assert_bitwise(impl(config, steps), expected, steps)


ONE_CYCLE: list[dict[str, Any]] = [
    {"learning_rate": 0.1, "total_steps": 100},
    {"learning_rate": 1.0, "total_steps": 1000, "pct_start": 0.25, "anneal": "linear"},
    {"learning_rate": 0.01, "total_steps": 300, "three_phase": True},
    {"learning_rate": 0.3, "total_steps": 97, "pct_start": 0.4, "three_phase": True},
    {"learning_rate": 0.3, "total_steps": 97, "pct_start": 0.45, "anneal": "linear"},
    {
        "learning_rate": 1e-3,
        "total_steps": 51,
        "pct_start": 0.1,
        "div_factor": 10.0,
        "final_div_factor": 100.0,
        "three_phase": True,
        "anneal": "linear",
    },
    {"learning_rate": 2.0, "total_steps": 7, "pct_start": 0.5, "div_factor": 3.0},
]


@pytest.mark.parametrize("body", ONE_CYCLE)
def test_one_cycle_lr(impl: Values, body: dict[str, Any]) -> None:
    """The absolute get_lr of torch, stepped, for 0 <= s <= T - 1; the minimum after."""
    sched = torch.optim.lr_scheduler
    total = body["total_steps"]

    def make(optimizer: Any) -> Any:
        return sched.OneCycleLR(
            optimizer,
            max_lr=body["learning_rate"],
            total_steps=total,
            pct_start=body.get("pct_start", 0.3),
            anneal_strategy=body.get("anneal", "cos"),
            div_factor=body.get("div_factor", 25.0),
            final_div_factor=body.get("final_div_factor", 1e4),
            three_phase=body.get("three_phase", False),
            cycle_momentum=False,
        )

    expected = training_path(make, body["learning_rate"], total)
    config = {"one_cycle": body}
    steps = list(range(total))
    assert_bitwise(impl(config, steps), expected, steps)
    minimum = body["learning_rate"] / body.get("div_factor", 25.0)
    minimum /= body.get("final_div_factor", 1e4)
    after = [total, total + 1, 10 * total, 2**53, 2**63 - 1]
    assert [bits(v) for v in impl(config, after)] == [bits(minimum)] * len(after)


# ---------------------------------------------------------------------------
# torch, within 1e-12 of the largest lr: chainable training paths


PATH_STEPS = 1000


def assert_path_close(got: list[float], expected: list[float]) -> None:
    assert_close(got, expected, 1e-12 * max(max(expected), max(got)))


@pytest.mark.parametrize(
    ("lr", "start", "end", "total"),
    [(0.1, 1 / 3, 1.0, 5), (1.0, 0.01, 1.0, 100), (0.5, 1.0, 0.1, 250), (1.0, 0.5, 0.0, 500)],
)
def test_linear_lr(impl: Values, lr: float, start: float, end: float, total: int) -> None:
    sched = torch.optim.lr_scheduler
    expected = training_path(lambda o: sched.LinearLR(o, start, end, total), lr, PATH_STEPS)
    config = {
        "linear": {"learning_rate": lr * start, "final_learning_rate": lr * end, "num_steps": total}
    }
    assert_path_close(impl(config, list(range(PATH_STEPS))), expected)


CYCLIC = [
    (0.001, 0.006, 20, None, "triangular", 1.0),
    (0.1, 1.0, 13, 7, "triangular2", 1.0),
    (0.0, 1.0, 50, 30, "exp_range", 0.999),
    (0.2, 0.2, 5, 5, "triangular", 1.0),
    (0.01, 0.1, 1, 1, "exp_range", 0.99),
    (0.0, 1.0, 3, 250, "triangular2", 1.0),
]


@pytest.mark.parametrize(("lr", "max_lr", "up", "down", "mode", "gamma"), CYCLIC)
def test_cyclic_lr(
    impl: Values, lr: float, max_lr: float, up: int, down: int | None, mode: str, gamma: float
) -> None:
    sched = torch.optim.lr_scheduler

    def make(optimizer: Any) -> Any:
        return sched.CyclicLR(
            optimizer, lr, max_lr, up, down, mode=mode, gamma=gamma, cycle_momentum=False
        )

    expected = training_path(make, lr, PATH_STEPS)
    body: dict[str, Any] = {
        "learning_rate": lr,
        "max_learning_rate": max_lr,
        "step_size_up": up,
        "mode": mode,
        "gamma": gamma,
    }
    if down is not None:
        body["step_size_down"] = down
    assert_path_close(impl({"cyclic": body}, list(range(PATH_STEPS))), expected)


def _linear_stage(n: int, start: float, end: float) -> dict[str, Any]:
    body = {"learning_rate": start, "final_learning_rate": end, "num_steps": n}
    return {"num_steps": n, "schedule": {"linear": body}}


def test_sequential_lr_warmup_cosine(impl: Values) -> None:
    sched = torch.optim.lr_scheduler
    lr = 1e-3

    def make(optimizer: Any) -> Any:
        warmup = sched.LinearLR(optimizer, 0.01, 1.0, 100)
        cosine = sched.CosineAnnealingLR(optimizer, 900, 1e-5)
        return sched.SequentialLR(optimizer, [warmup, cosine], milestones=[100])

    expected = training_path(make, lr, PATH_STEPS)
    config = {
        "sequence": [
            _linear_stage(100, lr * 0.01, lr),
            {
                "schedule": {
                    "cosine_decay": {
                        "learning_rate": lr,
                        "final_learning_rate": 1e-5,
                        "num_steps": 900,
                    }
                }
            },
        ]
    }
    assert_path_close(impl(config, list(range(PATH_STEPS))), expected)


def test_sequential_lr_three_stages(impl: Values) -> None:
    """Warm-up, a multistep plateau, then exponential decay: stages see re-zeroed steps."""
    sched = torch.optim.lr_scheduler
    lr = 0.1

    def make(optimizer: Any) -> Any:
        warmup = sched.LinearLR(optimizer, 0.1, 1.0, 50)
        steps = sched.MultiStepLR(optimizer, [100, 200], 0.5)
        decay = sched.ExponentialLR(optimizer, 0.995)
        return sched.SequentialLR(optimizer, [warmup, steps, decay], milestones=[50, 400])

    expected = training_path(make, lr, PATH_STEPS)
    config = {
        "sequence": [
            _linear_stage(50, lr * 0.1, lr),
            {
                "num_steps": 350,
                "schedule": {
                    "multistep_decay": {"learning_rate": lr, "milestones": [100, 200], "gamma": 0.5}
                },
            },
            {
                "schedule": {
                    "exponential_decay": {
                        "learning_rate": lr,
                        "decay_rate": 0.995,
                        "decay_steps": 1,
                    }
                }
            },
        ]
    }
    assert_path_close(impl(config, list(range(PATH_STEPS))), expected)


# ---------------------------------------------------------------------------
# Hugging Face transformers.get_scheduler: LambdaLR, base lr times a multiplier

# HF computes `base_lr * factor(step)`, with its own grouping (its cosine angle is
# `pi * num_cycles * 2.0 * progress`), so values agree to a few ulps of the base lr:
# 1e-12 of it leaves room for those and nothing else.
HF_RTOL = 1e-12
HF_LR = 1e-3


@pytest.fixture(scope="module")
def transformers() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # optional peer's own import-time deprecations
        return pytest.importorskip("transformers")


def hf_path(
    transformers: Any, name: str, num_steps: int, lr: float = HF_LR, **kwargs: Any
) -> list[float]:
    specific = kwargs.pop("scheduler_specific_kwargs", None)

    def make(optimizer: Any) -> Any:
        return transformers.get_scheduler(
            name, optimizer, scheduler_specific_kwargs=specific, **kwargs
        )

    return training_path(make, lr, num_steps)


def _stage(schedule: dict[str, Any], num_steps: int | None = None) -> dict[str, Any]:
    return (
        {"schedule": schedule}
        if num_steps is None
        else {"num_steps": num_steps, "schedule": schedule}
    )


def warmup_then(num_warmup: int, then: dict[str, Any], lr: float = HF_LR) -> dict[str, Any]:
    """HF's linear warm-up from 0 to lr over num_warmup steps, then `then`."""
    return {"sequence": [_linear_stage(num_warmup, 0.0, lr), _stage(then)]}


def _cosine(lr: float, final: float, n: int) -> dict[str, Any]:
    return {"cosine_decay": {"learning_rate": lr, "final_learning_rate": final, "num_steps": n}}


def test_hf_linear(impl: Values, transformers: Any) -> None:
    expected = hf_path(transformers, "linear", 1200, num_warmup_steps=100, num_training_steps=1000)
    linear = {"linear": {"learning_rate": HF_LR, "final_learning_rate": 0.0, "num_steps": 900}}
    assert_close(impl(warmup_then(100, linear), list(range(1200))), expected, HF_RTOL * HF_LR)


def test_hf_cosine(impl: Values, transformers: Any) -> None:
    """Equal up to the end; after it HF's cosine rises again, the kind holds 0 (the README's kinds)."""
    expected = hf_path(transformers, "cosine", 1000, num_warmup_steps=100, num_training_steps=1000)
    config = warmup_then(100, _cosine(HF_LR, 0.0, 900))
    assert_close(impl(config, list(range(1000))), expected, HF_RTOL * HF_LR)
    after = list(range(1001, 1300))
    rising = hf_path(transformers, "cosine", 1300, num_warmup_steps=100, num_training_steps=1000)
    assert rising[1299] > 0.0  # HF's curve past the end (what the kind does not do)
    assert impl(config, after) == [0.0] * len(after)


def test_hf_cosine_with_restarts(impl: Values, transformers: Any) -> None:
    expected = hf_path(
        transformers,
        "cosine_with_restarts",
        1300,
        num_warmup_steps=100,
        num_training_steps=1100,
        scheduler_specific_kwargs={"num_cycles": 4},
    )
    restarts = {
        "cosine_restarts": {"learning_rate": HF_LR, "num_steps": 250, "num_cycles": 4},
    }
    assert_close(impl(warmup_then(100, restarts), list(range(1300))), expected, HF_RTOL * HF_LR)


def test_hf_polynomial(impl: Values, transformers: Any) -> None:
    expected = hf_path(
        transformers,
        "polynomial",
        1200,
        num_warmup_steps=100,
        num_training_steps=1000,
        scheduler_specific_kwargs={"lr_end": 1e-7, "power": 2.0},
    )
    poly = {
        "polynomial_decay": {
            "learning_rate": HF_LR,
            "final_learning_rate": 1e-7,
            "num_steps": 900,
            "power": 2.0,
        }
    }
    assert_close(impl(warmup_then(100, poly), list(range(1200))), expected, HF_RTOL * HF_LR)


def test_hf_constant(impl: Values, transformers: Any) -> None:
    expected = hf_path(transformers, "constant", 300)
    assert impl({"constant": HF_LR}, STEPS[:300]) == expected  # 1e-3 * 1: exact


@pytest.mark.parametrize("warmup", [100, 0])
def test_hf_constant_with_warmup(impl: Values, transformers: Any, warmup: int) -> None:
    """Without a warm-up the README's row is `constant: L`."""
    expected = hf_path(transformers, "constant_with_warmup", 300, num_warmup_steps=warmup)
    config: dict[str, Any] = (
        {"linear_ramp_to_constant": {"learning_rate": HF_LR, "num_ramp_steps": warmup}}
        if warmup
        else {"constant": HF_LR}
    )
    assert_close(impl(config, STEPS[:300]), expected, HF_RTOL * HF_LR)


@pytest.mark.parametrize(("warmup", "timescale"), [(100, None), (0, 10_000), (50, 200)])
def test_hf_inverse_sqrt(
    impl: Values, transformers: Any, warmup: int, timescale: int | None
) -> None:
    """HF's timescale defaults to the warm-up, or 10,000 without one; the kind needs it set."""
    kwargs = {} if timescale is None else {"timescale": timescale}
    expected = hf_path(
        transformers,
        "inverse_sqrt",
        1000,
        num_warmup_steps=warmup,
        scheduler_specific_kwargs=kwargs,
    )
    body: dict[str, Any] = {"learning_rate": HF_LR, "num_warmup_steps": warmup}
    if timescale is not None:
        body["timescale"] = timescale
    assert_close(impl({"inverse_sqrt": body}, list(range(1000))), expected, HF_RTOL * HF_LR)


def test_hf_cosine_with_min_lr(impl: Values, transformers: Any) -> None:
    """Equal up to the end; after it HF's curve rises again, the kind holds min_lr."""
    expected = hf_path(
        transformers,
        "cosine_with_min_lr",
        1000,
        num_warmup_steps=100,
        num_training_steps=1000,
        scheduler_specific_kwargs={"min_lr": 1e-5},
    )
    config = warmup_then(100, _cosine(HF_LR, 1e-5, 900))
    assert_close(impl(config, list(range(1000))), expected, HF_RTOL * HF_LR)
    assert impl(config, [1001, 1500, 10**9]) == [1e-5] * 3


@pytest.mark.parametrize("shape", ["cosine", "linear", "sqrt"])
@pytest.mark.parametrize("min_ratio", [0.0, 0.1])
def test_hf_warmup_stable_decay(
    impl: Values, transformers: Any, shape: str, min_ratio: float
) -> None:
    """HF's warm-up starts from min_lr_ratio * lr; with a ratio, that is a first stage."""
    expected = hf_path(
        transformers,
        "warmup_stable_decay",
        1200,
        num_warmup_steps=100,
        scheduler_specific_kwargs={
            "num_stable_steps": 400,
            "num_decay_steps": 500,
            "decay_type": "1-sqrt" if shape == "sqrt" else shape,
            "min_lr_ratio": min_ratio,
        },
    )
    final = HF_LR * min_ratio
    wsd = {
        "learning_rate": HF_LR,
        "final_learning_rate": final,
        "num_stable_steps": 400,
        "num_decay_steps": 500,
        "decay_shape": shape,
    }
    if min_ratio == 0.0:
        config: dict[str, Any] = {"warmup_stable_decay": {**wsd, "num_warmup_steps": 100}}
    else:
        config = {
            "sequence": [
                _linear_stage(100, final, HF_LR),
                _stage({"warmup_stable_decay": {**wsd, "num_warmup_steps": 0}}),
            ]
        }
    assert_close(impl(config, list(range(1200))), expected, HF_RTOL * HF_LR)


# ---------------------------------------------------------------------------
# optax (jax), evaluated with 64-bit floats enabled

# jax computes in float64 here (`jax.enable_x64`), with XLA's own cos and pow and
# optax's own grouping (`init * ((1 - alpha) * decay + alpha)`, products of scales):
# a few ulps of the peak, so 1e-12 of the peak.
OPTAX_RTOL = 1e-12


@pytest.fixture(scope="module")
def optax() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pytest.importorskip("jax")
        return pytest.importorskip("optax")


@pytest.fixture
def x64() -> Iterator[None]:
    import jax

    with jax.enable_x64(True):
        yield


def optax_values(schedule: Any, num_steps: int) -> list[float]:
    import jax
    import jax.numpy as jnp

    # vmap: some optax schedules (the interpolating ones) take one step at a time.
    values = np.asarray(jax.vmap(schedule)(jnp.arange(num_steps)))
    assert values.dtype == np.float64
    return [float(v) for v in values]


def _optax_case(optax: Any, name: str) -> tuple[Any, dict[str, Any], float]:
    """(optax schedule, equivalent config, peak) for each optax schedule covered."""
    o = optax
    if name == "linear_schedule":
        body: dict[str, Any] = {"learning_rate": 0.0, "final_learning_rate": 1e-3, "num_steps": 100}
        return o.linear_schedule(0.0, 1e-3, 100), {"linear": body}, 1e-3
    if name == "linear_schedule_begin":
        body = {"learning_rate": 1e-3, "final_learning_rate": 1e-5, "num_steps": 300}
        config = {"sequence": [_stage({"constant": 1e-3}, 50), _stage({"linear": body})]}
        return o.linear_schedule(1e-3, 1e-5, 300, transition_begin=50), config, 1e-3
    if name == "cosine_decay_schedule":
        return o.cosine_decay_schedule(1e-3, 700, alpha=0.01), _cosine(1e-3, 1e-5, 700), 1e-3
    if name == "warmup_cosine_decay_schedule":
        schedule = o.warmup_cosine_decay_schedule(0.0, 1e-3, 100, 1000, 1e-5)
        return schedule, warmup_then(100, _cosine(1e-3, 1e-5, 900)), 1e-3
    if name.startswith("exponential_decay"):
        staircase = name.endswith("staircase")
        schedule = o.exponential_decay(
            1e-2, 100, 0.5, staircase=staircase, end_value=1e-4, transition_begin=50
        )
        body = {
            "learning_rate": 1e-2,
            "decay_rate": 0.5,
            "decay_steps": 100,
            "staircase": staircase,
            "final_learning_rate": 1e-4,
        }
        config = {"sequence": [_stage({"constant": 1e-2}, 50), _stage({"exponential_decay": body})]}
        return schedule, config, 1e-2
    if name == "piecewise_constant_schedule":
        schedule = o.piecewise_constant_schedule(0.1, {100: 0.5, 300: 0.1})
        body = {
            "learning_rate_boundaries": [100, 300],
            "learning_rate_values": [0.1, 0.05, 0.005],
        }
        return schedule, {"piecewise_constant": body}, 0.1
    if name == "polynomial_schedule":
        schedule = o.polynomial_schedule(1e-2, 1e-4, 2.0, 500)
        body = {
            "learning_rate": 1e-2,
            "final_learning_rate": 1e-4,
            "num_steps": 500,
            "power": 2.0,
        }
        return schedule, {"polynomial_decay": body}, 1e-2
    if name == "sgdr_schedule":
        cycle = {
            "init_value": 0.0,
            "peak_value": 1e-3,
            "warmup_steps": 10,
            "decay_steps": 100,
            "end_value": 1e-5,
        }
        one = warmup_then(10, _cosine(1e-3, 1e-5, 90))
        config = {"sequence": [_stage(one, 100), _stage(one, 100), _stage(one)]}
        return o.sgdr_schedule([cycle] * 3), config, 1e-3
    if name == "sgdr_schedule_no_warmup":
        cycle = {
            "init_value": 1e-3,
            "peak_value": 1e-3,
            "warmup_steps": 0,
            "decay_steps": 100,
            "end_value": 1e-5,
        }
        body = {
            "learning_rate": 1e-3,
            "final_learning_rate": 1e-5,
            "num_steps": 100,
            "num_cycles": 3,
        }
        return o.sgdr_schedule([cycle] * 3), {"cosine_restarts": body}, 1e-3
    if name == "cosine_onecycle_schedule":
        schedule = o.cosine_onecycle_schedule(1000, 1e-2, 0.3, 25.0, 1e4)
        initial = 1e-2 / 25.0
        config = {
            "sequence": [
                _stage(_cosine(initial, 1e-2, 300), 300),
                _stage(_cosine(1e-2, initial / 1e4, 700)),
            ]
        }
        return schedule, config, 1e-2
    if name == "linear_onecycle_schedule":
        schedule = o.linear_onecycle_schedule(1000, 1e-2, 0.3, 0.85, 25.0, 1e4)
        initial = 1e-2 / 25.0
        last = {"linear": {"learning_rate": initial, "final_learning_rate": initial / 1e4}}
        last["linear"]["num_steps"] = 150
        config = {
            "sequence": [
                _linear_stage(300, initial, 1e-2),
                _linear_stage(550, 1e-2, initial),
                _stage(last),
            ]
        }
        return schedule, config, 1e-2
    if name == "join_schedules":
        schedule = o.join_schedules(
            [o.linear_schedule(0.0, 1e-3, 100), o.exponential_decay(1e-3, 100, 0.9)], [100]
        )
        body = {"learning_rate": 1e-3, "decay_rate": 0.9, "decay_steps": 100}
        return schedule, warmup_then(100, {"exponential_decay": body}), 1e-3
    raise AssertionError(name)


OPTAX_NAMES = [
    "linear_schedule",
    "linear_schedule_begin",
    "cosine_decay_schedule",
    "warmup_cosine_decay_schedule",
    "exponential_decay",
    "exponential_decay_staircase",
    "piecewise_constant_schedule",
    "polynomial_schedule",
    "sgdr_schedule",
    "sgdr_schedule_no_warmup",
    "cosine_onecycle_schedule",
    "linear_onecycle_schedule",
    "join_schedules",
]


@pytest.mark.usefixtures("x64")
@pytest.mark.parametrize("name", OPTAX_NAMES)
def test_optax(impl: Values, optax: Any, name: str) -> None:
    schedule, config, peak = _optax_case(optax, name)
    expected = optax_values(schedule, 1200)
    assert_close(impl(config, list(range(1200))), expected, OPTAX_RTOL * peak)


# ---------------------------------------------------------------------------
# Keras 3 schedules (any backend; without TensorFlow, Keras computes in float32)

# Keras casts the step and every constant to float32 when TensorFlow is absent (its
# dtype rules): values agree to float32 precision, and the float32 position in a
# cycle (`s / N - floor(s / N)`) loses a few more bits as s / N grows, so 1e-5 of
# the peak over 1,200 steps.
KERAS_RTOL = 1e-5


@pytest.fixture(scope="module")
def keras() -> Any:
    # Keras picks its backend at import; numpy needs nothing else installed.
    os.environ.setdefault("KERAS_BACKEND", "numpy")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pytest.importorskip("keras")


def keras_values(schedule: Any, num_steps: int) -> list[float]:
    # One step at a time: some schedules branch on the step with a scalar `cond`.
    return [float(schedule(step)) for step in range(num_steps)]


def _keras_case(keras: Any, name: str) -> tuple[Any, dict[str, Any], float]:
    ks = keras.optimizers.schedules
    if name.startswith("ExponentialDecay"):
        staircase = name.endswith("staircase")
        body: dict[str, Any] = {
            "learning_rate": 0.1,
            "decay_rate": 0.96,
            "decay_steps": 100,
            "staircase": staircase,
        }
        return ks.ExponentialDecay(0.1, 100, 0.96, staircase), {"exponential_decay": body}, 0.1
    if name == "PiecewiseConstantDecay":
        # Keras' value changes after a boundary (step > b), the kind's at it: b + 1.
        body = {
            "learning_rate_boundaries": [101, 301],
            "learning_rate_values": [0.1, 0.05, 0.01],
        }
        return (
            ks.PiecewiseConstantDecay([100, 300], [0.1, 0.05, 0.01]),
            {"piecewise_constant": body},
            0.1,
        )
    if name == "PolynomialDecay":
        body = {
            "learning_rate": 0.1,
            "final_learning_rate": 1e-4,
            "num_steps": 500,
            "power": 0.5,
        }
        return ks.PolynomialDecay(0.1, 500, 1e-4, 0.5), {"polynomial_decay": body}, 0.1
    if name.startswith("InverseTimeDecay"):
        staircase = name.endswith("staircase")
        body = {
            "learning_rate": 0.1,
            "decay_rate": 0.5,
            "decay_steps": 100,
            "staircase": staircase,
        }
        return ks.InverseTimeDecay(0.1, 100, 0.5, staircase), {"inverse_time_decay": body}, 0.1
    if name == "CosineDecay":
        return ks.CosineDecay(0.1, 1000, alpha=0.01), _cosine(0.1, 0.001, 1000), 0.1
    if name == "CosineDecay_warmup":
        schedule = ks.CosineDecay(0.0, 900, alpha=0.01, warmup_target=0.1, warmup_steps=100)
        return schedule, warmup_then(100, _cosine(0.1, 0.001, 900), lr=0.1), 0.1
    if name == "CosineDecayRestarts":
        body = {"learning_rate": 0.1, "num_steps": 10, "period_multiplier": 2, "peak_decay": 0.9}
        return ks.CosineDecayRestarts(0.1, 10, 2.0, 0.9), {"cosine_restarts": body}, 0.1
    if name == "CosineDecayRestarts_alpha":
        body = {"learning_rate": 0.1, "final_learning_rate": 0.1 * 0.05, "num_steps": 37}
        return ks.CosineDecayRestarts(0.1, 37, 1.0, 1.0, 0.05), {"cosine_restarts": body}, 0.1
    raise AssertionError(name)


KERAS_NAMES = [
    "ExponentialDecay",
    "ExponentialDecay_staircase",
    "PiecewiseConstantDecay",
    "PolynomialDecay",
    "InverseTimeDecay",
    "InverseTimeDecay_staircase",
    "CosineDecay",
    "CosineDecay_warmup",
    "CosineDecayRestarts",
    "CosineDecayRestarts_alpha",
]


@pytest.mark.parametrize("name", KERAS_NAMES)
def test_keras(impl: Values, keras: Any, name: str) -> None:
    schedule, config, peak = _keras_case(keras, name)
    expected = keras_values(schedule, 1200)
    assert_close(impl(config, list(range(1200))), expected, KERAS_RTOL * peak)


@pytest.mark.parametrize(("num_steps", "multiplier", "cycle"), [(1, 3, 5), (7, 3, 5), (1, 10, 3)])
def test_restart_where_floor_log_misses(
    impl: Values, num_steps: int, multiplier: int, cycle: int
) -> None:
    """At S_i = N * (m**i - 1) / (m - 1) a new cycle starts at its peak (exact integers).

    Keras' `CosineDecayRestarts` and torch's `step(epoch)` find the cycle as
    `floor(log(1 + s / N * (m - 1)) / log(m))`; in float64, log(243) / log(3) is just
    under 5, so at s = 121 * N (m = 3) that index is one short and their value is the
    end of the previous cycle (near F) instead of the restart (L). m = 10 at
    111 * N is the same trap (log(1000) / log(10) < 3).
    """
    start = num_steps * (multiplier**cycle - 1) // (multiplier - 1)
    index = math.floor(math.log(1 + start / num_steps * (multiplier - 1)) / math.log(multiplier))
    assert index == cycle - 1  # the float formula misses this restart
    config = {
        "cosine_restarts": {
            "learning_rate": 0.5,
            "num_steps": num_steps,
            "period_multiplier": multiplier,
        }
    }
    before, at, after = impl(config, [start - 1, start, start + 1])
    assert at == 0.5  # the restart: the full peak, cos(0) == 1
    assert before < 0.5 * 1e-3  # the end of the previous cycle
    assert 0.0 < after < 0.5
