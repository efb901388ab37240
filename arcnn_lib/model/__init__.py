"""The paper's pieces, one idea per module.

:mod:`.anchors` (default anchors), :mod:`.attention` (the navigator and part selection),
:mod:`.crop` (cropping the parts), :mod:`.recognition` (the feature extractor and the
X / part / concat heads), :mod:`.part_norm` (part-aware BatchNorm), :mod:`.arcnn` (the
assembled model, Eq. 1), :mod:`.losses` (Eqs. 2-5), :mod:`.baselines` (the single-stage
regressor of Table 3), :mod:`.build` (either, by name), :mod:`.units` (the units'
columns).
"""
from .arcnn import (ARCNN, ARCNNOutput, assemble_age, input_and_source, normalise,
                    normalise_images, unit_grey)
from .baselines import SingleStageRegressor
from .build import MODEL_KINDS, build_model

__all__ = ["ARCNN", "ARCNNOutput", "MODEL_KINDS", "SingleStageRegressor", "assemble_age",
           "build_model", "input_and_source", "normalise", "normalise_images", "unit_grey"]
