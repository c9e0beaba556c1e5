"""Torch adapters: the `LRShim` scheduler and the optimizer builders.

Re-exported lazily by `tml.optimizers` and `tml.optimizers.optimizer`, so that importing
those modules does not need torch. Everything here follows `torch.optim.lr_scheduler`
conventions (`last_epoch` counts steps from 0, the constructor performs the first step,
`initial_lr` is recorded in each parameter group, tensor learning rates are updated in
place) and the names of the original tml code.
"""

from __future__ import annotations

import itertools
import math
import operator
import warnings
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import torch
from torch import Tensor
from torch.optim import Optimizer, lr_scheduler
from torch.optim.lr_scheduler import LRScheduler

from tml.optimizers.config import (
    LearningRate,
    MultiTaskLearningRates,
    OptimizerConfig,
    get_optimizer_algorithm_config,
)
from tml.optimizers.schedule import Schedules, _is_single_config

if TYPE_CHECKING:
    _SchedulerBase = LRScheduler
else:
    # torch's deprecated alias of LRScheduler, which the original LRShim derived from:
    # code written for it (isinstance(s, _LRScheduler)) still recognises this one.
    _SchedulerBase = getattr(lr_scheduler, "_LRScheduler", LRScheduler)

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
# The compiled schedules take steps up to int64's maximum; last_epoch is one less.
_MAX_STEP = 2**63 - 1
_LR = operator.itemgetter("lr")
# What constructing an LRShim may set in a parameter group (restored if it is refused).
_SET_IN_GROUPS = ("name", "lr", "initial_lr")
_SHAPE_HINT = (
    "lr_dict maps each parameter group's name to its config, in the optimizer's group "
    "order: {group_name: config}, e.g. {'ALL_PARAMS': {'constant': 0.1}} for an optimizer "
    "with one group"
)


def _shown(names: list[str], limit: int = 5) -> str:
    """`a, b, c` or `a, b, c, ... (12 in all)`, for error messages about many names."""
    head = ", ".join(repr(n) for n in names[:limit])
    return head if len(names) <= limit else f"{head}, ... ({len(names)} in all)"


def _compile(lr_dict: Any) -> tuple[Schedules, list[str], list[Any], bool]:
    """The compiled schedules, group names, configs (as given) and whether names were given."""
    if isinstance(lr_dict, Schedules):
        schedules = lr_dict
        configs: list[Any] = schedules.configs
    elif isinstance(lr_dict, Mapping):
        try:
            schedules = Schedules(lr_dict)
        except (TypeError, ValueError) as e:
            if _is_single_config(lr_dict):
                msg = f"lr_dict looks like a single config ({dict(lr_dict)!r}); {_SHAPE_HINT}"
                raise TypeError(msg) from e
            raise
        configs = list(lr_dict.values())
    elif _is_single_config(lr_dict):
        msg = f"lr_dict is a single config ({type(lr_dict).__name__}); {_SHAPE_HINT}"
        raise TypeError(msg)
    elif isinstance(lr_dict, Iterable) and not isinstance(lr_dict, (str, bytes)):
        configs = list(lr_dict)
        schedules = Schedules(configs)
    else:
        msg = (
            "lr_dict must be a mapping of group name to learning-rate config, a sequence of "
            f"configs or a Schedules, got {type(lr_dict).__name__}; {_SHAPE_HINT}"
        )
        raise TypeError(msg)
    named = schedules.names is not None
    raw = schedules.names if schedules.names is not None else range(len(schedules))
    names = [str(name) for name in raw]
    if len(set(names)) != len(names):
        repeated = sorted({n for n in names if names.count(n) > 1})
        msg = f"lr_dict has repeated group names {_shown(repeated)}"
        raise ValueError(msg)
    return schedules, names, configs, named


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


def _check_lr_tensor(lr: Tensor, name: str) -> None:
    """Refuses an lr tensor a learning rate cannot be written into as it is.

    An integer one would truncate every rate (0.03 -> 0) and train on silently; one of
    several elements would fail at the first step with a reshape error naming nothing.
    """
    if not lr.is_floating_point():
        msg = (
            f"parameter group {name!r} has an lr tensor of dtype {lr.dtype}: a learning "
            "rate tensor must be floating point (integers would truncate it)"
        )
        raise TypeError(msg)
    if lr.numel() != 1:
        msg = (
            f"parameter group {name!r} has an lr tensor of shape {tuple(lr.shape)}: a "
            "learning rate tensor must hold one value"
        )
        raise ValueError(msg)


