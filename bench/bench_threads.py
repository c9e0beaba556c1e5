"""Threads: many Python threads evaluating at once, and small calls on one thread.

Batch calls split large inputs across one pool of threads kept for the process (sized
by the affinity mask, started on first need). A call that finds the pool busy, because
another Python thread is evaluating, runs on its own thread, so concurrent callers
never oversubscribe the cores with helpers; a small call never uses another thread.

    .venv/bin/python bench/bench_threads.py            # about 20 s
    .venv/bin/python bench/bench_threads.py --quick    # smoke run, a few seconds

Rows (ratios of min times, interleaved rounds):

- 8 Python threads each calling `compute_lr(cfg, np.arange(1e6))` at once, against
  the same 8 calls one after another: at most 1.0x (no slower in total).
- One small call (`np.arange(1000)`) against starting and joining one thread: a
  thread start would dominate it, and it pays none (target: at most 0.5x).
- Per-call time from 1e3 to 1e6 steps on 1 thread and on every usable core: where
  the pool starts to help.

Every result is checked bitwise against a single-thread evaluation.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import harness
from harness import Bench, measure

harness.use_source_tree()

from tml.optimizers import compute_lr, get_num_threads, set_num_threads  # noqa: E402

CONFIG = {
    "linear_ramp_to_cosine": {
        "learning_rate": 1e-3,
        "final_learning_rate": 1e-5,
        "num_ramp_steps": 100_000,
        "final_num_steps": 900_000,
    }
}
CALLERS = 8
SIZES = (1_000, 10_000, 100_000, 1_000_000)


def concurrently(fn: Callable[[], Any], callers: int) -> Callable[[], list[Any]]:
    """A call that runs `fn` on `callers` Python threads at once and waits for all."""

    def run() -> list[Any]:
        results: list[Any] = [None] * callers
        barrier = threading.Barrier(callers)

        def work(i: int) -> None:
            barrier.wait()
            results[i] = fn()

        threads = [threading.Thread(target=work, args=(i,)) for i in range(callers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return results

    return run


def one_after_another(fn: Callable[[], Any], calls: int) -> Callable[[], list[Any]]:
    return lambda: [fn() for _ in range(calls)]


def thread_start() -> None:
    t = threading.Thread(target=lambda: None)
    t.start()
    t.join()


def main(argv: Sequence[str] | None = None) -> int:
    parser = harness.parser(__doc__)
    args = parser.parse_args(argv)
    bench = Bench("threads", args, series_titles={"sizes": "compute_lr(cfg, np.arange(n))"})
    budget = 0.3 if args.quick else 3.0
    n = 200_000 if args.quick else 1_000_000
    steps = np.arange(n)
    cores = get_num_threads()
    set_num_threads(1)
    want = compute_lr(CONFIG, steps)
    set_num_threads(0)

    def one_call() -> np.ndarray:
        return compute_lr(CONFIG, steps)

    timings, results = measure(
        {
            "8 at once": concurrently(one_call, CALLERS),
            "8 one after another": one_after_another(one_call, CALLERS),
        },
        budget,
        min_repeats=3,
    )
    for name, got in results.items():
        for i, values in enumerate(got):
            bench.checks.bitwise(f"{name}, call {i}", values, want)
    bench.compare(
        "threads", "8 Python threads", harness.fmt_size(n), "8 at once", timings["8 at once"]
    ).over("8 one after another", timings["8 one after another"], "bitwise", 1.0)

    small = np.arange(1_000)
    small_want = compute_lr(CONFIG, small)
    timings, results = measure(
        {"small call": lambda: compute_lr(CONFIG, small), "thread start": thread_start},
        budget,
        sample_s=0.002,
    )
    bench.checks.bitwise("small call", results["small call"], small_want)
    bench.compare("threads", "small call", "1e3", "compute_lr", timings["small call"]).over(
        "thread start + join", timings["thread start"], "bitwise", 0.5
    )

    for size in SIZES if not args.quick else SIZES[:3]:
        arr = np.arange(size)
        for threads in sorted({1, cores}):
            set_num_threads(threads)
            timings, results = measure({"call": lambda a=arr: compute_lr(CONFIG, a)}, budget / 4)
            set_num_threads(0)
            bench.checks.bitwise(f"n={size}, {threads} threads", results["call"], want[:size])
            bench.point(
                "sizes",
                f"{threads} thread(s)",
                harness.fmt_size(size),
                timings["call"],
                elements=size,
            )
    bench.notes.append(f"{cores} usable cores; the pool has {cores - 1} helper threads.")
    return bench.finish()


if __name__ == "__main__":
    sys.exit(main())
