"""The key set against a real loopback identity provider: caching, rotation, kid floods, outages.

Request counts are taken at the server. Time moves only through the test clock, so staleness and
cooldowns are exact and nothing sleeps (the "slow" server really is slow: 1 s against a 0.5 s timeout;
the concurrency test slows it to keep a refetch in flight while other threads queue behind it).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from gate.errors import KeysUnavailable, Rejection
from gate.keys import KeySet
from gate.settings import Settings
from tests.authorizer.authz_support import Clock, Harness, Idp, KeyRing, MakeHarness, base_env

TokenFor = Callable[..., str]
FAULTS = ["down", "drop", "slow", "garbage", "oversized", "oversized_unsized"]


def unavailable(harness: Harness, token: str) -> KeysUnavailable:
    with pytest.raises(KeysUnavailable) as caught:
        harness.call(token)
    message = str(caught.value)
    assert message.startswith("Signing keys unavailable: ")
    assert message != "Unauthorized"
    decision = harness.last_decision()
    assert (decision["outcome"], decision["reason"]) == ("error", "keys_unavailable")
    assert decision["detail"] == caught.value.detail
    return caught.value


def test_discovery_then_jwks_once_then_cached(harness: Harness, ring: KeyRing, token_for: TokenFor):
    for _ in range(3):
        harness.call(token_for(ring.rsa))
    assert harness.idp.requests == {"/.well-known/openid-configuration": 1, "/jwks": 1}


def test_configured_jwks_uri_skips_discovery(
    make_harness: MakeHarness, idp: Idp, ring: KeyRing, token_for: TokenFor
):
    harness = make_harness(JWKS_URI=idp.jwks_uri)
    harness.call(token_for(ring.rsa))
    assert idp.requests == {"/jwks": 1}


def test_keys_are_refreshed_once_stale(make_harness: MakeHarness, ring: KeyRing, token_for: TokenFor):
    harness = make_harness(JWKS_CACHE_SECONDS="100")
    harness.call(token_for(ring.rsa))
    harness.clock.advance(99.9)
    harness.call(token_for(ring.rsa))
    assert harness.idp.count("/jwks") == 1
    harness.clock.advance(0.1)
    harness.call(token_for(ring.rsa))
    assert harness.idp.count("/jwks") == 2


def unknown_kid(harness: Harness, token: str) -> None:
    with pytest.raises(Rejection) as caught:
        harness.call(token)
    assert caught.value.reason == "unknown_kid"


def random_kid_token(ring: KeyRing, token_for: TokenFor) -> str:
    return token_for(ring.rsa.with_kid(uuid.uuid4().hex))


def test_a_cache_shorter_than_the_cooldown_is_honoured(
    make_harness: MakeHarness, ring: KeyRing, token_for: TokenFor
):
    # Issue 9: successes do not pace refreshes; a 1 s cache refreshes after 1 s, not after the 10 s cooldown.
    harness = make_harness(JWKS_CACHE_SECONDS="1", JWKS_REFETCH_COOLDOWN_SECONDS="10")
    harness.call(token_for(ring.rsa))
    for expected in (2, 3, 4):
        harness.clock.advance(1)
        harness.call(token_for(ring.rsa))
        assert harness.idp.count("/jwks") == expected


def test_after_a_failed_refresh_the_cooldown_paces_the_next_attempt(
    make_harness: MakeHarness, ring: KeyRing, token_for: TokenFor
):
    harness = make_harness(JWKS_CACHE_SECONDS="1", JWKS_REFETCH_COOLDOWN_SECONDS="10")
    harness.call(token_for(ring.rsa))
    harness.idp.mode = "down"
    harness.clock.advance(1)
    harness.call(token_for(ring.rsa))  # stale keys serve; one failed attempt
    harness.clock.advance(9.9)
    harness.call(token_for(ring.rsa))
    assert harness.idp.count("/jwks") == 2
    harness.idp.mode = "ok"
    harness.clock.advance(0.1)
    harness.call(token_for(ring.rsa))
    assert harness.idp.count("/jwks") == 3


def test_rotation_new_kid_works_right_after_a_regular_fetch_and_removed_kid_stops(
    harness: Harness, ring: KeyRing, token_for: TokenFor
):
    harness.call(token_for(ring.rsa))  # the regular fetch, this very instant
    harness.idp.publish(ring.rsa_next)  # rotated: old key withdrawn, new key used at once
    assert harness.call(token_for(ring.rsa_next))["principalId"] == "user-1"
    assert harness.idp.count("/jwks") == 2
    unknown_kid(harness, token_for(ring.rsa))


def test_new_kid_right_after_a_staleness_refresh_is_fetched(
    make_harness: MakeHarness, ring: KeyRing, token_for: TokenFor
):
    harness = make_harness(JWKS_CACHE_SECONDS="100")
    harness.call(token_for(ring.rsa))
    harness.clock.advance(100)
    harness.call(token_for(ring.rsa))  # stale: the scheduled refresh
    assert harness.idp.count("/jwks") == 2
    harness.idp.publish(ring.rsa, ring.rsa_next)
    assert harness.call(token_for(ring.rsa_next))["principalId"] == "user-1"
    assert harness.idp.count("/jwks") == 3


def test_second_unknown_kid_within_the_cooldown_fetches_nothing(
    harness: Harness, ring: KeyRing, token_for: TokenFor
):
    harness.call(token_for(ring.rsa))
    harness.idp.publish(ring.rsa, ring.rsa_next)
    assert harness.call(token_for(ring.rsa_next))["principalId"] == "user-1"  # unknown-kid refetch
    harness.clock.advance(9.999)
    unknown_kid(harness, random_kid_token(ring, token_for))
    assert harness.idp.count("/jwks") == 2


def test_unknown_kid_after_the_cooldown_refetches(harness: Harness, ring: KeyRing, token_for: TokenFor):
    harness.call(token_for(ring.rsa))
    unknown_kid(harness, random_kid_token(ring, token_for))  # opens the penalty box
    harness.clock.advance(10)
    harness.idp.publish(ring.rsa, ring.rsa_next)
    assert harness.call(token_for(ring.rsa_next))["principalId"] == "user-1"
    assert harness.idp.count("/jwks") == 3


def test_kid_flood_costs_one_request_per_cooldown(harness: Harness, ring: KeyRing, token_for: TokenFor):
    harness.call(token_for(ring.rsa))
    for round_ in range(3):
        harness.clock.advance(10 if round_ else 0)  # round 0 starts at the regular fetch's instant
        before = harness.idp.count("/jwks")
        for _ in range(50):
            unknown_kid(harness, random_kid_token(ring, token_for))
            harness.clock.advance(0.1)  # 50 x 0.1 s = 5 s, inside one 10 s cooldown
        assert harness.idp.count("/jwks") - before == 1
    assert harness.call(token_for(ring.rsa))["principalId"] == "user-1"


def test_rotation_during_a_flood_s_cooldown_waits_for_it(
    harness: Harness, ring: KeyRing, token_for: TokenFor
):
    """The documented trade-off: a flood's penalty box also holds back a key rotated in under it."""
    harness.call(token_for(ring.rsa))
    for _ in range(50):
        unknown_kid(harness, random_kid_token(ring, token_for))  # the first one refetched, now
    assert harness.idp.count("/jwks") == 2
    harness.idp.publish(ring.rsa, ring.rsa_next)
    harness.clock.advance(9.999)
    unknown_kid(harness, token_for(ring.rsa_next))
    assert harness.idp.count("/jwks") == 2
    harness.clock.advance(0.001)
    assert harness.call(token_for(ring.rsa_next))["principalId"] == "user-1"
    assert harness.idp.count("/jwks") == 3


