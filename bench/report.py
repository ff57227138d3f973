"""
What a run leaves behind: every measurement in bench/results/<date>.json, the tables in
docs/performance.md (between two marker lines, so the prose around them stays), and one PNG
with each scenario's panels side by side.
"""

from __future__ import annotations

import json
from pathlib import Path

BEGIN = "<!-- bench:begin: written by `make bench`; edit outside these marks -->"
END = "<!-- bench:end -->"


def write_json(path: Path, run: dict, summaries) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = dict(run, summaries={s.scenario.name: s.to_json() for s in summaries})
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def markdown(run: dict, summaries, results_name: str) -> str:
    machine = run["machine"]
    lines = [
        f"### Latest run: {run['started']}",
        "",
        *([f"**Incomplete run ({run['incomplete']}): only what was measured before.**", ""]
          if run.get("incomplete") else []),
        f"- Command: `{run['command']}`; every figure: `{results_name}`.",
        f"- Machine: {machine['cpus']} cores, {machine['system']}, Python {machine['python']}; "
        f"load average {machine['load_before']} before the run, {machine['load_after']} after "
        "(other engineers' test suites share it).",
        f"- {run['rounds']} round(s) of {run['duration']} s per load and server, the servers "
        "alternating and their order flipped every round. A cell is the median over rounds, "
        "with the lowest and highest round in brackets; a ratio is taken per round, side by side.",
        f"- Servers: {', '.join(run['servers'])}.{' ' + run['peers_note'] if run['peers_note'] else ''}",
        *(f"- {note}" for note in run.get("notes", [])),
        "",
    ]
    for summary in summaries:
        scenario = summary.scenario
        lines += [f"#### {scenario.title}", "", scenario.description, ""]
        header = [scenario.load_label, "server", *(c.header for c in scenario.columns)]
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "---|" * len(header))
        for load in summary.loads:
            for server in summary.servers:
                cells = []
                for column in scenario.columns:
                    spread = summary.spread(load, server, column.metric)
                    cells.append(spread.format(column.digits) if spread else "–")
                if any(c != "–" for c in cells):
                    lines.append(f"| {load:,} | {server} | " + " | ".join(cells) + " |")
        lines.append("")
        for load in summary.loads:
            for ratio in scenario.ratios:
                spread = summary.ratio(load, ratio)
                if spread:
                    lines.append(f"- {ratio.label} at {load:,}: **{spread.format('.2f')}×**")
        for target, measured, met in summary.verdicts():
            lines.append(f"- Target {target}: {'**met**' if met else '**missed**'} ({measured})")
        lines.append("")
    return "\n".join(lines)


def update_page(path: Path, section: str) -> None:
    """Put the section between the markers of the page, or at its end when it has none."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    block = f"{BEGIN}\n{section}\n{END}"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = text + ("\n" if text and not text.endswith("\n") else "") + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def plot(path: Path, summaries, title: str) -> None:
    """Each scenario a column of panels; a bar per server at each load, whiskers for the spread."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    summaries = [s for s in summaries if s.loads]
    rows = max(len(s.scenario.panels) for s in summaries)
    figure, axes = plt.subplots(rows, len(summaries), figsize=(4.6 * len(summaries), 3.6 * rows),
                                squeeze=False)
    servers = list(dict.fromkeys(server for s in summaries for server in s.servers))
    palette = plt.get_cmap("tab10").colors
    colours = {server: palette[i % len(palette)] for i, server in enumerate(servers)}
    for column, summary in enumerate(summaries):
        for row, panel in enumerate(summary.scenario.panels):
            ax = axes[row][column]
            width = 0.8 / len(summary.servers)
            for i, server in enumerate(summary.servers):
                xs, heights, low, high = [], [], [], []
                for x, load in enumerate(summary.loads):
                    spread = summary.spread(load, server, panel.metric)
                    if spread:
                        xs.append(x + (i - (len(summary.servers) - 1) / 2) * width)
                        heights.append(spread.median)
                        low.append(spread.median - spread.low)
                        high.append(spread.high - spread.median)
                bars = ax.bar(xs, heights, width, yerr=[low, high], capsize=3,
                              color=colours[server], label=server)
                ax.bar_label(bars, fmt="%.3g", fontsize=7, padding=2)
            if panel.target is not None:
                ax.axhline(panel.target, color="#b03030", linestyle="--", linewidth=1,
                           label=f"target {panel.target:g}")
            if panel.log:
                ax.set_yscale("log")
                plain = FuncFormatter(lambda y, _: f"{y:g}")
                ax.yaxis.set_major_formatter(plain)
                ax.yaxis.set_minor_formatter(FuncFormatter(lambda y, _: ""))
            ax.set_xticks(range(len(summary.loads)), [f"{load:,}" for load in summary.loads])
            ax.set_xlabel(summary.scenario.load_label)
            ax.set_ylabel(panel.label, fontsize=8)
            if row == 0:
                ax.set_title(summary.scenario.title)
            ax.legend(fontsize=7)
        for row in range(len(summary.scenario.panels), rows):
            axes[row][column].axis("off")
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
