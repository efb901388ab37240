"""Training the reference runs inside a time budget: one after another, or several at once.

A small GPU trains one ResNet run at a time well; a large one (an H100 or H200) leaves most of
its compute idle on one run of the ``gpu`` profile, so :func:`execute` can keep ``jobs`` runs
in flight on the one device, each in its own spawned process. Either way:

- runs start in the order given (the most important first);
- a run is skipped when the time left is less than what the finished runs predict it needs
  (seconds per unit of :attr:`Run.cost <arcnn_lib.results.reproduce.Run.cost>`, measured
  with the same number of runs in flight), and every run started gets the time left as its
  training cap (``TrainConfig.max_minutes``), so nothing runs past the budget;
- each result is handed to ``record`` the moment it exists, in the order the runs finish;
- once a run is interrupted (:class:`RunInterrupted`: a signal or its cap), no new run starts:
  the runs in flight finish or stop, the rest are recorded as not started.
"""
from __future__ import annotations

import math
import multiprocessing
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Callable, Optional, Sequence


class RunInterrupted(RuntimeError):
    """A run stopped before its last epoch (a signal or its time cap); nothing was written."""


def execute(runs: Sequence, job: Callable, budget_s: float, record: Callable,
            jobs: int = 1) -> None:
    """Run ``job(run, max_minutes)`` for each of ``runs`` within ``budget_s`` seconds.

    Args:
        runs: objects with a ``cost`` (relative time of one run) and a ``name``.
        job: a picklable top-level function returning the run's metrics; with ``jobs > 1`` it
            runs in a spawned worker process. ``max_minutes`` is None without a budget.
        budget_s: wall-clock budget of all runs (``math.inf``: none).
        record: ``record(run, metrics, reason)``: ``metrics`` of a finished run (``reason``
            None), or None and why not: a string for a run not started, the
            :class:`RunInterrupted` of a run that stopped early.
        jobs: runs in flight at once (1: in this process, one after another).
    """
    t_start = time.time()
    state = {"per_cost": None, "stopped": None}
    pending = list(runs)

    def next_run():
        """The next run to start and its training cap in minutes, or (None, None)."""
        while pending:
            run = pending.pop(0)
            left = budget_s - (time.time() - t_start)
            if state["stopped"]:
                record(run, None, f"not started: {state['stopped']}")
            elif left <= 0 or (state["per_cost"] is not None
                               and run.cost * state["per_cost"] > left):
                record(run, None, "time budget")
            else:
                return run, (None if math.isinf(budget_s) else left / 60.0)
        return None, None

    def finished(run, t0: float, metrics=None, err: Optional[BaseException] = None):
        if isinstance(err, RunInterrupted):
            state["stopped"] = f"{run.name} was interrupted"
            record(run, None, err)
        elif err is not None:
            raise err
        else:
            record(run, metrics, None)
            state["per_cost"] = (time.time() - t0) / run.cost

    if jobs <= 1:
        while True:
            run, c = next_run()
            if run is None:
                return
            t0 = time.time()
            try:
                metrics = job(run, c)
            except RunInterrupted as err:
                finished(run, t0, err=err)
                continue
            finished(run, t0, metrics)
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        flight = {}
        while True:
            while len(flight) < jobs:
                run, c = next_run()
                if run is None:
                    break
                flight[pool.submit(job, run, c)] = (run, time.time())
            if not flight:
                return
            done, _ = wait(flight, return_when=FIRST_COMPLETED)
            for fut in done:
                run, t0 = flight.pop(fut)
                err = fut.exception()
                finished(run, t0, None if err else fut.result(), err)
