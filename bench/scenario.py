"""
What every scenario is: a C{run} that records measurements through the L{Bench}, the columns
of its table, the ratios it quotes, the targets it checks and the panels it plots. The report
and the plot are made from these declarations only, so a new scenario is one module.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Callable

EXAMTWIST = "examtwist"
THREADED_PEER = "threaded peer"


@dataclass(frozen=True)
class Spread:
    """A metric over the rounds: the median, and the lowest and highest round."""

    median: float
    low: float
    high: float
    rounds: int

    @classmethod
    def of(cls, values: list[float]) -> "Spread | None":
        values = [v for v in values if v is not None]
        if not values:
            return None
        return cls(statistics.median(values), min(values), max(values), len(values))

    def format(self, digits: str = ".3g") -> str:
        text = format(self.median, digits)
        if self.rounds > 1:
            text += f" ({format(self.low, digits)}–{format(self.high, digits)})"
        return text


@dataclass(frozen=True)
class Column:
    metric: str
    header: str
    digits: str = ".3g"


@dataclass(frozen=True)
class Ratio:
    """C{metric} of C{over} divided by that of C{under}, per round, side by side."""

    metric: str
    label: str
    over: str = EXAMTWIST
    under: str = THREADED_PEER


@dataclass(frozen=True)
class Panel:
    metric: str
    label: str
    target: float | None = None
    log: bool = False


@dataclass(frozen=True)
class Target:
    """
    What the issue asks, checked on the median over rounds at the given load (the largest
    load when None).
    """

    text: str
    check: Callable[["Summary", int], tuple[str, bool] | None]
    load: int | None = None


class Summary:
    """One scenario's measurements, grouped by load and server."""

    def __init__(self, scenario: "Scenario", measurements: list[dict]) -> None:
        self.scenario = scenario
        self.measurements = [m for m in measurements if m["scenario"] == scenario.name]
        self.loads = sorted({m["load"] for m in self.measurements})
        self.servers = list(dict.fromkeys(m["server"] for m in self.measurements))

    def values(self, load: int, server: str, metric: str) -> list[float]:
        return [m["metrics"].get(metric) for m in self.measurements
                if m["load"] == load and m["server"] == server]

    def spread(self, load: int, server: str, metric: str) -> Spread | None:
        return Spread.of(self.values(load, server, metric))

    def ratio(self, load: int, ratio: Ratio) -> Spread | None:
        """The ratio in each round where both servers ran, then its spread."""
        by_round: dict[int, dict[str, float]] = {}
        for m in self.measurements:
            if m["load"] == load and m["server"] in (ratio.over, ratio.under):
                by_round.setdefault(m["round"], {})[m["server"]] = m["metrics"].get(ratio.metric)
        values = [pair[ratio.over] / pair[ratio.under] for pair in by_round.values()
                  if pair.get(ratio.over) and pair.get(ratio.under)]
        return Spread.of(values)

    def to_json(self) -> dict:
        table = []
        for load in self.loads:
            for server in self.servers:
                row = {"load": load, "server": server}
                for column in self.scenario.columns:
                    spread = self.spread(load, server, column.metric)
                    row[column.metric] = spread and spread.__dict__
                table.append(row)
        ratios = [
            {"load": load, "ratio": r.label, **(self.ratio(load, r).__dict__)}
            for load in self.loads for r in self.scenario.ratios if self.ratio(load, r)
        ]
        return {"table": table, "ratios": ratios,
                "targets": [{"target": t, "measured": m, "met": ok} for t, m, ok in self.verdicts()]}

    def verdicts(self) -> list[tuple[str, str, bool]]:
        found = []
        for target in self.scenario.targets:
            load = target.load if target.load in self.loads else (self.loads or [None])[-1]
            outcome = target.check(self, load) if load is not None else None
            if outcome is not None:
                found.append((target.text, f"{outcome[0]} at {load:,}", outcome[1]))
        return found


def below(metric: str, limit: float, unit: str, server: str = EXAMTWIST):
    """A target check: the server's median of C{metric} is at most C{limit}."""
    return _median_check(metric, unit, server, lambda median: median <= limit)


def above(metric: str, limit: float, unit: str, server: str = EXAMTWIST):
    """A target check: the server's median of C{metric} is at least C{limit}."""
    return _median_check(metric, unit, server, lambda median: median >= limit)


def _median_check(metric: str, unit: str, server: str, holds: Callable[[float], bool]):
    def check(summary: Summary, load: int):
        spread = summary.spread(load, server, metric)
        if spread is None:
            return None
        return f"{spread.format()} {unit}".strip(), holds(spread.median)

    return check


def ratio_above(ratio: Ratio, limit: float):
    """A target check: the median over rounds of C{ratio} is at least C{limit}."""
    return _ratio_check(ratio, lambda median: median >= limit)


def ratio_below(ratio: Ratio, limit: float):
    """A target check: the median over rounds of C{ratio} is at most C{limit}."""
    return _ratio_check(ratio, lambda median: median <= limit)


def _ratio_check(ratio: Ratio, holds: Callable[[float], bool]):
    def check(summary: Summary, load: int):
        spread = summary.ratio(load, ratio)
        if spread is None:
            return None
        return f"{spread.format('.2f')}×", holds(spread.median)

    return check


class Scenario:
    name = ""
    title = ""
    kind = "exam"  # which contenders it runs against (L{bench.servers.Contender.kind})
    load_label = "load"
    description = ""
    columns: list[Column] = []
    ratios: list[Ratio] = []
    panels: list[Panel] = []
    targets: list[Target] = []

    async def run(self, bench) -> None:
        raise NotImplementedError

    def contenders(self, bench) -> list:
        """The servers it runs against, in the order of the run."""
        return bench.of_kind(self.kind)

    def summary(self, measurements: list[dict]) -> Summary:
        return Summary(self, measurements)
