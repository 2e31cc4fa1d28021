"""The README's bench section is rewritten between its markers, and only there."""

from __future__ import annotations

import pytest

from bench.readme import END, START, replace_between_markers


def test_replaces_only_the_text_between_the_markers() -> None:
    text = f"# Title\n\nintro\n{START}\nold figures\nmore old\n{END}\n\n## Layout\n"
    assert replace_between_markers(text, "new figures") == (
        f"# Title\n\nintro\n{START}\nnew figures\n{END}\n\n## Layout\n"
    )


def test_is_stable_when_run_twice() -> None:
    text = f"a\n{START}\nx\n{END}\nb\n"
    once = replace_between_markers(text, "y")
    assert replace_between_markers(once, "y") == once


@pytest.mark.parametrize("text", ["no markers", f"only start {START}", f"only end {END}", f"{END} {START}"])
def test_missing_or_misordered_markers_are_an_error(text: str) -> None:
    with pytest.raises(ValueError, match="bench markers not found"):
        replace_between_markers(text, "y")
