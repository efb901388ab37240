"""AR-CNN: the attention agent and the recognition agent in one module (paper, Fig. 1).

Forward pass for a batch of B radiographs, with M = ``num_parts`` and K = ``num_concat``:

1. the shared feature extractor reads X (B, 1, S, S): features (B, L) and a feature map;
2. the navigator scores all A anchors from that map (with
   ``navigator_on_part_extractor``, an extension, from the parts' own extractor's map of
   X): ``anchor_scores`` (B, A);
3. NMS and top-M pick M anchors per image: ``part_boxes`` (B, M, 4), ``part_scores`` (B, M);
4. the M parts are cropped from X (or, with ``part_source="native"``, from the native copy
   the model was fed, boxes scaled to it) and resized to P x P: (B * M, 1, P, P);
5. the same feature extractor reads the parts (with its BatchNorm statistics of parts,
   :mod:`arcnn_lib.model.part_norm`): (B, M, L);
6. heads give A_X, A_{R_i} and A_C (over X and the top-K parts), and Eq. 1 assembles
   A_asb = (A_C + A_X + sum_{i <= K} A_{R_i}) / (K + 2).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
from torch import nn
from torch.nn import functional as F

from .anchors import generate_anchors, level_quota
from .attention import Navigator, box_iou, gather_parts, select_parts
from ..config import ARCNNConfig
from .crop import crop_parts
from .losses import LossTerms, arcnn_loss
from .recognition import FeatureExtractor, RecognitionHeads


@dataclass
class ARCNNOutput:
    """Everything one forward pass produces. Ages are in months.

    Attributes:
        age: (B,) A_asb, the assembled estimate (Eq. 1).
        age_x: (B,) A_X, from the whole image.
        age_concat: (B,) A_C, from the concatenated features (None for the baseline).
        age_parts: (B, M) A_{R_i}, one per part, best-scored part first (None for the baseline).
        part_scores: (B, M) objectness S_{R_i} of the selected parts (None for the baseline).
        part_boxes: (B, M, 4) boxes (x1, y1, x2, y2) in input pixels (None for the baseline).
        anchor_scores: (B, A) objectness of every anchor (None for the baseline).
        age_scale: months per unit of the normalised age the heads regress.
    """

    age: torch.Tensor
    age_x: torch.Tensor
    age_concat: Optional[torch.Tensor] = None
    age_parts: Optional[torch.Tensor] = None
    part_scores: Optional[torch.Tensor] = None
    part_boxes: Optional[torch.Tensor] = None
    anchor_scores: Optional[torch.Tensor] = None
    age_scale: float = 1.0


def assemble_age(age_concat: torch.Tensor, age_x: torch.Tensor, age_parts: torch.Tensor,
                 num_concat: int) -> torch.Tensor:
    """Eq. 1: (A_C + A_X + sum of the first K part estimates) / (K + 2); parts (B, M)."""
    K = num_concat
    return (age_concat + age_x + age_parts[:, :K].sum(dim=1)) / (K + 2)


def unit_grey(images: torch.Tensor, config: ARCNNConfig) -> torch.Tensor:
    """(B, 1 or 3, N, N) uint8 or float in [0, 1] -> (B, 1, N, N) float grey in [0, 1];
    N = ``config.data_size`` (the input size, or the native size with native parts)."""
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"images must be (B, 1, H, W) (or RGB (B, 3, H, W)), got "
                         f"{tuple(images.shape)}")
    n = config.data_size
    if images.shape[-2:] != (n, n):
        raise ValueError(f"images must be {n} x {n} for this config, got "
                         f"{tuple(images.shape[-2:])}")
    x = images.float() / 255.0 if images.dtype == torch.uint8 else images
    return x.mean(dim=1, keepdim=True) if x.shape[1] == 3 else x


def normalise(x: torch.Tensor, config: ARCNNConfig) -> torch.Tensor:
    """Grey values in [0, 1] -> the network's input scale (``pixel_mean``, ``pixel_std``)."""
    return (x - config.pixel_mean) / config.pixel_std


def normalise_images(images: torch.Tensor, config: ARCNNConfig) -> torch.Tensor:
    """(B, 1 or 3, S, S) uint8 or float in [0, 1] -> (B, 1, S, S) float, normalised."""
    return normalise(unit_grey(images, config), config)


def input_and_source(grey: torch.Tensor, config: ARCNNConfig):
    """The whole-image input X and the image the parts are cut from.

    ``grey`` (B, 1, N, N) in [0, 1], N = ``config.data_size``. Returns ``(x, source, f)``:
    x (B, 1, S, S); source = grey; f = N / S, the factor from input to source pixels. With
    ``part_source="input"`` (the paper) N = S, x is source and f = 1. With ``"native"`` x is
    the antialiased bilinear resize of the native copy (Pillow's filter, the one the cache
    uses), so X is the same input the paper's model reads.
    """
    s = config.image_size
    if config.part_source == "input":
        return grey, grey, 1.0
    x = F.interpolate(grey, size=(s, s), mode="bilinear", antialias=True, align_corners=False)
    return x, grey, grey.shape[-1] / s


