"""Torch adapters: the `LRShim` scheduler and the optimizer builders.

Re-exported lazily by `tml.optimizers.optimizer`, so that importing that module does
not need torch. Everything here follows `torch.optim.lr_scheduler` conventions
(`last_epoch` counts steps from 0, the constructor performs the first step,
`initial_lr` is recorded in each parameter group, tensor learning rates are updated in
place) and the names of the original tml code.
"""

from __future__ import annotations

import operator
import warnings
from collections.abc import Iterable, Mapping
from typing import Any, cast

import torch
from torch import Tensor
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from tml.optimizers.config import (
    LearningRate,
    MultiTaskLearningRates,
    OptimizerConfig,
    get_optimizer_algorithm_config,
)
from tml.optimizers.schedule import Schedules

__all__ = [
    "LRShim",
    "build_multi_task_optimizer",
    "build_optimizer",
    "get_optimizer_class",
]

_ALL_PARAMS = "ALL_PARAMS"
_BACKBONE = "backbone"
_ALGORITHMS: tuple[tuple[str, type[Optimizer]], ...] = (
    ("adam", torch.optim.Adam),
    ("sgd", torch.optim.SGD),
    ("adagrad", torch.optim.Adagrad),
)


def _shown(names: list[str], limit: int = 5) -> str:
    """`a, b, c` or `a, b, c, ... (12 in all)`, for error messages about many names."""
    head = ", ".join(repr(n) for n in names[:limit])
    return head if len(names) <= limit else f"{head}, ... ({len(names)} in all)"


def _compile(lr_dict: Any) -> tuple[Schedules, list[str], list[Any]]:
    """The compiled schedules, group names and configs (as given) of `lr_dict`."""
    if isinstance(lr_dict, Schedules):
        schedules = lr_dict
        configs: list[Any] = schedules.configs
    elif isinstance(lr_dict, Mapping):
        schedules = Schedules(lr_dict)
        configs = list(lr_dict.values())
    elif isinstance(lr_dict, Iterable) and not isinstance(lr_dict, (str, bytes)):
        configs = list(lr_dict)
        schedules = Schedules(configs)
    else:
        msg = (
            "lr_dict must be a mapping of group name to learning-rate config, a sequence of "
            f"configs or a Schedules, got {type(lr_dict).__name__}"
        )
        raise TypeError(msg)
    raw = schedules.names if schedules.names is not None else range(len(schedules))
    names = [str(name) for name in raw]
    if len(set(names)) != len(names):
        repeated = sorted({n for n in names if names.count(n) > 1})
        msg = f"lr_dict has repeated group names {_shown(repeated)}"
        raise ValueError(msg)
    return schedules, names, configs


def _count_error(optimizer: Optimizer, groups: int, names: list[str]) -> ValueError:
    parts = ""
    optims = getattr(optimizer, "_optims", None)
    if optims is not None:
        sizes = ", ".join(f"{name}: {len(inner.param_groups)}" for name, inner in optims)
        parts = f" ({sizes})"
    return ValueError(
        f"optimizer has {groups} parameter groups{parts} but lr_dict has {len(names)} "
        f"learning rates ({_shown(names)}); give one learning rate per parameter group, "
        "in the optimizer's group order"
    )


def _plain(value: Any) -> Any:
    """`value` as numbers, strings, lists and dicts: tensors become Python numbers."""
    if isinstance(value, Tensor):
        return value.item()
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


