"""LRShim inside the frameworks people train with: PyTorch Lightning and the transformers Trainer.

Each test runs the README's recipe on a tiny local model and synthetic data (nothing is
downloaded): the learning rates of every optimizer step equal the oracle's, and a run
resumed from the framework's own checkpoint uses bitwise the learning rates of an
uninterrupted one. Skipped where the framework is not installed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
import torch

from tests.torch_support import expected, hexes
from tml.optimizers import LRShim

BODY = {
    "linear_ramp_to_cosine": {
        "learning_rate": 0.02,
        "final_learning_rate": 0.001,
        "num_ramp_steps": 3,
        "final_num_steps": 10,
    }
}
HEAD = {"linear_ramp_to_constant": {"learning_rate": 0.01, "num_ramp_steps": 4}}
LR_DICT = {"body": BODY, "head": HEAD}
TOTAL, CUT = 12, 5  # steps in all; the checkpoint is taken after CUT steps, an epoch


def oracle_lrs(steps: range) -> list[list[str]]:
    return [hexes(expected(LR_DICT.values(), s)) for s in steps]


def tensors(count: int = 8 * CUT) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(count, 4, generator=generator)
    return x, x.sum(dim=1, keepdim=True)


def two_groups(body: torch.nn.Module, head: torch.nn.Module) -> torch.optim.Adam:
    # The algorithm's lr is unused: LRShim sets every group's lr from its schedule.
    return torch.optim.Adam([{"params": body.parameters()}, {"params": head.parameters()}], lr=0.0)


# --------------------------------------------------------------------------- Lightning


def lightning_run(
    tmp_path: Path, max_steps: int, ckpt_dir: Path, ckpt_path: str | None = None
) -> Any:
    pl = pytest.importorskip("lightning.pytorch")

    class Regressor(pl.LightningModule):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            super().__init__()
            torch.manual_seed(0)
            self.body = torch.nn.Linear(4, 8)
            self.head = torch.nn.Linear(8, 1)

        def training_step(self, batch: Any, *_: Any) -> torch.Tensor:
            x, y = batch
            return torch.nn.functional.mse_loss(self.head(torch.tanh(self.body(x))), y)

        def configure_optimizers(self) -> Any:
            optimizer = two_groups(self.body, self.head)
            scheduler = LRShim(optimizer, LR_DICT)
            return {
                "optimizer": optimizer,
                "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
            }

    class Recorder(pl.Callback):  # type: ignore[misc, name-defined]
        """The learning rate of each group at each optimizer step."""

        def __init__(self) -> None:
            self.lrs: list[list[str]] = []

        def on_before_optimizer_step(self, *args: Any) -> None:
            optimizer = args[-1]  # called with (trainer, module, optimizer)
            self.lrs.append(hexes(group["lr"] for group in optimizer.param_groups))

    recorder = Recorder()
    monitor = pl.callbacks.LearningRateMonitor(logging_interval="step")
    checkpoints = pl.callbacks.ModelCheckpoint(
        dirpath=ckpt_dir, every_n_train_steps=CUT, save_top_k=-1
    )
    trainer = pl.Trainer(
        max_steps=max_steps,
        accelerator="cpu",
        devices=1,
        logger=pl.loggers.CSVLogger(tmp_path / "logs"),
        callbacks=[recorder, monitor, checkpoints],
        log_every_n_steps=1,
        enable_progress_bar=False,
        enable_model_summary=False,
        deterministic=True,
        default_root_dir=tmp_path,
    )
    x, y = tensors()
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=8)
    trainer.fit(Regressor(), data, ckpt_path=ckpt_path)
    return recorder, monitor, trainer


@pytest.mark.slow
# lightning 2.6's pytree helper against torch 2.13: not ours to fix.
@pytest.mark.filterwarnings("ignore:`isinstance\\(treespec, LeafSpec\\)` is deprecated")
# The resumed run writes its checkpoints where the first one did, as a user's would.
@pytest.mark.filterwarnings("ignore:Checkpoint directory .* exists and is not empty")
def test_lightning_steps_resumes_bit_identically_and_monitors_group_names(
    tmp_path: Path,
) -> None:
    full, monitor, _ = lightning_run(tmp_path / "full", TOTAL, tmp_path / "full-ckpt")
    first, _, _ = lightning_run(tmp_path / "cut", CUT, tmp_path / "ckpt")
    ckpt = next((tmp_path / "ckpt").glob(f"*step={CUT}.ckpt"))
    rest, _, trainer = lightning_run(tmp_path / "resumed", TOTAL, tmp_path / "ckpt", str(ckpt))

    assert full.lrs == oracle_lrs(range(TOTAL))
    assert first.lrs + rest.lrs == full.lrs
    assert trainer.lr_scheduler_configs[0].scheduler.last_epoch == TOTAL
    # LearningRateMonitor names each series by the group's "name", which LRShim sets.
    assert sorted(monitor.lrs) == ["lr-Adam/body", "lr-Adam/head"]
    assert hexes(monitor.lrs["lr-Adam/body"]) == [lrs[0] for lrs in full.lrs]
    assert hexes(monitor.lrs["lr-Adam/head"]) == [lrs[1] for lrs in full.lrs]


# --------------------------------------------------------------------------- transformers


def hf_run(
    tmp_path: Path, max_steps: int, resume: str | None = None
) -> tuple[list[list[str]], Any]:
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("accelerate")

    class Regressor(torch.nn.Module):
        """A plain module the Trainer accepts: its forward returns the loss."""

        def __init__(self) -> None:
            super().__init__()
            torch.manual_seed(0)
            self.body = torch.nn.Linear(4, 8)
            self.head = torch.nn.Linear(8, 1)

        def forward(self, x: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
            prediction = self.head(torch.tanh(self.body(x)))
            return {"loss": torch.nn.functional.mse_loss(prediction, labels)}

    class Recorder(transformers.TrainerCallback):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            self.lrs: list[list[str]] = []

        def on_pre_optimizer_step(self, *_: Any, **kwargs: Any) -> None:
            self.lrs.append(hexes(g["lr"] for g in kwargs["optimizer"].param_groups))

    x, y = tensors()
    dataset = [{"x": a, "labels": b} for a, b in zip(x, y, strict=True)]
    model = Regressor()
    optimizer = two_groups(model.body, model.head)
    scheduler = LRShim(optimizer, LR_DICT)
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path),
        max_steps=max_steps,
        per_device_train_batch_size=8,
        save_strategy="steps",
        save_steps=CUT,
        logging_steps=1,
        report_to=[],
        use_cpu=True,
        seed=0,
        disable_tqdm=True,
        remove_unused_columns=False,
    )
    recorder = Recorder()
    trainer = transformers.Trainer(
        model=model,
        args=args,
        train_dataset=dataset,
        optimizers=(optimizer, scheduler),
        callbacks=[recorder],
    )
    trainer.train(resume_from_checkpoint=resume)
    return recorder.lrs, trainer


@pytest.mark.slow
def test_transformers_trainer_resumes_bit_identically(tmp_path: Path) -> None:
    full, trainer = hf_run(tmp_path / "full", TOTAL)
    first, _ = hf_run(tmp_path / "cut", CUT)
    rest, resumed = hf_run(
        tmp_path / "resumed", TOTAL, resume=str(tmp_path / "cut" / f"checkpoint-{CUT}")
    )
    assert full == oracle_lrs(range(TOTAL))
    assert first + rest == full
    assert resumed.lr_scheduler.last_epoch == TOTAL
    # The Trainer logs the first group's learning rate of each step as "learning_rate".
    logged = [entry["learning_rate"] for entry in trainer.state.log_history if "loss" in entry]
    assert hexes(logged) == [lrs[0] for lrs in full]
