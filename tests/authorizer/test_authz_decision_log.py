"""The decision log: exactly one JSON line per decision, exact fields, never the token."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator

import pytest

from gate.decision_log import DecisionLog, fd_writer
from gate.errors import KeysUnavailable, Rejection
from tests.authorizer.authz_support import Harness, KeyRing, MakeHarness, method_arn

TokenFor = Callable[..., str]


def only_line(harness: Harness) -> str:
    decisions = [line for line in harness.log if '"authorizer_decision"' in line]
    assert len(decisions) == 1
    return decisions[0]


def test_allow_line_is_exact(harness: Harness, ring: KeyRing, token_for: TokenFor):
    token = token_for(ring.rsa)
    harness.call(token)
    line = only_line(harness)
    assert line == (
        '{"event":"authorizer_decision","outcome":"allow","reason":"ok","sub":"user-1","kid":"rsa-1",'
        f'"method_arn":"{method_arn()}"}}\n'
    )
    for part in token.split("."):
        assert part not in line


def test_rejection_line_before_the_signature_is_known_has_no_sub(
    harness: Harness, ring: KeyRing, token_for: TokenFor
):
    token = token_for(ring.attacker)
    with pytest.raises(Rejection):
        harness.call(token)
    assert json.loads(only_line(harness)) == {
        "event": "authorizer_decision",
        "outcome": "unauthorized",
        "reason": "bad_signature",
        "sub": None,
        "kid": "rsa-1",
        "method_arn": method_arn(),
    }
    assert token.split(".")[2] not in "".join(harness.log)


def test_rejection_after_the_signature_names_the_subject(
    harness: Harness, ring: KeyRing, token_for: TokenFor
):
    with pytest.raises(Rejection):
        harness.call(token_for(ring.es256, aud="api://other"))
    line = json.loads(only_line(harness))
    assert (line["reason"], line["sub"], line["kid"]) == ("audience_mismatch", "user-1", "ec-256")


def test_deny_line(make_harness: MakeHarness, ring: KeyRing, token_for: TokenFor):
    harness = make_harness(SCOPE_RULES='{"GET /orders": "orders:admin"}')
    harness.call(token_for(ring.rsa))
    assert json.loads(only_line(harness))["outcome"] == "deny"
    assert json.loads(only_line(harness))["reason"] == "insufficient_scope"


def test_error_line_carries_the_detail(harness: Harness, ring: KeyRing, token_for: TokenFor):
    harness.idp.mode = "down"
    with pytest.raises(KeysUnavailable) as caught:
        harness.call(token_for(ring.rsa))
    assert json.loads(only_line(harness)) == {
        "event": "authorizer_decision",
        "outcome": "error",
        "reason": "keys_unavailable",
        "sub": None,
        "kid": "rsa-1",
        "method_arn": method_arn(),
        "detail": caught.value.detail,
    }
    assert "HTTP 503" in caught.value.detail


def test_hostile_field_values_stay_inside_their_field():
    lines: list[str] = []
    DecisionLog(lines.append).decision(
        "unauthorized",
        "unknown_kid",
        sub=None,
        kid='x","outcome":"allow\n' + "k" * 500,
        method_arn=["not", "str"],
    )
    assert len(lines) == 1
    assert lines[0].endswith("}\n")
    assert lines[0].count("\n") == 1
    parsed = json.loads(lines[0])
    assert parsed["outcome"] == "unauthorized"
    assert parsed["kid"] == ('x","outcome":"allow\n' + "k" * 500)[:256]
    assert parsed["method_arn"] is None


def test_the_default_writer_is_stdout(capsys):
    DecisionLog().decision("allow", "ok", sub="s", kid=None, method_arn="arn")
    assert capsys.readouterr().out == (
        '{"event":"authorizer_decision","outcome":"allow","reason":"ok","sub":"s","kid":null,"method_arn":"arn"}\n'
    )


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    read_end, write_end = os.pipe()
    yield read_end, write_end
    os.close(read_end)
    os.close(write_end)


def test_the_fd_writer_writes_each_line_whole_to_its_descriptor(pipe: tuple[int, int]):
    read_end, write_end = pipe
    write = fd_writer(write_end)
    DecisionLog(write).decision("deny", "insufficient_scope", sub="s\u00e9", kid="k", method_arn="arn")
    DecisionLog(write).event("jwks_refresh_failed", {"issuer": "i"})
    assert os.read(read_end, 4096) == (
        b'{"event":"authorizer_decision","outcome":"deny","reason":"insufficient_scope","sub":"s\\u00e9",'
        b'"kid":"k","method_arn":"arn"}\n{"event": "jwks_refresh_failed", "issuer": "i"}\n'
    )


def test_the_fd_writer_finishes_a_line_the_kernel_took_only_part_of(pipe: tuple[int, int]):
    read_end, write_end = pipe
    calls: list[int] = []

    def short_write(fd: int, data: bytes) -> int:  # what write(2) may do when a signal interrupts it
        calls.append(len(data))
        return os.write(fd, data[:7])

    fd_writer(write_end, write=short_write)("0123456789abcdefghij\n")
    assert os.read(read_end, 4096) == b"0123456789abcdefghij\n"
    assert calls == [21, 14, 7]
