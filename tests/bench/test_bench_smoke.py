"""Smoke run of `python -m bench --quick`: the shape of results.md and results.svg, never the timings.

The run is the real one (loopback JWKS server, real keys, the real handler, cold-start child processes) with
the Node.js peers and the bundle left out, so it needs neither bench/node_modules nor the package registry.
"""

from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from bench import cache_cost
from bench.readme import END, START

REPO = Path(__file__).resolve().parents[2]
FIGURE = r"\d[\d,]*\.\d \(\d[\d,]*\.\d-\d[\d,]*\.\d\)"
RATIO = r"\d+\.\d\dx \(\d+\.\d\d-\d+\.\d\d\)"
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def bench_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bench")
    (out / "README.md").write_text(f"# Title\n\n{START}\nold\n{END}\n\n## After\n")
    argv = ["--quick", "--no-node", "--bundle", "skip", "--out", str(out), "--readme", str(out / "README.md")]
    run = subprocess.run(
        [sys.executable, "-m", "bench", *argv],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    return out


def _table(markdown: str, heading: str) -> list[list[str]]:
    """Rows (header and separator dropped) of the first table after ``heading``."""
    section = markdown.split(f"\n{heading}\n", 1)[1]
    rows = []
    for line in section.split("\n## ", 1)[0].splitlines():
        if line.startswith("| ") and not line.startswith("| ---"):
            rows.append([cell.strip() for cell in line.strip("|").split(" | ")])
        elif rows and not line.startswith("|"):
            break
    return rows[1:]


def test_results_md_has_every_section_in_order(bench_out: Path) -> None:
    markdown = (bench_out / "results.md").read_text()
    headings = [line for line in markdown.splitlines() if line.startswith("#")]
    assert headings == [
        "# Benchmark results",
        "## Targets",
        "## Warm: one authorization with the keys cached",
        "## Rejections",
        "## Unknown-kid flood",
        "## Cold start",
        "## Bundle",
        "## Sizing",
        "## Method",
    ]
    assert "![Benchmark chart](results.svg)" in markdown


def test_targets_table_judges_each_target_and_explains_each_miss(bench_out: Path) -> None:
    markdown = (bench_out / "results.md").read_text()
    rows = _table(markdown, "## Targets")
    assert [row[0] for row in rows] == [
        "warm distinct-token authorization ≤ 1.1x the limit",
        "warm distinct-token authorization ahead of every peer in the same run",
        "warm DPoP authorization (bound RS256 token, fresh ES256 proof) ≤ 1.3x the limit of its two "
        "verifications",
        "cold start, precompiled bytecode ≤ 1.0x the floor",
        "cold start, no bytecode (a source-only bundle, as Lambda runs it) ≤ 1.4x the floor",
        "unknown-kid flood: ≤ 1 JWKS request per cooldown (10 s)",
        "authorizer asset ≤ 6 MB zipped",
    ]
    for row in rows[:6]:
        assert re.fullmatch(
            r"\*\*met\*\*(, \d+% headroom|, \d+% ahead of .+)?|\*\*missed\*\*, by .+", row[2]
        ), row
    # the peers row: the gate against the fastest peer of the run (the PyJWT reference always runs)
    assert re.fullmatch(r"\d+\.\d\dx the limit; the fastest peer, .+: \d+\.\d\dx", rows[1][1]), rows[1]
    assert re.fullmatch(r"\d+\.\d\dx \(rounds .+\): \d+\.\d µs against \d+\.\d µs", rows[2][1]), rows[2]
    # the no-bytecode figure is published with its compile share, not hidden
    assert re.fullmatch(
        r"\d+\.\d\dx \(rounds .+\): \d+ ms against \d+ ms; compiling is -?\d+% of it \(rounds .+\)",
        rows[4][1],
    ), rows[4]
    assert rows[6][1:] == ["not measured in this run (--bundle skip)", "not measured"]
    missed = [row[0] for row in rows if row[2].startswith("**missed**")]
    explained = re.findall(
        r"^- \*\*(.+)\*\* — missed .+\n  Why: .+\n  To close it: .+$", markdown, re.MULTILINE
    )
    assert explained == missed


def test_warm_table_lists_the_limit_the_handler_and_pyjwt_with_figures(bench_out: Path) -> None:
    rows = _table((bench_out / "results.md").read_text(), "## Warm: one authorization with the keys cached")
    assert [row[0] for row in rows] == [
        "limit: raw verify + parse",
        "handler.handler, distinct tokens",
        "handler.handler, one repeated token",
        "PyJWT reference",
    ]
    for row in rows:
        assert re.fullmatch(FIGURE, row[1]), row
        assert re.fullmatch(RATIO, row[2]), row
    assert rows[0][2] == "1.00x (1.00-1.00)"


def test_warm_section_has_the_dpop_path_against_its_own_limit(bench_out: Path) -> None:
    markdown = (bench_out / "results.md").read_text()
    warm = markdown.split("\n## Warm: one authorization with the keys cached\n", 1)[1].split("\n## ", 1)[0]
    table = warm.split("| Contender | µs per authorization, median (min-max) | x DPoP limit", 1)[1]
    rows = [line.strip("|").split(" | ") for line in table.splitlines()[2:] if line.startswith("| ")]
    assert [row[0].strip() for row in rows] == [
        "limit, DPoP: RS256 + ES256 verify + parse",
        "handler.handler, DPoP-bound token + fresh ES256 proof",
    ]
    for row in rows:
        assert re.fullmatch(FIGURE, row[1].strip()), row
        assert re.fullmatch(RATIO, row[2].strip()), row
    assert rows[0][2].strip() == "1.00x (1.00-1.00)"


def test_rejection_and_flood_tables_cover_both_python_authorizers(bench_out: Path) -> None:
    markdown = (bench_out / "results.md").read_text()
    rejections = _table(markdown, "## Rejections")
    assert [row[0] for row in rejections] == ["handler.handler", "PyJWT reference"]
    for row in rejections:
        for cell in row[1:]:
            assert re.fullmatch(rf"{FIGURE} · \d+\.\d\dx", cell), row
    floods = _table(markdown, "## Unknown-kid flood")
    assert [(row[0], row[5], row[7]) for row in floods] == [
        ("handler.handler", "50/50", "allowed"),
        ("PyJWT reference", "50/50", "allowed"),
    ]


def test_cold_table_has_the_floor_the_handler_both_ways_and_pyjwt(bench_out: Path) -> None:
    markdown = (bench_out / "results.md").read_text()
    rows = _table(markdown, "## Cold start")
    assert [row[0] for row in rows] == [
        "Python start, no imports",
        "floor: Python + cryptography + urllib fetch + 1 verify",
        "handler, no bytecode: import, key fetch, 1 decision",
        "handler, precompiled bytecode: import, key fetch, 1 decision",
        "PyJWT reference",
    ]
    assert re.search(
        r"^Compile share \(.+\): -?\d+% \(-?\d+% to -?\d+%\); medians \d+\.\d ms and \d+\.\d ms\.$",
        markdown,
        re.MULTILINE,
    )
    assert rows[1][2] == "1.00x (1.00-1.00)"
    for row in rows:
        assert re.fullmatch(FIGURE, row[1]), row
        assert re.fullmatch(r"\d+\.\d", row[3]), row


def test_sizing_prices_every_memory_size_and_cache_ttl(bench_out: Path) -> None:
    markdown = (bench_out / "results.md").read_text()
    memory = _table(markdown, "## Sizing")
    assert [row[0] for row in memory] == ["128 MB", "256 MB", "512 MB", "1,024 MB", "1,769 MB", "3,008 MB"]
    assert [row[1] for row in memory] == ["7%", "14%", "29%", "58%", "100%", "100%"]
    ttl_section = markdown.split("| Cache TTL |", 1)[1]
    ttl_rows = [line.split(" | ")[0].strip("| ") for line in ttl_section.splitlines()[2:6]]
    assert ttl_rows == ["0 s", "60 s", "300 s", "3,600 s"]
    assert "$0.0000133334 per GB-second" in markdown
    assert "$0.20 per million requests" in markdown


def test_sizing_measures_what_per_route_caching_costs(bench_out: Path) -> None:
    markdown = (bench_out / "results.md").read_text()
    sizing = markdown.split("\n## Sizing\n", 1)[1].split("\n## ", 1)[0]
    summary = re.search(r"^What caching per route costs: .+$", sizing, re.MULTILINE)
    assert summary is not None
    assert re.search(r", 10 routes \d+\.\d instead of \d+\.\d, ", summary.group())
    table = sizing.split("| Workload | Requests |", 1)[1]
    rows = [line.strip("|").split(" | ") for line in table.splitlines()[2:] if line.startswith("| ")]
    assert [row[0].strip() for row in rows] == [name for name, _ in cache_cost.workloads()]
    for row in rows:
        assert all(re.fullmatch(r"\d+\.\d \(\d+\.\d%\)", cell.strip()) for cell in row[2:4]), row
        assert re.fullmatch(r"\d+\.\d\dx", row[4].strip()), row
    assert "one cached policy serves all" not in markdown


def test_readme_summary_has_targets_and_sizing_with_the_route_cost_but_not_its_table(bench_out: Path) -> None:
    readme = (bench_out / "README.md").read_text()
    assert readme.startswith(f"# Title\n\n{START}\nLatest full run: ")
    assert readme.endswith(f"\n{END}\n\n## After\n")
    assert "\n## Targets\n" in readme
    assert "\n## Sizing\n" in readme
    assert "\nWhat caching per route costs: " in readme
    assert "| Workload | Requests |" not in readme


def test_svg_is_well_formed_with_one_bar_per_measured_row_and_both_targets(bench_out: Path) -> None:
    root = ElementTree.parse(bench_out / "results.svg").getroot()  # noqa: S314 - the bench's own output
    assert root.tag == f"{SVG}svg"
    bar_titles = [
        title.text or "" for rect in root.iter(f"{SVG}rect") for title in rect.findall(f"{SVG}title")
    ]
    assert [title.rsplit(": ", 1)[0] for title in bar_titles] == [
        "limit (verify + parse)",
        "handler, distinct tokens",
        "handler, repeated token",
        "PyJWT reference",
        "Python start only",
        "floor",
        "handler, no bytecode",
        "handler, precompiled",
        "PyJWT reference",
        "limit (verify + parse)",
        "handler: expired",
        "handler: bad signature",
        "handler: garbage",
    ]
    texts = {text.text for text in root.iter(f"{SVG}text")}
    assert {"target 1.1x limit", "target 1.0x floor, precompiled"} <= texts
