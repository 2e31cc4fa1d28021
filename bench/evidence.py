"""Evidence for "why": where the handler's warm time goes, by cProfile own time. Profiling slows every call
alike, so only the shares are reported (the report scales them to the unprofiled median).
"""

from __future__ import annotations

import contextlib
import cProfile
import pstats
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Hotspot:
    function: str
    share: float  # of the profiled total own time


def _name(key: tuple[str, int, str]) -> str:
    filename, _, function = key
    if filename == "~":
        return function.strip("<>")
    path = Path(filename)
    parts = path.parts
    for anchor in ("gate", "jwt", "cryptography", "json", "base64"):
        if anchor in parts:
            return f"{'/'.join(parts[parts.index(anchor) :])}:{function}"
    return f"{path.name}:{function}"


def hotspots(call: Callable[[Any], object], inputs: list[Any], top: int = 8) -> list[Hotspot]:
    profiler = cProfile.Profile()
    profiler.enable()
    for item in inputs:
        with contextlib.suppress(Exception):  # outcomes are checked by the timed rounds, not here
            call(item)
    profiler.disable()
    raw: dict[tuple[str, int, str], tuple[Any, ...]] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    own = {key: float(value[2]) for key, value in raw.items()}
    total = sum(own.values()) or 1.0
    ranked = sorted(own.items(), key=lambda item: item[1], reverse=True)[:top]
    return [Hotspot(_name(key), seconds / total) for key, seconds in ranked]
