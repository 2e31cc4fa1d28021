"""DPoP (RFC 9449): one test per reason code, each with a proof that is valid but for that one defect.

Real keys throughout: the access tokens come from the loopback IdP's RSA key, the proofs are signed by
client keys generated here (EC P-256 for ES256, RSA for PS256, Ed25519 for EdDSA), and the token's
``cnf.jkt`` is the RFC 7638 thumbprint computed by the test's own code (authz_support.thumbprint).
Events are REQUEST events for ``GET /prod/orders`` on api.example.com, the URL the proofs name.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from gate import replay
from gate.dpop import jwk_thumbprint, normalized_url
from gate.errors import ConfigError, Rejection, ReplayStoreUnavailable
from gate.replay import MemoryReplayStore
from gate.settings import DEFAULT_DPOP_ALGORITHMS, Settings
from tests.authorizer.authz_support import (
    DOMAIN,
    THUMBPRINT_MEMBERS,
    Clock,
    Harness,
    KeyRing,
    MakeHarness,
    SigningKey,
    ath_of,
    b64e,
    compact,
    dpop_event,
    dpop_proof,
    event_outcome,
    event_rejection,
    public_jwk,
    request_event,
    thumbprint,
)

TokenFor = Callable[..., str]
MINIMAL = {"ISSUER": "https://idp.example.com/", "AUDIENCE": "api://orders"}


def b64url(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


@pytest.fixture(scope="module")
def proof_keys() -> dict[str, SigningKey]:
    return {
        "ES256": SigningKey("client-ec", "ES256", ec.generate_private_key(ec.SECP256R1())),
        "PS256": SigningKey(
            "client-rsa", "PS256", rsa.generate_private_key(public_exponent=65537, key_size=2048)
        ),
        "EdDSA": SigningKey("client-ed", "EdDSA", ed25519.Ed25519PrivateKey.generate()),
    }


@pytest.fixture(scope="module")
def thief() -> SigningKey:
    """Another client's key: it can sign proofs, but no token is bound to it."""
    return SigningKey("thief", "ES256", ec.generate_private_key(ec.SECP256R1()))


@dataclass(frozen=True)
class Client:
    """A DPoP client: its key, a token bound to that key, and the test clock its proofs are dated by."""

    key: SigningKey
    token: str
    clock: Clock

    def proof(self, **overrides: Any) -> str:
        overrides.setdefault("iat", int(self.clock.now))
        overrides.setdefault("token", self.token)
        return dpop_proof(self.key, **overrides)

    def event(self, *proofs: str, **options: Any) -> dict[str, Any]:
        return dpop_event(self.token, *proofs, **options)

    def request(self, **overrides: Any) -> dict[str, Any]:
        """The event of a request with one fresh proof (``overrides`` change the proof)."""
        return self.event(self.proof(**overrides))


def bound_token(token_for: TokenFor, ring: KeyRing, key: SigningKey, **claim: Any) -> str:
    return token_for(ring.rsa, cnf={"jkt": thumbprint(public_jwk(key))}, **claim)


@pytest.fixture
def client(proof_keys: dict[str, SigningKey], token_for: TokenFor, ring: KeyRing, clock: Clock) -> Client:
    key = proof_keys["ES256"]
    return Client(key, bound_token(token_for, ring, key), clock)


@pytest.fixture
def allowed(make_harness: MakeHarness) -> Harness:
    return make_harness(DPOP="allowed")


@pytest.fixture
def required(make_harness: MakeHarness) -> Harness:
    return make_harness(DPOP="required")


