"""Configuration of AR-CNN and the named profiles.

`ARCNNConfig()` is the paper's model (Liu et al., MICCAI 2019, Sec. 2 and 3.1): a 448 x 448
input, parts resized to 224 x 224, anchors of scales {48, 96, 192} and ratios {1:1, 3:2, 2:3},
M = 6 parts, K = 3 of them concatenated, ResNet-50.

The smaller profiles keep the same structure and scale the geometry with the image size:

==========  =====  =====  ==============  ==============  =========  =======================
profile     image  parts  anchor scales   anchor strides  backbone   meant for
==========  =====  =====  ==============  ==============  =========  =======================
``smoke``   128    64     14, 27, 55      16, 32, 64      resnet_tiny  CI and tests on a CPU
``demo``    224    112    24, 48, 96      16, 32, 64      resnet18   a laptop
``gpu``     224    112    24, 48, 96      16, 32, 64      resnet50   a Colab GPU, small images
``paper``   448    224    48, 96, 192     32, 64, 128     resnet50   the paper
==========  =====  =====  ==============  ==============  =========  =======================

The environment variables ``ARCNN_PROFILE``, ``ARCNN_DATA`` and ``ARCNN_PROGRESS`` are read
here and nowhere else (:func:`profile_from_env`, :func:`data_from_env`,
:func:`progress_enabled`).
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Optional, Tuple

#: Backbones understood by :mod:`arcnn_lib.model.recognition`, with their feature length L.
BACKBONE_FEATURES = {"resnet_tiny": 128, "resnet18": 512, "resnet34": 512, "resnet50": 2048}

PROFILES = ("smoke", "demo", "gpu", "paper")

#: The data keyword that names the generated hand phantom instead of a data folder.
PHANTOM = "phantom"


def is_phantom(data) -> bool:
    """Whether ``data`` (a folder, a path or the keyword) names the generated phantom."""
    return str(data) == PHANTOM


def check_profile(name: str, source: str = "profile") -> str:
    """``name`` if it is one of :data:`PROFILES`; else a ValueError naming ``source`` (the
    argument, field or variable it came from)."""
    if name not in PROFILES:
        raise ValueError(f"{source}={name!r} is unknown; known profiles: {', '.join(PROFILES)}")
    return name

#: How the M parts are chosen among the anchors (``ARCNNConfig.part_selection``).
PART_SELECTIONS = ("global", "per_level")

#: Stride of the backbone feature map the navigator can read -> its ResNet stage.
FMAP_STAGES = {8: 2, 16: 3, 32: 4}

#: Where the parts are cut from (``ARCNNConfig.part_source``).
PART_SOURCES = ("input", "native")


@dataclass(frozen=True)
class ARCNNConfig:
    """Every hyper-parameter of the model. Sizes are pixels of the (square) network input.

    Attributes:
        image_size: side of the whole-image input X (paper: 448).
        part_size: side every part R_i is resized to (paper: 224).
        anchor_scales: anchor side sqrt(w * h), one per pyramid level (paper: 48, 96, 192).
        anchor_ratios: anchor aspect ratios h / w (paper: 1:1, 3:2, 2:3).
        anchor_strides: stride of the navigator feature map of each level; each is twice the
            previous and the first is 8 (backbone stage 2), 16 (stage 3) or 32 (stage 4).
        num_parts: M, parts selected per image (paper: 6).
        num_concat: K <= M, parts whose features join X's in the concatenation (paper: 3).
        nms_iou: IoU above which a lower-scored anchor is suppressed (NTS-Net: 0.25).
        part_selection: ``"global"`` (the paper): the M parts are the best-scored anchors of
            all levels after NMS; ``"per_level"`` (an extension): each anchor level gives
            M / levels of them, so parts of every scale are always looked at and ranked
            (:func:`arcnn_lib.model.anchors.level_quota`).
        backbone: one of :data:`BACKBONE_FEATURES`.
        pretrained: load ImageNet weights (needs a network; only torchvision backbones).
        navigator_channels: width of the navigator's convolutions.
        separate_part_stats: BatchNorm layers of the shared extractor keep one set of
            running statistics for whole images and one for parts (our fix of a train /
            evaluation mismatch, :mod:`arcnn_lib.model.part_norm`); False shares them, as the
            paper and NTS-Net do. Weights are shared either way.
        separate_part_extractor: False (the paper): one extractor reads X and the parts;
            True (an extension): the parts get an extractor of their own, so the M part
            terms of Eq. 4 no longer train the whole-image unit's features (the same
            architecture, twice the extractor's parameters).
        navigator_on_part_extractor: False (the paper): the navigator reads the feature
            map of the whole-image extractor; True (an extension, needs
            ``separate_part_extractor``): it reads the map the parts' own extractor computes
            of the whole image (with its whole-image BatchNorm statistics), features trained
            on the parts, at the cost of one more pass of that extractor over X.
        part_source: ``"input"`` (the paper): the parts are cut from the network's input X;
            ``"native"`` (an extension): the model is fed the image at ``native_size``, X is
            its antialiased resize to ``image_size`` and the parts are cut from the native
            copy (boxes scaled by native_size / image_size), so a part sees what a multi-stage
            method would re-read from the full-resolution film, at AR-CNN's cost.
        native_size: side of the native copy when ``part_source="native"`` (a multiple of
            ``image_size``); None otherwise.
        use_sex: add the sex (+1 male, -1 female) as an input to every head (an extension:
            the paper trains one model per sex instead).
        age_center, age_scale: ages are regressed as (age - age_center) / age_scale; one
            unit is about one standard deviation of RSNA ages, so each L1 term of Eq. 4 is of
            order 1, like one pair of the margin-1 ranking hinge (Eq. 3).
        pixel_mean, pixel_std: input normalisation of the grey values in [0, 1] (ImageNet's
            RGB statistics averaged over the channels).
    """

    image_size: int = 448
    part_size: int = 224
    anchor_scales: Tuple[float, ...] = (48.0, 96.0, 192.0)
    anchor_ratios: Tuple[float, ...] = (1.0, 1.5, 2.0 / 3.0)
    anchor_strides: Tuple[int, ...] = (32, 64, 128)
    num_parts: int = 6
    num_concat: int = 3
    nms_iou: float = 0.25
    part_selection: str = "global"
    backbone: str = "resnet50"
    pretrained: bool = False
    navigator_channels: int = 128
    separate_part_stats: bool = True
    separate_part_extractor: bool = False
    navigator_on_part_extractor: bool = False
    part_source: str = "input"
    native_size: Optional[int] = None
    use_sex: bool = False
    age_center: float = 120.0
    age_scale: float = 40.0
    pixel_mean: float = 0.449
    pixel_std: float = 0.226

    def __post_init__(self):
        self.validate()

    # ------------------------------------------------------------------ profiles
    @classmethod
    def paper(cls, **overrides) -> "ARCNNConfig":
        """The paper's configuration (448 / 224, ResNet-50, M = 6, K = 3)."""
        return cls(**overrides)

    @classmethod
    def gpu(cls, **overrides) -> "ARCNNConfig":
        """The paper's geometry halved (224 / 112, anchors 24, 48, 96), ResNet-50."""
        return cls(**{**scaled_geometry(224), "backbone": "resnet50", **overrides})

    @classmethod
    def demo(cls, **overrides) -> "ARCNNConfig":
        """224 / 112 with ResNet-18: trains on a laptop CPU in minutes."""
        return cls(**{**scaled_geometry(224), "backbone": "resnet18", **overrides})

    @classmethod
    def smoke(cls, **overrides) -> "ARCNNConfig":
        """128 / 64 with a tiny ResNet: the same structure, for tests and CI."""
        return cls(**{**scaled_geometry(128), "backbone": "resnet_tiny",
                      "navigator_channels": 32, **overrides})

    @classmethod
    def from_profile(cls, name: str, **overrides) -> "ARCNNConfig":
        """The profile called ``name`` (one of :data:`PROFILES`)."""
        return getattr(cls, check_profile(name))(**overrides)

    # ------------------------------------------------------------------ helpers
    def replace(self, **changes) -> "ARCNNConfig":
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ARCNNConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown ARCNNConfig fields: {sorted(unknown)}")
        d = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        return cls(**d)

    @property
    def data_size(self) -> int:
        """Side of the images the model is fed: ``native_size`` with native parts, else
        ``image_size`` (what the data path must cache)."""
        return self.native_size if self.part_source == "native" else self.image_size

    @property
    def feature_length(self) -> int:
        """L, the length of one feature vector of the recognition backbone."""
        return BACKBONE_FEATURES[self.backbone]

    def validate(self) -> None:
        """Raise ``ValueError`` naming the offending field."""
        if self.backbone not in BACKBONE_FEATURES:
            raise ValueError(f"backbone={self.backbone!r} is unknown; choose one of "
                             f"{', '.join(BACKBONE_FEATURES)}")
        if self.pretrained and self.backbone == "resnet_tiny":
            raise ValueError("backbone='resnet_tiny' has no pretrained weights; "
                             "use pretrained=False or a torchvision ResNet")
        if not 1 <= self.num_parts:
            raise ValueError(f"num_parts (M) must be >= 1, got {self.num_parts}")
        if not 0 <= self.num_concat <= self.num_parts:
            raise ValueError(f"num_concat (K) must satisfy 0 <= K <= M={self.num_parts}, "
                             f"got K={self.num_concat}")
        if self.image_size < 32 or self.part_size < 32:
            raise ValueError(f"image_size and part_size must be >= 32, got "
                             f"{self.image_size} and {self.part_size}")
        if len(self.anchor_scales) != len(self.anchor_strides) or not self.anchor_scales:
            raise ValueError("anchor_scales and anchor_strides need one entry per level, got "
                             f"{self.anchor_scales} and {self.anchor_strides}")
        if self.anchor_strides[0] not in FMAP_STAGES:
            raise ValueError(f"anchor_strides[0] must be 8, 16 or 32 (a ResNet stage), got "
                             f"{self.anchor_strides[0]}")
        for a, b in zip(self.anchor_strides, self.anchor_strides[1:]):
            if b != 2 * a:
                raise ValueError(f"each anchor stride must double the previous, got "
                                 f"{self.anchor_strides}")
        if any(s <= 0 for s in self.anchor_scales) or any(r <= 0 for r in self.anchor_ratios):
            raise ValueError("anchor scales and ratios must be positive")
        if self.part_selection not in PART_SELECTIONS:
            raise ValueError(f"part_selection={self.part_selection!r} is unknown; choose one of "
                             f"{', '.join(PART_SELECTIONS)}")
        if self.part_source not in PART_SOURCES:
            raise ValueError(f"part_source={self.part_source!r} is unknown; choose one of "
                             f"{', '.join(PART_SOURCES)}")
        if self.part_source == "native":
            n = self.native_size
            if not isinstance(n, int) or n < self.image_size or n % self.image_size:
                raise ValueError(f"part_source='native' needs native_size, an integer multiple "
                                 f"of image_size={self.image_size}, got {n!r}")
        elif self.native_size is not None:
            raise ValueError(f"native_size={self.native_size} is set but part_source="
                             f"{self.part_source!r}; use part_source='native' or drop it")
        if self.navigator_on_part_extractor and not self.separate_part_extractor:
            raise ValueError("navigator_on_part_extractor=True needs "
                             "separate_part_extractor=True (the paper's model has one "
                             "extractor)")
        if not 0.0 < self.nms_iou <= 1.0:
            raise ValueError(f"nms_iou must be in (0, 1], got {self.nms_iou}")
        if self.age_scale <= 0:
            raise ValueError(f"age_scale must be positive, got {self.age_scale}")


