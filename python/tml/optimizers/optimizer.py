"""Optimizers and the `LRShim` scheduler, with the names of the original tml module.

`compute_lr` is importable from here without torch. The torch adapters (`LRShim`,
`get_optimizer_class`, `build_optimizer`, `build_multi_task_optimizer`) are loaded on
first use and need the `torch` extra: `pip install "tml-optimizers[torch]"`.
"""

from __future__ import annotations

from typing import Any

from tml.optimizers.schedule import compute_lr

__all__ = [
    "LRShim",
    "build_multi_task_optimizer",
    "build_optimizer",
    "compute_lr",
    "get_optimizer_class",
]

_TORCH_NAMES = ("LRShim", "build_multi_task_optimizer", "build_optimizer", "get_optimizer_class")


def __getattr__(name: str) -> Any:
    if name not in _TORCH_NAMES:
        msg = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(msg)
    try:
        from tml.optimizers import _torch
    except ImportError as e:
        if e.name != "torch":
            raise
        msg = f"tml.optimizers.optimizer.{name} needs torch: pip install 'tml-optimizers[torch]'"
        raise ImportError(msg) from e
    return getattr(_torch, name)
