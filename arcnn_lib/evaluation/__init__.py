"""Evaluation: predictions of a trained checkpoint, per-unit errors, the pointing game on
known regions, and attribution with Captum (:mod:`.interpret`)."""
