"""
C{python -m bench.dashboard SCRAPES [PNG]}: draw docs/grafana-dashboard.json's panels from the
/metrics pages a bench run read every second (C{--with-metrics SCRAPES}), for a picture of the
dashboard where no Grafana can be installed.

Each page is parsed with prometheus_client's own parser, and each panel's PromQL is evaluated
here for the few forms the dashboard uses: C{rate()} over a window, C{sum} and C{sum by},
C{histogram_quantile} as Prometheus computes it (linear within a bucket). Panels, titles,
legends and layout are the dashboard's.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections import defaultdict
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = ROOT / "docs" / "grafana-dashboard.json"
WINDOW = 5.0  # seconds of $__rate_interval at a 1 s scrape

_SELECTOR = r"(\w+)\{([^}]*)\}"
_RANGE = r"\[[^\]]+\]"
FORMS = [
    ("quantile", re.compile(rf"histogram_quantile\(([\d.]+), sum by \(le(?:, (\w+))?\) "
                            rf"\(rate\({_SELECTOR}{_RANGE}\)\)\)$")),
    ("sum_rate", re.compile(rf"sum by \(([\w, ]+)\) \(rate\({_SELECTOR}{_RANGE}\)\)$")),
    ("sum_rate", re.compile(rf"sum()\(rate\({_SELECTOR}{_RANGE}\)\)$")),
    ("sum", re.compile(rf"sum()\({_SELECTOR}\)$")),
    ("rate", re.compile(rf"rate\({_SELECTOR}{_RANGE}\)$")),
    ("plain", re.compile(rf"{_SELECTOR}$")),
]


def load(path: Path) -> tuple[list[float], dict]:
    """The scrape times, and each sample's values by (name, labels) over them."""
    times, series = [], defaultdict(dict)
    for i, line in enumerate(path.read_text().splitlines()):
        page = json.loads(line)
        times.append(page["t"])
        for family in text_string_to_metric_families(page["text"]):
            for s in family.samples:
                labels = tuple(sorted((k, v) for k, v in s.labels.items() if k != "instance"))
                series[(s.name, labels)][i] = s.value
    return times, series


def _matchers(text: str) -> dict:
    return dict(re.findall(r'(\w+)="([^"]*)"', text))


def _select(series: dict, name: str, matchers: dict) -> dict:
    return {labels: values for (n, labels), values in series.items()
            if n == name and all(dict(labels).get(k) == v for k, v in matchers.items())}


def _rate(times: list[float], values: dict) -> list[float]:
    out = []
    for i, t in enumerate(times):
        j = i
        while j > 0 and t - times[j - 1] <= WINDOW:
            j -= 1
        if i == j or i not in values or j not in values:
            out.append(math.nan)
            continue
        delta = values[i] - values[j]
        out.append(max(delta, 0) / (t - times[j]))
    return out


def _grouped(selected: dict, by: list[str], each) -> dict:
    groups: dict = defaultdict(list)
    for labels, values in selected.items():
        groups[tuple((k, dict(labels).get(k, "")) for k in by)].append(each(values))
    return {key: [sum(column) for column in zip(*rows)] for key, rows in groups.items()}


def evaluate(expr: str, times: list[float], series: dict) -> dict:
    """The expression's series over the scrape times, by their labels."""
    for form, pattern in FORMS:
        match = pattern.match(expr)
        if match:
            break
    else:
        raise ValueError(f"a form of PromQL this drawing does not know: {expr}")
    if form == "quantile":
        q, by, name, matchers = match.groups()
        return _quantiles(float(q), by, name, _matchers(matchers), times, series)
    if form == "plain" or form == "rate":
        name, matchers = match.groups()
        each = (lambda v: [v.get(i, math.nan) for i in range(len(times))]) if form == "plain" \
            else (lambda v: _rate(times, v))
        return {labels: each(v) for labels, v in
                _select(series, name, _matchers(matchers)).items()}
    by, name, matchers = match.groups()
    by = [b.strip() for b in by.split(",") if b.strip()]
    selected = _select(series, name, _matchers(matchers))
    if form == "sum":
        return _grouped(selected, by, lambda v: [v.get(i, math.nan) for i in range(len(times))])
    return _grouped(selected, by, lambda v: _rate(times, v))