def _integer(value: Any, name: str, low: int, high: int) -> int:
    """`value` as an int in [low, high]; TypeError or ValueError naming `name` otherwise."""
    if isinstance(value, (bool, np.bool_)):
        msg = f"{name} must be an integer, got {name}={value!r}"
        raise TypeError(msg)
    try:
        number = operator.index(value)
    except TypeError:
        msg = f"{name} must be an integer, got {name}={value!r} ({type(value).__name__})"
        raise TypeError(msg) from None
    if not low <= number <= high:
        bound = "2**63 - 1" if high == _MAX_STEP else "2**63 - 2"
        msg = f"{name} must be between {low} and {bound}, got {name}={number}"
        raise ValueError(msg)
    return number


class _Pack:
    """The tensor learning rates of one device and dtype, written with one copy a step.

    `buffer` holds one value per group in `slots`. Either the groups' `lr` entries are
    0-d views of `buffer` (packed: `targets` is None), or they are the user's own tensors
    (`targets`), updated from views of `buffer` (`sources`) with one foreach copy.
    """

    __slots__ = ("buffer", "index", "slots", "sources", "targets")

    def __init__(
        self,
        buffer: Tensor,
        slots: list[int],
        groups: int,
        targets: list[Tensor] | None = None,
    ) -> None:
        self.buffer = buffer
        self.slots = slots
        # Rows of the host values to gather; None when they are all of them, in order.
        self.index = None if slots == list(range(groups)) else torch.tensor(slots)
        self.targets = targets
        self.sources: list[Tensor] = []
        if targets is not None:
            views = buffer.unbind(0)
            self.sources = [
                v if t.dim() == 0 else v.view(t.shape) for v, t in zip(views, targets, strict=True)
            ]


def _adopt(lrs: list[Tensor]) -> Tensor | None:
    """The 1-d tensor whose consecutive elements `lrs` are, or None.

    Groups already packed (by this or another `LRShim`, or by the user) are written
    through their buffer as they are, without new tensors that would make a compiled
    optimizer step recompile.
    """
    base = lrs[0]._base
    if (
        base is None
        or base.dim() != 1
        or base.numel() != len(lrs)
        or not base.is_contiguous()
        or base.requires_grad
    ):
        return None
    start = base.storage_offset()
    for i, lr in enumerate(lrs):
        if lr._base is not base or lr.dim() != 0 or lr.storage_offset() != start + i:
            return None
    return base


_STATE_KEYS = (
    "group_names",
    "base_lrs",
    "last_epoch",
    "_step_count",
    "_is_initial",
    "_last_lr",
    "lr_dict",
    "exact",
)
# Entries torch's own LRScheduler.state_dict() writes (`verbose` up to torch 2.6, so the
# original tml LRShim's checkpoints hold it) that carry nothing to restore: a transient
# flag and a logging switch. Accepted and ignored, as torch's load_state_dict would.
_IGNORED_STATE_KEYS = ("_get_lr_called_within_step", "verbose")
# Attributes derived from the optimizer's groups: rebuilt, never saved or copied.
_DERIVED = (
    "_assign",
    "_seen_groups",
    "_held",
    "_fast_groups",
    "_plain",
    "_packs",
    "_float_slots",
    "_watched",
    "_watched_slots",
    "_host",
)


def _numbers(value: Any, name: str, count: int) -> list[Any]:
    """`value` as a list of `count` finite numbers >= 0 (or one-element tensors)."""
    if not isinstance(value, (list, tuple)) or len(value) != count:
        shown = f"{len(value)} items" if isinstance(value, (list, tuple)) else type(value).__name__
        msg = f"{name} must be a list of {count} learning rates (one per group), got {shown}"
        raise ValueError(msg)
    for i, item in enumerate(value):
        number = item.item() if isinstance(item, Tensor) and item.numel() == 1 else item
        if isinstance(number, (bool, np.bool_)) or not isinstance(
            number, (int, float, np.integer, np.floating)
        ):
            msg = f"{name}[{i}] must be a number, got {item!r} ({type(item).__name__})"
            raise TypeError(msg)
        if not (math.isfinite(number) and number >= 0):
            msg = f"{name}[{i}] must be finite and >= 0, got {item!r}"
            raise ValueError(msg)
    return list(value)


