"""gpu_augment: shapes, range, determinism, identity at zero strength; the fast grid."""
import torch
import torch.nn.functional as F

from arcnn_lib.data import gpu_augment, to_float
from arcnn_lib.data.augment import affine_grid


def _batch():
    return torch.randint(0, 256, (3, 1, 24, 24), generator=torch.Generator().manual_seed(0),
                         dtype=torch.uint8)


def test_affine_grid_equals_torch():
    theta = torch.randn(5, 2, 3, generator=torch.Generator().manual_seed(1))
    ref = F.affine_grid(theta, [5, 1, 7, 9], align_corners=False)
    torch.testing.assert_close(affine_grid(theta, 7, 9), ref)


def test_identity_when_every_range_is_degenerate():
    x = _batch()
    out = gpu_augment(x, torch.Generator().manual_seed(0), max_rotation=0, scale=(1, 1),
                      translate=0, contrast=(1, 1), brightness=0, gamma=(1, 1))
    torch.testing.assert_close(out, to_float(x), atol=1e-5, rtol=0)


def test_random_but_reproducible_and_in_range():
    x = _batch()
    a = gpu_augment(x, torch.Generator().manual_seed(7))
    b = gpu_augment(x, torch.Generator().manual_seed(7))
    c = gpu_augment(x, torch.Generator().manual_seed(8))
    assert a.dtype == torch.float32 and a.shape == x.shape
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.min() >= 0 and a.max() <= 1


def test_rotation_moves_content_and_pads_black():
    x = torch.zeros(1, 1, 32, 32, dtype=torch.uint8)
    x[..., 4:28, 14:18] = 255  # a vertical bar
    out = gpu_augment(x, torch.Generator().manual_seed(0), max_rotation=0, scale=(1, 1),
                      translate=0.25, contrast=(1, 1), brightness=0, gamma=(1, 1))
    assert not torch.allclose(out, to_float(x))
    assert out.sum() > 0