# --- accepted ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("alg", DEFAULT_DPOP_ALGORITHMS)
@pytest.mark.parametrize("mode", ["allowed", "required"])
def test_a_bound_token_with_a_valid_proof_is_allowed(
    make_harness: MakeHarness,
    proof_keys: dict[str, SigningKey],
    token_for: TokenFor,
    ring: KeyRing,
    clock: Clock,
    mode,
    alg,
):
    harness = make_harness(DPOP=mode)
    sender = Client(proof_keys[alg], bound_token(token_for, ring, proof_keys[alg]), clock)
    response = harness.authorizer.handle(sender.request())
    assert response["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    assert response["principalId"] == "user-1"
    assert harness.last_decision() == {
        "event": "authorizer_decision",
        "outcome": "allow",
        "reason": "ok",
        "sub": "user-1",
        "kid": "rsa-1",
        "method_arn": "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/orders",
    }


def test_the_log_never_holds_the_proof_or_the_token(allowed: Harness, client: Client):
    proof = client.proof()
    allowed.authorizer.handle(client.event(proof))
    with pytest.raises(Rejection):
        allowed.authorizer.handle(client.event(proof))  # replayed
    for line in allowed.log:
        for secret in (client.token, proof, *client.token.split("."), *proof.split(".")):
            assert secret not in line


def test_extra_cnf_members_are_ignored(allowed: Harness, client: Client, token_for: TokenFor, ring: KeyRing):
    # Keycloak puts more than jkt into cnf.
    jkt = thumbprint(public_jwk(client.key))
    token = token_for(ring.rsa, cnf={"jkt": jkt, "x5t#S256": "unrelated", "kid": "k"})
    sender = Client(client.key, token, client.clock)
    assert event_outcome(allowed, sender.request()) == "allow"


def test_an_unbound_bearer_token_works_as_before_when_dpop_is_allowed(
    allowed: Harness, token_for: TokenFor, ring: KeyRing
):
    assert event_outcome(allowed, request_event(token_for(ring.rsa), "GET", "/orders", "/orders")) == "allow"


def test_a_dpop_header_next_to_an_unbound_bearer_token_is_ignored(
    allowed: Harness, client: Client, token_for: TokenFor, ring: KeyRing
):
    event = dpop_event(token_for(ring.rsa), "not a proof", scheme="Bearer")
    assert event_outcome(allowed, event) == "allow"


def test_the_dpop_scheme_is_case_insensitive(allowed: Harness, client: Client):
    assert event_outcome(allowed, client.event(client.proof(), scheme="dpop")) == "allow"


def test_a_proof_key_with_use_kid_and_alg_members_is_fine(allowed: Harness, client: Client):
    jwk = {**public_jwk(client.key), "use": "sig", "kid": "device-1", "alg": "ES256"}
    assert event_outcome(allowed, client.request(header={"jwk": jwk})) == "allow"


@pytest.mark.parametrize("typ", ["dpop+jwt", "DPoP+JWT", "application/dpop+jwt"])
def test_typ_is_a_case_insensitive_media_type(allowed: Harness, client: Client, typ):
    assert event_outcome(allowed, client.request(header={"typ": typ})) == "allow"


def test_a_proof_with_a_deny_policy_still_counts_as_used(make_harness: MakeHarness, client: Client):
    harness = make_harness(DPOP="allowed", SCOPE_RULES=json.dumps({"GET /orders": "orders:write"}))
    proof = client.proof()
    assert event_outcome(harness, client.event(proof)) == "deny"
    assert event_rejection(harness, client.event(proof)) == "dpop_replayed"


# --- dpop_proof_missing ------------------------------------------------------------------------------


def test_dpop_scheme_without_a_proof_is_missing(allowed: Harness, client: Client):
    assert event_rejection(allowed, client.event()) == "dpop_proof_missing"


def test_a_token_event_cannot_carry_a_proof(allowed: Harness, client: Client):
    event = {
        "type": "TOKEN",
        "authorizationToken": f"DPoP {client.token}",
        "methodArn": client.event()["methodArn"],
    }
    assert event_rejection(allowed, event) == "dpop_proof_missing"


# --- dpop_proof_invalid ------------------------------------------------------------------------------


def test_two_dpop_headers_are_invalid(allowed: Harness, client: Client):
    assert event_rejection(allowed, client.event(client.proof(), client.proof())) == "dpop_proof_invalid"


def test_two_differently_cased_dpop_headers_are_invalid(allowed: Harness, client: Client):
    event = client.event()
    event["headers"].update({"DPoP": client.proof(), "dpop": client.proof()})
    event["multiValueHeaders"] = None
    assert event_rejection(allowed, event) == "dpop_proof_invalid"


def test_headers_and_multi_value_headers_that_disagree_are_invalid(allowed: Harness, client: Client):
    event = client.event(client.proof())
    event["headers"]["DPoP"] = client.proof()
    assert event_rejection(allowed, event) == "dpop_proof_invalid"


def test_two_proofs_in_one_header_value_are_invalid(allowed: Harness, client: Client):
    assert (
        event_rejection(allowed, client.event(f"{client.proof()}, {client.proof()}")) == "dpop_proof_invalid"
    )


@pytest.mark.parametrize(
    "mutation",
    [
        pytest.param(lambda p: p.rsplit(".", 1)[0], id="two-segments"),
        pytest.param(lambda p: p + "=", id="padded"),
        pytest.param(lambda p: p.replace(".", "..", 1), id="empty-segment"),
        pytest.param(lambda p: "x" * 20000, id="oversized"),
    ],
)
def test_a_proof_that_is_not_a_compact_jws_is_invalid(allowed: Harness, client: Client, mutation):
    assert event_rejection(allowed, client.event(mutation(client.proof()))) == "dpop_proof_invalid"


@pytest.mark.parametrize("typ", [None, "jwt", "at+jwt", "dpop", "application/jwt", 1])
def test_typ_must_be_dpop_jwt(allowed: Harness, client: Client, typ):
    # An access token (typ at+jwt) must never pass as a proof.
    assert event_rejection(allowed, client.request(header={"typ": typ})) == "dpop_proof_invalid"


def test_alg_outside_dpop_algorithms_is_invalid(make_harness: MakeHarness, client: Client):
    harness = make_harness(DPOP="allowed", DPOP_ALGORITHMS="PS256,EdDSA")
    assert event_rejection(harness, client.request()) == "dpop_proof_invalid"
    assert harness.idp.requests == {}  # refused from the header alone, before the token is verified


@pytest.mark.parametrize("alg", ["none", "HS256", "ES384", None, 256])
def test_alg_none_mac_unlisted_or_missing_is_invalid(allowed: Harness, client: Client, alg):
    # Signed with ES256 whatever the header says (None: no alg at all). The proof key could not verify
    # these algorithms either, but the header check refuses them before the token is verified.
    assert event_rejection(allowed, client.request(header={"alg": alg})) == "dpop_proof_invalid"
    assert allowed.idp.requests == {}


def test_the_signature_must_be_by_the_header_jwk(allowed: Harness, client: Client, thief: SigningKey):
    # Header jwk is the client's (matches cnf.jkt), but the thief signed: the key alone proves nothing.
    header, payload, _ = client.proof().split(".")
    forged = compact(json.loads(b64url(header)), json.loads(b64url(payload)), thief)
    assert event_rejection(allowed, client.event(forged)) == "dpop_proof_invalid"


def test_a_tampered_proof_payload_is_invalid(allowed: Harness, client: Client):
    header, _, signature = client.proof().split(".")
    other = client.proof(htu="https://elsewhere.example.com/x").split(".")[1]
    assert event_rejection(allowed, client.event(f"{header}.{other}.{signature}")) == "dpop_proof_invalid"


def test_missing_jwk_is_invalid(allowed: Harness, client: Client):
    assert event_rejection(allowed, client.request(header={"jwk": None})) == "dpop_proof_invalid"


@pytest.mark.parametrize("member", ["d", "p", "k"])
def test_a_jwk_with_private_members_is_invalid(allowed: Harness, client: Client, member):
    jwk = {**public_jwk(client.key), member: b64e(b"secret")}
    assert event_rejection(allowed, client.request(header={"jwk": jwk})) == "dpop_proof_invalid"


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"kty": "oct"}, id="symmetric"),
        pytest.param({"crv": "P-384"}, id="other-curve"),
        pytest.param({"y": b64e(b"\x01" * 32)}, id="not-on-the-curve"),
        pytest.param({"crv": "secp256k1"}, id="unknown-curve"),
        pytest.param({"y": None}, id="missing-y"),
        pytest.param({"x": 5}, id="non-string"),
    ],
)
def test_a_jwk_that_is_not_a_usable_public_key_is_invalid(
    allowed: Harness, client: Client, token_for: TokenFor, ring: KeyRing, change
):
    jwk = {k: v for k, v in {**public_jwk(client.key), **change}.items() if v is not None}
    # The token is bound to the changed JWK where it has a thumbprint, so only the key checks refuse it.
    members = THUMBPRINT_MEMBERS.get(jwk["kty"], ())
    if members and all(isinstance(jwk.get(m), str) for m in members):
        client = Client(client.key, token_for(ring.rsa, cnf={"jkt": thumbprint(jwk)}), client.clock)
    assert event_rejection(allowed, client.request(header={"jwk": jwk})) == "dpop_proof_invalid"


