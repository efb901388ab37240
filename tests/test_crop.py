"""Batched crops equal a naive loop (arcnn_lib.model.crop)."""
import torch

from arcnn_lib.model.crop import crop_parts, crop_parts_naive


def test_batched_crop_equals_naive_loop():
    g = torch.Generator().manual_seed(0)
    images = torch.rand(2, 1, 20, 24, generator=g)
    boxes = torch.tensor([[[2.0, 3.0, 12.0, 11.0], [-4.5, -3.0, 6.2, 9.9]],      # inside; over the edge
                          [[15.0, 10.0, 27.0, 23.0], [5.25, 4.75, 9.5, 16.0]]])  # off two sides; thin
    fast = crop_parts(images, boxes, part_size=7)
    slow = crop_parts_naive(images, boxes, part_size=7)
    assert fast.shape == (4, 1, 7, 7)
    torch.testing.assert_close(fast, slow, atol=1e-5, rtol=0)


def test_crop_of_the_whole_image_at_its_own_size_is_the_image():
    images = torch.rand(1, 1, 8, 8)
    boxes = torch.tensor([[[0.0, 0.0, 8.0, 8.0]]])
    torch.testing.assert_close(crop_parts(images, boxes, 8), images)


def test_far_outside_is_black():
    images = torch.ones(1, 1, 8, 8)
    boxes = torch.tensor([[[20.0, 20.0, 28.0, 28.0]]])
    assert crop_parts(images, boxes, 4).abs().max() == 0
