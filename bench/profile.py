"""
C{python -m bench.profile FILE [TOP]}: read py-spy's collapsed stacks (C{bench --profile})
and print the functions with the most samples of their own ("self") and under them
("inclusive"), over all threads and over the main thread alone.
"""

from __future__ import annotations

import sys
from collections import Counter


def _function(frame: str) -> str:
    """C{name (path/file.py:line)} -> C{name (file.py)}: one entry per function."""
    name, _, where = frame.partition(" (")
    return f"{name} ({where.rstrip(')').split(':')[0].rsplit('/', 1)[-1]})" if where else name


def summarize(path: str, top: int = 25) -> str:
    """Self and inclusive shares, for all threads and for the main thread (examtwist's reactor)."""
    groups = {"all threads": (Counter(), Counter()), "main thread": (Counter(), Counter())}
    samples_of = Counter()
    with open(path) as f:
        for line in f:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            frames = [_function(frame) for frame in stack.split(";")]
            samples = int(count)
            # The main thread's stack starts at the program's module; others' at a thread.
            kinds = ["all threads"] + (["main thread"] if frames[0].startswith("<module>") else [])
            for kind in kinds:
                own, under = groups[kind]
                samples_of[kind] += samples
                own[frames[-1]] += samples
                for frame in set(frames):
                    under[frame] += samples
    lines = []
    for kind, (own, under) in groups.items():
        total = samples_of[kind]
        for title, counter in (("self", own), ("inclusive", under)):
            lines.append(f"-- {kind}, {title}: % of {total} samples")
            lines += [f"{n * 100 / total:5.1f}  {name}" for name, n in counter.most_common(top)]
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    print(summarize(argv[0], *(int(a) for a in argv[1:2])))


if __name__ == "__main__":
    main(sys.argv[1:])