def test_concurrent_unknown_kids_refetch_once(make_harness: MakeHarness, ring: KeyRing, token_for: TokenFor):
    harness = make_harness(JWKS_TIMEOUT_SECONDS="5")
    harness.call(token_for(ring.rsa))
    harness.idp.publish(ring.rsa, ring.rsa_next)
    harness.idp.mode, harness.idp.slow_seconds = "slow", 0.2  # the refetch is in flight while others queue
    rotated = [token_for(ring.rsa_next) for _ in range(4)]
    random_kids = [random_kid_token(ring, token_for) for _ in range(4)]
    start = threading.Barrier(len(rotated) + len(random_kids))

    def attempt(token: str) -> str:
        start.wait()
        try:
            return str(harness.call(token)["principalId"])
        except Rejection as rejection:
            return rejection.reason

    with ThreadPoolExecutor(max_workers=len(rotated) + len(random_kids)) as pool:
        outcomes = list(pool.map(attempt, rotated + random_kids))
    assert outcomes == ["user-1"] * 4 + ["unknown_kid"] * 4
    assert harness.idp.count("/jwks") == 2


@pytest.mark.parametrize("fault", FAULTS)
def test_warm_outage_serves_stale_keys(harness: Harness, ring: KeyRing, token_for: TokenFor, fault):
    harness.call(token_for(ring.rsa))
    harness.idp.mode = fault
    harness.clock.advance(600)  # stale now
    assert harness.call(token_for(ring.rsa))["principalId"] == "user-1"
    assert harness.idp.count("/jwks") == 2  # a refresh was attempted and failed
    harness.clock.advance(5)  # inside the cooldown: no new attempt
    assert harness.call(token_for(ring.rsa))["principalId"] == "user-1"
    assert harness.idp.count("/jwks") == 2
    refresh_failures = [line for line in harness.log if '"jwks_refresh_failed"' in line]
    assert len(refresh_failures) == 1


