"""Optimizers and the `LRShim` scheduler, with the names of the original tml module.

`compute_lr` is importable from here without torch. The torch adapters (`LRShim`,
`get_optimizer_class`, `build_optimizer`, `build_multi_task_optimizer`) are loaded on
first use and need the `torch` extra: `pip install "tml-optimizers[torch]"`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tml.optimizers import _TORCH_NAMES, _torch_adapter, _torch_found
from tml.optimizers.schedule import compute_lr

if TYPE_CHECKING:
    from tml.optimizers._torch import (
        LRShim,
        build_multi_task_optimizer,
        build_optimizer,
        get_optimizer_class,
    )

__all__ = ["compute_lr"]
if _torch_found():  # without torch, `import *` takes compute_lr alone
    __all__ += ["LRShim", "build_multi_task_optimizer", "build_optimizer", "get_optimizer_class"]


def __getattr__(name: str) -> Any:
    return _torch_adapter(__name__, name)


def __dir__() -> list[str]:
    return sorted({*globals(), *(_TORCH_NAMES if _torch_found() else ())})
