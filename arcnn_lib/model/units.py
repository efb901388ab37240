"""The units of a model's output: each predicts an age; their columns, and their one name.

AR-CNN has several "units" that each predict an age (months). Each has one name, the
paper's (Table 2), used by every table, JSON and CSV file the library writes
(:func:`unit_label`), and one column suffix in predictions and logs:

=========== ================ ================================= =============================
name        output field     column suffix (``pred``/``val_mae``) what it is
=========== ================ ================================= =============================
``A_asb``   ``age``          ``""``                            Eq. 1, the model's answer
``X``       ``age_x``        ``_x``                            the whole image
``C``       ``age_concat``   ``_concat``                       X and the top-K parts
``R{i+1}``  ``age_parts[:,i]`` ``_part{i+1}``                  part i (0..M-1, by score)
=========== ================ ================================= =============================

The single-stage baseline has only the first two (its ``age == age_x``).
"""
from __future__ import annotations

from typing import List

import torch


def unit_label(suffix: str) -> str:
    """The paper's name of the unit whose columns end in ``suffix``: ``""`` -> ``A_asb``,
    ``_x`` -> ``X``, ``_concat`` -> ``C``, ``_part{i}`` -> ``R{i}``."""
    fixed = {"": "A_asb", "_x": "X", "_concat": "C"}
    if suffix in fixed:
        return fixed[suffix]
    if suffix.startswith("_part") and suffix[5:].isdigit():
        return f"R{suffix[5:]}"
    raise ValueError(f"unknown unit suffix {suffix!r}; expected '', '_x', '_concat' or "
                     "'_part<i>'")


def unit_suffixes(num_parts: int, has_concat: bool = True, has_parts: bool = True) -> List[str]:
    """Column suffixes of the units, in the order of :func:`stack_units`."""
    s = ["", "_x"]
    if has_concat:
        s.append("_concat")
    if has_parts:
        s += [f"_part{i + 1}" for i in range(num_parts)]
    return s


def stack_units(output) -> torch.Tensor:
    """The units' predictions of one batch as one (B, U) float32 tensor (months).

    Columns follow :func:`unit_suffixes` for the fields present in ``output``.
    """
    cols = [output.age, output.age_x]
    if getattr(output, "age_concat", None) is not None:
        cols.append(output.age_concat)
    parts = getattr(output, "age_parts", None)
    out = torch.stack([c.float() for c in cols], dim=1)
    if parts is not None:
        out = torch.cat([out, parts.float()], dim=1)
    return out


def output_suffixes(output, num_parts: int) -> List[str]:
    return unit_suffixes(num_parts, getattr(output, "age_concat", None) is not None,
                         getattr(output, "age_parts", None) is not None)
