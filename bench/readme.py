"""Keeps docs/benchmarks.md's summary and Sizing section in step with the latest full run.

The docs promise figures computed from measurements; regenerating them between markers on every
`make bench` means nobody edits them by hand and they cannot drift from bench/results.md.
"""

from __future__ import annotations

from pathlib import Path

from bench.report import targets_section
from bench.results import Results
from bench.sizing_text import sizing_section

START = "<!-- bench:start (written by make bench; do not edit by hand) -->"
END = "<!-- bench:end -->"


def summary(results: Results) -> str:
    """Targets and Sizing as sections of docs/benchmarks.md (the same heading level as in results.md)."""
    lines = [f"Latest full run: {results.when} ({results.versions.get('CPU', 'this machine')}).", ""]
    lines += [*targets_section(results), *sizing_section(results)]
    return "\n".join(lines).rstrip()


def replace_between_markers(text: str, body: str) -> str:
    """``text`` with everything between START and END replaced by ``body``; both markers must be present."""
    head, start, rest = text.partition(START)
    _, end, tail = rest.partition(END)
    if not start or not end:
        raise ValueError(f"bench markers not found: {START!r} ... {END!r}")
    return f"{head}{START}\n{body}\n{END}{tail}"


def update(readme: Path, results: Results) -> None:
    readme.write_text(replace_between_markers(readme.read_text(), summary(results)))
