"""`make compare`: the corpus runs, every case's outcome on each side is pinned here, and the committed
docs/native-vs-lambda.md is exactly what a fresh run writes (this test fails when the document is stale:
run `make compare`).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from compare.corpus import CASES, GROUPS, Minter, by_id
from compare.jose import KeyRing
from compare.report import render
from compare.run import DEFAULT_OUT, CaseResult, run_corpus
from compare.world import World
from local.native_jwt import RULES_BY_CODE

PROJECT_ROOT = Path(__file__).resolve().parents[2]

# case id -> ((gate status, gate reason), (native status, native reason))
EXPECTED: dict[str, tuple[tuple[int, str], tuple[int, str]]] = {
    "valid-rs256": ((200, "ok"), (200, "ok")),
    "valid-es256": ((200, "ok"), (200, "ok")),
    "public-route": ((200, "ok"), (200, "ok")),
    "forged-signature": ((401, "bad_signature"), (401, "bad_signature")),
    "tampered-payload": ((401, "bad_signature"), (401, "bad_signature")),
    "alg-none": ((401, "unsupported_alg"), (401, "unsupported_alg")),
    "hs256-confusion": ((401, "unsupported_alg"), (401, "unsupported_alg")),
    "ps256": ((200, "ok"), (401, "unsupported_alg")),
    "eddsa": ((200, "ok"), (401, "unsupported_alg")),
    "wrong-issuer": ((401, "issuer_mismatch"), (401, "issuer_not_trusted")),
    "wrong-audience": ((401, "audience_mismatch"), (401, "audience_mismatch")),
    "audience-array": ((200, "ok"), (200, "ok")),
    "client-id-instead-of-aud": ((401, "missing_claim"), (200, "ok")),
    "id-token-any-valid-route": ((401, "token_type_mismatch"), (200, "ok")),
    "id-token-scoped-route": ((401, "token_type_mismatch"), (403, "insufficient_scope")),
    "typ-jwt": ((401, "token_type_mismatch"), (200, "ok")),
    "typ-absent": ((401, "token_type_mismatch"), (200, "ok")),
    "crit-header": ((401, "unsupported_crit"), (200, "ok")),
    "numeric-string-exp": ((401, "invalid_claim"), (401, "invalid_exp")),
    "duplicate-claim": ((401, "malformed_token"), (200, "ok")),
    "second-spelling": ((401, "malformed_token"), (200, "ok")),
    "expired": ((401, "expired"), (401, "expired")),
    "expired-within-leeway": ((200, "ok"), (401, "expired")),
    "not-yet-valid": ((401, "not_yet_valid"), (401, "not_yet_valid")),
    "issued-in-future": ((401, "issued_in_future"), (200, "ok")),
    "no-exp": ((401, "missing_claim"), (401, "invalid_exp")),
    "no-sub": ((401, "missing_claim"), (401, "additional_claim_missing")),
    "missing-header": ((401, "identity_missing"), (401, "missing_token")),
    "bare-token": ((401, "malformed_authorization"), (200, "ok")),
    "lowercase-bearer": ((200, "ok"), (401, "malformed_token")),
    "two-scope-rule-one-scope": ((403, "insufficient_scope"), (200, "ok")),
    "two-scope-rule-both": ((200, "ok"), (200, "ok")),
    "missing-scope": ((403, "insufficient_scope"), (403, "insufficient_scope")),
    "scp-list": ((200, "ok"), (200, "ok")),
    "overlap-general-scope-on-admin": ((403, "insufficient_scope"), (403, "insufficient_scope")),
    "overlap-admin-scope-on-general": ((403, "insufficient_scope"), (403, "insufficient_scope")),
    "unknown-kid-flood": ((401, "unknown_kid"), (401, "unknown_kid")),
    "key-rotation": ((200, "ok"), (200, "ok")),
    "rotation-after-flood": ((401, "unknown_kid"), (200, "ok")),
    "idp-down-cold": ((503, "keys_unavailable"), (401, "keys_unavailable")),
    "idp-down-30-minutes": ((200, "ok"), (200, "ok")),
    "idp-down-2-hours": ((200, "ok"), (401, "keys_unavailable")),
}
# Identity-provider requests (discovery + JWKS) the counted cases cost: (gate, native).
EXPECTED_IDP_REQUESTS: dict[str, tuple[int, int]] = {
    "unknown-kid-flood": (1, 20),
    "key-rotation": (1, 1),
    "rotation-after-flood": (1, 6),
    "idp-down-cold": (2, 1),
    "idp-down-30-minutes": (1, 0),
    "idp-down-2-hours": (1, 1),
}
RESPONSE_TYPES = {200: "allowed", 401: "UNAUTHORIZED", 403: "ACCESS_DENIED", 503: "AUTHORIZER_FAILURE"}


@pytest.fixture(scope="module")
def keys() -> KeyRing:
    return KeyRing.generate()


@pytest.fixture(scope="module")
def results(keys: KeyRing) -> list[CaseResult]:
    return run_corpus(keys=keys)


def test_every_case_is_pinned(results: list[CaseResult]) -> None:
    assert [r.case.id for r in results] == list(EXPECTED)
    assert len(by_id()) == len(CASES)  # ids are unique
    assert {case.group for case in CASES} <= set(GROUPS)


@pytest.mark.parametrize("case_id", list(EXPECTED))
def test_case_outcome(results: list[CaseResult], case_id: str) -> None:
    result = next(r for r in results if r.case.id == case_id)
    gate, native = result.gate.observation, result.native.observation
    assert ((gate.status, gate.reason), (native.status, native.reason)) == EXPECTED[case_id]
    assert gate.response_type == RESPONSE_TYPES[gate.status]
    assert native.response_type == RESPONSE_TYPES[native.status]
    counted = (result.gate.idp_requests, result.native.idp_requests)
    assert counted == EXPECTED_IDP_REQUESTS.get(case_id, (None, None))
    for code in result.case.native_rules:
        assert code in RULES_BY_CODE
    if native.status != 200:
        assert native.rule in RULES_BY_CODE  # every native refusal names the rule that decided it


def test_verdicts(results: list[CaseResult]) -> None:
    verdicts = {r.case.id: r.verdict for r in results}
    assert sorted(k for k, v in verdicts.items() if v == "native-allows") == sorted(
        [
            "client-id-instead-of-aud",
            "id-token-any-valid-route",
            "typ-jwt",
            "typ-absent",
            "crit-header",
            "duplicate-claim",
            "second-spelling",
            "issued-in-future",
            "bare-token",
            "two-scope-rule-one-scope",
            "rotation-after-flood",
        ]
    )
    assert sorted(k for k, v in verdicts.items() if v == "gate-allows") == sorted(
        ["ps256", "eddsa", "expired-within-leeway", "lowercase-bearer", "idp-down-2-hours"]
    )
    assert sorted(k for k, v in verdicts.items() if v == "different") == [
        "id-token-scoped-route",
        "idp-down-cold",
    ]


def test_the_gate_recovers_after_its_cooldown(keys: KeyRing) -> None:
    """The rotation-after-flood case's footnote: 10 s later the rotated key passes the gate too."""
    world = World(keys)
    try:
        side = world.side("lambda")
        mint = Minter(keys, side.idp.issuer, side.clock)
        assert by_id()["rotation-after-flood"].run(side, mint).status == 401
        side.clock.advance(10)
        assert side.request("GET", "/orders", mint.bearer(keys.rsa_next)).status == 200
    finally:
        world.close()


def test_committed_document_is_fresh(results: list[CaseResult]) -> None:
    fresh = render(results)
    assert DEFAULT_OUT.read_text() == fresh, "docs/native-vs-lambda.md is stale: run `make compare`"


def test_document_links_every_case_and_rule(results: list[CaseResult]) -> None:
    text = render(results)
    for result in results:
        assert f'<a id="case-{result.case.id}"></a>' in text
        assert f"(#case-{result.case.id})" in text  # in the summary
    assert "native-jwt.md#which-mode-for-which-need" in text
    assert "20 unknown kids: 1 key-set request(s) from the Lambda, 20 from the model" in text


def test_cli_check_passes_on_the_committed_document() -> None:
    """`python -m compare --check` (its own sys.path setup included) agrees with the committed file."""
    completed = subprocess.run(
        [sys.executable, "-m", "compare", "--check"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