def test_a_padded_jwk_member_is_invalid(allowed: Harness, client: Client):
    jwk = public_jwk(client.key)
    jwk["x"] += "="  # 43 characters: "=" is the exact padding, which gate.jwk would tolerate
    assert event_rejection(allowed, client.request(header={"jwk": jwk})) == "dpop_proof_invalid"


def test_the_key_must_fit_the_alg(
    allowed: Harness, proof_keys: dict[str, SigningKey], token_for: TokenFor, ring: KeyRing, clock: Clock
):
    # An Ed25519 key in a proof that says ES256 (and is signed with EdDSA): the key/alg table refuses it.
    key = proof_keys["EdDSA"]
    sender = Client(key, bound_token(token_for, ring, key), clock)
    assert event_rejection(allowed, sender.request(header={"alg": "ES256"})) == "dpop_proof_invalid"


def test_a_weak_rsa_proof_key_is_invalid(allowed: Harness, token_for: TokenFor, ring: KeyRing, clock: Clock):
    weak = SigningKey("weak", "PS256", ring.rsa_weak.private)
    sender = Client(weak, bound_token(token_for, ring, weak), clock)
    assert event_rejection(allowed, sender.request()) == "dpop_proof_invalid"


def test_crit_is_invalid(allowed: Harness, client: Client):
    assert event_rejection(allowed, client.request(header={"crit": ["exp"]})) == "dpop_proof_invalid"


