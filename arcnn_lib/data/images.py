"""Decoding radiograph PNGs to one 8-bit grey channel, and the aspect-preserving resize.

Conventions (the same for every layout and for the cache):

* 8-bit grey (``L``) images are returned as they are.
* 16-bit grey (``I;16``, ``I``) and float (``F``) images are scaled **by their own range**:
  ``(x - min) / (max - min) * 255``, rounded. RSNA radiographs store 10, 12 or 16 bits in a
  16-bit container, so a fixed ``/ 257`` would leave many of them nearly black. A constant
  image becomes all zeros.
* Palette (``P``) images go through their palette to grey; RGB / RGBA to luminance
  (ITU-R 601-2: ``0.299 R + 0.587 G + 0.114 B``, Pillow's ``convert('L')``); alpha is dropped.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

_WIDE_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")


def load_image(path) -> np.ndarray:
    """Decode the image at ``path`` to a grey uint8 array of shape (H, W).

    Raises:
        FileNotFoundError: the file does not exist (the message names it).
        ValueError: the file is not a readable image (corrupt, truncated, not a PNG...).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image file not found: {path}")
    try:
        with Image.open(path) as im:
            im.load()
            return _to_grey_uint8(im)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ValueError(f"cannot decode image {path}: {exc}") from exc


def _to_grey_uint8(im: Image.Image) -> np.ndarray:
    if im.mode == "L":
        return np.asarray(im, dtype=np.uint8).copy()
    if im.mode in _WIDE_MODES:
        return _stretch_to_uint8(np.asarray(im))
    if im.mode in ("P", "PA"):
        im = im.convert("RGBA" if "transparency" in im.info or im.mode == "PA" else "RGB")
    return np.asarray(im.convert("L"), dtype=np.uint8).copy()


def _stretch_to_uint8(a: np.ndarray) -> np.ndarray:
    """Scale a wide (16-bit / int / float) image to 0..255 by its own min and max."""
    a = a.astype(np.float64)
    lo, hi = float(a.min()), float(a.max())
    if hi <= lo:
        return np.zeros(a.shape, np.uint8)
    return np.rint((a - lo) * (255.0 / (hi - lo))).astype(np.uint8)


def resize_pad(img: np.ndarray, size: int) -> np.ndarray:
    """Aspect-preserving resize so the long side is ``size``, then zero-pad to (size, size).

    The resize is Pillow's bilinear filter, which is antialiased when shrinking (its support
    grows with the reduction factor). The short side becomes ``max(1, round(short * size /
    long))`` and the image is centred; padding is black (0), like the film background.

    Args:
        img: uint8 array (H, W).
        size: output side in pixels.
    Returns:
        uint8 array (size, size).
    """
    if img.ndim != 2 or img.dtype != np.uint8:
        raise ValueError(f"resize_pad expects a uint8 (H, W) array, got {img.dtype} {img.shape}")
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    h, w = img.shape
    scale = size / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    if (nh, nw) != (h, w):
        img = np.asarray(Image.fromarray(img).resize((nw, nh), Image.BILINEAR))
    if (nh, nw) == (size, size):
        return np.ascontiguousarray(img)
    out = np.zeros((size, size), np.uint8)
    top, left = (size - nh) // 2, (size - nw) // 2
    out[top:top + nh, left:left + nw] = img
    return out


def resize_pad_transform(height: int, width: int, size: int):
    """Scale and offsets of :func:`arcnn_lib.data.images.resize_pad`: a pixel coordinate
    (x, y) of an (height, width) image lands at (x * sx + left, y * sy + top) in the
    (size, size) cache image. Returns (sx, sy, left, top)."""
    scale = size / max(height, width)
    nh, nw = max(1, round(height * scale)), max(1, round(width * scale))
    top, left = (size - nh) // 2, (size - nw) // 2
    return nw / width, nh / height, left, top


def map_boxes(boxes: np.ndarray, height: int, width: int, size: int) -> np.ndarray:
    """(R, 4) x1, y1, x2, y2 boxes in written-image pixels -> cache pixels."""
    sx, sy, left, top = resize_pad_transform(height, width, size)
    b = np.asarray(boxes, np.float64).copy()
    b[:, [0, 2]] = b[:, [0, 2]] * sx + left
    b[:, [1, 3]] = b[:, [1, 3]] * sy + top
    return b
