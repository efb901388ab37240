"""Build the uint8 cache of a data folder (any layout `read_index` knows, or the phantom).

    python data_scripts/prepare_rsna.py --src DIR --dest CACHE_DIR --size 448 [--skip-bad]

The cache is written where training and evaluation look for it: a sub-folder of CACHE_DIR
named after the data folder, the size and a fingerprint of the data (see
`arcnn_lib.data.get_cache`). Train with the same folder: `ARCNN_CACHE=CACHE_DIR` or
`python -m arcnn_lib train --cache-dir CACHE_DIR ...`. Idempotent (a finished cache with the
same fingerprint is left alone) and resumable (an interrupted run continues from its last
written chunk).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from arcnn_lib.data import get_cache  # noqa: E402


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--src", type=Path, required=True, help="the data folder")
    parser.add_argument("--dest", type=Path, required=True,
                        help="the cache folder (what ARCNN_CACHE / --cache-dir name)")
    parser.add_argument("--size", type=int, default=448, help="side of the cached images (px)")
    parser.add_argument("--skip-bad", action="store_true",
                        help="leave out missing/corrupt images (listed in one warning)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    if not args.src.is_dir():
        parser.error(f"--src: folder {str(args.src)!r} does not exist")
    cache = get_cache(args.src, args.size, cache_dir=args.dest, progress=True,
                      skip_bad=args.skip_bad)
    print(f"{cache}: {time.perf_counter() - start:.1f} s; train with --cache-dir {args.dest}")


if __name__ == "__main__":
    main()