@pytest.mark.parametrize(
    "claim",
    [
        {"jti": None},
        {"htm": None},
        {"htu": None},
        {"iat": None},
        {"ath": None},
        {"jti": ""},
        {"jti": "j" * 257},
        {"jti": 7},
        {"iat": "1700000000"},
        {"iat": True},
        {"htm": ["GET"]},
    ],
)
def test_a_missing_or_ill_typed_claim_is_invalid(allowed: Harness, client: Client, claim):
    assert event_rejection(allowed, client.request(**claim)) == "dpop_proof_invalid"


def test_a_jti_of_256_characters_is_fine(allowed: Harness, client: Client):
    assert event_outcome(allowed, client.request(jti="j" * 256)) == "allow"


# --- the known-header memo (a client's later proofs skip parsing their header) -----------------------


@pytest.mark.parametrize(
    "mutation",
    [
        pytest.param(lambda p: p + "=", id="padded-signature"),
        pytest.param(lambda p: p + ".e30", id="four-segments"),
        pytest.param(lambda p: p.replace(".", "..", 1), id="empty-payload"),
        # An ES256 signature is 86 characters; the last one's 4 unused bits are non-zero with B or C.
        pytest.param(lambda p: p[:-1] + ("B" if p[-1] != "B" else "C"), id="non-canonical-signature"),
        pytest.param(lambda p: p.rsplit(".", 1)[0] + ".\u0430", id="non-ascii"),
    ],
)
def test_a_known_header_still_gets_a_strict_payload_and_signature(allowed: Harness, client: Client, mutation):
    assert event_outcome(allowed, client.request()) == "allow"  # the client's header is known now
    assert event_rejection(allowed, client.event(mutation(client.proof()))) == "dpop_proof_invalid"


def test_a_known_header_with_a_tampered_payload_is_invalid(allowed: Harness, client: Client):
    assert event_outcome(allowed, client.request()) == "allow"
    header, _, signature = client.proof().split(".")
    other = client.proof(htm="POST").split(".")[1]
    assert event_rejection(allowed, client.event(f"{header}.{other}.{signature}")) == "dpop_proof_invalid"


def test_only_headers_of_valid_proofs_are_remembered(allowed: Harness, client: Client):
    gate = allowed.authorizer._dpop
    assert gate is not None
    assert event_rejection(allowed, client.request(htm="POST")) == "dpop_htm_mismatch"
    assert event_rejection(allowed, client.event("garbage")) == "dpop_proof_invalid"
    assert gate._known == {}
    assert event_outcome(allowed, client.request()) == "allow"
    assert event_outcome(allowed, client.request()) == "allow"
    assert list(gate._known) == [client.proof().split(".")[0]]


# --- dpop_htm_mismatch / dpop_htu_mismatch -----------------------------------------------------------


@pytest.mark.parametrize("htm", ["POST", "get", "GET "])
def test_htm_must_be_the_request_method(allowed: Harness, client: Client, htm):
    assert event_rejection(allowed, client.request(htm=htm)) == "dpop_htm_mismatch"


@pytest.mark.parametrize(
    "htu",
    [
        f"https://{DOMAIN}/prod/orders/1",
        f"https://{DOMAIN}/orders",
        f"https://{DOMAIN}/prod/Orders",
        f"http://{DOMAIN}/prod/orders",
        f"https://{DOMAIN}:8443/prod/orders",
        "https://evil.example.com/prod/orders",
        f"https://user@{DOMAIN}/prod/orders",
        f"https://{DOMAIN}/prod/orders%2F",
        "/prod/orders",
        "",
    ],
)
def test_htu_must_be_the_request_url(allowed: Harness, client: Client, htu):
    assert event_rejection(allowed, client.request(htu=htu)) == "dpop_htu_mismatch"


