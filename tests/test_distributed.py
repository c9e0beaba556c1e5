"""Two-process torch.distributed runs (gloo, CPU, loopback).

The same learning rates on every rank, and a run resumed from a checkpoint continues
exactly as an uninterrupted one.

Three runs of two processes each, one after the other: steps [0, K) then a checkpoint
of (model, optimizer, scheduler) and exit; a fresh pair of processes that loads the
checkpoint and trains steps [K, TOTAL); and an uninterrupted run of [0, TOTAL). Every
wait is bounded, and every process is ended before the test returns.
"""

from __future__ import annotations

import faulthandler
import json
import os
import socket
import sys
import time
import warnings
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel

from tests.torch_support import oracle_lr
from tml.optimizers.config import OptimizerConfig
from tml.optimizers.optimizer import build_optimizer

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not dist.is_available() or not dist.is_gloo_available(),
        reason="needs torch.distributed with the gloo backend",
    ),
]

WORLD = 2
K = 5
TOTAL = 12
RUN_TIMEOUT_S = 120.0  # one run of two processes, start to finish
COLLECTIVE_TIMEOUT = timedelta(seconds=60)
CONFIG = {
    "adam": {"lr": 0.01},
    "learning_rate": {
        "linear_ramp_to_cosine": {
            "learning_rate": 0.05,
            "final_learning_rate": 0.001,
            "num_ramp_steps": 3,
            "final_num_steps": 10,
        }
    },
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def batch(step: int, rank: int) -> tuple[Any, Any]:
    """The same data for a (step, rank) in every run, so runs can be compared exactly."""
    generator = torch.Generator().manual_seed(1000 * step + rank)
    x = torch.randn(8, 4, generator=generator)
    return x, x.sum(dim=1, keepdim=True)


def worker(rank: int, port: int, start: int, stop: int, checkpoint: str, prefix: str) -> None:
    """One rank: trains steps [start, stop) and writes what it saw to `{prefix}-{rank}.json`.

    Loads the checkpoint when start > 0 and saves one after step K.
    """
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    if Path("/sys/class/net/lo").exists():
        os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")  # keep gloo on loopback
    warnings.simplefilter("error")  # a warning in a rank fails the test, as in the parent
    faulthandler.enable()  # a crash in a rank prints its Python stack
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=WORLD, timeout=COLLECTIVE_TIMEOUT)
    try:
        result = train(rank, start, stop, checkpoint)
        Path(f"{prefix}-{rank}.json").write_text(json.dumps(result))
        dist.barrier()
    finally:
        dist.destroy_process_group()
    # torch 2.13's gloo backend sometimes aborts ("terminate called without an active
    # exception") while the interpreter shuts down, after all the work is done: measured
    # here in 9 of 60 two-rank runs of plain torch DDP, 0 of 60 when ranks leave like
    # this. The results are written and the group destroyed; skip only the teardown.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def train(rank: int, start: int, stop: int, checkpoint: str) -> dict[str, Any]:
    torch.manual_seed(0)
    model = DistributedDataParallel(
        torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    )
    optimizer, scheduler = build_optimizer(model, OptimizerConfig.model_validate(CONFIG))
    if start > 0:
        state = torch.load(checkpoint, weights_only=True)
        model.module.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
    used = []
    for step in range(start, stop):
        x, y = batch(step, rank)
        loss = torch.nn.functional.mse_loss(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        used.append(float.hex(optimizer.param_groups[0]["lr"]))
        optimizer.step()
        scheduler.step()
    if rank == 0 and start == 0 and stop < TOTAL:
        state = {
            "model": model.module.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
        }
        torch.save(state, checkpoint)
    everyone: list[Any] = [None] * WORLD
    dist.all_gather_object(everyone, used)
    params = [
        float.hex(v) for p in model.module.parameters() for v in p.detach().flatten().tolist()
    ]
    return {
        "lrs": used,
        "all_ranks": everyone,
        "last_epoch": scheduler.last_epoch,
        "params": params,
    }


def run(tmp_path: Path, name: str, start: int, stop: int) -> list[dict[str, Any]]:
    """Runs `worker` on WORLD processes with a deadline; returns each rank's output."""
    checkpoint = str(tmp_path / "checkpoint.pt")
    outs = [tmp_path / f"{name}-{rank}.json" for rank in range(WORLD)]
    context = mp.start_processes(  # type: ignore[attr-defined]
        worker,
        args=(free_port(), start, stop, checkpoint, str(tmp_path / name)),
        nprocs=WORLD,
        join=False,
        start_method="spawn",
    )
    deadline = time.monotonic() + RUN_TIMEOUT_S
    try:
        # join() raises if a rank failed (ending the others), True once all are done.
        while not context.join(timeout=max(0.1, min(5.0, deadline - time.monotonic()))):
            if time.monotonic() > deadline:
                pytest.fail(f"run {name!r} did not finish within {RUN_TIMEOUT_S} s")
    finally:
        for process in context.processes:
            if process.is_alive():
                process.terminate()
                process.join(10)
            if process.is_alive():
                process.kill()
                process.join(10)
    return [json.loads(out.read_text()) for out in outs]


def test_ranks_agree_and_resume_is_exact(tmp_path: Path) -> None:
    first = run(tmp_path, "first", 0, K)
    assert (tmp_path / "checkpoint.pt").exists()
    resumed = run(tmp_path, "resumed", K, TOTAL)
    full = run(tmp_path, "full", 0, TOTAL)

    for outputs in (first, resumed, full):
        # Every rank saw the same learning rate at every step...
        assert outputs[0]["lrs"] == outputs[1]["lrs"]
        assert outputs[0]["all_ranks"] == outputs[1]["all_ranks"] == [o["lrs"] for o in outputs]
        # ...and DDP kept the replicas identical.
        assert outputs[0]["params"] == outputs[1]["params"]

    schedule = CONFIG["learning_rate"]
    want = [float.hex(oracle_lr(schedule, step)) for step in range(TOTAL)]
    assert full[0]["lrs"] == want
    assert first[0]["lrs"] + resumed[0]["lrs"] == full[0]["lrs"]
    assert resumed[0]["last_epoch"] == full[0]["last_epoch"] == TOTAL
    # The checkpoint carried everything: the resumed model ends where the full run does.
    assert resumed[0]["params"] == full[0]["params"]
