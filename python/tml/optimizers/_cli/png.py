"""The PNG chart of `tml-lr` (matplotlib, Agg backend only: no pyplot, no display)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tml.optimizers._cli.errors import UserError
from tml.optimizers._cli.evaluation import StepRange
from tml.optimizers._cli.output import OutputFile, cannot_write
from tml.optimizers._cli.render import shorten, unique_schedules
from tml.optimizers.schedule import Schedules

__all__ = ["import_matplotlib", "write_png"]

# Points per schedule in the PNG, on top of every breakpoint (ramp ends, boundaries).
_PNG_POINTS = 2001


def import_matplotlib() -> tuple[Any, Any]:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        msg = "--png needs matplotlib: pip install matplotlib (the plot extra, 'tml-optimizers[plot]')"
        raise UserError(msg) from None
    return Figure, FigureCanvasAgg


def write_png(
    output: OutputFile,
    names: Sequence[str],
    configs: Sequence[dict[str, Any]],
    schedules: Schedules,
    rng: StepRange,
    log_y: bool,
    title: str,
) -> None:
    """A matplotlib chart of every distinct schedule.

    Drawn with the Agg backend only (no pyplot, so no global state and no display
    needed). Each curve is evaluated at evenly spaced steps plus both sides of every
    breakpoint, so corners stay sharp. Written into `output`, which its caller commits.
    """
    figure_cls, canvas_cls = import_matplotlib()
    grid = np.unique(np.rint(np.linspace(0, rng.count - 1, min(rng.count, _PNG_POINTS))))
    corners = np.asarray([b for bps in schedules.breakpoints for b in bps], dtype=np.int64)
    near = rng.position(corners) if corners.size else np.empty(0, dtype=np.int64)
    positions = np.unique(np.concatenate([grid.astype(np.int64), near, np.maximum(near - 1, 0)]))
    steps = rng.start + rng.every * positions
    values = schedules(steps)

    fig = figure_cls(figsize=(11, 5.5), layout="constrained")
    canvas_cls(fig)
    ax = fig.add_subplot()
    styles = ("-", "--", ":", "-.")
    for u, members in enumerate(unique_schedules(configs)):
        label = ", ".join(names[g] for g in members)
        ax.plot(
            steps, values[members[0]], label=shorten(label, 60), linestyle=styles[(u // 10) % 4]
        )
    if log_y and (values > 0).any():
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("learning rate")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False)
    try:
        fig.savefig(output.file, format="png", dpi=120)
    except OSError as e:
        raise cannot_write(output.path, e) from None
