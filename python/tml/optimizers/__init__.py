"""Learning-rate schedules and optimizers with the API of the original tml.optimizers.

`compute_lr`, `Schedule` and `Schedules` work without torch. The torch adapters
(`LRShim`, `build_optimizer`, `build_multi_task_optimizer`, `get_optimizer_class`) are
importable from here and from `tml.optimizers.optimizer`; they are loaded on first use,
so `import tml.optimizers` does not import torch, and they need the `torch` extra.
"""

from __future__ import annotations

import importlib.util
import sys
from typing import TYPE_CHECKING, Any

from tml.optimizers.config import LearningRate, OptimizerConfig
from tml.optimizers.schedule import (
    Schedule,
    Schedules,
    compute_lr,
    get_num_threads,
    set_num_threads,
)

if TYPE_CHECKING:  # what type checkers see of the names __getattr__ loads
    from tml.optimizers._torch import LRShim as LRShim
    from tml.optimizers._torch import build_multi_task_optimizer as build_multi_task_optimizer
    from tml.optimizers._torch import build_optimizer as build_optimizer
    from tml.optimizers._torch import get_optimizer_class as get_optimizer_class

# The torch adapters stay out of __all__: `from tml.optimizers import *` works without torch.
__all__ = [
    "LearningRate",
    "OptimizerConfig",
    "Schedule",
    "Schedules",
    "compute_lr",
    "get_num_threads",
    "set_num_threads",
]

_TORCH_NAMES = ("LRShim", "build_multi_task_optimizer", "build_optimizer", "get_optimizer_class")


def _torch_found() -> bool:
    """Whether torch can be imported, as far as finding it tells (it is not imported).

    Without it the adapters are left out of `dir()` and `import *`, so that listing
    the module (`help`, `inspect.getmembers`) works; asking for one by name still
    raises the ImportError that names the extra.
    """
    if "torch" in sys.modules:
        return sys.modules["torch"] is not None
    try:
        return importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):
        return False


def _torch_adapter(module: str, name: str) -> Any:
    """`tml.optimizers._torch.<name>`, or an ImportError naming the `torch` extra.

    Args:
        module: the module the name was asked of, for the message.
        name: one of `_TORCH_NAMES`.

    Raises:
        AttributeError: `name` is not a torch adapter.
        ImportError: torch is not installed.
    """
    if name not in _TORCH_NAMES:
        msg = f"module {module!r} has no attribute {name!r}"
        raise AttributeError(msg)
    try:
        from tml.optimizers import _torch
    except ImportError as e:
        if e.name is not None and e.name != "torch" and not e.name.startswith("torch."):
            raise
        msg = (
            f"{module}.{name} needs torch, which is not installed: install the torch extra, "
            "pip install 'tml-optimizers[torch]'"
        )
        raise ImportError(msg, name="torch") from e
    return getattr(_torch, name)


def __getattr__(name: str) -> Any:
    return _torch_adapter(__name__, name)


def __dir__() -> list[str]:
    return sorted({*globals(), *(_TORCH_NAMES if _torch_found() else ())})
