"""The single-stage baseline of Table 3: the same feature extractor on the whole image.

It regresses the age from X alone, with an FC layer on the pooled features -- the kind of
network the paper compares against (single-stage methods such as Larson et al. 2018 and
Iglovikov et al. 2018 in spirit), trained with the same data and budget as AR-CNN.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from ..config import ARCNNConfig
from .losses import LossTerms, single_stage_loss
from .arcnn import ARCNNOutput, input_and_source, normalise, unit_grey
from .recognition import FeatureExtractor, append_sex


class SingleStageRegressor(nn.Module):
    """``forward(images (B, 1, S, S), male=None) -> ARCNNOutput`` with ``age == age_x``.

    With ``part_source="native"`` it is fed the native copy and reads its resize to S, like
    AR-CNN's X (:func:`arcnn_lib.model.arcnn.input_and_source`)."""

    def __init__(self, config: Optional[ARCNNConfig] = None):
        super().__init__()
        self.config = config = config or ARCNNConfig()
        self.extractor = FeatureExtractor(config)
        self.fc = nn.Linear(config.feature_length + (1 if config.use_sex else 0), 1)

    def forward(self, images: torch.Tensor, male: Optional[torch.Tensor] = None) -> ARCNNOutput:
        cfg = self.config
        x, _, _ = input_and_source(unit_grey(images, cfg), cfg)   # (B, 1, S, S)
        feat, _ = self.extractor(normalise(x, cfg))
        if cfg.use_sex:
            feat = append_sex(feat, male)
        age = cfg.age_center + cfg.age_scale * self.fc(feat).squeeze(-1).float()
        return ARCNNOutput(age=age, age_x=age, age_scale=cfg.age_scale)

    def loss(self, output: ARCNNOutput, target_age: torch.Tensor) -> LossTerms:
        """L1 on the whole-image estimate (normalised like AR-CNN's terms)."""
        return single_stage_loss(output, target_age)
