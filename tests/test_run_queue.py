"""Scheduling the reference runs inside a budget (arcnn_lib.results.run_queue)."""
import math
import time
from dataclasses import dataclass

import pytest

from arcnn_lib.results.run_queue import RunInterrupted, execute


@dataclass(frozen=True)
class FakeRun:
    name: str
    cost: float = 1.0
    seconds: float = 0.0
    interrupt: bool = False


def fake_job(run: FakeRun, max_minutes):
    """A picklable stand-in for reproduce.run_one: sleeps, then returns or stops early."""
    time.sleep(run.seconds)
    if run.interrupt:
        raise RunInterrupted(f"{run.name} was interrupted after 1 epochs")
    return {"name": run.name, "max_minutes": max_minutes}


def collect(runs, budget_s, jobs):
    seen = []
    execute(runs, fake_job, budget_s, lambda run, m, why: seen.append((run.name, m, why)),
            jobs=jobs)
    return seen


def test_without_a_budget_every_run_finishes_uncapped_in_order():
    seen = collect([FakeRun("a"), FakeRun("b"), FakeRun("c")], math.inf, jobs=1)
    assert [name for name, _, _ in seen] == ["a", "b", "c"]
    assert all(m["max_minutes"] is None and why is None for _, m, why in seen)


def test_a_run_that_finished_predicts_the_next_and_caps_it():
    # 0.6 s of budget: the first run takes 0.5 s, so a second of cost 1 cannot fit
    seen = collect([FakeRun("a", seconds=0.5), FakeRun("b"), FakeRun("c", cost=0.1)], 0.6,
                   jobs=1)
    assert seen[0][0] == "a" and 0 < seen[0][1]["max_minutes"] <= 0.01
    assert seen[1] == ("b", None, "time budget")
    assert seen[2][0] == "c" and seen[2][2] is None     # 0.05 s predicted: it still fits


def test_an_interrupted_run_stops_new_starts_and_is_reported():
    seen = collect([FakeRun("a"), FakeRun("b", interrupt=True), FakeRun("c")], math.inf,
                   jobs=1)
    assert seen[0][2] is None
    assert seen[1][1] is None and isinstance(seen[1][2], RunInterrupted)
    assert seen[2] == ("c", None, "not started: b was interrupted")


def test_parallel_runs_finish_in_worker_processes():
    # a holds one worker for 3 s; b and c go through the other one meanwhile, so a ends
    # last (a margin far above the workers' start-up, also on a loaded machine)
    runs = [FakeRun("a", seconds=3.0), FakeRun("b"), FakeRun("c")]
    seen = collect(runs, math.inf, jobs=2)
    assert sorted(name for name, _, _ in seen) == ["a", "b", "c"]
    assert seen[-1][0] == "a"                           # the slow one does not block the rest
    assert all(why is None for _, _, why in seen)


def test_a_failing_run_raises():
    def broken(run, max_minutes):
        raise ValueError("bad data")
    with pytest.raises(ValueError, match="bad data"):
        execute([FakeRun("a")], broken, math.inf, lambda *a: None)
