"""A plan as cells: what each cell is, the order they run in, and how long each should take.

Repetitions run in rounds, each round in a fresh order shuffled with the
plan's seed, so drift on the machine spreads over every server alike; the
fault experiments come after every measurement, since they leave servers
restarted. The same seed gives the same order, which is how ``--resume``
knows what is left.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, replace

from labbench import faults
from labbench.results import Plan, Results

#: Seconds each cell costs beyond its warm-up and duration (Locust's start and
#: stop, the usage reads), for the time-left estimate.
OVERHEAD_S = 2.5


@dataclass(frozen=True)
class CellKey:
    """One measured cell: server × scenario × users × repetition, by one engine."""

    server: str
    scenario: str
    users: int
    repetition: int
    engine: str = "locust"

    @property
    def slug(self) -> str:
        """The name of its raw files (a Locust cell's as before there were two engines)."""
        tail = "" if self.engine == "locust" else f"__{self.engine}"
        return f"{self.server}__{self.scenario}__u{self.users}__r{self.repetition}{tail}"

    @property
    def label(self) -> str:
        return f"{self.server} · {self.scenario} · {self.users} users · rep {self.repetition} · {self.engine}"


@dataclass(frozen=True)
class FaultKey:
    """One fault experiment: server × fault × repetition."""

    server: str
    fault: str
    repetition: int

    @property
    def slug(self) -> str:
        return f"{self.server}__fault-{self.fault}__r{self.repetition}"

    @property
    def label(self) -> str:
        return f"{self.server} · fault {self.fault} · {faults.USERS} users · rep {self.repetition}"


Key = CellKey | FaultKey


def settings(plan: Plan) -> faults.Settings:
    """What the plan sets for the fault experiments."""
    return faults.Settings(plan.long_ms, plan.soak_s)


def engines(plan: Plan) -> list[str]:
    return ["locust", "wrk"] if plan.engine == "both" else [plan.engine]


def run_order(plan: Plan) -> list[Key]:
    """Every cell of the plan, in the order they run.

    With two engines, each cell's pair runs back to back, in an order drawn
    from the same seed, so both see the machine as it was then.
    """
    rng = random.Random(plan.seed)
    order: list[Key] = []
    for repetition in range(1, plan.repetitions + 1):
        round_ = [
            CellKey(s, sc, u, repetition) for s, sc, u in itertools.product(plan.measured, plan.scenarios, plan.users)
        ]
        rng.shuffle(round_)
        for key in round_:
            pair = engines(plan)
            if len(pair) > 1:
                rng.shuffle(pair)
            order += [replace(key, engine=engine) for engine in pair]
    for repetition in range(1, plan.repetitions + 1):
        faults_round = [FaultKey(s, f, repetition) for s, f in itertools.product(plan.measured, plan.faults)]
        rng.shuffle(faults_round)
        order += faults_round
    return order


def expected_seconds(key: Key, plan: Plan) -> float:
    """How long the cell should take, for the progress display's time left."""
    if isinstance(key, FaultKey):
        return faults.seconds(faults.FAULTS[key.fault], settings(plan)) + OVERHEAD_S
    return plan.warmup_s + plan.duration_s + OVERHEAD_S


def done(results: Results) -> set[Key]:
    """The cells ``results`` already holds, whatever their status: a resumed run skips them."""
    cells: set[Key] = {CellKey(c.server, c.scenario, c.users, c.repetition, c.engine) for c in results.cells}
    return cells | {FaultKey(c.server, c.fault, c.repetition) for c in results.faults}
