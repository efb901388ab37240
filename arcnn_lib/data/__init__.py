"""The data layer: raw folder -> validated index -> uint8 cache -> batches -> GPU augment.

Ages are months at every public boundary. See each module for the conventions:
:mod:`.layouts` (the RSNA layouts), :mod:`.images` (decoding, resize and pad),
:mod:`.dataset` (a decoding torch Dataset), :mod:`.cache` (the memmap cache),
:mod:`.splits`, :mod:`.batches` (the training path), :mod:`.augment`, :mod:`.phantom`.
"""
from .augment import gpu_augment, to_float
from .batches import batch_iterator, epoch_order, num_batches
from .cache import ImageCache, build_cache, fingerprint, get_cache
from .dataset import BoneAgeDataset, check_images
from .images import load_image, resize_pad
from .layouts import AGE_RANGE, DataLayoutError, read_index
from .paths import RSNA100, default_cache_dir
from .phantom import (REGION_NAMES, make_phantom, maturity, phantom_folder, read_regions,
                      render_hand)
from .splits import make_split, read_split_csv, write_split_csv

__all__ = [
    "AGE_RANGE", "BoneAgeDataset", "DataLayoutError", "ImageCache", "REGION_NAMES", "RSNA100",
    "batch_iterator", "build_cache", "check_images", "default_cache_dir", "epoch_order",
    "fingerprint", "get_cache", "gpu_augment", "load_image", "make_phantom", "make_split",
    "maturity", "num_batches", "phantom_folder", "read_index", "read_regions",
    "read_split_csv", "render_hand", "resize_pad", "to_float", "write_split_csv",
]
