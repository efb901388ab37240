"""Where data and caches live by default (no machine-specific paths)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

#: The repository root (``arcnn_lib/data/paths.py`` is three levels below it).
REPO_ROOT = Path(__file__).resolve().parents[2]

#: The real RSNA sample at 100 x 100 px, beside the repository (absent on most machines).
RSNA100 = REPO_ROOT.parent / "shared" / "data" / "rsna100"



def default_cache_dir(cache_dir: Optional[os.PathLike] = None) -> Path:
    """``cache_dir`` if given, else ``$ARCNN_CACHE``, else ``~/.cache/arcnn_lib``."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get("ARCNN_CACHE", "").strip()
    return Path(env).expanduser() if env else Path.home() / ".cache" / "arcnn_lib"
