"""The losses of AR-CNN (paper, Sec. 2.3, Eqs. 2-5).

Ages enter in months and are divided by ``age_scale`` (40 months, about one standard
deviation of RSNA bone ages) before the L1 terms, so each of the M + 2 L1 terms of Eq. 4 is
of order 1 at the start of training, like one pair of the margin-1 ranking hinge of Eq. 3.

Which parameters each term moves (checked in ``tests/test_losses.py``):

* the recognition loss L_cls (Eq. 4) trains the feature extractor and the three FC heads.
  It cannot reach the navigator: parts are chosen by an arg-max over anchors, which has no
  gradient, and the crops are cut from the input image, not from a learned map;
* the attention loss L_att (Eq. 3) trains the navigator alone. The navigator reads a
  detached copy of the extractor's feature map (as NTS-Net does), and the deviations D are
  detached: the ranking teaches the navigator which parts the recogniser finds
  informative; it must not pull the recogniser towards the navigator. (Without the detach,
  the ranking loss -- a sum over up to M(M-1)/2 pairs -- dominated the shared extractor in
  our first real-data runs and made every unit worse than the single-stage baseline.)
"""
from __future__ import annotations

from typing import NamedTuple

import torch


class LossTerms(NamedTuple):
    """Scalar loss tensors: ``total`` = ``cls`` + ``att`` (Eq. 5)."""

    total: torch.Tensor
    cls: torch.Tensor
    att: torch.Tensor


def ranking_hinge_loss(scores: torch.Tensor, deviations: torch.Tensor,
                       margin: float = 1.0) -> torch.Tensor:
    """Pairwise ranking hinge loss of the attention feedback (Eqs. 2-3, as intended).

    The objectness scores S should follow the order of -D: a part whose age estimate is
    closer to the truth (smaller D) must score higher. For every ordered pair (i, j) with
    D_i < D_j the loss adds phi(S_i - S_j) = max(0, margin - (S_i - S_j)); pairs with equal
    deviations add nothing.

    Eq. 3 as printed pairs D_Ri > D_Rj with phi(S_Ri - S_Rj), which would reward the *worse*
    part with the higher score and contradicts Eq. 2 and the text; chapter 7 of the book
    works through both versions.

    Args:
        scores: (B, M) objectness scores S of the selected parts.
        deviations: (B, M) D_i = |A_{R_i} - A_gt| (detached here).
        margin: the hinge margin (1 in the paper's phi(x) = max(1 - x, 0)).

    Returns:
        Scalar: the sum over pairs, averaged over the batch.
    """
    if scores.shape != deviations.shape or scores.dim() != 2:
        raise ValueError(f"scores and deviations must both be (B, M), got "
                         f"{tuple(scores.shape)} and {tuple(deviations.shape)}")
    d = deviations.detach()
    better = d[:, :, None] < d[:, None, :]                  # (B, M, M): D_i < D_j
    gap = scores[:, :, None] - scores[:, None, :]           # S_i - S_j
    hinge = torch.clamp(margin - gap, min=0.0)
    return (hinge * better).sum(dim=(1, 2)).mean()


def l1_age(pred: torch.Tensor, target: torch.Tensor, age_scale: float) -> torch.Tensor:
    """Mean absolute error in units of ``age_scale`` months; pred and target (B,)."""
    return (pred - target).abs().mean() / age_scale


def arcnn_loss(output, target_age: torch.Tensor) -> LossTerms:
    """Total loss of AR-CNN (Eq. 5) for an :class:`arcnn_lib.model.ARCNNOutput`.

    L_cls (Eq. 4) = L1(A_C) + L1(A_X) + sum over all M parts of L1(A_{R_i});
    L_att (Eq. 3) = :func:`ranking_hinge_loss` with D_i = |A_{R_i} - A_gt|.

    Args:
        output: the model's output (ages in months).
        target_age: (B,) ground-truth bone ages in months.
    """
    target = target_age.to(output.age_x.dtype)
    s = output.age_scale
    cls = (l1_age(output.age_concat, target, s) + l1_age(output.age_x, target, s)
           + (output.age_parts - target[:, None]).abs().mean(dim=0).sum() / s)
    deviations = (output.age_parts - target[:, None]).abs()
    att = ranking_hinge_loss(output.part_scores.float(), deviations.float())
    return LossTerms(cls + att, cls, att)


def single_stage_loss(output, target_age: torch.Tensor) -> LossTerms:
    """L1 on the whole-image estimate only (the single-stage baseline of Table 3)."""
    target = target_age.to(output.age_x.dtype)
    cls = l1_age(output.age_x, target, output.age_scale)
    return LossTerms(cls, cls, torch.zeros_like(cls))