class LRShim(LRScheduler):
    """A torch LR scheduler that sets each parameter group's lr from a tml schedule.

    Group g's learning rate after the scheduler has been stepped `last_epoch` times is
    `compute_lr(config_g, last_epoch)`, a Python float bitwise equal to the original
    tml value. Every `step()` evaluates all groups with one compiled call
    (`tml.optimizers.Schedules`); the only per-group Python work left is storing the
    value in the group. A tensor-valued `lr` is updated in place with `fill_`.

    Conventions are torch's: the constructor performs the first step (lr at step 0),
    `last_epoch` counts the steps taken, `initial_lr` is recorded in each group, and
    `state_dict()` / `load_state_dict()` save and restore the scheduler (save and load
    the optimizer's state too: it holds the current learning rates). The schedules are
    closed-form in the step, so a resumed run, or every rank of a distributed job, sees
    exactly the learning rates of an uninterrupted run.

    Args:
        optimizer: any `torch.optim.Optimizer`, including a combined optimizer that
            exposes its parts as `_optims` (pairs of name and optimizer) and whose
            `param_groups` are theirs, concatenated (torchrec's `CombinedOptimizer`).
        lr_dict: one learning-rate config per parameter group, in the optimizer's group
            order: a mapping group name -> config (a `LearningRate`, a YAML-shaped dict
            or any object with the four kind attributes), a sequence of configs (the
            groups are then named "0", "1", ...), or a compiled `Schedules`.
        last_epoch: torch's `last_epoch`: -1 to start; k to resume after k + 1 steps, on
            an optimizer whose groups already hold `initial_lr`.

    Raises:
        ValueError: the number of configs differs from the number of parameter groups
            (the message gives both), a config is invalid, or one lr tensor is shared by
            groups with different schedules.
        TypeError: `optimizer` is not a `torch.optim.Optimizer`.
        KeyError: `last_epoch` >= 0 but a group has no `initial_lr` (torch's rule).

    Example:
        >>> model = torch.nn.Linear(2, 1)
        >>> opt = torch.optim.SGD(model.parameters(), lr=0.0)
        >>> cfg = {"linear_ramp_to_constant": {"learning_rate": 0.1, "num_ramp_steps": 10}}
        >>> sched = LRShim(opt, {"ALL_PARAMS": cfg})
        >>> opt.step(); sched.step()
        >>> sched.get_last_lr()
        [0.01]
    """

    # Attributes that are not scheduler state: never saved, never overwritten by a load.
    _TRANSIENT = (
        "optimizer",
        "_schedules",
        "_seen_groups",
        "_has_tensor_lr",
        "lr_dict",
    )

    def __init__(self, optimizer: Optimizer, lr_dict: Any, last_epoch: int = -1) -> None:
        candidate: object = optimizer  # untyped callers pass anything, e.g. plain combined objects
        if not isinstance(candidate, Optimizer):
            hint = (
                "; a combined optimizer must subclass torch.optim.Optimizer and expose the "
                "concatenated param_groups of its _optims, as torchrec's CombinedOptimizer does"
                if hasattr(optimizer, "_optims")
                else ""
            )
            msg = f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}{hint}"
            raise TypeError(msg)
        if isinstance(last_epoch, bool):
            msg = f"last_epoch must be an integer, got last_epoch={last_epoch!r}"
            raise TypeError(msg)
        last_epoch = operator.index(last_epoch)
        if last_epoch < -1:
            msg = f"last_epoch must be >= -1, got last_epoch={last_epoch}"
            raise ValueError(msg)

        schedules, names, configs = _compile(lr_dict)
        groups = optimizer.param_groups
        if len(groups) != len(schedules):
            raise _count_error(optimizer, len(groups), names)
        self._schedules = schedules
        self.group_names = names
        self.lr_dict = dict(zip(names, configs, strict=True))
        self._seen_groups: Any = None
        self._has_tensor_lr = False
        self._inspect_groups(groups)
        super().__init__(optimizer, last_epoch)

    def _inspect_groups(self, groups: list[dict[str, Any]]) -> None:
        """Checks the groups against the schedules and notes whether any lr is a tensor.

        Runs at construction and whenever the optimizer's `param_groups` list is a new
        object (`Optimizer.load_state_dict` replaces it), so that a step with only float
        learning rates costs one dict store per group.
        """
        if len(groups) != len(self._schedules):
            raise _count_error(self.optimizer, len(groups), self.group_names)
        owners: dict[tuple[Any, ...], int] = {}
        configs: list[dict[str, Any]] | None = None
        for g, group in enumerate(groups):
            lr = group["lr"]
            if not isinstance(lr, Tensor):
                continue
            # Two tensor objects can share memory; key on where the value lives.
            key = (lr.device, lr.data_ptr()) if lr.data_ptr() else (id(lr),)
            first = owners.setdefault(key, g)
            if first == g:
                continue
            configs = self._schedules.configs if configs is None else configs
            if configs[first] != configs[g]:
                msg = (
                    f"parameter groups {self.group_names[first]!r} and {self.group_names[g]!r} "
                    f"share one lr tensor but have different schedules ({configs[first]} and "
                    f"{configs[g]}); give each group its own lr tensor"
                )
                raise ValueError(msg)
        self._has_tensor_lr = bool(owners)
        self._seen_groups = groups

    def _update_lr(self, epoch: int | None = None) -> None:
        # torch's LRScheduler.step() (warnings, _step_count) calls this; replacing it skips
        # torch's per-group isinstance/fill path and the read-back of every group's lr:
        # with float learning rates, one compiled call evaluates and stores every group's.
        step = self.last_epoch + 1 if epoch is None else epoch
        groups = self.optimizer.param_groups
        if groups is not self._seen_groups:
            # A combined optimizer may build a new list of the same group dicts on every
            # access (torchrec's does): compared at C speed before a full inspection.
            seen = self._seen_groups
            if (
                seen is not None
                and len(groups) == len(seen)
                and all(map(operator.is_, groups, seen))
            ):
                self._seen_groups = groups
            else:
                self._inspect_groups(groups)
        elif len(groups) != len(self._schedules):  # a group was added to the same list
            raise _count_error(self.optimizer, len(groups), self.group_names)
        # Both calls check the step before storing anything: a refused step changes nothing.
        if not self._has_tensor_lr:
            self._last_lr = cast(list[float | Tensor], self._schedules.assign(step, groups))
        else:
            values: list[float | Tensor] = list(self._schedules.values(step))
            for g, (group, lr) in enumerate(zip(groups, values, strict=True)):
                current = group["lr"]
                if isinstance(current, Tensor):
                    current.fill_(lr)
                    values[g] = current.clone()  # get_last_lr() never aliases the group's tensor
                else:
                    group["lr"] = lr
            self._last_lr = values
        self.last_epoch = step

    def get_lr(self) -> list[float | Tensor]:
        """The learning rates at `last_epoch`, in the types of the groups' current lr.

        Use `get_last_lr()` to read the learning rates; calling this outside `step()`
        warns, as torch's schedulers do.
        """
        if not getattr(self, "_get_lr_called_within_step", False):
            warnings.warn(
                "To get the last learning rate computed by the scheduler, please use "
                "`get_last_lr()`.",
                UserWarning,
                stacklevel=2,
            )
        return self._get_closed_form_lr()

    def _get_closed_form_lr(self) -> list[float | Tensor]:
        values = self._schedules.values(self.last_epoch)
        out: list[float | Tensor] = []
        for group, lr in zip(self.optimizer.param_groups, values, strict=True):
            current = group["lr"]
            if isinstance(current, Tensor):
                out.append(torch.tensor(lr, dtype=current.dtype, device=current.device))
            else:
                out.append(lr)
        return out

    def state_dict(self) -> dict[str, Any]:
        """The scheduler state, as plain data (numbers, strings, lists, dicts).

        Holds torch's entries (`last_epoch`, `_step_count`, `base_lrs`, `_last_lr`, ...;
        tensors as Python numbers) plus `group_names` and `lr_dict` (group name ->
        YAML-shaped config), so `torch.load(path, weights_only=True)` reads it back and
        `load_state_dict` can check the schedules it was saved with.
        """
        state = {
            key: _plain(value) for key, value in self.__dict__.items() if key not in self._TRANSIENT
        }
        state["lr_dict"] = dict(zip(self.group_names, self._schedules.configs, strict=True))
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restores a state from `state_dict()`; the optimizer is left as it is.

        The schedules are this scheduler's own: if `state_dict` records different ones
        (its `lr_dict`), that is a `ValueError` naming the first differing group. To
        resume with changed schedules on purpose, remove `lr_dict` (and `group_names`)
        from the state first.

        Raises:
            ValueError: the saved schedules, group names or group count differ.
        """
        state = dict(state_dict)
        saved = state.pop("lr_dict", None)
        state.pop("group_names", None)
        if saved is not None:
            self._check_saved_schedules(saved)
        last = state.get("_last_lr")
        if isinstance(last, list) and len(last) == len(self.optimizer.param_groups):
            # Saved as numbers; get_last_lr() gives tensors where the group's lr is one.
            state["_last_lr"] = [
                torch.tensor(v, dtype=g["lr"].dtype, device=g["lr"].device)
                if isinstance(g["lr"], Tensor) and not isinstance(v, Tensor)
                else v
                for g, v in zip(self.optimizer.param_groups, last, strict=True)
            ]
        for key in self._TRANSIENT:
            state.pop(key, None)
        self.__dict__.update(state)
        self._seen_groups = None

    def _check_saved_schedules(self, saved: Any) -> None:
        if not isinstance(saved, Mapping):
            msg = f"state_dict['lr_dict'] must be a dict, got {type(saved).__name__}"
            raise ValueError(msg)
        names = [str(name) for name in saved]
        if names != self.group_names:
            msg = (
                f"state_dict was saved for groups {_shown(names)} but this scheduler has groups "
                f"{_shown(self.group_names)}; build the scheduler with the saved lr_dict, or "
                "remove 'lr_dict' from the state to keep this scheduler's schedules"
            )
            raise ValueError(msg)
        # Compiling normalises the saved dicts (10.0 -> 10, ...) before comparing.
        saved_configs = Schedules(dict(saved)).configs
        for name, old, new in zip(names, saved_configs, self._schedules.configs, strict=True):
            if old != new:
                msg = (
                    f"group {name!r}: state_dict was saved with schedule {old} but this "
                    f"scheduler has {new}; build the scheduler with the saved lr_dict, or "
                    "remove 'lr_dict' from the state to keep this scheduler's schedules"
                )
                raise ValueError(msg)


def _optimizer_config(optimizer_config: Any) -> Any:
    """An `OptimizerConfig` from a YAML-shaped dict; config objects as they are."""
    if isinstance(optimizer_config, Mapping):
        return OptimizerConfig.model_validate(optimizer_config)
    if not any(hasattr(optimizer_config, name) for name, _ in _ALGORITHMS):
        msg = (
            "optimizer_config must be an OptimizerConfig, a dict of that shape or an object "
            f"with attributes adam, sgd, adagrad; got {type(optimizer_config).__name__}"
        )
        raise TypeError(msg)
    return optimizer_config


def _algorithm(optimizer_config: Any) -> tuple[type[Optimizer], Any]:
    """The torch optimizer class and the algorithm config that is set."""
    algorithm = get_optimizer_algorithm_config(optimizer_config)
    cls = next(c for name, c in _ALGORITHMS if getattr(optimizer_config, name, None) is algorithm)
    return cls, algorithm


def _algorithm_kwargs(algorithm: Any) -> dict[str, Any]:
    """The algorithm config's fields as torch keyword arguments (lr, betas, eps, ...)."""
    dump = getattr(algorithm, "model_dump", None) or algorithm.dict  # pydantic 2 or 1
    return dict(dump())