@pytest.mark.parametrize(
    "htu",
    [
        "HTTPS://API.Example.COM/prod/orders",
        f"https://{DOMAIN}:443/prod/orders",
        f"https://{DOMAIN}:/prod/orders",
        f"https://{DOMAIN}/prod/%6Frders",
        f"https://{DOMAIN}/prod/./orders",
        f"https://{DOMAIN}/prod/x/../orders",
        f"https://{DOMAIN}/prod/orders?page=2",
        f"https://{DOMAIN}/prod/orders#top",
    ],
)
def test_htu_is_compared_after_normalization(allowed: Harness, client: Client, htu):
    assert event_outcome(allowed, client.request(htu=htu)) == "allow"


def test_public_base_url_replaces_the_domain_and_stage(make_harness: MakeHarness, client: Client):
    harness = make_harness(DPOP="allowed", PUBLIC_BASE_URL="https://orders.example.com/v1/")
    assert event_outcome(harness, client.request(htu="https://orders.example.com/v1/orders")) == "allow"
    assert event_rejection(harness, client.request()) == "dpop_htu_mismatch"


def with_path(event: dict[str, Any], path: str) -> dict[str, Any]:
    """The event of a request for ``/prod{path}`` (REST APIs pass the path percent-encoded, as sent)."""
    event["path"] = path
    event["requestContext"]["path"] = f"/prod{path}"
    return event


@pytest.mark.parametrize(
    ("path", "htu_path"),
    [
        ("/orders/a%20b", "/orders/a%20b"),
        ("/orders/~x", "/orders/%7Ex"),
        ("/orders/%c3%a9", "/orders/%C3%A9"),
    ],
)
def test_percent_encodings_that_mean_the_same_match(allowed: Harness, client: Client, path, htu_path):
    event = with_path(client.event(client.proof(htu=f"https://{DOMAIN}/prod{htu_path}")), path)
    assert event_outcome(allowed, event) == "allow"


@pytest.mark.parametrize(
    ("path", "htu_path"), [("/orders/a:b", "/orders/a%3Ab"), ("/orders/a/b", "/orders/a%2Fb")]
)
def test_an_encoded_reserved_character_is_another_url(allowed: Harness, client: Client, path, htu_path):
    event = with_path(client.event(client.proof(htu=f"https://{DOMAIN}/prod{htu_path}")), path)
    assert event_rejection(allowed, event) == "dpop_htu_mismatch"


@pytest.mark.parametrize(
    ("url", "normalized"),
    [
        ("https://a.example/", "https://a.example/"),
        ("https://a.example", "https://a.example/"),
        ("HTTPS://A.EXAMPLE:443", "https://a.example/"),
        ("http://a.example:80/x", "http://a.example/x"),
        ("http://a.example:443/x", "http://a.example:443/x"),
        ("https://a.example:08443/x", "https://a.example:8443/x"),
        ("https://[::1]:8443/x", "https://[::1]:8443/x"),
        ("https://a.example/%7euser/%2f/%2A", "https://a.example/~user/%2F/%2A"),
        ("https://a.example/a:b/%3a", "https://a.example/a:b/%3A"),
        ("https://a.example/a b/%zz/é", "https://a.example/a%20b/%25zz/%C3%A9"),
        ("https://a.example/a/./b/../c/", "https://a.example/a/c/"),
        ("https://a.example/a/b/..", "https://a.example/a/"),
        ("https://a.example/..", "https://a.example/"),
        ("https://a.example//a", "https://a.example//a"),
        ("https://a.example/x?q=1#f", "https://a.example/x"),
        ("https://u:p@a.example/", None),
        ("https:///x", None),
        ("a.example/x", None),
        ("https://a.example:x/", None),
        ("https://a.example/\ud800", None),
    ],
)
def test_normalized_url(url, normalized):
    assert normalized_url(url) == normalized


# --- dpop_proof_expired ------------------------------------------------------------------------------


@pytest.mark.parametrize("offset", [-61, 61, -3600, 10**12])
def test_iat_outside_the_window_is_expired(allowed: Harness, client: Client, clock: Clock, offset):
    assert event_rejection(allowed, client.request(iat=int(clock.now) + offset)) == "dpop_proof_expired"


@pytest.mark.parametrize("offset", [-60, 0, 60, 0.5])
def test_iat_at_the_edges_of_the_window_is_fine(allowed: Harness, client: Client, clock: Clock, offset):
    assert event_outcome(allowed, client.request(iat=clock.now + offset)) == "allow"


