"""The recognition agent (paper, Sec. 2.2): one feature extractor, three regression heads.

* :class:`FeatureExtractor` wraps a ResNet for one-channel radiographs. It is shared by the
  whole image X and every part R_i, and returns both the feature vector (length L) and the
  feature map the navigator reads.
* :class:`RecognitionHeads`: an FC layer for A_X, one FC layer shared by all parts for
  A_{R_i}, and an FC layer over the concatenated features of X and the top-K parts for A_C.
  Heads regress normalised ages (see ``ARCNNConfig.age_center`` / ``age_scale``).
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch
import torchvision
from torch import nn
from torchvision.models.resnet import BasicBlock

from ..config import FMAP_STAGES, ARCNNConfig
from .part_norm import convert_part_norm, part_norm_layers, use_stream

_WEIGHTS = {"resnet18": "ResNet18_Weights", "resnet34": "ResNet34_Weights",
            "resnet50": "ResNet50_Weights"}


def tiny_resnet() -> torchvision.models.ResNet:
    """A ResNet-18 layout at a quarter of the width and one block per stage (L = 128).

    Same stem, same strides (4, 8, 16, 32) as the real ResNets: the smoke profile keeps the
    structure of the paper's model while training in seconds on a CPU.
    """
    net = torchvision.models.ResNet(BasicBlock, [1, 1, 1, 1], num_classes=1)
    widths, inplanes = (16, 32, 64, 128), 16
    net.conv1 = nn.Conv2d(3, inplanes, 7, stride=2, padding=3, bias=False)
    net.bn1 = nn.BatchNorm2d(inplanes)
    for i, width in enumerate(widths):
        stride = 1 if i == 0 else 2
        down = None
        if stride != 1 or inplanes != width:
            down = nn.Sequential(nn.Conv2d(inplanes, width, 1, stride=stride, bias=False),
                                 nn.BatchNorm2d(width))
        setattr(net, f"layer{i + 1}", nn.Sequential(BasicBlock(inplanes, width, stride, down)))
        inplanes = width
    return net


def _resnet(name: str, pretrained: bool) -> torchvision.models.ResNet:
    if name == "resnet_tiny":
        return tiny_resnet()
    weights = getattr(torchvision.models, _WEIGHTS[name]).DEFAULT if pretrained else None
    return getattr(torchvision.models, name)(weights=weights)


def _to_grey_stem(conv: nn.Conv2d) -> nn.Conv2d:
    """The stem convolution for one input channel; RGB weights are summed (so a grey image
    gives the response an RGB image with equal channels would)."""
    grey = nn.Conv2d(1, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                     bias=conv.bias is not None)
    with torch.no_grad():
        grey.weight.copy_(conv.weight.sum(dim=1, keepdim=True))
    return grey


class FeatureExtractor(nn.Module):
    """A ResNet on (N, 1, H, W) inputs.

    ``forward(x, parts=False)`` -> (features (N, L), fmap (N, C, ceil(H / s), ceil(W / s)))
    where ``s`` is ``config.anchor_strides[0]``: stage 2 (s = 8), 3 (s = 16) or 4 (s = 32)
    of the ResNet (:data:`arcnn_lib.config.FMAP_STAGES`). Pass ``parts=True`` for crops R_i:
    with ``config.separate_part_stats`` the BatchNorm layers then read and update their
    statistics of parts
    (:mod:`arcnn_lib.model.part_norm`); the weights are the same either way.
    """

    def __init__(self, config: ARCNNConfig):
        super().__init__()
        net = _resnet(config.backbone, config.pretrained)
        self.stem = nn.Sequential(_to_grey_stem(net.conv1), net.bn1, net.relu, net.maxpool)
        self.stage1_3 = nn.Sequential(net.layer1, net.layer2, net.layer3)
        self.stage4 = net.layer4
        if config.separate_part_stats:
            convert_part_norm(self)
        self._part_norms = part_norm_layers(self)   # found once, switched on every call
        self.fmap_stage = FMAP_STAGES[config.anchor_strides[0]]
        self.feature_length = config.feature_length
        # every ResNet stage halves the channels of the next: L / 2 ** (4 - stage)
        self.fmap_channels = self.feature_length // 2 ** (4 - self.fmap_stage)

    def forward(self, x: torch.Tensor, parts: bool = False) -> Tuple[torch.Tensor, torch.Tensor]:
        with use_stream(self._part_norms, "parts" if parts else "image"):
            maps = [self.stem(x)]
            for stage in (*self.stage1_3, self.stage4):   # stages 1 to 4
                maps.append(stage(maps[-1]))
        features = torch.flatten(nn.functional.adaptive_avg_pool2d(maps[4], 1), 1)
        return features, maps[self.fmap_stage]


def append_sex(feat: torch.Tensor, male: Optional[torch.Tensor]) -> torch.Tensor:
    """Append the sex as one feature (+1 male, -1 female): (B, ..., F) -> (B, ..., F + 1)."""
    if male is None:
        raise ValueError("this model was configured with use_sex=True: pass male=(B,)")
    s = male.to(feat.dtype).reshape(male.shape[0], *([1] * (feat.dim() - 1)))
    return torch.cat([feat, (2 * s - 1).expand(*feat.shape[:-1], 1)], dim=-1)


class RecognitionHeads(nn.Module):
    """The FC heads of A_X, A_{R_i} (shared over parts) and A_C.

    ``forward(feat_x (B, L), feat_parts (B, M, L), sex (B,) or None)`` ->
    (z_x (B,), z_parts (B, M), z_concat (B,)), normalised ages. With ``config.use_sex`` every
    head also sees the sex as one extra input (+1 male, -1 female).
    """

    def __init__(self, config: ARCNNConfig):
        super().__init__()
        L, K = config.feature_length, config.num_concat
        extra = 1 if config.use_sex else 0
        self.num_concat = K
        self.use_sex = config.use_sex
        self.fc_x = nn.Linear(L + extra, 1)
        self.fc_part = nn.Linear(L + extra, 1)
        self.fc_concat = nn.Linear((K + 1) * L + extra, 1)

    def _with_sex(self, feat: torch.Tensor, sex: Optional[torch.Tensor]) -> torch.Tensor:
        return append_sex(feat, sex) if self.use_sex else feat

    def forward(self, feat_x: torch.Tensor, feat_parts: torch.Tensor,
                sex: Optional[torch.Tensor] = None):
        B = feat_x.shape[0]
        z_x = self.fc_x(self._with_sex(feat_x, sex)).squeeze(-1)
        z_parts = self.fc_part(self._with_sex(feat_parts, sex)).squeeze(-1)
        concat = torch.cat([feat_x, feat_parts[:, :self.num_concat].reshape(B, -1)], dim=1)
        z_concat = self.fc_concat(self._with_sex(concat, sex)).squeeze(-1)
        return z_x, z_parts, z_concat