class LRShim(_SchedulerBase):
    """A torch LR scheduler that sets each parameter group's lr from a tml schedule.

    Group g's learning rate after the scheduler has been stepped `last_epoch` times is
    `compute_lr(config_g, last_epoch)`, bitwise equal to the original tml value (a
    Python float; a tensor lr holds it rounded to the tensor's dtype). Every `step()`
    evaluates all groups with one compiled call (`tml.optimizers.Schedules`).

    Conventions are torch's: the constructor performs the first step (lr at step 0),
    `last_epoch` counts the steps taken, `initial_lr` is recorded in each group, and
    `state_dict()` / `load_state_dict()` save and restore the scheduler (save and load
    the optimizer's state too: it holds the current learning rates). The schedules are
    closed-form in the step, so a resumed run, or every rank of a distributed job, sees
    exactly the learning rates of an uninterrupted run.

    Tensor learning rates (`lr=torch.tensor(...)`, as compiled optimizer steps want) are
    written in place, with one host-to-device copy and one foreach copy per device and
    dtype. With `pack_tensor_lrs=True` the scheduler instead replaces each group's 0-d
    lr tensor by a view into one buffer per device and dtype, so that a step is a single
    copy into that buffer; build the scheduler before compiling the optimizer step, and
    read `group["lr"]`, not the tensor first given. Groups whose lr tensors are replaced
    later (`optimizer.load_state_dict`, a framework restoring a checkpoint) are found at
    the next step and packed again.

    Args:
        optimizer: any `torch.optim.Optimizer`, including a combined optimizer that
            exposes its parts as `_optims` (pairs of name and optimizer) and whose
            `param_groups` are theirs, concatenated (torchrec's `CombinedOptimizer`).
        lr_dict: one learning-rate config per parameter group, in the optimizer's group
            order: a mapping group name -> config (a `LearningRate`, a YAML-shaped dict
            or any object with the kind attributes), a sequence of configs (the groups
            are then named "0", "1", ...), or a compiled `Schedules`. With names, each
            group without a `"name"` entry gets one, which monitors (Lightning's
            `LearningRateMonitor`) show.
        last_epoch: torch's `last_epoch`: -1 to start; k to resume after k + 1 steps, on
            an optimizer whose groups already hold `initial_lr`.
        pack_tensor_lrs: replace 0-d tensor learning rates by views into one buffer per
            device and dtype (see above). Groups sharing one lr tensor then each get
            their own.

    A subclass that overrides `get_lr()` gets its values applied, as torch's schedulers
    do (through torch's own per-group update, not the compiled store); `step(epoch)`,
    deprecated, takes the closed form as torch's does, not `get_lr()`.

    Raises (a refused construction leaves the groups as they were):
        ValueError: the number of configs differs from the number of parameter groups
            (the message gives both), a config is invalid, one lr tensor is shared by
            groups with different schedules (without `pack_tensor_lrs`), or an lr tensor
            holds more than one value.
        TypeError: `optimizer` is not a `torch.optim.Optimizer`, `lr_dict` is a single
            config rather than one per group, or an lr tensor is not floating point.
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

    def __init__(
        self,
        optimizer: Optimizer,
        lr_dict: Any,
        last_epoch: int = -1,
        *,
        pack_tensor_lrs: bool = False,
    ) -> None:
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
        last_epoch = _integer(last_epoch, "last_epoch", -1, _MAX_STEP - 1)
        flag: object = pack_tensor_lrs  # untyped callers pass anything
        if not isinstance(flag, bool):
            msg = f"pack_tensor_lrs must be True or False, got pack_tensor_lrs={pack_tensor_lrs!r}"
            raise TypeError(msg)

        schedules, names, configs, named = _compile(lr_dict)
        groups = optimizer.param_groups
        if len(groups) != len(schedules):
            raise _count_error(optimizer, len(groups), names)
        self.optimizer = optimizer
        self._schedules = schedules
        self.group_names = names
        self._lr_dict = dict(zip(names, configs, strict=True))
        self.pack_tensor_lrs = pack_tensor_lrs
        self._named = named
        self._last: list[Any] | None = None  # floats, and tensors for tensor lrs
        self._reset_derived()
        # Construction names the groups, may make their lr tensors views of one buffer,
        # and sets `initial_lr` and the step-0 lr: a refused one leaves them as they were.
        # A tensor lr is filled in place: its value is kept too.
        before = [{key: group[key] for key in _SET_IN_GROUPS if key in group} for group in groups]
        values = [
            lr.detach().clone() if isinstance(lr, Tensor) else None for lr in map(_LR, groups)
        ]
        try:
            self._inspect_groups(groups)
            super().__init__(optimizer, last_epoch)
        except BaseException:
            for group, kept, value in zip(groups, before, values, strict=True):
                for key in _SET_IN_GROUPS:
                    if key in kept:
                        group[key] = kept[key]
                    else:
                        group.pop(key, None)
                if value is not None:
                    with torch.no_grad():
                        group["lr"].copy_(value)
            raise

    def _reset_derived(self) -> None:
        """Forgets everything derived from the groups; the next step inspects them."""
        # The compiled store of every group's lr, bound once: step() is on the hot path,
        # and its steps are ints already checked, so Schedules.assign's Python frame and
        # step conversion are skipped.
        self._assign = self._schedules._values_at
        self._seen_groups: list[dict[str, Any]] | None = None
        # The group dicts as last inspected, in order: a compiled store checks that each
        # group is still the one at its place (the list reordered in place is noticed).
        self._held: tuple[dict[str, Any], ...] | None = None
        # The groups a step may write straight away, once torch's first-step warnings
        # are done and the groups inspected; None until then.
        self._fast_groups: list[dict[str, Any]] | None = None
        self._plain = True  # every lr is a Python number: one compiled call stores them
        self._packs: list[_Pack] = []
        self._float_slots: list[int] = []
        self._watched: list[Tensor] = []  # the lr tensor each tensor group must still hold
        self._watched_slots: list[int] | None = None  # their groups; None: all groups
        # The host values of the last tensor step, as an array and a tensor view of it.
        values = np.zeros(len(self._schedules), dtype=np.float64)
        self._host: tuple[np.ndarray, Tensor] = (values, torch.from_numpy(values))

    # step() runs torch's step() for its checks alone first, with this set (see step()).
    _checks_only = False

    @property
    def lr_dict(self) -> Mapping[str, Any]:
        """Group name -> config, as given: read-only.

        The schedules are compiled when the scheduler is built; to change them, build a
        new one (changing a config object given here changes nothing).
        """
        return MappingProxyType(self._lr_dict)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_last"] = self._last_lr
        for key in _DERIVED:
            state.pop(key, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        # A copy's lr views no longer share its buffer's memory (pickle copies each
        # tensor's storage): the first step inspects the groups and packs them again.
        self.__dict__.update(state)
        self._reset_derived()

    # ----------------------------------------------------------------- stepping

    def step(self, epoch: int | None = None) -> None:
        """Advances the schedule one step (or to `epoch`, deprecated, as torch does).

        Past torch's first-step checks (the warnings when `optimizer.step()` was not
        called first or was replaced), a step with float learning rates is one compiled
        call that evaluates and stores every group's learning rate.

        Raises:
            ValueError: a group was added or removed since construction, or `epoch` is
                negative.
            TypeError: `epoch` is not an integer.
        """
        groups = self.optimizer.param_groups
        if groups is self._fast_groups and epoch is None:
            # What torch's step() does past its first-step warnings, less its overhead.
            step = self.last_epoch + 1
            if self._plain:
                try:
                    last = self._assign(step, groups, "lr", True, self._held)  # _store, inline
                except ValueError:
                    self._check_count(groups)
                    raise
                if last is None:
                    self._retyped(step, groups)
                else:
                    self._last = last
            else:
                self._refresh(groups)
                self._write_tensor_lrs(step, groups)
            self.last_epoch = step
            self._step_count += 1
            return
        # torch's step() counts the step before it is taken: a refused one is not counted.
        count = self._step_count
        try:
            if count == 1 or epoch is not None:  # torch's step() warns only then
                # torch's warnings (optimizer.step() not called first or replaced,
                # step(epoch)) name their caller's line, this one. So torch's step() runs
                # first for its checks and count alone (_update_lr does nothing then), its
                # warnings are warned again for the line that called this step(), as torch's
                # own schedulers' are, and only then is the step taken: a warning made an
                # error stops it before anything changes, as it does torch's.
                self._checks_only = True
                try:
                    with warnings.catch_warnings(record=True) as caught:
                        warnings.simplefilter("always")
                        super().step(epoch)
                finally:
                    self._checks_only = False
                for w in caught:
                    warnings.warn(w.message, w.category, stacklevel=2)
                self._update_lr(epoch)
            else:
                super().step(epoch)
        except BaseException:
            self._step_count = count
            raise

    def _update_lr(self, epoch: int | None = None) -> None:
        # torch's step() (warnings, _step_count) and SequentialLR (`_update_lr(0)` at a
        # milestone) call this; the closed form serves both cases, epoch or not.
        if self._checks_only:  # step() runs torch's step() for its checks first
            return
        step = self.last_epoch + 1 if epoch is None else _integer(epoch, "epoch", 0, _MAX_STEP)
        if type(self).get_lr is not LRShim.get_lr:
            # A subclass's get_lr() decides, as it does for torch's schedulers: torch's own
            # update, which calls it (and never the compiled store or the fast path).
            last_epoch = self.last_epoch
            try:
                super()._update_lr(None if epoch is None else step)  # an int, checked
            except BaseException:
                self.last_epoch = last_epoch
                raise
            return
        groups = self.optimizer.param_groups
        self._refresh(groups)
        # Both paths check the step before storing anything: a refused step changes nothing.
        if self._plain:
            self._store(step, groups)
        else:
            self._write_tensor_lrs(step, groups)
        self.last_epoch = step
        if self._step_count > 1:  # torch's first-step warnings are behind us
            self._fast_groups = groups

    def _store(self, step: int, groups: list[dict[str, Any]]) -> None:
        """Every group's lr at `step` while all are numbers: one compiled call.

        A group whose lr was made a tensor since (to compile the optimizer's step) is
        filled in place, as torch's schedulers do, rather than given a float back: the
        call then stores nothing, and the groups are sorted again and written as tensors.
        """
        last = self._assign(step, groups, "lr", True, self._held)
        if last is None:
            self._retyped(step, groups)
        else:
            self._last = last

    def _retyped(self, step: int, groups: list[dict[str, Any]]) -> None:
        """A float lr became a tensor, or a group moved: inspected again, the step written.

        A group now at another key's place is refused (`_inspect_groups`).
        """
        self._inspect_groups(groups)
        self._write_tensor_lrs(step, groups)

    def _check_count(self, groups: list[dict[str, Any]]) -> None:
        if len(groups) != len(self._schedules):
            raise _count_error(self.optimizer, len(groups), self.group_names)

    def _refresh(self, groups: list[dict[str, Any]]) -> None:
        """Inspects the groups again if they, or their lr tensors, were replaced."""
        if groups is not self._seen_groups:
            # A combined optimizer may build a new list of the same group dicts on every
            # access (torchrec's does): compared at C speed before a full inspection.
            # `Optimizer.load_state_dict` makes new dicts: inspected.
            seen = self._seen_groups
            if (
                seen is not None
                and len(groups) == len(seen)
                and all(map(operator.is_, groups, seen))
            ):
                self._seen_groups = groups
            else:
                self._inspect_groups(groups)
                return
        self._check_count(groups)
        if not self._plain and not self._intact(groups):
            self._inspect_groups(groups)

    def _intact(self, groups: list[dict[str, Any]]) -> bool:
        """Whether the groups still hold what the scheduler writes them.

        One identity test per tensor group at C speed: a group whose lr was replaced
        behind the scheduler's back is never left reading a tensor that is no longer
        written. A float group must not hold a tensor.
        """
        slots = self._watched_slots
        lrs = map(_LR, groups) if slots is None else map(_LR, map(groups.__getitem__, slots))
        if not all(map(operator.is_, lrs, self._watched)):
            return False
        # A float group whose lr was made a tensor since is filled in place from now on.
        floats = map(_LR, map(groups.__getitem__, self._float_slots))
        return not any(map(isinstance, floats, itertools.repeat(Tensor)))

    def _inspect_groups(self, groups: list[dict[str, Any]]) -> None:
        """Checks the groups against the schedules and sorts their learning rates.

        Runs at construction and whenever the groups or their lr tensors were replaced.
        Tensor learning rates are sorted by device and dtype into packs; with
        `pack_tensor_lrs`, 0-d ones become views into one buffer per pack.
        """
        count = len(self._schedules)
        if len(groups) != count:
            raise _count_error(self.optimizer, len(groups), self.group_names)
        self._fast_groups = None
        if self._named:
            keys = set(self.group_names)
            for g, (group, name) in enumerate(zip(groups, self.group_names, strict=True)):
                held = group.get("name", name)
                if held != name and isinstance(held, str) and held in keys:
                    # Groups are paired with lr_dict in order: one named after another
                    # key would silently take that other group's schedule.
                    msg = (
                        f"parameter group {g} is named {held!r}, but lr_dict's key at "
                        f"position {g} is {name!r}: LRShim pairs groups with lr_dict in "
                        "order; order lr_dict as optimizer.param_groups"
                    )
                    raise ValueError(msg)
            for group, name in zip(groups, self.group_names, strict=True):  # all checked
                group.setdefault("name", name)
        by_key: dict[tuple[Any, ...], list[int]] = {}
        floats: list[int] = []
        for g, group in enumerate(groups):
            lr = group["lr"]
            if isinstance(lr, Tensor):
                _check_lr_tensor(lr, self.group_names[g])
                packable = self.pack_tensor_lrs and lr.dim() == 0 and not lr.requires_grad
                by_key.setdefault((lr.device, lr.dtype, packable), []).append(g)
            else:
                floats.append(g)
        packs: list[_Pack] = []
        for (device, dtype, packable), slots in by_key.items():
            lrs = [groups[g]["lr"] for g in slots]
            buffer = _adopt(lrs)
            if buffer is not None:  # already one buffer: written as it is
                packs.append(_Pack(buffer, slots, count))
            elif packable:
                with torch.no_grad():
                    buffer = torch.stack([lr.detach() for lr in lrs])
                for g, view in zip(slots, buffer.unbind(0), strict=True):
                    groups[g]["lr"] = view
                packs.append(_Pack(buffer, slots, count))
            else:
                self._check_shared(groups, slots)
                buffer = torch.empty(len(slots), dtype=dtype, device=device)
                packs.append(_Pack(buffer, slots, count, targets=lrs))
        tensor_slots = sorted(g for slots in by_key.values() for g in slots)
        self._packs = packs
        self._float_slots = floats
        self._plain = not tensor_slots
        self._watched_slots = None if len(tensor_slots) == count else tensor_slots
        self._watched = [groups[g]["lr"] for g in tensor_slots]
        self._seen_groups = groups
        self._held = tuple(groups)

    def _check_shared(self, groups: list[dict[str, Any]], slots: list[int]) -> None:
        """Refuses one lr tensor written by groups with different schedules."""
        owners: dict[tuple[Any, ...], int] = {}
        configs: list[dict[str, Any]] | None = None
        for g in slots:
            lr = groups[g]["lr"]
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
                    f"{configs[g]}); give each group its own lr tensor, or pass "
                    "pack_tensor_lrs=True"
                )
                raise ValueError(msg)

    def _write_tensor_lrs(self, step: int, groups: list[dict[str, Any]]) -> None:
        """One compiled call on the host, then one copy per pack of tensor lrs."""
        array = self._schedules(step)  # checks the step before anything is written
        values = torch.from_numpy(array)
        for pack in self._packs:
            source = values if pack.index is None else values.index_select(0, pack.index)
            # From pageable host memory a non-blocking copy is staged before it returns:
            # the host values may be freed at once, and the device is not waited for.
            pack.buffer.copy_(source, non_blocking=True)
            if pack.targets is not None:
                torch._foreach_copy_(pack.targets, pack.sources)
        if self._float_slots:
            floats = array.tolist()
            for g in self._float_slots:
                groups[g]["lr"] = floats[g]
        self._host = (array, values)
        self._last = None  # get_last_lr() builds its copies from the host values if asked

    # ----------------------------------------------------------------- reading

    @property
    def _last_lr(self) -> list[float | Tensor]:
        """What `get_last_lr()` returns: copies that never alias a group's lr tensor.

        After a step with tensor learning rates the copies are made on first use, one
        tensor per pack and views into it, rather than a clone per group per step.
        """
        last = self._last
        if last is None:
            last = self._last = self._copies_of_last_values()
        return last

    @_last_lr.setter
    def _last_lr(self, value: list[float | Tensor]) -> None:
        self._last = list(value)

    def _copies_of_last_values(self) -> list[float | Tensor]:
        values, values_t = self._host
        last: list[float | Tensor] = values.tolist()
        for pack in self._packs:
            source = values_t if pack.index is None else values_t.index_select(0, pack.index)
            copies = source.to(device=pack.buffer.device, dtype=pack.buffer.dtype, copy=True)
            shapes = [None] * len(pack.slots) if pack.targets is None else pack.targets
            for g, copy, target in zip(pack.slots, copies.unbind(0), shapes, strict=True):
                last[g] = copy if target is None or target.dim() == 0 else copy.view(target.shape)
        return last

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

    # ----------------------------------------------------------------- state

    def state_dict(self) -> dict[str, Any]:
        """The scheduler state, as plain data (numbers, strings, lists, dicts).

        Holds torch's entries (`last_epoch`, `_step_count`, `base_lrs`, `_last_lr`, ...;
        tensors as Python numbers) plus `group_names`, `lr_dict` (group name ->
        YAML-shaped config) and `exact` (False for fast-mode schedules), so
        `torch.load(path, weights_only=True)` reads it back and `load_state_dict` can
        check the schedules it was saved with.
        """
        return {
            "group_names": list(self.group_names),
            "base_lrs": _plain(self.base_lrs),
            "last_epoch": self.last_epoch,
            "_step_count": self._step_count,
            "_is_initial": bool(getattr(self, "_is_initial", False)),
            "_last_lr": self._plain_last_lr(),
            "lr_dict": dict(zip(self.group_names, self._schedules.configs, strict=True)),
            "exact": self._schedules.exact,
        }

    def _plain_last_lr(self) -> list[Any]:
        if self._last is not None:
            return cast(list[Any], _plain(self._last_lr))
        # Straight from the host values, rounded as the tensors hold them: no copies.
        values, values_t = self._host
        last: list[Any] = values.tolist()
        for pack in self._packs:
            source = values_t if pack.index is None else values_t.index_select(0, pack.index)
            rounded = source.to(dtype=pack.buffer.dtype).tolist()
            for g, value in zip(pack.slots, rounded, strict=True):
                last[g] = value
        return last

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restores a state from `state_dict()`; the optimizer is left as it is.

        Every entry is checked as the constructor checks its arguments (`last_epoch` an
        integer >= -1, and so on) before anything changes; an unknown key, a wrong type
        or a bad value is refused, naming the key. The entries torch's own schedulers
        also write that hold no state (`_get_lr_called_within_step`, and `verbose` from
        torch < 2.7 and the original tml LRShim) are ignored.

        The schedules are this scheduler's own: if `state_dict` records different ones
        (its `lr_dict`), that is a `ValueError` naming the first differing group. To
        continue the saved run with changed schedules on purpose, remove `lr_dict` and
        `group_names` from the state first; to start the new schedules from step 0,
        do not load the scheduler state at all.

        Raises:
            ValueError: an unknown key, a value out of range, or saved schedules, group
                names, group counts or mode (`exact`) that differ from this scheduler's.
            TypeError: an entry of the wrong type.
        """
        given: object = state_dict  # untyped callers pass anything
        if not isinstance(given, Mapping):
            msg = f"state_dict must be a dict, got {type(state_dict).__name__}"
            raise TypeError(msg)
        unknown = [
            key for key in state_dict if key not in _STATE_KEYS and key not in _IGNORED_STATE_KEYS
        ]
        if unknown:
            msg = (
                f"state_dict has unknown key {unknown[0]!r}; an LRShim state has the keys "
                f"{', '.join(_STATE_KEYS)}"
            )
            raise ValueError(msg)
        if "last_epoch" not in state_dict:
            msg = "state_dict has no 'last_epoch'"
            raise ValueError(msg)
        count = len(self._schedules)
        # The step the saved run was at: every step a run can reach (the constructor's
        # last_epoch is one below, as it steps once).
        last_epoch = _integer(state_dict["last_epoch"], "state_dict['last_epoch']", -1, _MAX_STEP)
        step_count = self._step_count
        if "_step_count" in state_dict:
            step_count = _integer(
                state_dict["_step_count"], "state_dict['_step_count']", 0, _MAX_STEP
            )
        initial = state_dict.get("_is_initial", False)
        if not isinstance(initial, bool):
            msg = f"state_dict['_is_initial'] must be True or False, got {initial!r}"
            raise TypeError(msg)
        names = state_dict.get("group_names")
        if names is not None:
            self._check_saved_names(names)
        saved = state_dict.get("lr_dict")
        if saved is not None:
            self._check_saved_schedules(saved)
        exact = state_dict.get("exact", self._schedules.exact)
        if not isinstance(exact, bool):
            msg = f"state_dict['exact'] must be True or False, got {exact!r}"
            raise TypeError(msg)
        if exact != self._schedules.exact:
            mode = {True: "exact", False: "fast (exact=False)"}
            msg = (
                f"state_dict was saved by a scheduler in {mode[exact]} mode, this one is in "
                f"{mode[self._schedules.exact]} mode: their learning rates differ in the last "
                f"bits; build it with Schedules(..., exact={exact}) to resume exactly"
            )
            raise ValueError(msg)
        base_lrs = state_dict.get("base_lrs")
        if base_lrs is not None:
            base_lrs = _numbers(base_lrs, "state_dict['base_lrs']", count)
        last_lr = state_dict.get("_last_lr")
        if last_lr is not None:
            last_lr = _numbers(last_lr, "state_dict['_last_lr']", count)

        self.last_epoch = last_epoch
        self._step_count = step_count
        if base_lrs is not None:
            self.base_lrs = base_lrs
        if last_lr is not None:
            groups = self.optimizer.param_groups
            if len(groups) == count:
                # Saved as numbers; get_last_lr() gives tensors, in the shape of the group's
                # lr, where the group's lr is one.
                last_lr = [
                    torch.tensor(v, dtype=g["lr"].dtype, device=g["lr"].device).reshape(
                        g["lr"].shape
                    )
                    if isinstance(g["lr"], Tensor) and not isinstance(v, Tensor)
                    else v
                    for g, v in zip(groups, last_lr, strict=True)
                ]
            self._last = last_lr
        self._seen_groups = self._fast_groups = None

    def _check_saved_names(self, names: Any) -> None:
        if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
            msg = f"state_dict['group_names'] must be a list of strings, got {names!r}"
            raise TypeError(msg)
        if list(names) != self.group_names:
            msg = (
                f"state_dict was saved for groups {_shown(list(names))} but this scheduler has "
                f"groups {_shown(self.group_names)}; {_RESUME_HINT}"
            )
            raise ValueError(msg)

    def _check_saved_schedules(self, saved: Any) -> None:
        if not isinstance(saved, Mapping):
            msg = f"state_dict['lr_dict'] must be a dict, got {type(saved).__name__}"
            raise TypeError(msg)
        names = [str(name) for name in saved]
        if names != self.group_names:
            msg = (
                f"state_dict was saved for groups {_shown(names)} but this scheduler has groups "
                f"{_shown(self.group_names)}; {_RESUME_HINT}"
            )
            raise ValueError(msg)
        # Compiling normalises the saved dicts (10.0 -> 10, ...) before comparing.
        try:
            saved_configs = Schedules(dict(saved)).configs
        except (TypeError, ValueError) as e:
            msg = f"state_dict['lr_dict'] holds an invalid config: {e}"
            raise ValueError(msg) from e
        for name, old, new in zip(names, saved_configs, self._schedules.configs, strict=True):
            if old != new:
                msg = (
                    f"group {name!r}: state_dict was saved with schedule {old} but this "
                    f"scheduler has {new}; {_RESUME_HINT}"
                )
                raise ValueError(msg)