@pytest.mark.parametrize("fault", FAULTS)
def test_cold_outage_is_keys_unavailable_never_unauthorized(
    make_harness: MakeHarness, ring: KeyRing, token_for: TokenFor, fault
):
    harness = make_harness()
    harness.idp.mode = fault
    unavailable(harness, token_for(ring.rsa))
    # Within the cooldown nothing is fetched again, and it is still not a rejection.
    attempts = sum(harness.idp.requests.values())
    unavailable(harness, token_for(ring.rsa))
    assert sum(harness.idp.requests.values()) == attempts
    harness.idp.mode = "ok"
    harness.clock.advance(10)
    assert harness.call(token_for(ring.rsa))["principalId"] == "user-1"


def test_unknown_kid_while_refresh_fails_is_keys_unavailable(
    harness: Harness, ring: KeyRing, token_for: TokenFor
):
    harness.call(token_for(ring.rsa))
    harness.idp.mode = "down"  # the unknown kid's refetch, right after the regular fetch, fails
    error = unavailable(harness, token_for(ring.rsa_next))
    assert harness.idp.count("/jwks") == 2
    assert error.kid == "rsa-2"
    assert harness.last_decision()["kid"] == "rsa-2"


def test_max_stale_age(make_harness: MakeHarness, ring: KeyRing, token_for: TokenFor):
    harness = make_harness(JWKS_CACHE_SECONDS="100", JWKS_MAX_STALE_SECONDS="1000")
    harness.call(token_for(ring.rsa))
    harness.idp.mode = "down"
    harness.clock.advance(1100 - 0.001)
    assert harness.call(token_for(ring.rsa))["principalId"] == "user-1"
    harness.clock.advance(0.001)
    unavailable(harness, token_for(ring.rsa))
    assert any('"jwks_expired"' in line for line in harness.log)


