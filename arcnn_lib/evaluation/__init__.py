"""Evaluation: predictions of a trained checkpoint and per-unit errors (:mod:`.evaluator`,
:mod:`.metrics`), assemblies of the units (:mod:`.assembly`), the pointing game on known
regions (:mod:`.pointing`, :mod:`.roi_pointing`), attribution with Captum
(:mod:`.interpret`, :mod:`.attribution_mass`, :mod:`.roi_attribution`) and stability under
transforms (:mod:`.stability`)."""
