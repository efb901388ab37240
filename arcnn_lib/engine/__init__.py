"""The training engine: the run's configuration, the loop in small pieces, optimiser and
schedule, precision and device, checkpoints, distributed data parallel, the command line.

Imports flow one way: the engine uses :mod:`arcnn_lib.model` and :mod:`arcnn_lib.data`;
evaluation and the results tooling use the engine.
"""