def scaled_geometry(image_size: int) -> dict:
    """The paper's geometry scaled from 448 to ``image_size``.

    Scales and the part size scale linearly. The strides cannot (they are ResNet stages), so
    the navigator reads the coarsest stage whose stride is at most 1.2 times the smallest
    anchor side (the paper's own ratio is 32 / 48): stage 4 (stride 32) at 448, stage 3
    (16) from 224 down to 128, stage 2 (8) below. Neighbouring anchors of the finest level
    then still overlap or touch, so the anchors tile the image at every size.
    """
    f = image_size / 448.0
    scales = tuple(float(round(s * f)) for s in (48, 96, 192))
    first = max(t for t in FMAP_STAGES if t <= 1.2 * scales[0] or t == min(FMAP_STAGES))
    return dict(image_size=image_size, part_size=int(round(224 * f)), anchor_scales=scales,
                anchor_strides=(first, 2 * first, 4 * first))


def profile_from_env(default: str = "smoke") -> str:
    """The profile named by ``ARCNN_PROFILE`` (default ``smoke``), validated."""
    name = os.environ.get("ARCNN_PROFILE", default).strip() or default
    return check_profile(name, "ARCNN_PROFILE")


def data_from_env(default: str = PHANTOM) -> str:
    """The data set named by ``ARCNN_DATA``: a folder in an RSNA layout, or ``phantom``."""
    value = os.environ.get("ARCNN_DATA", default).strip() or default
    if not is_phantom(value) and not os.path.isdir(value):
        raise FileNotFoundError(f"ARCNN_DATA={value!r} is neither 'phantom' nor an existing folder")
    return value


def progress_enabled(requested: bool = True) -> bool:
    """Whether to show progress (bars, and the trainer's line per epoch): ``requested``,
    unless ``ARCNN_PROGRESS=0``.

    The book's build sets ``ARCNN_PROGRESS=0`` (``_ext/book_build.py``, ``.ci/run``), so the
    rendered pages hold no bar; a person running a notebook sees them.
    """
    return bool(requested) and os.environ.get("ARCNN_PROGRESS", "1").strip() != "0"