def test_max_age_and_leeway_are_configurable(make_harness: MakeHarness, client: Client, clock: Clock):
    harness = make_harness(DPOP="allowed", DPOP_MAX_AGE_SECONDS="5", LEEWAY_SECONDS="2")
    assert event_outcome(harness, client.request(iat=clock.now - 5)) == "allow"
    assert event_rejection(harness, client.request(iat=clock.now - 6)) == "dpop_proof_expired"
    assert event_outcome(harness, client.request(iat=clock.now + 2)) == "allow"
    assert event_rejection(harness, client.request(iat=clock.now + 3)) == "dpop_proof_expired"


# --- dpop_replayed -----------------------------------------------------------------------------------


def test_a_replayed_proof_is_rejected(allowed: Harness, client: Client):
    proof = client.proof()
    assert event_outcome(allowed, client.event(proof)) == "allow"
    assert event_rejection(allowed, client.event(proof)) == "dpop_replayed"


def test_a_new_proof_reusing_a_jti_is_rejected(allowed: Harness, client: Client, clock: Clock):
    assert event_outcome(allowed, client.request(jti="once")) == "allow"
    clock.advance(30)
    assert event_rejection(allowed, client.request(jti="once")) == "dpop_replayed"


def test_a_re_signed_ecdsa_proof_is_still_a_replay(allowed: Harness, client: Client):
    # ECDSA signatures are not unique: the same claims signed again make a different string.
    first, second = client.proof(jti="same"), client.proof(jti="same")
    assert first != second
    assert event_outcome(allowed, client.event(first)) == "allow"
    assert event_rejection(allowed, client.event(second)) == "dpop_replayed"


def test_the_same_jti_from_another_key_is_not_a_replay(
    allowed: Harness, client: Client, thief: SigningKey, token_for: TokenFor, ring: KeyRing, clock: Clock
):
    other = Client(thief, bound_token(token_for, ring, thief), clock)
    assert event_outcome(allowed, client.request(jti="shared")) == "allow"
    assert event_outcome(allowed, other.request(jti="shared")) == "allow"


def test_a_rejected_request_does_not_burn_the_jti(allowed: Harness, client: Client):
    assert event_rejection(allowed, client.request(jti="kept", htm="POST")) == "dpop_htm_mismatch"
    assert event_outcome(allowed, client.request(jti="kept")) == "allow"


def test_each_authorizer_has_its_own_memory(make_harness: MakeHarness, client: Client):
    # Without DPOP_REPLAY_TABLE a replay against another container is not seen (see the DynamoDB tests).
    proof = client.proof()
    assert event_outcome(make_harness(DPOP="allowed"), client.event(proof)) == "allow"
    assert event_outcome(make_harness(DPOP="allowed"), client.event(proof)) == "allow"


def test_the_memory_remembers_a_jti_for_max_age_plus_leeway():
    store = MemoryReplayStore(120)
    assert store.first_use("k", iat=1000, now=1000)
    assert not store.first_use("k", iat=1000, now=1119.9)
    assert store.first_use("k", iat=1000, now=1120)  # the proof expired 60 s ago
    assert len(store) == 1


def test_the_memory_forgets_expired_entries():
    store = MemoryReplayStore(10)
    for second in range(100):
        assert store.first_use(f"k{second}", iat=second, now=second)
    assert len(store) == 10


def test_a_clock_step_back_never_shortens_the_memory():
    store = MemoryReplayStore(10)
    assert store.first_use("a", iat=100, now=100)
    assert store.first_use("b", iat=50, now=50)  # the clock stepped back 50 s
    assert not store.first_use("b", iat=50, now=59)
    assert not store.first_use("a", iat=100, now=109)


def test_a_full_memory_fails_closed_instead_of_forgetting():
    store = MemoryReplayStore(60, capacity=2)
    assert store.first_use("a", iat=0, now=0)
    assert store.first_use("b", iat=0, now=1)
    with pytest.raises(ReplayStoreUnavailable, match=r"^DPoP replay store unavailable: the replay memory"):
        store.first_use("c", iat=2, now=2)
    assert not store.first_use("a", iat=0, now=2)  # still remembered
    assert store.first_use("c", iat=60, now=60)  # "a" expired and made room


def test_a_full_memory_is_a_503_not_a_401(
    monkeypatch: pytest.MonkeyPatch, make_harness: MakeHarness, client: Client
):
    monkeypatch.setattr(replay, "MAX_REMEMBERED", 1)
    harness = make_harness(DPOP="allowed")
    assert event_outcome(harness, client.request()) == "allow"
    with pytest.raises(ReplayStoreUnavailable):
        harness.authorizer.handle(client.request())
    decision = harness.last_decision()
    assert (decision["outcome"], decision["reason"], decision["sub"]) == (
        "error",
        "dpop_replay_store_unavailable",
        "user-1",
    )
    assert decision["detail"].startswith("the replay memory holds 1 live proofs")


