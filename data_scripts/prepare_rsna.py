"""Build the uint8 cache of a data folder (any layout `read_index` knows, or the phantom).

    python data_scripts/prepare_rsna.py --src DIR --dest CACHE --size 448 [--skip-bad]

Idempotent (a finished cache with the same fingerprint is left alone) and resumable (an
interrupted run continues from its last written chunk). Open the result with
`arcnn_lib.data.ImageCache(CACHE)`.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from arcnn_lib.data import ImageCache, build_cache, read_index  # noqa: E402


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--src", type=Path, required=True, help="the data folder")
    parser.add_argument("--dest", type=Path, required=True, help="the cache folder")
    parser.add_argument("--size", type=int, default=448, help="side of the cached images (px)")
    parser.add_argument("--skip-bad", action="store_true",
                        help="leave out missing/corrupt images (listed in one warning)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    index = read_index(args.src, skip_missing=args.skip_bad)
    cache = ImageCache(build_cache(index, args.dest, args.size, progress=True,
                                   skip_bad=args.skip_bad))
    print(f"{cache}: layout {index.attrs['layout']}, {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