def test_discovery_issuer_must_match(harness: Harness, ring: KeyRing, token_for: TokenFor):
    harness.idp.discovery_issuer = harness.idp.issuer + "/"
    error = unavailable(harness, token_for(ring.rsa))
    assert "discovery issuer" in error.detail
    assert harness.idp.count("/jwks") == 0


def test_discovered_plain_http_jwks_uri_off_loopback_is_refused(
    harness: Harness, ring: KeyRing, token_for: TokenFor
):
    harness.idp.discovery_jwks_uri = "http://idp.example.com/jwks"
    error = unavailable(harness, token_for(ring.rsa))
    assert "plain http" in error.detail


def test_jwks_without_usable_keys_counts_as_a_failed_fetch(
    harness: Harness, ring: KeyRing, token_for: TokenFor
):
    harness.idp.publish(ring.rsa_weak, {**ring.rsa.jwk, "use": "enc"})
    error = unavailable(harness, token_for(ring.rsa))
    assert "no usable key" in error.detail
    ignored = [line for line in harness.log if '"jwks_keys_ignored"' in line]
    assert len(ignored) == 1
    assert "below 2048" in ignored[0]
    assert "not 'sig'" in ignored[0]


@pytest.mark.parametrize(
    ("jwk_change", "reason"),
    [
        ({"use": "enc"}, "unknown_kid"),
        ({"key_ops": ["encrypt"]}, "unknown_kid"),
        ({"alg": "RS512"}, "key_alg_mismatch"),
        ({"kty": "EC"}, "unknown_kid"),
        ({"n": "AQAB"}, "unknown_kid"),
    ],
)
def test_jwk_checks(harness: Harness, ring: KeyRing, token_for: TokenFor, jwk_change, reason):
    harness.idp.publish(ring.es256, {**ring.rsa.jwk, **jwk_change})
    with pytest.raises(Rejection) as caught:
        harness.call(token_for(ring.rsa))
    assert caught.value.reason == reason


def test_jwk_alg_and_use_when_they_fit(harness: Harness, ring: KeyRing, token_for: TokenFor):
    harness.idp.publish({**ring.rsa.jwk, "alg": "RS256", "use": "sig", "key_ops": ["verify"]})
    assert harness.call(token_for(ring.rsa))["principalId"] == "user-1"


def test_private_members_in_the_jwks_are_not_loaded(harness: Harness, ring: KeyRing, token_for: TokenFor):
    from jwt.algorithms import RSAAlgorithm

    leaked = {**RSAAlgorithm.to_jwk(ring.rsa.private, as_dict=True), "kid": "rsa-1"}
    leaked.pop("key_ops")
    harness.idp.publish(leaked)
    assert harness.call(token_for(ring.rsa))["principalId"] == "user-1"


def keyset(idp: Idp, clock: Clock, **env: str) -> KeySet:
    return KeySet(Settings.from_env(base_env(idp, **env)), clock=clock)


def test_each_jwk_is_parsed_once_across_refreshes(idp: Idp, clock: Clock):
    keys = keyset(idp, clock, JWKS_REFETCH_COOLDOWN_SECONDS="0", JWKS_CACHE_SECONDS="0")
    first = keys.key_for("rsa-1", "RS256")
    second = keys.key_for("rsa-1", "RS256")
    assert idp.count("/jwks") == 2
    assert second is first


def test_prefetch_fills_the_cache(idp: Idp, clock: Clock):
    keys = keyset(idp, clock)
    assert keys.prefetch() is True
    keys.key_for("rsa-1", "RS256")
    assert idp.count("/jwks") == 1


def test_failed_prefetch_leaves_no_cooldown(idp: Idp, clock: Clock):
    keys = keyset(idp, clock)
    idp.mode = "down"
    assert keys.prefetch() is False
    idp.mode = "ok"
    assert keys.key_for("rsa-1", "RS256").kid == "rsa-1"  # same instant, retried anyway
    assert idp.count("/jwks") == 1