def _quantiles(q, by, name, matchers, times, series) -> dict:
    buckets = defaultdict(dict)  # group -> le -> rates
    for labels, values in _select(series, name, matchers).items():
        labels = dict(labels)
        group = ((by, labels.get(by, "")),) if by else ()
        buckets[group][float(labels["le"])] = _rate(times, values)
    out = {}
    for group, by_le in buckets.items():
        bounds = sorted(by_le)
        column = []
        for i in range(len(times)):
            counts = [by_le[b][i] for b in bounds]
            total = counts[-1]
            if not total or math.isnan(total):
                column.append(math.nan)
                continue
            rank = q * total
            k = next(k for k, c in enumerate(counts) if c >= rank)
            if math.isinf(bounds[k]):
                column.append(bounds[k - 1] if k else math.nan)
                continue
            lower, below = (bounds[k - 1], counts[k - 1]) if k else (0.0, 0.0)
            inside = counts[k] - below
            column.append(lower + (bounds[k] - lower) * ((rank - below) / inside if inside else 1))
        out[group] = column
    return out


def _legend(template: str, labels) -> str:
    labels = dict(labels)
    return re.sub(r"\{\{(\w+)\}\}", lambda m: labels.get(m.group(1), "bench"), template)


def draw(scrapes: Path, png: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dashboard = json.loads(DASHBOARD.read_text())
    times, series = load(scrapes)
    minutes = [(t - times[0]) / 60 for t in times]
    rows = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in dashboard["panels"])
    plt.style.use("dark_background")
    figure = plt.figure(figsize=(24, rows * 0.62 + 1.2), facecolor="#111217")
    grid = figure.add_gridspec(rows, 24, hspace=3.2, wspace=2.5, left=0.04, right=0.97,
                               top=1 - 1.0 / (rows * 0.62 + 1.2), bottom=0.03)
    for panel in dashboard["panels"]:
        at = panel["gridPos"]
        axes = figure.add_subplot(grid[at["y"]:at["y"] + at["h"], at["x"]:at["x"] + at["w"]])
        axes.set_facecolor("#181b1f")
        axes.set_title(panel["title"], loc="left", fontsize=11)
        right = None
        for target in panel["targets"]:
            on = axes
            if "right axis" in target["legendFormat"]:
                right = right or axes.twinx()
                on = right
            for labels, values in sorted(evaluate(target["expr"], times, series).items()):
                if all(math.isnan(v) or v == 0 for v in values) and len(panel["targets"]) == 1 \
                        and "outcome" in target["legendFormat"]:
                    continue  # an outcome that never happened: Grafana draws it flat at 0
                on.plot(minutes, values, linewidth=1,
                        label=_legend(target["legendFormat"], labels))
        unit = panel["fieldConfig"]["defaults"]["unit"]
        axes.set_ylabel({"s": "seconds", "reqps": "per second", "bytes": "bytes",
                         "percentunit": "cores"}.get(unit, ""), fontsize=8)
        if unit == "s":
            axes.set_yscale("log")
        axes.tick_params(labelsize=8)
        axes.set_xlabel("minutes", fontsize=8)
        handles, labels = axes.get_legend_handles_labels()
        if right is not None:
            more = right.get_legend_handles_labels()
            handles, labels = handles + more[0], labels + more[1]
        if handles:
            axes.legend(handles, labels, fontsize=7, loc="upper left", ncol=2, framealpha=0.4)
    figure.suptitle(
        f"{dashboard['title']}: docs/grafana-dashboard.json's panels, drawn from {len(times)}"
        " scrapes of /metrics (one a second) during `make bench --scenarios throughput"
        " --with-metrics`; not a Grafana screenshot (no Grafana on the machine)",
        x=0.01, ha="left", fontsize=12)
    figure.savefig(png, dpi=70, facecolor=figure.get_facecolor())


if __name__ == "__main__":
    draw(Path(sys.argv[1]), Path(sys.argv[2] if len(sys.argv) > 2 else
                                 ROOT / "docs" / "grafana-dashboard.png"))
