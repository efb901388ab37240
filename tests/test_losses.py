"""The ranking hinge (Eq. 3) on hand-worked cases and which parameters each loss trains."""
import pytest
import torch

from arcnn_lib.config import ARCNNConfig
from arcnn_lib.model.losses import arcnn_loss, ranking_hinge_loss
from arcnn_lib.model import ARCNN


def _loss(scores, deviations, **kw):
    return ranking_hinge_loss(torch.tensor(scores), torch.tensor(deviations), **kw).item()


def test_well_ordered_scores_cost_nothing():
    # smallest deviation has the highest score, every gap at least the margin
    assert _loss([[2.0, 1.0, 0.0]], [[0.5, 3.0, 9.0]]) == 0.0


def test_equal_scores_pay_the_margin_once_per_ordered_pair():
    assert _loss([[0.0, 0.0, 0.0]], [[1.0, 2.0, 3.0]]) == 3.0
    assert _loss([[0.0, 0.0, 0.0]], [[1.0, 2.0, 3.0]], margin=0.5) == 1.5


def test_ties_in_deviation_are_not_pairs():
    # D = (1, 1, 2): only (0, 2) and (1, 2) are ordered pairs
    assert _loss([[0.0, 0.0, 0.0]], [[1.0, 1.0, 2.0]]) == 2.0
    assert _loss([[0.0, 5.0]], [[4.0, 4.0]]) == 0.0


def test_wrong_order_costs_margin_plus_gap():
    # part 0 is better (D smaller) but scores 1 lower: max(0, 1 - (0 - 1)) = 2
    assert _loss([[0.0, 1.0]], [[0.0, 1.0]]) == 2.0
    # half-way: the right order but a gap below the margin
    assert _loss([[0.25, 0.0]], [[0.0, 1.0]]) == 0.75


def test_averaged_over_the_batch():
    assert _loss([[0.0, 1.0], [2.0, 0.0]], [[0.0, 1.0], [0.0, 1.0]]) == 1.0   # (2 + 0) / 2


def test_eq3_as_printed_would_reward_the_worse_part():
    # Swapping the roles of D (the printed Eq. 3) makes the well-ordered case expensive.
    scores, dev = torch.tensor([[2.0, 1.0, 0.0]]), torch.tensor([[0.5, 3.0, 9.0]])
    assert ranking_hinge_loss(scores, dev).item() == 0.0
    assert ranking_hinge_loss(scores, -dev).item() > 0.0


def test_deviations_are_detached_and_shapes_checked():
    scores = torch.zeros(1, 3, requires_grad=True)
    dev = torch.tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    ranking_hinge_loss(scores, dev).backward()
    assert dev.grad is None and scores.grad is not None
    with pytest.raises(ValueError, match="scores and deviations"):
        ranking_hinge_loss(torch.zeros(2, 3), torch.zeros(2, 4))


def _grads(model, term):
    model.zero_grad(set_to_none=True)
    torch.manual_seed(0)
    images = torch.rand(3, 1, model.config.image_size, model.config.image_size)
    out = model(images)
    getattr(arcnn_loss(out, torch.tensor([30.0, 100.0, 170.0])), term).backward()
    return {name: p.grad is not None and p.grad.abs().sum().item() > 0
            for name, p in model.named_parameters()}


def _any(flags, prefix):
    return any(v for k, v in flags.items() if k.startswith(prefix))


def _all(flags, prefix):
    return all(v for k, v in flags.items() if k.startswith(prefix))


def test_which_parameters_each_loss_trains():
    torch.manual_seed(0)
    model = ARCNN(ARCNNConfig.smoke())
    cls = _grads(model, "cls")
    assert not _any(cls, "navigator.")                  # the arg-max blocks it
    assert _all(cls, "heads.") and _any(cls, "extractor.stage4.")
    att = _grads(model, "att")
    # the hinge reaches the shared navigator trunk and the score layers of the levels
    # that supplied a selected part (levels with no selected part get no gradient)
    assert _all(att, "navigator.reduce.") and _any(att, "navigator.score.")
    assert not _any(att, "heads.")                      # deviations are detached
    assert not _any(att, "extractor.")                  # the feature map is detached
