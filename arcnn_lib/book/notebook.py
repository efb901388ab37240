"""What every chapter of the book does first: choose profile, data and device; fix seeds.

The book's notebooks start with::

    from arcnn_lib.book.notebook import setup
    env = setup()

``env.profile`` and ``env.data`` come from ``ARCNN_PROFILE`` and ``ARCNN_DATA`` (read in
:mod:`arcnn_lib.config`), so the same notebook runs the smoke profile on the phantom in CI
and the paper profile on the full RSNA set on a Colab GPU.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pandas as pd
import torch

from ..config import PHANTOM, ARCNNConfig, data_from_env, is_phantom, profile_from_env
from ..data.paths import RSNA100, default_cache_dir
from ..engine.config import TrainConfig
from ..engine.distributed import pick_device
from ..engine.runtime import hardware, seed_everything
from ..engine.trainer import TrainResult, train
from ..results.tables import hardware_text

@dataclass
class BookEnv:
    """The choices a chapter runs with (see :func:`setup`)."""

    profile: str
    config: ARCNNConfig
    data: str
    device: torch.device
    hardware: str
    rsna100: Optional[Path]
    on_colab: bool

    @property
    def label(self) -> str:
        """A short provenance label for tables and figures: data, profile, hardware."""
        data = PHANTOM if is_phantom(self.data) else Path(self.data).name
        return f"{data} / {self.profile} / {self.hardware}"


def find_rsna100() -> Optional[Path]:
    """The rsna100 folder beside the checkout (:data:`arcnn_lib.data.paths.RSNA100`), or None."""
    return RSNA100 if (RSNA100 / "boneage-training-dataset.csv").is_file() else None


def hardware_name(device: torch.device) -> str:
    """The GPU's name, or the CPU with its thread count (as the results' labels write it)."""
    return hardware_text(hardware(device))


def setup(seed: int = 0, quiet: bool = False) -> BookEnv:
    """Pick profile, data and device from the environment, seed everything, style figures."""
    profile = profile_from_env()
    data = data_from_env()
    device = pick_device("auto")
    if device.type == "cpu":
        torch.set_num_threads(max(1, min(os.cpu_count() or 1, 4)))
    seed_everything(seed)
    try:
        import matplotlib.pyplot as plt
        plt.rcParams.update({"figure.dpi": 110, "axes.spines.top": False,
                             "axes.spines.right": False, "image.cmap": "gray",
                             # legible at the book's column width
                             "font.size": 10, "axes.titlesize": 10.5, "axes.labelsize": 10,
                             "xtick.labelsize": 9, "ytick.labelsize": 9,
                             "legend.fontsize": 9, "figure.titlesize": 11})
    except ImportError:  # figures are optional for library users
        pass
    env = BookEnv(profile=profile, config=ARCNNConfig.from_profile(profile), data=data,
                  device=device, hardware=hardware_name(device), rsna100=find_rsna100(),
                  on_colab="google.colab" in __import__("sys").modules)
    if not quiet:
        print(f"profile={env.profile}  data={env.data}  device={env.hardware}  "
              f"rsna100={'found' if env.rsna100 else 'not found'}")
    return env


def book_runs_dir() -> Path:
    """Where the book keeps the models its chapters train (inside the data cache folder)."""
    return default_cache_dir() / "book_runs"


def library_fingerprint() -> str:
    """A short hash of the library's source files, so that a model trained by another
    version of the library is never taken for one of this version."""
    root = Path(__file__).resolve().parents[1]  # the whole arcnn_lib package
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@dataclass
class BookRun:
    """A chapter's trained model: its run folder, ``best.pt``, the metrics.csv history, and
    whether an earlier chapter's run was reused (``result`` is the :class:`TrainResult`
    when it was trained just now, else None)."""

    out_dir: str
    checkpoint: str
    history: pd.DataFrame
    reused: bool
    result: Optional[TrainResult] = None


def book_run(env: BookEnv, name: str, **overrides) -> BookRun:
    """Train a model for a chapter, or reuse the one an earlier chapter trained.

    The run is :class:`arcnn_lib.engine.trainer.TrainConfig` for ``env.profile`` and ``env.data``
    with ``overrides``; it lives in ``book_runs_dir() / name`` and is reused only when it was
    trained with exactly the same settings by the same library (:func:`library_fingerprint`).
    """

    out = book_runs_dir() / name
    cfg = TrainConfig.for_profile(env.profile, data=env.data, out=str(out), **overrides)
    key = {k: v for k, v in cfg.to_dict().items() if k not in ("progress", "overwrite", "resume")}
    key["library"] = library_fingerprint()
    stamp = out / "book_run.json"
    if stamp.is_file() and json.loads(stamp.read_text()) == key and (out / "best.pt").is_file():
        return BookRun(out_dir=str(out), checkpoint=str(out / "best.pt"),
                       history=pd.read_csv(out / "metrics.csv"), reused=True)
    stamp.unlink(missing_ok=True)
    result = train(cfg, overwrite=True)
    if not result.interrupted and result.epochs_done == cfg.epochs:
        stamp.write_text(json.dumps(key))  # only a finished run is offered for reuse
    return BookRun(out_dir=result.out_dir, checkpoint=result.checkpoint, history=result.history,
                   reused=False, result=result)
