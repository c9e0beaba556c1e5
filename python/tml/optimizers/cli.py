"""`tml-lr`: evaluate the learning-rate schedules of a YAML config and show them.

Usage::

    tml-lr examples/multitask_lr.yaml                  # tables and a terminal plot
    tml-lr run.yaml --steps 2_000_000 --log-y          # a longer range, log-scale plot
    tml-lr run.yaml --csv lr.csv --npy lr.npy --png lr.png
    tml-lr run.yaml --no-env                           # $VAR read as written
    tml-lr run.yaml --steps 50_000_000 --fast          # fast mode: SIMD cos/pow kernels

The file may hold one `LearningRate` (any kind), an `OptimizerConfig`, a
`MultiTaskLearningRates` (`tower_learning_rates` plus `backbone_learning_rate`), an
optimizer config holding a `multi_task_learning_rates` or `single_task_learning_rate`
section (the original recap layout), a training config with such an `optimizer:`
section or with such a section beside its `optimizer:`, or a plain mapping name ->
`LearningRate`.

The file is read by `tml.core.config.load_config_from_yaml`: `$VAR` / `${VAR}` in
scalar values are substituted from the environment after parsing (never in keys,
never as YAML structure; `--no-env` turns it off), and a file larger than 64 MiB,
whose aliases expand past 1,000,000 nodes, nested more than 100 levels or holding an
integer of more than 1,000 digits is refused before it costs time or memory, and so is
a key written twice in one mapping.

Every schedule is evaluated at every step of the range by the compiled kernel
(`Schedules`, one call per block of a few million values, so memory stays bounded on
ranges of tens of millions of steps), at most 100,000,000 steps per schedule (a longer
`--steps` needs `--every`; a longer default range takes the least stride that fits).
The default range runs 10% past the step from which every
schedule is constant (three periods of a periodic one; one that changes forever, such
as an exponential decay, is shown until it stays under a tenth of its peak, or through
its third restart when it never does). The summary gives per group the kind, the peak
and where it is first reached, the value at the last step and where the curve goes flat
(or its period), from the compiled schedules' metadata, so every kind is described
alike.

User errors (missing or oversized file, bad YAML, an invalid field, a bad option, an
output that cannot be written) print one line per problem, naming the YAML path of
the bad field or the file, and exit with status 2; never a traceback. The output files
are written under temporary names and renamed once complete: a failed or interrupted
run leaves none. User data in a message is cut to a few dozen characters before it is
rendered.

The parts live in the private package `tml.optimizers._cli`; this module holds the
options and `main`.
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, NoReturn

import numpy as np

from tml import _core
from tml.optimizers._cli.errors import EXIT_USAGE, PROG, UserError
from tml.optimizers._cli.evaluation import MAX_STEPS, Writer, evaluate, step_range
from tml.optimizers._cli.loading import ACCEPTED_SHAPES, load_groups
from tml.optimizers._cli.output import cannot_write
from tml.optimizers._cli.png import import_matplotlib, write_png
from tml.optimizers._cli.render import (
    AXIS_LABEL_WIDTH,
    MAX_CHART_SERIES,
    MAX_HEIGHT,
    MAX_WIDTH,
    default_table_steps,
    format_step,
    plot_kind,
    plot_style,
    render_plot,
    strip_indent,
    summary_table,
    values_table,
)
from tml.optimizers.schedule import Schedules

__all__ = ["main"]

# Names --png refuses: the file would hold PNG data under another format's name. Any
# other name is written (lr.png, a name without a suffix, /dev/stdout).
_OTHER_IMAGE_SUFFIXES = frozenset(
    (".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp", ".svg", ".pdf", ".eps", ".ps")
)
# A CSV beyond this many rows is written at a stride unless --csv-every says otherwise.
_MAX_CSV_ROWS = 1_000_000
# Steps --at may list: a table wider than any screen past this.
_MAX_AT = 1000
# An error line is cut to this many characters (user data in it is cut long before).
_MAX_LINE = 500


def _arg_text(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."


def _whole_number(text: str) -> int:
    """`5000`, `5_000`, `5e3` (an integral float), at most the largest step."""
    try:
        value = int(text)
    except ValueError:
        try:
            number = float(text)
        except ValueError:
            msg = f"not a step: {_arg_text(text)!r}"
            raise argparse.ArgumentTypeError(msg) from None
        if not number.is_integer():
            msg = f"not a whole step: {_arg_text(text)!r}"
            raise argparse.ArgumentTypeError(msg) from None
        value = int(number)
    if value > np.iinfo(np.int64).max:
        msg = f"{_arg_text(text)} is beyond the largest step, 2**63 - 1"
        raise argparse.ArgumentTypeError(msg)
    return value


def _at_least(text: str, least: int, rule: str) -> int:
    value = _whole_number(text)
    if value < least:
        msg = f"{rule}, got {_arg_text(text)}"
        raise argparse.ArgumentTypeError(msg)
    return value


def _step_value(text: str) -> int:
    """An argparse type for steps: `5000`, `5_000`, `5e3` (an integral float)."""
    return _at_least(text, 0, "steps are >= 0")


def _positive(text: str) -> int:
    """An argparse type for a count or stride, >= 1."""
    return _at_least(text, 1, "must be >= 1")


def _section(text: str) -> str:
    if not text:
        msg = "expected a key of the file (a.b for a nested one), got ''"
        raise argparse.ArgumentTypeError(msg)
    return text


def _at_most(most: int) -> Callable[[str], int]:
    """An argparse type for a count in 1..most (a plot size, say)."""

    def parse(text: str) -> int:
        value = _positive(text)
        if value > most:
            msg = f"at most {most:,}, got {_arg_text(text)}"
            raise argparse.ArgumentTypeError(msg)
        return value

    return parse


def _step_list(text: str) -> list[int]:
    parts = text.split(",", _MAX_AT)  # never more than _MAX_AT + 1 parts, whatever the text
    if len(parts) > _MAX_AT:
        msg = f"at most {_MAX_AT:,} steps"
        raise argparse.ArgumentTypeError(msg)
    if not all(part.strip() for part in parts):
        msg = f"expected steps separated by commas, got {text[:40]!r} (an empty item)"
        raise argparse.ArgumentTypeError(msg)
    return [_step_value(part.strip()) for part in parts]


class _Parser(argparse.ArgumentParser):
    """argparse, with a bad option reported in one line (no usage block above it)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The options of `tml-lr`."""
    parser = _Parser(
        prog=PROG,
        description=(
            "Evaluate the learning-rate schedules in a YAML config at every step of a range\n"
            "and show them: a summary per group (kind, peak, final value, where it goes\n"
            "flat or its period), learning rates at chosen steps and a terminal plot;\n"
            "optionally write CSV, .npy and PNG. $VAR / ${VAR} in the file's values are\n"
            "substituted from the environment after parsing (not in keys; --no-env: never).\n"
            "Exit status 2 on a bad file or option, with the YAML path of each bad field; a\n"
            "file over 64 MiB, with aliases expanding past 1,000,000 nodes or nested over\n"
            "100 levels is refused."
        ),
        epilog=ACCEPTED_SHAPES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "config", help="YAML file ($VAR / ${VAR} in its values are taken from the environment)"
    )
    parser.add_argument(
        "--section", type=_section, metavar="A.B", help="evaluate this part of the file only"
    )
    parser.add_argument(
        "--no-env",
        action="store_true",
        help="do not substitute $VAR / ${VAR}: read them as written",
    )
    parser.add_argument(
        "--fast",
        action="store_true",
        help="fast mode (exact=False): vectorised cos/pow kernels, every value within 4 ulp "
        "of the schedule's largest rate of the bitwise-exact one",
    )
    rng = parser.add_argument_group("steps")
    rng.add_argument(
        "--steps",
        type=_step_value,
        metavar="N",
        help="evaluate through step N, inclusive (default: 10%% past the step from which every "
        f"schedule is constant; three periods of a periodic one); at most {MAX_STEPS:,} steps "
        "are evaluated per schedule: a longer --steps needs --every",
    )
    rng.add_argument("--start", type=_step_value, default=0, metavar="S", help="first step (0)")
    rng.add_argument(
        "--every",
        type=_positive,
        metavar="K",
        help=f"stride (1; for a default range over {MAX_STEPS:,} steps, the least that fits)",
    )
    rng.add_argument(
        "--at",
        type=_step_list,
        metavar="S1,S2,...",
        help="steps for the 'lr at step' table, at most "
        f"{_MAX_AT:,} (default: round steps across the range)",
    )
    show = parser.add_argument_group("display")
    show.add_argument("--no-table", action="store_true", help="do not print the tables")
    show.add_argument("--no-plot", action="store_true", help="do not print the terminal plot")
    show.add_argument(
        "--plot",
        choices=("auto", "chart", "strips"),
        default="auto",
        help="chart: all schedules in one chart; strips: one bar strip per group; auto "
        f"(default): a chart for up to {MAX_CHART_SERIES} distinct schedules, strips beyond",
    )
    show.add_argument(
        "--width",
        type=_at_most(MAX_WIDTH),
        help=f"plot width in characters, at most {MAX_WIDTH:,} (terminal width)",
    )
    show.add_argument(
        "--height",
        type=_at_most(MAX_HEIGHT),
        default=16,
        help=f"plot height in lines, at most {MAX_HEIGHT} (16)",
    )
    show.add_argument("--log-y", action="store_true", help="log-scale learning-rate axis")
    show.add_argument(
        "--color", choices=("auto", "always", "never"), default="auto", help="colored plot markers"
    )
    out = parser.add_argument_group("outputs")
    out.add_argument("--csv", metavar="PATH", help="write step,<group>,... rows")
    out.add_argument(
        "--csv-every",
        type=_positive,
        metavar="K",
        help=f"write every K-th evaluated step to the CSV (default: 1, or a stride keeping it "
        f"under {_MAX_CSV_ROWS:,} rows)",
    )
    out.add_argument(
        "--npy",
        metavar="PATH",
        help="write the (groups, steps) float64 array; column j is step start + j * every",
    )
    out.add_argument("--png", metavar="PATH", help="write a PNG chart (needs matplotlib)")
    return parser


def run(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    """The whole job once the options are parsed; raises UserError for user mistakes."""
    if args.png is not None:
        if Path(args.png).suffix.lower() in _OTHER_IMAGE_SUFFIXES:
            msg = f"--png writes a PNG image: name the file .png, got {args.png!r}"
            raise UserError(msg)
        import_matplotlib()  # fail before doing any work
    groups = load_groups(args.config, args.section, substitute_env=not args.no_env)
    if not groups.names:
        msg = f"{args.config}: {groups.shape} with no learning-rate schedules in it"
        raise UserError(msg)
    counts = collections.Counter(groups.names)
    repeated = sorted(n for n, k in counts.items() if k > 1)
    if repeated:  # YAML keys 1 and "1" are both the group "1"
        msg = f"{args.config}: group names repeat: {', '.join(map(repr, repeated))}"
        raise UserError(msg)
    schedules = Schedules(dict(zip(groups.names, groups.configs, strict=True)), exact=not args.fast)
    names, configs = groups.names, schedules.configs
    rng = step_range(schedules, args.start, args.every, args.steps)

    term_columns = shutil.get_terminal_size((100, 24)).columns
    if plot_kind(args.plot, configs) == "chart":
        margin = AXIS_LABEL_WIDTH + 2
    else:
        margin = strip_indent(names) + 1
    plot_width = args.width or max(20, min(term_columns - margin, 110))
    csv_every = args.csv_every
    if csv_every is None:
        csv_every = max(1, -(-rng.count // _MAX_CSV_ROWS))
    writer = Writer(names, rng, args.csv, csv_every, args.npy, args.png)
    try:
        ev = evaluate(schedules, rng, plot_width, writer)
        if writer.png is not None:
            write_png(writer.png, names, configs, schedules, rng, args.log_y, args.config)
        writer.close()
    except BaseException:  # a failure or Ctrl-C: no partial file is left
        writer.abort()
        raise

    where = f" [{args.section}]" if args.section else ""
    span = f"steps {format_step(rng.start)} to {format_step(rng.last)}"
    span += f" every {format_step(rng.every)}" if rng.every > 1 else ""
    plural = "s" if len(names) > 1 else ""
    mode = ""
    if args.fast:  # without FMA, fast mode runs the exact formulas: say so
        mode = (
            " (fast mode)" if _core._fast_kernels() else " (fast mode: no FMA here, exact values)"
        )
    lines = [
        f"{args.config}{where}: {groups.shape}, {len(names)} schedule{plural}{mode}",
        f"{span}: {rng.count:,} step{'s' if rng.count > 1 else ''} x {len(names)} = "
        f"{rng.count * len(names):,} values, evaluated in {ev.seconds * 1e3:.1f} ms",
    ]
    if not args.no_table:
        at = args.at if args.at else default_table_steps(rng, names, term_columns)
        at_values = schedules(np.asarray(at, dtype=np.int64)) if at else np.empty((len(names), 0))
        lines += ["", *summary_table(names, schedules, ev)]
        lines += ["", *values_table(names, at, at_values)]
    if not args.no_plot:
        style = plot_style(args.color, stdout)
        plot = render_plot(names, configs, rng, ev, args.plot, args.height, args.log_y, style)
        lines += ["", *plot]

    written = []
    if args.csv is not None:
        # --csv-every counts the evaluated steps, which are --every steps apart.
        stride = f", every {csv_every * rng.every:,} steps" if csv_every > 1 else ""
        written.append(f"wrote {args.csv} ({writer.csv_rows:,} rows{stride})")
    if args.npy is not None:
        written.append(f"wrote {args.npy} (float64 array of shape ({len(names)}, {rng.count}))")
    if args.png is not None:
        written.append(f"wrote {args.png}")
    if written:
        lines += ["", *written]
    _show(lines, stdout)
    if args.every is None and rng.every > 1:
        print(
            f"{PROG}: note: the default range is evaluated every {rng.every:,} steps to stay "
            f"within {MAX_STEPS:,} per schedule; --steps and --every choose another",
            file=stderr,
        )
    if args.csv is not None and args.csv_every is None and csv_every > 1:
        print(
            f"{PROG}: note: {args.csv} holds one step in {csv_every * rng.every:,} to stay under "
            f"{_MAX_CSV_ROWS:,} rows; --csv-every 1 writes them all",
            file=stderr,
        )
    return 0


def _show(lines: Sequence[str], stdout: IO[str]) -> None:
    """Writes the report; a failure other than a closed pipe is a `UserError`."""
    try:
        stdout.write("".join(f"{line}\n" for line in lines))
        stdout.flush()  # a full disk shows here, not in the flush at exit
    except BrokenPipeError:
        raise  # `tml-lr x.yaml | head`: main stops quietly
    except OSError as e:
        _silence(stdout)  # what its buffer holds would fail again at exit
        where = "standard output"
        raise cannot_write(where, e) from None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `tml-lr` and `python -m tml.optimizers`.

    Args:
        argv: the arguments (without the program name); `sys.argv[1:]` when None.

    Returns:
        0 on success, 2 for a usage or input error (reported on stderr, no traceback).
    """
    parser = build_parser()
    try:
        args = parser.parse_args(None if argv is None else list(argv))
    except SystemExit as e:  # argparse reports its own errors (status 2) and --help (0)
        return int(e.code) if isinstance(e.code, int) else EXIT_USAGE
    try:
        return run(args, sys.stdout, sys.stderr)
    except UserError as e:
        for line in e.lines:
            text = line if len(line) <= _MAX_LINE else line[: _MAX_LINE - 3] + "..."
            print(f"{PROG}: error: {text}", file=sys.stderr)
        if e.detail:
            print(e.detail, file=sys.stderr)
        return EXIT_USAGE
    except MemoryError:
        # The loader's limits keep the input small; a range or a group count this
        # machine cannot hold still gets a sentence, not a traceback.
        print(
            f"{PROG}: error: out of memory (try a smaller --steps or a larger --every)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    except BrokenPipeError:
        # `tml-lr x.yaml | head`: the reader left; stop quietly, as Unix tools do.
        _silence(sys.stdout)
        return 0
    except KeyboardInterrupt:
        return 130


def _silence(stream: IO[str]) -> None:
    """Points the stream's file descriptor at /dev/null: nothing left to fail at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
    except (OSError, ValueError, AttributeError):
        pass  # not a real file (tests, notebooks): nothing left to flush
