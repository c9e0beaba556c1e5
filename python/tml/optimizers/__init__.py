"""Learning-rate schedules and optimizers with the API of the original tml.optimizers.

`compute_lr`, `Schedule` and `Schedules` work without torch; the torch adapters
(`LRShim`, `build_optimizer`, ...) live in `tml.optimizers.optimizer` and need the
`torch` extra.
"""

from tml.optimizers.config import LearningRate, OptimizerConfig
from tml.optimizers.schedule import (
    Schedule,
    Schedules,
    compute_lr,
    get_num_threads,
    set_num_threads,
)

__all__ = [
    "LearningRate",
    "OptimizerConfig",
    "Schedule",
    "Schedules",
    "compute_lr",
    "get_num_threads",
    "set_num_threads",
]
