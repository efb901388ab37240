"""Disk needed by one profile on the full RSNA data: the uint8 cache and one checkpoint.

    python benchmarks/disk_needs.py [--profile paper]

Computed from the library's own definitions, not measured on a disk: the cache stores one
uint8 byte per pixel of an S x S image (``arcnn_lib.data.cache``), and ``last.pt`` / ``best.pt``
hold the model's state dict and AdamW's two moment buffers per parameter
(``arcnn_lib.engine.run.checkpoint_state``); the few kilobytes of schedule, RNG and config
states are left out. Image counts are those of the paper's description of the RSNA release.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from arcnn_lib.config import ARCNNConfig  # noqa: E402
from arcnn_lib.model.build import build_model  # noqa: E402

#: The RSNA 2017 release as the paper counts it: training, validation, test radiographs.
RSNA_COUNTS = {"train": 12611, "val": 1425, "test": 200}


def checkpoint_bytes(cfg: ARCNNConfig, kind: str) -> int:
    """Bytes of the model's state dict plus two fp32 AdamW moments per trainable weight."""
    model = build_model(cfg, kind)
    state = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    moments = sum(2 * p.numel() * 4 for p in model.parameters() if p.requires_grad)
    return state + moments


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", default="paper")
    args = p.parse_args(argv)
    cfg = ARCNNConfig.from_profile(args.profile)
    side = cfg.data_size
    per_image = side * side
    print(f"profile {args.profile}: cache image {side} x {side} = {per_image:,} bytes")
    sets = {"training set": RSNA_COUNTS["train"],
            "whole release (train + val + test)": sum(RSNA_COUNTS.values())}
    for name, n in sets.items():
        b = n * per_image
        print(f"  cache of the {name}, {n:,} images: {b:,} bytes "
              f"({b / 1e9:.2f} GB, {b / 2**30:.2f} GiB)")
    for kind in ("arcnn", "baseline"):
        b = checkpoint_bytes(cfg, kind)
        print(f"  one {kind} checkpoint (last.pt or best.pt): about {b:,} bytes "
              f"({b / 1e6:.0f} MB)")


if __name__ == "__main__":
    main()
