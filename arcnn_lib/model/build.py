"""One constructor for every model the engine trains: AR-CNN or the single-stage baseline."""
from __future__ import annotations

from torch import nn

from ..config import ARCNNConfig
from .arcnn import ARCNN
from .baselines import SingleStageRegressor

#: the model kinds :func:`build_model` knows (``TrainConfig.model``)
MODEL_KINDS = ("arcnn", "baseline")


def build_model(config: ARCNNConfig, kind: str = "arcnn") -> nn.Module:
    """``kind="arcnn"`` gives :class:`ARCNN`; ``"baseline"`` the single-stage regressor."""
    if kind == "arcnn":
        return ARCNN(config)
    if kind == "baseline":
        return SingleStageRegressor(config)
    raise ValueError(f"unknown model kind {kind!r}; choose one of {', '.join(MODEL_KINDS)}")
