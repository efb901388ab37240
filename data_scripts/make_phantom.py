"""Write a synthetic phantom bone-age data set (Kaggle layout + true cue boxes).

    python data_scripts/make_phantom.py --dest DIR --n 1000 --seed 0 [--size 256]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from arcnn_lib.data import make_phantom  # noqa: E402


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dest", type=Path, required=True)
    parser.add_argument("--n", type=int, required=True, help="number of images")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", type=int, default=256, help="image side in pixels")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    make_phantom(args.dest, args.n, seed=args.seed, size=args.size)
    print(f"{args.n} phantom images in {args.dest} ({time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
