"""The process's pool of threads: results never depend on threads, callers or fork().

Large calls are split across a pool of threads started on first need and kept; a call
that finds it busy (another Python thread evaluating) runs on its own thread; a child
process made by fork() starts a fresh pool, since the parent's threads do not exist
there.
"""

from __future__ import annotations

import os
import textwrap
import threading

import numpy as np
import pytest

from tests.oracle import assert_same_bits
from tests.support import run_python
from tml.optimizers import Schedule, Schedules, get_num_threads, set_num_threads

COSINE = {
    "linear_ramp_to_cosine": {
        "learning_rate": 1e-3,
        "final_learning_rate": 1e-5,
        "num_ramp_steps": 10_000,
        "final_num_steps": 900_000,
    }
}
STEPS = np.arange(1_000_000)


def test_results_do_not_depend_on_the_number_of_threads() -> None:
    schedule = Schedule(COSINE)
    before = get_num_threads()
    try:
        set_num_threads(1)
        one = schedule(STEPS)
        set_num_threads(2)
        two = schedule(STEPS)
        set_num_threads(7)  # more threads than cores: still one result
        seven = schedule(STEPS)
    finally:
        set_num_threads(0)
    assert get_num_threads() == before
    assert_same_bits(one, two)
    assert_same_bits(one, seven)


def test_concurrent_callers_get_their_own_results() -> None:
    configs = [
        COSINE,
        {"cosine_decay": {"learning_rate": 0.1, "num_steps": 500_000}},
        {"cyclic": {"learning_rate": 0.0, "max_learning_rate": 1.0, "step_size_up": 777}},
        {"inverse_sqrt": {"learning_rate": 0.5, "num_warmup_steps": 1000}},
    ] * 2
    schedules = [Schedule(c) for c in configs]
    expected = [s(STEPS) for s in schedules]
    results: list[np.ndarray | None] = [None] * len(schedules)
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(schedules))

    def work(i: int) -> None:
        try:
            barrier.wait()
            for _ in range(3):
                results[i] = schedules[i](STEPS)
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(schedules))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    for got, want in zip(results, expected, strict=True):
        assert got is not None
        assert_same_bits(got, want)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork() is POSIX")
def test_a_forked_child_evaluates_with_a_fresh_pool() -> None:
    # The parent's pool is started (a large call) before fork(); the child's large call
    # must neither hang on threads that do not exist there nor differ in its result.
    code = textwrap.dedent(
        """
        import os, sys
        import numpy as np
        from tml.optimizers import Schedules
        s = Schedules([{"cosine_decay": {"learning_rate": 0.1, "num_steps": 10**6}}] * 4)
        steps = np.arange(10**6)
        want = s(steps)
        pid = os.fork()
        if pid == 0:
            got = s(steps)
            os._exit(0 if np.array_equal(got.view(np.uint64), want.view(np.uint64)) else 3)
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status))
        print(np.array_equal(s(steps).view(np.uint64), want.view(np.uint64)))
        """
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0", "True"]


def test_many_schedules_split_across_threads_match_one_by_one() -> None:
    configs = [
        {"cosine_restarts": {"learning_rate": 1.0, "num_steps": 100 + g, "period_multiplier": 2}}
        for g in range(300)
    ]
    many = Schedules(configs)
    steps = np.arange(5000)
    together = many(steps)
    for g in (0, 17, 299):
        assert_same_bits(together[g], Schedule(configs[g])(steps))
