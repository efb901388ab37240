"""The tiny phantom every quick engine test uses (the acceptance test makes its own).

The fixtures built on it (``engine_cache``, ``tiny``, ``phantom48``) are in ``conftest.py``,
where pytest finds them without an import.
"""
TINY_N, TINY_SEED = 48, 3
