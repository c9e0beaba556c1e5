"""Optimizer and learning-rate configs, with the names and YAML shape of the original tml.

A learning rate is exactly one of four kinds (`LearningRate`); each kind is validated
when the config is built, by the same compiled code that evaluates it, so a config
that constructs is a config that evaluates.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

import numpy as np
import pydantic

from tml import _core
from tml.core.config import BaseConfig

__all__ = [
    "AdagradConfig",
    "AdamConfig",
    "LearningRate",
    "LinearRampToConstant",
    "LinearRampToCosine",
    "MultiTaskLearningRates",
    "OptimizerAlgorithmConfig",
    "OptimizerConfig",
    "PiecewiseConstant",
    "SgdConfig",
    "get_optimizer_algorithm_config",
]


def _not_bool(value: Any) -> Any:
    # pydantic's lax mode reads True as 1.0; a bool is no learning rate or step count
    # (and the compiled reader, which raw dict configs go through, refuses it too).
    if isinstance(value, (bool, np.bool_)):
        msg = f"must be a number, not a bool, got {value!r}"
        raise ValueError(msg)
    return value


Rate = Annotated[float, pydantic.BeforeValidator(_not_bool)]
Steps = Annotated[int, pydantic.BeforeValidator(_not_bool)]


def _one_of(group: str, description: str) -> Any:
    return pydantic.Field(None, description=description, json_schema_extra={"one_of": group})


class _Kind(BaseConfig):
    """A schedule kind; validated by compiling it."""

    _kind: ClassVar[str] = ""

    @pydantic.model_validator(mode="after")
    def _compile(self) -> _Kind:
        _core.ScheduleSet([{self._kind: self}])
        return self


class PiecewiseConstant(_Kind):
    """`learning_rate_values[i]`, i = number of boundaries <= step (bisect right).

    Example: boundaries `[1000, 5000]`, values `[0.1, 0.01, 0.001]` gives 0.1 below
    step 1000, 0.01 from step 1000, 0.001 from step 5000.
    """

    _kind: ClassVar[str] = "piecewise_constant"
    learning_rate_boundaries: list[Steps] = pydantic.Field(
        description="Steps where the value changes, strictly increasing integers."
    )
    learning_rate_values: list[Rate] = pydantic.Field(
        description="One more value than boundaries, each finite and >= 0."
    )


class LinearRampToConstant(_Kind):
    """`min(learning_rate, learning_rate / num_ramp_steps * step)`."""

    _kind: ClassVar[str] = "linear_ramp_to_constant"
    learning_rate: Rate = pydantic.Field(description="Value after the ramp, finite and >= 0.")
    num_ramp_steps: Steps = pydantic.Field(description="Steps to reach learning_rate, >= 1.")


class LinearRampToCosine(_Kind):
    """Linear ramp to `learning_rate`, then a half cosine down to `final_learning_rate`.

    step < R: `learning_rate / R * step`; R <= step <= T:
    `F + (L - F) * 0.5 * (1 + cos(pi * (step - R) / (T - R)))`; step > T: `F`.
    """

    _kind: ClassVar[str] = "linear_ramp_to_cosine"
    learning_rate: Rate = pydantic.Field(description="Peak value, reached at num_ramp_steps.")
    final_learning_rate: Rate = pydantic.Field(description="Value from final_num_steps on.")
    num_ramp_steps: Steps = pydantic.Field(description="Length of the linear ramp, >= 1.")
    final_num_steps: Steps = pydantic.Field(description="End of the cosine, > num_ramp_steps.")


class LearningRate(BaseConfig):
    """A learning-rate schedule: set exactly one of the four kinds.

    Example (YAML)::

        linear_ramp_to_cosine:
          learning_rate: 0.001
          final_learning_rate: 0.00001
          num_ramp_steps: 1000
          final_num_steps: 100000
    """

    constant: Rate | None = _one_of("lr", "A constant learning rate, finite and >= 0.")
    linear_ramp_to_cosine: LinearRampToCosine | None = _one_of("lr", "Ramp, then cosine.")
    linear_ramp_to_constant: LinearRampToConstant | None = _one_of("lr", "Ramp, then constant.")
    piecewise_constant: PiecewiseConstant | None = _one_of("lr", "Steps of constants.")

    @pydantic.model_validator(mode="after")
    def _compile(self) -> LearningRate:
        _core.ScheduleSet([self])
        return self


class OptimizerAlgorithmConfig(BaseConfig):
    """Fields common to every optimizer algorithm."""

    lr: float = pydantic.Field(ge=0.0, allow_inf_nan=False, description="Base learning rate.")


class AdamConfig(OptimizerAlgorithmConfig):
    """`torch.optim.Adam` arguments."""

    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = pydantic.Field(1e-7, ge=0.0, allow_inf_nan=False)


class SgdConfig(OptimizerAlgorithmConfig):
    """`torch.optim.SGD` arguments."""

    momentum: float = pydantic.Field(0.0, ge=0.0, allow_inf_nan=False)


class AdagradConfig(OptimizerAlgorithmConfig):
    """`torch.optim.Adagrad` arguments."""

    eps: float = pydantic.Field(0.0, ge=0.0, allow_inf_nan=False)


class OptimizerConfig(BaseConfig):
    """One optimizer algorithm and its learning-rate schedule.

    When `learning_rate` is unset, the algorithm's `lr` is used as a constant.
    """

    learning_rate: LearningRate | None = pydantic.Field(
        None, description="Learning-rate schedule; the algorithm's lr when unset."
    )
    adam: AdamConfig | None = _one_of("optimizer", "Adam.")
    sgd: SgdConfig | None = _one_of("optimizer", "SGD.")
    adagrad: AdagradConfig | None = _one_of("optimizer", "Adagrad.")


class MultiTaskLearningRates(BaseConfig):
    """Per-task-tower schedules plus one for every other parameter (the backbone)."""

    tower_learning_rates: dict[str, LearningRate] = pydantic.Field(
        description="Learning rate of each task tower, by task name."
    )
    backbone_learning_rate: LearningRate | None = pydantic.Field(
        None, description="Learning rate of every parameter outside the towers."
    )


def get_optimizer_algorithm_config(optimizer_config: OptimizerConfig) -> OptimizerAlgorithmConfig:
    """The algorithm config that is set (adam, sgd or adagrad).

    Raises:
        ValueError: none, or more than one, is set (possible on a config built with
            `model_construct`, or on a config object of the original tml code).
    """
    chosen = [
        (name, algorithm)
        for name in ("adam", "sgd", "adagrad")
        if (algorithm := getattr(optimizer_config, name, None)) is not None
    ]
    if len(chosen) != 1:
        got = ", ".join(name for name, _ in chosen) or "none set"
        msg = f"optimizer_config must set exactly one of adam, sgd, adagrad; got {got}"
        raise ValueError(msg)
    return chosen[0][1]  # type: ignore[no-any-return]