_RESUME_HINT = (
    "to resume the saved run, build the scheduler with the saved lr_dict; to start this "
    "scheduler's schedules afresh from step 0, do not load the scheduler state (a new "
    "LRShim starts at step 0); to continue them from the saved step, remove 'lr_dict' "
    "and 'group_names' from the state before loading it"
)


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
    """The algorithm config's fields as torch keyword arguments (lr, betas, eps, ...).

    A pydantic 2 or 1 model, or any object holding them as attributes (`vars()`).
    """
    dump = getattr(algorithm, "model_dump", None) or getattr(algorithm, "dict", None)
    if dump is None:
        return {k: v for k, v in vars(algorithm).items() if not k.startswith("_")}
    return dict(dump())


def get_optimizer_class(optimizer_config: OptimizerConfig) -> type[Optimizer]:
    """`torch.optim.Adam`, `SGD` or `Adagrad`, whichever algorithm the config sets.

    Raises:
        ValueError: no algorithm, or more than one, is set (possible on a config built
            with `model_construct`).
    """
    return _algorithm(_optimizer_config(optimizer_config))[0]


def _check_model(model: Any, method: str) -> None:
    """Refuses what has no `model.<method>()` (a list of parameters, say) by name."""
    if not callable(getattr(model, method, None)):
        msg = (
            f"model must be a torch.nn.Module (or have a {method}() method), got "
            f"{type(model).__name__}"
        )
        raise TypeError(msg)


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
        TypeError: `model` is not a module (has no `parameters()`).

    Example:
        >>> cfg = OptimizerConfig(adam={"lr": 0.001}, learning_rate={"constant": 0.01})
        >>> opt, sched = build_optimizer(torch.nn.Linear(2, 1), cfg)
        >>> sched.get_last_lr()
        [0.01]
    """
    _check_model(model, "parameters")
    optimizer_config = _optimizer_config(optimizer_config)
    cls, algorithm = _algorithm(optimizer_config)
    kwargs = _algorithm_kwargs(algorithm)
    optimizer = cls(model.parameters(), **kwargs)
    learning_rate = getattr(optimizer_config, "learning_rate", None)
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
        ValueError: a parameter is matched by two tasks, a tied parameter (one tensor
            under several names) is in two groups by its names, a task matches no
            parameter, backbone parameters exist without `backbone_learning_rate`, a task
            is named `backbone` while a backbone group exists, no algorithm is set, or
            `optimizer_config.learning_rate` is set. Each message names the parameters
            or tasks.
        TypeError: `model` is not a module (has no `named_parameters()`).

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
    _check_model(model, "named_parameters")
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
    towers: object = learning_rates.tower_learning_rates
    if not isinstance(towers, Mapping):  # an object of attributes, not validated
        msg = (
            "learning_rates.tower_learning_rates must be a mapping task -> config, got "
            f"{type(towers).__name__}"
        )
        raise TypeError(msg)
    backbone_lr = getattr(learning_rates, "backbone_learning_rate", None)
    patterns = {task: _task_pattern(task) for task in towers}

    members: dict[str, list[torch.nn.Parameter]] = {task: [] for task in towers}
    backbone: list[torch.nn.Parameter] = []
    backbone_names: list[str] = []
    # Every name of every parameter: a tied one (shared weights) has a name in each
    # place, and named_parameters() alone keeps the first, which would put it in that
    # group whatever its other names say.
    placed: dict[int, tuple[str | None, str]] = {}  # id -> (task or None: backbone, name)
    named = (
        model.named_parameters(remove_duplicate=False)
        if isinstance(model, torch.nn.Module)
        else model.named_parameters()  # an object with the method, as _check_model allows
    )
    for name, parameter in named:
        tasks = [task for task, pattern in patterns.items() if pattern in name]
        if len(tasks) > 1:
            shown = ", ".join(f"{t!r} ({patterns[t]!r})" for t in tasks)
            msg = f"parameter {name!r} is matched by several tasks: {shown}"
            raise ValueError(msg)
        group = tasks[0] if tasks else None
        if id(parameter) in placed:
            first_group, first_name = placed[id(parameter)]
            if first_group != group:
                where = [
                    f"task {g!r}" if g is not None else "the backbone" for g in (first_group, group)
                ]
                msg = (
                    f"parameter {name!r} is the same tensor as {first_name!r} (tied weights), "
                    f"which puts it in {where[0]} and in {where[1]}; one parameter follows one "
                    "schedule: tie parameters within one task, or within the backbone"
                )
                raise ValueError(msg)
            continue
        placed[id(parameter)] = (group, name)
        if group is not None:
            members[group].append(parameter)
        else:
            backbone.append(parameter)
            backbone_names.append(name)

    empty = [task for task, params in members.items() if not params]
    if empty:
        shown = ", ".join(f"{t!r} (looked for {patterns[t]!r})" for t in empty)
        names = [name for name, _ in model.named_parameters()]
        examples = (
            f"parameter names look like {_shown(names, limit=3)}"
            if names
            else "the model has no parameters"
        )
        msg = f"tasks match no parameter: {shown}; {examples}"
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
