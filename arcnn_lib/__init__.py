"""arcnn_lib: AR-CNN (Liu et al., MICCAI 2019) for pediatric bone age assessment.

The library behind the teaching book: one module per idea of the paper.
"""
from .config import ARCNNConfig

__version__ = "0.1.0"
__all__ = ["ARCNNConfig", "__version__"]
