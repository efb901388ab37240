"""arcnn_lib: AR-CNN (Liu et al., MICCAI 2019) for pediatric bone age assessment.

The library behind the teaching book. Sub-packages, imported in one direction
(results -> evaluation -> engine -> model / data):

- :mod:`arcnn_lib.model`: the paper's pieces (anchors, attention, crop, recognition,
  part-aware BatchNorm, the ARCNN model, losses, the single-stage baseline);
- :mod:`arcnn_lib.data`: RSNA layouts, images, the uint8 cache, splits, batches, GPU
  augmentation, the phantom;
- :mod:`arcnn_lib.engine`: training;
- :mod:`arcnn_lib.evaluation`: inference, metrics, the pointing game, attribution;
- :mod:`arcnn_lib.results`: reproduce, ablations, tables, reference runs, figures;
- :mod:`arcnn_lib.book`: the chapters' helpers.
"""
from .config import PROFILES, ARCNNConfig
from .engine.config import TrainConfig
from .engine.trainer import TrainResult, train
from .evaluation.evaluator import EvalResult, evaluate, load_model
from .model import ARCNN, ARCNNOutput, SingleStageRegressor, build_model

__version__ = "0.1.0"
__all__ = ["ARCNN", "ARCNNConfig", "ARCNNOutput", "EvalResult", "PROFILES",
           "SingleStageRegressor", "TrainConfig", "TrainResult", "build_model", "evaluate",
           "load_model", "train", "__version__"]