def get_optimizer_class(optimizer_config: OptimizerConfig) -> type[Optimizer]:
    """`torch.optim.Adam`, `SGD` or `Adagrad`, whichever algorithm the config sets.

    Raises:
        ValueError: no algorithm, or more than one, is set (possible on a config built
            with `model_construct`).
    """
    return _algorithm(_optimizer_config(optimizer_config))[0]


def build_optimizer(
    model: torch.nn.Module, optimizer_config: OptimizerConfig
) -> tuple[Optimizer, LRShim]:
    """One optimizer over all of `model`'s parameters and its `LRShim`.

    The algorithm is whichever of `adam`, `sgd`, `adagrad` is set, built with that
    config's own fields (Adam `betas` and `eps`, SGD `momentum`, Adagrad `eps`). All
    parameters form one group named `ALL_PARAMS`, scheduled by
    `optimizer_config.learning_rate`, or held at the algorithm's `lr` when that is unset.

    Args:
        model: the model, possibly wrapped (`DistributedDataParallel`).
        optimizer_config: the optimizer config.

    Returns:
        `(optimizer, scheduler)`; the scheduler has already set the step-0 lr.

    Raises:
        ValueError: no algorithm is set in `optimizer_config`.

    Example:
        >>> cfg = OptimizerConfig(adam={"lr": 0.001}, learning_rate={"constant": 0.01})
        >>> opt, sched = build_optimizer(torch.nn.Linear(2, 1), cfg)
        >>> sched.get_last_lr()
        [0.01]
    """
    optimizer_config = _optimizer_config(optimizer_config)
    cls, algorithm = _algorithm(optimizer_config)
    kwargs = _algorithm_kwargs(algorithm)
    optimizer = cls(model.parameters(), **kwargs)
    learning_rate = optimizer_config.learning_rate
    if learning_rate is None:
        learning_rate = LearningRate(constant=kwargs["lr"])
    return optimizer, LRShim(optimizer, {_ALL_PARAMS: learning_rate})


