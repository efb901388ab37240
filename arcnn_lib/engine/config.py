"""What defines a training run: :class:`TrainConfig`, its per-profile defaults and its checks.

The model's geometry comes from the profile's :class:`~arcnn_lib.config.ARCNNConfig`
(:meth:`TrainConfig.model_config`); this module adds what the engine needs on top.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional, Tuple

import numpy as np

from ..config import PHANTOM, ARCNNConfig, check_profile, is_phantom, scaled_geometry
from ..model.build import MODEL_KINDS
from .runtime import AMP_CHOICES

#: the sexes a run trains on: one model per sex (the paper) or both with the sex as an input
SEXES = ("male", "female", "all")


def check_sex(sex: str) -> str:
    """``sex`` if it is one of :data:`SEXES`, else a ``ValueError`` naming it."""
    if sex not in SEXES:
        raise ValueError(f"unknown sex {sex!r}; choose one of {', '.join(SEXES)}")
    return sex


#: Training defaults per profile: (epochs, batch_size, lr). ``smoke`` is tuned so the
#: acceptance test (800-image phantom, 2-core CPU) finishes well within 3 minutes.
PROFILE_DEFAULTS: Dict[str, Dict] = {
    "smoke": dict(epochs=30, batch_size=32, lr=1e-3, warmup_fraction=0.05),
    "demo": dict(epochs=30, batch_size=32, lr=1e-3, warmup_fraction=0.05),
    "gpu": dict(epochs=60, batch_size=64, lr=1e-3, warmup_fraction=0.03),
    "paper": dict(epochs=100, batch_size=32, lr=5e-4, warmup_fraction=0.02),
}


@dataclass
class TrainConfig:
    """Everything that defines a training run (model geometry comes from ``profile``).

    Attributes:
        data: a data folder in an RSNA layout, or ``"phantom"`` (generated into
            the cache folder with ``phantom_n`` images and ``phantom_seed``, reused after).
        out: the run folder (metrics.csv, split.csv, last.pt, best.pt, train_config.json).
        profile: the :class:`ARCNNConfig` profile: smoke, demo, gpu or paper.
        sex: ``male`` / ``female`` (one model per sex, as in the paper) or ``all`` (both,
            with the sex as an input: ``use_sex=True``).
        model: ``arcnn`` or ``baseline`` (the single-stage regressor).
        epochs, batch_size, lr: None takes the profile's :data:`PROFILE_DEFAULTS`.
            ``batch_size`` is per process under DDP.
        weight_decay, warmup_fraction, min_lr_fraction, grad_clip: optimiser and schedule
            (see the module doc).
        seed: seeds the epoch order, the initial weights, the augmentation and (unless
            ``split_seed`` is given) the split.
        split_seed: seeds the split alone (None: ``seed``); fixing it lets runs with
            different seeds share one split.
        num_parts, num_concat: override M and K of the profile (K <= M is checked).
        separate_part_stats: ``ARCNNConfig.separate_part_stats`` (False: the paper's shared
            BatchNorm statistics for images and parts).
        separate_part_extractor: ``ARCNNConfig.separate_part_extractor`` (False: the paper's
            one extractor for the image and its parts).
        navigator_on_part_extractor: ``ARCNNConfig.navigator_on_part_extractor`` (False:
            the paper's navigator reads the whole-image extractor's map).
        part_selection: ``ARCNNConfig.part_selection`` (``global``, the paper's, or
            ``per_level``).
        image_size: the network input side, with the profile's geometry scaled to it
            (``config.scaled_geometry``; None: the profile's own).
        part_source, native_size: ``ARCNNConfig.part_source`` (``input``, the paper's, or
            ``native``: parts cut from a ``native_size`` copy the data path carries).
        amp: auto, bf16, fp16 or fp32 (see :func:`select_precision`).
        device: auto, cpu, cuda, cuda:N.
        channels_last: use channels_last memory format (only on CUDA).
        compile: wrap the model in ``torch.compile`` (CUDA only; off by default).
        pretrained: start the feature extractor from torchvision's ImageNet weights (what the
            paper does; needs a network to download them; not for the smoke profile).
        augment: GPU-side augmentation of the training batches.
        num_threads: CPU threads for torch (None: the cores available).
        max_minutes: stop (and save, resumable) when training exceeds this wall time.
        stop_after_epochs: stop (and save) after this many epochs of the ``epochs`` schedule.
        val_every: validate every N epochs (and always after the last).
        log_every: steps between progress updates (each costs one device sync).
        resume: continue from ``OUT/last.pt``.
        overwrite: allow starting afresh in an ``out`` that already holds a run.
        split_fractions: train / val / test fractions of the stratified split.
        cache_dir: where the uint8 image cache lives (default: the data layer's choice).
        progress: show tqdm progress bars (rank 0 only).
    """

    data: str = PHANTOM
    out: str = "runs/arcnn"
    profile: str = "smoke"
    sex: str = "all"
    model: str = "arcnn"
    epochs: Optional[int] = None
    batch_size: Optional[int] = None
    lr: Optional[float] = None
    weight_decay: float = 1e-4
    warmup_fraction: Optional[float] = None
    min_lr_fraction: float = 0.01
    grad_clip: float = 5.0
    seed: int = 0
    split_seed: Optional[int] = None
    num_parts: Optional[int] = None
    num_concat: Optional[int] = None
    separate_part_stats: bool = True
    separate_part_extractor: bool = False
    navigator_on_part_extractor: bool = False
    part_selection: str = "global"
    image_size: Optional[int] = None
    part_source: str = "input"
    native_size: Optional[int] = None
    amp: str = "auto"
    device: str = "auto"
    channels_last: bool = True
    compile: bool = False
    pretrained: bool = False
    augment: bool = True
    num_threads: Optional[int] = None
    max_minutes: Optional[float] = None
    stop_after_epochs: Optional[int] = None
    val_every: int = 1
    log_every: int = 10
    resume: bool = False
    overwrite: bool = False
    phantom_n: int = 800
    phantom_seed: int = 0
    split_fractions: Tuple[float, float, float] = (0.7, 0.15, 0.15)
    cache_dir: Optional[str] = None
    progress: bool = True

    # ------------------------------------------------------------------ construction
    @classmethod
    def for_profile(cls, profile: str, **overrides) -> "TrainConfig":
        """A config with the profile's training defaults filled in (see
        :data:`PROFILE_DEFAULTS`); ``overrides`` win."""
        return cls(profile=profile, **overrides).resolved()

    def resolved(self) -> "TrainConfig":
        """Fill the None fields from the profile defaults and validate."""
        self.validate_names()
        defaults = PROFILE_DEFAULTS[self.profile]
        filled = {k: v for k, v in defaults.items() if getattr(self, k) is None}
        cfg = dataclasses.replace(self, **filled)
        cfg.validate()
        return cfg

    @property
    def effective_split_seed(self) -> int:
        """The seed the split is drawn with: ``split_seed``, or else ``seed``."""
        return self.seed if self.split_seed is None else self.split_seed

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["split_fractions"] = list(d["split_fractions"])
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        d = {k: v for k, v in d.items() if k in names}
        if "split_fractions" in d:
            d["split_fractions"] = tuple(d["split_fractions"])
        return cls(**d)

    # ------------------------------------------------------------------ validation
    def validate_names(self) -> None:
        check_profile(self.profile)
        check_sex(self.sex)
        if self.model not in MODEL_KINDS:
            raise ValueError(f"unknown model {self.model!r}; choose one of "
                             f"{', '.join(MODEL_KINDS)}")
        if self.amp not in AMP_CHOICES:
            raise ValueError(f"unknown amp {self.amp!r}; choose one of {', '.join(AMP_CHOICES)}")

    def validate(self) -> None:
        """Raise ``ValueError`` (or ``FileNotFoundError`` for a missing data folder) with a
        message naming the bad field."""
        self.validate_names()
        if not is_phantom(self.data) and not Path(self.data).is_dir():
            raise FileNotFoundError(f"data folder {self.data!r} does not exist (use a folder "
                                    "in an RSNA layout, or 'phantom')")
        for name in ("epochs", "batch_size", "val_every", "log_every", "phantom_n"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, (int, np.integer)) or v < 1):
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        if self.split_seed is not None and not isinstance(self.split_seed, (int, np.integer)):
            raise ValueError(f"split_seed must be an integer or None, got {self.split_seed!r}")
        if self.lr is not None and not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr must be positive, got {self.lr!r}")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay!r}")
        if self.warmup_fraction is not None and not 0 <= self.warmup_fraction < 1:
            raise ValueError(f"warmup_fraction must be in [0, 1), got {self.warmup_fraction!r}")
        if not 0 <= self.min_lr_fraction <= 1:
            raise ValueError(f"min_lr_fraction must be in [0, 1], got {self.min_lr_fraction!r}")
        if self.grad_clip < 0:
            raise ValueError(f"grad_clip must be >= 0 (0 disables), got {self.grad_clip!r}")
        if self.max_minutes is not None and self.max_minutes <= 0:
            raise ValueError(f"max_minutes must be positive, got {self.max_minutes!r}")
        if self.stop_after_epochs is not None:
            if self.stop_after_epochs < 1:
                raise ValueError(f"stop_after_epochs must be >= 1, got {self.stop_after_epochs!r}")
        if self.num_parts is not None and self.num_parts < 1:
            raise ValueError(f"num_parts (M) must be >= 1, got {self.num_parts}")
        m = self.num_parts if self.num_parts is not None else ARCNNConfig.from_profile(self.profile).num_parts
        if self.num_concat is not None and not 0 <= self.num_concat <= m:
            raise ValueError(f"num_concat (K) must satisfy 0 <= K <= M = {m}, got K = "
                             f"{self.num_concat}")
        fr = tuple(self.split_fractions)
        if len(fr) != 3 or any(f < 0 for f in fr) or abs(sum(fr) - 1) > 1e-6 or fr[0] <= 0:
            raise ValueError(f"split_fractions must be three non-negative numbers (train > 0) "
                             f"summing to 1, got {fr}")
        if self.resume and self.overwrite:
            raise ValueError("resume and overwrite exclude each other")
        self.model_config()  # ARCNNConfig validates the geometry

    def model_config(self) -> ARCNNConfig:
        """The :class:`ARCNNConfig` of this run: the profile, M / K overrides, and
        ``use_sex`` when both sexes are trained together."""
        over = {}
        if self.num_parts is not None:
            over["num_parts"] = self.num_parts
        if self.num_concat is not None:
            over["num_concat"] = self.num_concat
        if self.sex == "all":
            over["use_sex"] = True
        if self.pretrained:
            over["pretrained"] = True
        if not self.separate_part_stats:
            over["separate_part_stats"] = False
        if self.separate_part_extractor:
            over["separate_part_extractor"] = True
        if self.navigator_on_part_extractor:
            over["navigator_on_part_extractor"] = True
        if self.part_selection != "global":
            over["part_selection"] = self.part_selection
        if self.image_size is not None:
            over.update(scaled_geometry(self.image_size))
        if self.part_source != "input" or self.native_size is not None:
            over.update(part_source=self.part_source, native_size=self.native_size)
        return ARCNNConfig.from_profile(self.profile, **over)