# --- dpop_ath_mismatch / dpop_key_mismatch -----------------------------------------------------------


def test_ath_must_hash_the_presented_token(
    allowed: Harness, client: Client, token_for: TokenFor, ring: KeyRing
):
    other_token = bound_token(token_for, ring, client.key, jti="another")
    assert event_rejection(allowed, client.request(ath=ath_of(other_token))) == "dpop_ath_mismatch"


def test_a_proof_by_another_key_is_a_key_mismatch(allowed: Harness, client: Client, thief: SigningKey):
    # The thief stole the token and signs a perfect proof with its own key.
    stolen = Client(thief, client.token, client.clock)
    assert event_rejection(allowed, stolen.request()) == "dpop_key_mismatch"


@pytest.mark.parametrize("jkt", [None, 5, "", "AAAA"])
def test_a_cnf_jkt_that_is_not_the_thumbprint_is_a_key_mismatch(
    allowed: Harness, client: Client, token_for: TokenFor, ring: KeyRing, jkt
):
    token = token_for(ring.rsa, cnf={"jkt": jkt})
    assert event_rejection(allowed, Client(client.key, token, client.clock).request()) == "dpop_key_mismatch"


# --- dpop_bound_token_as_bearer / dpop_token_not_bound -----------------------------------------------


@pytest.mark.parametrize("with_proof", [False, True])
def test_a_bound_token_as_bearer_is_rejected(allowed: Harness, client: Client, with_proof):
    proofs = (client.proof(),) if with_proof else ()
    event = client.event(*proofs, scheme="Bearer")
    assert event_rejection(allowed, event) == "dpop_bound_token_as_bearer"


def test_a_bound_token_as_bearer_is_rejected_under_required_too(required: Harness, client: Client):
    assert event_rejection(required, client.event(scheme="Bearer")) == "dpop_bound_token_as_bearer"


def test_required_rejects_an_unbound_bearer_token(required: Harness, token_for: TokenFor, ring: KeyRing):
    event = request_event(token_for(ring.rsa), "GET", "/orders", "/orders")
    assert event_rejection(required, event) == "dpop_token_not_bound"


@pytest.mark.parametrize("mode", ["allowed", "required"])
def test_an_unbound_token_with_the_dpop_scheme_is_not_bound(
    make_harness: MakeHarness, client: Client, token_for: TokenFor, ring: KeyRing, mode
):
    sender = Client(client.key, token_for(ring.rsa, cnf={"x5t#S256": "abc"}), client.clock)
    assert event_rejection(make_harness(DPOP=mode), sender.request()) == "dpop_token_not_bound"


def test_a_cnf_that_is_not_an_object_is_an_invalid_claim(
    allowed: Harness, client: Client, token_for: TokenFor, ring: KeyRing
):
    token = token_for(ring.rsa, cnf="jkt")
    assert event_rejection(allowed, request_event(token, "GET", "/orders", "/orders")) == "invalid_claim"


# --- order, and DPOP off -----------------------------------------------------------------------------


def test_a_malformed_proof_is_refused_before_the_token_costs_anything(allowed: Harness, client: Client):
    assert event_rejection(allowed, client.event("garbage")) == "dpop_proof_invalid"
    assert allowed.idp.requests == {}  # no key set fetched, so no token signature checked


def test_the_token_is_verified_before_the_proof(
    allowed: Harness, client: Client, token_for: TokenFor, ring: KeyRing
):
    # A forged token (the attacker's key under the trusted kid) with a perfect proof for it.
    forged = token_for(ring.attacker, cnf={"jkt": thumbprint(public_jwk(client.key))})
    assert event_rejection(allowed, Client(client.key, forged, client.clock).request()) == "bad_signature"


def test_the_proof_signature_is_checked_before_its_claims(
    allowed: Harness, client: Client, thief: SigningKey
):
    header, payload, _ = client.proof(htm="POST").split(".")
    forged = compact(json.loads(b64url(header)), json.loads(b64url(payload)), thief)
    assert event_rejection(allowed, client.event(forged)) == "dpop_proof_invalid"


def test_with_dpop_off_the_dpop_scheme_is_malformed(harness: Harness, client: Client):
    assert event_rejection(harness, client.request()) == "malformed_authorization"


