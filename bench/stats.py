"""Medians with their range: the only summary the bench reports.

The machine is shared, so a mean would carry other tenants' noise; the median of interleaved rounds with
min-max shows both the typical figure and how much the run wandered.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Summary:
    median: float
    low: float
    high: float
    samples: int

    def text(self, digits: int = 0, unit: str = "") -> str:
        """``median (low-high)unit``, the form every table uses."""
        return f"{self.median:,.{digits}f} ({self.low:,.{digits}f}-{self.high:,.{digits}f}){unit}"


def summarize(values: Sequence[float]) -> Summary:
    if not values:
        raise ValueError("no samples to summarize")
    return Summary(statistics.median(values), min(values), max(values), len(values))


def paired_ratios(numerators: Sequence[float], denominators: Sequence[float]) -> list[float]:
    """Round-by-round ratios: both figures of a pair saw the same moment of the machine's load."""
    if len(numerators) != len(denominators):
        raise ValueError("ratios need one denominator per round")
    return [top / bottom for top, bottom in zip(numerators, denominators, strict=True)]