class ARCNN(nn.Module):
    """The attention-recognition CNN. ``forward(images, male=None) -> ARCNNOutput``.

    Args:
        config: the :class:`ARCNNConfig` (paper defaults when omitted).

    ``images`` are (B, 1, S, S) grey radiographs, float in [0, 1] or uint8, S =
    ``config.image_size`` (with ``part_source="native"``: (B, 1, N, N), N =
    ``config.native_size``; X is their antialiased bilinear resize to S, the filter the
    cache uses, and the parts are cut from them, :func:`input_and_source`); ``male`` (B,) bool is needed only when ``config.use_sex``.
    ``boxes`` (B, M, 4), optional, replaces the navigator's choice of parts (interpretation
    holds the selection fixed, :mod:`arcnn_lib.evaluation.interpret`); the output's ``part_scores`` are
    then None.
    """

    def __init__(self, config: Optional[ARCNNConfig] = None):
        super().__init__()
        self.config = config = config or ARCNNConfig()
        self.extractor = FeatureExtractor(config)
        # the parts' own extractor (an extension), or None: the paper's shared one
        self.part_extractor = (FeatureExtractor(config) if config.separate_part_extractor
                               else None)
        self.navigator = Navigator(self.extractor.fmap_channels, config)
        self.heads = RecognitionHeads(config)
        anchors = generate_anchors(config)
        self.register_buffer("anchors", anchors, persistent=False)
        self.register_buffer("anchor_overlaps", box_iou(anchors, anchors) > config.nms_iou,
                             persistent=False)
        if config.part_selection == "per_level":
            levels, quota = level_quota(config)
            self.register_buffer("anchor_levels", levels, persistent=False)
            self.register_buffer("level_parts", quota, persistent=False)

    def select(self, anchor_scores: torch.Tensor) -> torch.Tensor:
        """(B, A) anchor scores -> (B, M) indices of the parts, best first (NMS, top-M, and
        with ``part_selection="per_level"`` each level's quota)."""
        quota = ((self.anchor_levels, self.level_parts)
                 if self.config.part_selection == "per_level" else None)
        return select_parts(anchor_scores, self.anchors, self.config.num_parts,
                            self.config.nms_iou, self.anchor_overlaps, quota)

    def _to_months(self, z: torch.Tensor) -> torch.Tensor:
        return self.config.age_center + self.config.age_scale * z.float()

    def forward(self, images: torch.Tensor, male: Optional[torch.Tensor] = None,
                boxes: Optional[torch.Tensor] = None) -> ARCNNOutput:
        cfg = self.config
        grey, source, factor = input_and_source(unit_grey(images, cfg), cfg)  # (B, 1, S, S)
        B = grey.shape[0]
        feat_x, fmap = self.extractor(normalise(grey, cfg))               # (B, L), (B, C, h, w)
        if cfg.navigator_on_part_extractor:   # an extension: the parts' extractor's map of X
            with torch.no_grad():
                _, fmap = self.part_extractor(normalise(grey, cfg))
        # As in NTS-Net, the navigator reads a detached copy of the feature map: the ranking
        # loss trains the navigator alone and cannot pull the shared extractor around.
        anchor_scores = self.navigator(fmap.detach())                     # (B, A)
        if boxes is None:
            idx = self.select(anchor_scores)
            part_scores, part_boxes = gather_parts(anchor_scores, self.anchors, idx)
        else:
            part_scores, part_boxes = None, boxes
        # Parts are cut from the grey image, so that outside the film they are black.
        parts = crop_parts(source, part_boxes.to(grey.dtype) * factor, cfg.part_size)  # (B*M, 1, P, P)
        extract_parts = self.part_extractor or self.extractor
        feat_parts, _ = extract_parts(normalise(parts, cfg), parts=True)
        feat_parts = feat_parts.reshape(B, cfg.num_parts, -1)             # (B, M, L)
        z_x, z_parts, z_concat = self.heads(feat_x, feat_parts, male)
        age_x, age_parts, age_concat = map(self._to_months, (z_x, z_parts, z_concat))
        return ARCNNOutput(
            age=assemble_age(age_concat, age_x, age_parts, cfg.num_concat),
            age_x=age_x, age_concat=age_concat, age_parts=age_parts,
            part_scores=part_scores, part_boxes=part_boxes, anchor_scores=anchor_scores,
            age_scale=cfg.age_scale)

    def loss(self, output: ARCNNOutput, target_age: torch.Tensor) -> LossTerms:
        """Eq. 5: recognition (Eq. 4) plus attention (Eq. 3) loss; target_age (B,) months."""
        return arcnn_loss(output, target_age)

