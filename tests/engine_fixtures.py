"""The tiny phantom every quick engine test uses (the acceptance test makes its own).

The fixtures built on it (``engine_cache``, ``tiny``, ``phantom48``) are in ``conftest.py``,
where pytest finds them without an import.
"""
TINY_N, TINY_SEED = 48, 3


def __getattr__(name):
    # test_reproduce.py still imports phantom48 by name (its edit is made elsewhere); hand
    # it conftest's fixture so that there is one definition. Remove with that import.
    if name == "phantom48":
        import conftest
        return conftest.phantom48
    raise AttributeError(name)
