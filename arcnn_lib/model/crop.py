"""Cropping the parts R_i out of the input and resizing them (paper, Sec. 2.1).

All B x M parts are cut and resized by one call of :func:`torchvision.ops.roi_align`.

What it computes, precisely (``aligned=True``, ``sampling_ratio=1``): output pixel (u, v) of a
P x P part of box (x1, y1, x2, y2) is the bilinear interpolation of the image at

    x = x1 + (u + 1/2) (x2 - x1) / P - 1/2,   y = y1 + (v + 1/2) (y2 - y1) / P - 1/2

in coordinates where pixel centres are integers -- the same sampling as
``F.interpolate(..., mode="bilinear", align_corners=False)`` of the box. Outside the image
the part is padded: a sample within one pixel of the border takes the border value, one
further out is zero (black, like the background of a radiograph). Parts are enlarged in
the paper (48-192 pixel boxes to 224), so one sample per output pixel loses nothing.
:func:`crop_parts_naive` spells the same thing out with loops, for the book and the tests.
"""
from __future__ import annotations

import torch
from torchvision.ops import roi_align


def crop_parts(images: torch.Tensor, boxes: torch.Tensor, part_size: int) -> torch.Tensor:
    """Crop and resize every box of every image in one batched op.

    Args:
        images: (B, C, H, W) float.
        boxes: (B, M, 4) boxes (x1, y1, x2, y2) in pixels of ``images``.
        part_size: P.

    Returns:
        (B * M, C, P, P), image-major: parts of image 0 first, in box order.
    """
    B, M, _ = boxes.shape
    batch_idx = torch.arange(B, device=boxes.device, dtype=boxes.dtype).repeat_interleave(M)
    rois = torch.cat([batch_idx[:, None], boxes.reshape(B * M, 4)], dim=1)     # (B*M, 5)
    return roi_align(images, rois.to(images.dtype), output_size=part_size, spatial_scale=1.0,
                     sampling_ratio=1, aligned=True)


def _bilinear_sample(image: torch.Tensor, y: float, x: float) -> torch.Tensor:
    """One bilinear sample of image (C, H, W) at (y, x), padded as described above."""
    C, H, W = image.shape
    if y < -1.0 or y > H or x < -1.0 or x > W:
        return image.new_zeros(C)
    y, x = min(max(y, 0.0), H - 1.0), min(max(x, 0.0), W - 1.0)
    y0, x0 = int(y), int(x)
    y1, x1 = min(y0 + 1, H - 1), min(x0 + 1, W - 1)
    dy, dx = y - y0, x - x0
    return ((1 - dy) * (1 - dx) * image[:, y0, x0] + (1 - dy) * dx * image[:, y0, x1]
            + dy * (1 - dx) * image[:, y1, x0] + dy * dx * image[:, y1, x1])


def crop_parts_naive(images: torch.Tensor, boxes: torch.Tensor, part_size: int) -> torch.Tensor:
    """Reference for :func:`crop_parts`: a Python loop over images, boxes and output pixels.

    Same arguments and result; slow (for checking and teaching only).
    """
    B, M, _ = boxes.shape
    P = part_size
    out = images.new_zeros(B * M, images.shape[1], P, P)
    for b in range(B):
        for m in range(M):
            x1, y1, x2, y2 = boxes[b, m].tolist()
            for v in range(P):
                y = y1 + (v + 0.5) * (y2 - y1) / P - 0.5
                for u in range(P):
                    x = x1 + (u + 0.5) * (x2 - x1) / P - 0.5
                    out[b * M + m, :, v, u] = _bilinear_sample(images[b], y, x)
    return out
