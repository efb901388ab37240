"""A Sphinx extension of the book's own: the build renders pages without progress bars.

Kernels that the build starts inherit ``ARCNN_PROGRESS=0`` from this process, and
``arcnn_lib.config.progress_enabled`` then turns every bar off. A person running a notebook
keeps them.
"""
import os


def setup(app):
    os.environ.setdefault("ARCNN_PROGRESS", "0")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