def test_with_dpop_off_a_bound_token_is_a_bearer_token(harness: Harness, client: Client):
    assert event_outcome(harness, client.event(scheme="Bearer")) == "allow"


def test_with_dpop_off_nothing_is_built(harness: Harness):
    assert harness.authorizer._dpop is None
    assert harness.authorizer._certificates is None


# --- thumbprints and settings ------------------------------------------------------------------------


def test_the_rfc_7638_example_thumbprint():
    jwk = {
        "kty": "RSA",
        "n": (
            "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_B"
            "JECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_F"
            "DW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4"
            "vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
        ),
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29",
    }
    thumbprinted = jwk_thumbprint(jwk)
    assert thumbprinted is not None
    assert thumbprinted[1] == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_the_rfc_9449_example_thumbprint():
    jwk = {
        "kty": "EC",
        "x": "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",
        "y": "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA",
        "crv": "P-256",
    }
    thumbprinted = jwk_thumbprint(jwk)
    assert thumbprinted is not None
    assert thumbprinted[1] == "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"


@pytest.mark.parametrize("name", ["ES256", "PS256", "EdDSA"])
def test_thumbprints_agree_with_the_tests_own(proof_keys: dict[str, SigningKey], name):
    jwk = public_jwk(proof_keys[name])
    thumbprinted = jwk_thumbprint(jwk)
    assert thumbprinted is not None
    assert thumbprinted[1] == thumbprint(jwk)


def test_dpop_defaults():
    settings = Settings.from_env(MINIMAL)
    assert (
        settings.dpop,
        settings.dpop_algorithms,
        settings.dpop_max_age_seconds,
        settings.public_base_url,
        settings.dpop_replay_table,
    ) == ("off", frozenset({"ES256", "PS256", "EdDSA"}), 60.0, None, None)


def test_dpop_settings():
    settings = Settings.from_env(
        {
            **MINIMAL,
            "DPOP": "required",
            "DPOP_ALGORITHMS": "ES256, RS256",
            "DPOP_MAX_AGE_SECONDS": "30",
            "PUBLIC_BASE_URL": "https://api.example.com/v1/",
            "DPOP_REPLAY_TABLE": "jwt-gate-dpop-jti",
        }
    )
    assert (
        settings.dpop,
        settings.dpop_algorithms,
        settings.dpop_max_age_seconds,
        settings.public_base_url,
        settings.dpop_replay_table,
    ) == ("required", frozenset({"ES256", "RS256"}), 30.0, "https://api.example.com/v1", "jwt-gate-dpop-jti")


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DPOP", "on"),
        ("DPOP", "Required"),
        ("DPOP_ALGORITHMS", "none"),
        ("DPOP_ALGORITHMS", "ES256,HS256"),
        ("DPOP_ALGORITHMS", "ES256K"),
        ("DPOP_ALGORITHMS", "ES256,"),
        ("DPOP_MAX_AGE_SECONDS", "0"),
        ("DPOP_MAX_AGE_SECONDS", "-1"),
        ("DPOP_MAX_AGE_SECONDS", "601"),
        ("DPOP_MAX_AGE_SECONDS", "nan"),
        ("PUBLIC_BASE_URL", "http://api.example.com"),
        ("PUBLIC_BASE_URL", "https://api.example.com/v1?x=1"),
        ("PUBLIC_BASE_URL", "https://api.example.com/#x"),
        ("PUBLIC_BASE_URL", "https://user:pw@api.example.com"),
        ("PUBLIC_BASE_URL", "api.example.com"),
        ("DPOP_REPLAY_TABLE", "ab"),
        ("DPOP_REPLAY_TABLE", "jti table"),
        ("DPOP_REPLAY_TABLE", "arn:aws:s3:::bucket"),
    ],
)
def test_invalid_dpop_settings_name_the_variable(variable, value):
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({**MINIMAL, variable: value})
    assert caught.value.variable == variable


@pytest.mark.parametrize(
    "table", ["jti", "jwt-gate.dpop_jti", "arn:aws:dynamodb:eu-west-1:123456789012:table/jwt-gate-jti"]
)
def test_replay_table_names_and_arns(table):
    assert Settings.from_env({**MINIMAL, "DPOP_REPLAY_TABLE": table}).dpop_replay_table == table


def test_a_loopback_public_base_url_may_be_plain_http():
    settings = Settings.from_env({**MINIMAL, "PUBLIC_BASE_URL": "http://127.0.0.1:3000"})
    assert settings.public_base_url == "http://127.0.0.1:3000"