def _task_pattern(task: str) -> str:
    # Tower modules are registered under the task name with dots replaced (a module
    # name cannot contain "."), as the original recap model's `sanitize` does.
    return "." + task.replace(".", "__") + "."


def build_multi_task_optimizer(
    model: torch.nn.Module,
    optimizer_config: OptimizerConfig,
    learning_rates: MultiTaskLearningRates | Mapping[str, Any],
) -> tuple[Optimizer, LRShim]:
    """An optimizer with one parameter group per task tower plus a backbone group.

    A parameter belongs to task `t` when its name (from `model.named_parameters()`)
    contains `"." + t.replace(".", "__") + "."`; every other parameter is in the
    `backbone` group. The groups are the towers in the order of
    `tower_learning_rates`, then `backbone` (present only when some parameter is
    outside every tower: a `backbone_learning_rate` with no backbone parameters, as in
    a config shared by models without a backbone, is unused), each scheduled by its own
    learning rate; parameters keep the
    model's order within a group. Each group carries its name under the key `"name"`.

    Args:
        model: the model, possibly wrapped (`DistributedDataParallel`).
        optimizer_config: an `OptimizerConfig` (or a dict of that shape) giving the
            algorithm (adam, sgd or adagrad); its `learning_rate` must be unset, the
            schedules come from `learning_rates`.
        learning_rates: a `MultiTaskLearningRates` (or a dict of that YAML shape).

    Returns:
        `(optimizer, scheduler)`, with `scheduler.group_names` the group names.

    Raises:
        ValueError: a parameter is matched by two tasks, a task matches no parameter,
            backbone parameters exist without `backbone_learning_rate`, a task is named
            `backbone` while a backbone group exists, no algorithm is set,
            or `optimizer_config.learning_rate` is set. Each message names the parameters
            or tasks.

    Example:
        >>> model = torch.nn.Module()
        >>> model.towers = torch.nn.ModuleDict({"is_clicked": torch.nn.Linear(2, 1)})
        >>> model.backbone = torch.nn.Linear(2, 2)
        >>> lrs = {"tower_learning_rates": {"is_clicked": {"constant": 0.1}},
        ...        "backbone_learning_rate": {"constant": 0.01}}
        >>> opt, sched = build_multi_task_optimizer(model, OptimizerConfig(sgd={"lr": 0.0}), lrs)
        >>> sched.group_names, sched.get_last_lr()
        (['is_clicked', 'backbone'], [0.1, 0.01])
    """
    if isinstance(learning_rates, Mapping):
        learning_rates = MultiTaskLearningRates.model_validate(learning_rates)
    elif not hasattr(learning_rates, "tower_learning_rates"):
        msg = (
            "learning_rates must be a MultiTaskLearningRates or a dict of that shape "
            f"(tower_learning_rates, backbone_learning_rate), got {type(learning_rates).__name__}"
        )
        raise TypeError(msg)
    optimizer_config = _optimizer_config(optimizer_config)
    if getattr(optimizer_config, "learning_rate", None) is not None:
        msg = (
            "optimizer_config.learning_rate is set, but build_multi_task_optimizer takes "
            "every group's schedule from learning_rates (tower_learning_rates, "
            "backbone_learning_rate); unset optimizer_config.learning_rate"
        )
        raise ValueError(msg)
    cls, algorithm = _algorithm(optimizer_config)
    towers: Mapping[str, Any] = learning_rates.tower_learning_rates
    backbone_lr = learning_rates.backbone_learning_rate
    patterns = {task: _task_pattern(task) for task in towers}

    members: dict[str, list[torch.nn.Parameter]] = {task: [] for task in towers}
    backbone: list[torch.nn.Parameter] = []
    backbone_names: list[str] = []
    for name, parameter in model.named_parameters():
        tasks = [task for task, pattern in patterns.items() if pattern in name]
        if len(tasks) > 1:
            shown = ", ".join(f"{t!r} ({patterns[t]!r})" for t in tasks)
            msg = f"parameter {name!r} is matched by several tasks: {shown}"
            raise ValueError(msg)
        if tasks:
            members[tasks[0]].append(parameter)
        else:
            backbone.append(parameter)
            backbone_names.append(name)

    empty = [task for task, params in members.items() if not params]
    if empty:
        shown = ", ".join(f"{t!r} (looked for {patterns[t]!r})" for t in empty)
        examples = _shown([name for name, _ in model.named_parameters()], limit=3)
        msg = f"tasks match no parameter: {shown}; parameter names look like {examples}"
        raise ValueError(msg)
    if backbone and backbone_lr is None:
        msg = (
            f"parameters {_shown(backbone_names)} belong to no task tower, and "
            "backbone_learning_rate is not set; set it, or add their task to "
            "tower_learning_rates"
        )
        raise ValueError(msg)
    if backbone and _BACKBONE in towers:
        msg = (
            f"task {_BACKBONE!r} clashes with the backbone group of parameters "
            f"{_shown(backbone_names)}; rename the task"
        )
        raise ValueError(msg)

    groups = [{"params": params, "name": task} for task, params in members.items()]
    lr_dict: dict[str, Any] = dict(towers)
    if backbone:
        groups.append({"params": backbone, "name": _BACKBONE})
        lr_dict[_BACKBONE] = backbone_lr
    optimizer = cls(groups, **_algorithm_kwargs(algorithm))
    return optimizer, LRShim(optimizer, lr_dict)
