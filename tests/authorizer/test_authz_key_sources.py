"""Issue 13 key sources against real loopback servers: the deploy-time snapshot and the SSM parameter read
through a stand-in for the Parameters and Secrets Lambda Extension (local/parameters_extension.py).

The snapshot is a fallback only: it serves while no live key set was ever fetched in the container, never
once it is older than JWKS_SNAPSHOT_MAX_AGE_SECONDS, never after a live fetch. The SSM source replaces the
identity provider as what a refresh reads; every key-set rule (cache, stale-if-error, unknown-kid cooldown,
503 never 401) holds for it. Outputs are compared exactly: decision lines, key-set events, error details.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gate.authorizer import Authorizer
from gate.errors import ConfigError, KeysUnavailable, Rejection
from gate.fetch import FetchError, fetch_json
from gate.jwks_document import parameter_value, snapshot_document
from gate.key_sources import KeySources, SsmParameterSource
from gate.settings import Settings
from local.parameters_extension import ParametersExtensionStandIn
from tests.authorizer.authz_support import (
    NOW,
    Clock,
    Harness,
    Idp,
    KeyRing,
    SigningKey,
    base_env,
    method_arn,
)

TokenFor = Callable[..., str]
AUTHORIZER_ROOT = Path(__file__).resolve().parents[2] / "lambda_src" / "authorizer"
HOUR = 3600


def public(*keys: SigningKey) -> list[dict[str, Any]]:
    """The public JWKs as the snapshot tool writes them (public members and key metadata only)."""
    members = ("kty", "kid", "use", "alg", "key_ops", "n", "e", "crv", "x", "y")
    return [{m: key.jwk[m] for m in members if m in key.jwk} for key in keys]


def write_snapshot(path: Path, issuers: dict[str, list[dict[str, Any]]], fetched_at: float) -> Path:
    path.write_text(json.dumps(snapshot_document(int(fetched_at), issuers)))
    return path


def events(harness: Harness, name: str) -> list[dict[str, Any]]:
    return [line for line in map(json.loads, harness.log) if line["event"] == name]


def build(idp: Idp, clock: Clock, env: dict[str, str], *, root: str | None = None) -> Harness:
    log: list[str] = []
    full_env = base_env(idp, **env)
    settings = Settings.from_env(full_env)
    sources = KeySources.from_env(full_env, settings, now=clock, **({"root": root} if root else {}))
    authorizer = Authorizer(settings, clock=clock, write=log.append, key_sources=sources)
    return Harness(authorizer, idp, clock, log)


def unavailable(harness: Harness, token: str) -> str:
    with pytest.raises(KeysUnavailable) as caught:
        harness.call(token)
    decision = harness.last_decision()
    assert (decision["outcome"], decision["reason"]) == ("error", "keys_unavailable")
    assert "key_source" not in decision
    assert decision["detail"] == caught.value.detail
    return caught.value.detail


# ---- Deploy-time snapshot ----


@pytest.fixture
def snapshot_env(tmp_path: Path, idp: Idp, ring: KeyRing) -> dict[str, str]:
    path = write_snapshot(tmp_path / "keys.json", {idp.issuer: public(ring.rsa)}, NOW - HOUR)
    return {"JWKS_SNAPSHOT_FILE": str(path), "JWKS_REFETCH_COOLDOWN_SECONDS": "10"}


def test_snapshot_serves_when_the_idp_is_down_at_cold_start(
    idp: Idp, clock: Clock, ring: KeyRing, token_for: TokenFor, snapshot_env: dict[str, str]
):
    harness = build(idp, clock, snapshot_env)
    idp.mode = "down"
    assert harness.authorizer.prefetch_keys() is False
    assert harness.call(token_for(ring.rsa))["principalId"] == "user-1"
    assert harness.last_decision() == {
        "event": "authorizer_decision",
        "outcome": "allow",
        "reason": "ok",
        "sub": "user-1",
        "kid": "rsa-1",
        "method_arn": method_arn(),
        "key_source": "snapshot",
    }
    harness.call(token_for(ring.rsa))
    assert events(harness, "jwks_snapshot_in_use") == [
        {
            "event": "jwks_snapshot_in_use",
            "issuer": idp.issuer,
            "snapshot_age_seconds": HOUR,
            "usable_keys": 1,
            "detail": f"no key set fetched in this container: {idp.base}/.well-known/openid-configuration: "
            "HTTP 503",
        }
    ]


def test_snapshot_keys_judge_rejections_too(
    idp: Idp, clock: Clock, ring: KeyRing, token_for: TokenFor, snapshot_env: dict[str, str]
):
    harness = build(idp, clock, snapshot_env)
    idp.mode = "down"
    with pytest.raises(Rejection):
        harness.call(token_for(ring.rsa, exp=int(NOW) - 3600, iat=int(NOW) - 7200))
    decision = harness.last_decision()
    assert (decision["reason"], decision["key_source"]) == ("expired", "snapshot")


def test_live_keys_win_when_the_idp_is_reachable(
    idp: Idp, clock: Clock, ring: KeyRing, token_for: TokenFor, tmp_path: Path
):
    # The snapshot still holds a key the provider has since withdrawn: it must not verify anything.
    path = write_snapshot(tmp_path / "keys.json", {idp.issuer: public(ring.rsa, ring.rsa_next)}, NOW - HOUR)
    harness = build(idp, clock, {"JWKS_SNAPSHOT_FILE": str(path)})
    assert harness.authorizer.prefetch_keys() is True
    harness.call(token_for(ring.rsa))
    assert "key_source" not in harness.last_decision()
    with pytest.raises(Rejection) as caught:
        harness.call(token_for(ring.rsa_next))
    assert caught.value.reason == "unknown_kid"
    assert events(harness, "jwks_snapshot_in_use") == []


def test_after_one_live_fetch_the_snapshot_is_never_used(
    idp: Idp, clock: Clock, ring: KeyRing, token_for: TokenFor, snapshot_env: dict[str, str]
):
    harness = build(idp, clock, {**snapshot_env, "JWKS_CACHE_SECONDS": "60", "JWKS_MAX_STALE_SECONDS": "60"})
    harness.call(token_for(ring.rsa))
    idp.mode = "down"
    clock.advance(120)  # past fresh + stale: the live keys are dropped
    assert unavailable(harness, token_for(ring.rsa)) == f"{idp.base}/jwks: HTTP 503"
    assert events(harness, "jwks_snapshot_in_use") == []


def test_a_snapshot_past_its_max_age_is_never_used(
    idp: Idp, clock: Clock, ring: KeyRing, token_for: TokenFor, tmp_path: Path
):
    path = write_snapshot(tmp_path / "keys.json", {idp.issuer: public(ring.rsa)}, NOW - 7 * 24 * HOUR)
    harness = build(idp, clock, {"JWKS_SNAPSHOT_FILE": str(path)})
    idp.mode = "down"
    detail = unavailable(harness, token_for(ring.rsa))
    assert detail == (
        f"{idp.base}/.well-known/openid-configuration: HTTP 503; the key snapshot is 604800 s old, "
        "past JWKS_SNAPSHOT_MAX_AGE_SECONDS"
    )
    unavailable(harness, token_for(ring.rsa))
    assert events(harness, "jwks_snapshot_too_old") == [
        {
            "event": "jwks_snapshot_too_old",
            "issuer": idp.issuer,
            "snapshot_age_seconds": 604800,
            "max_age_seconds": 604800.0,
        }
    ]


def test_the_max_age_is_configurable(
    idp: Idp, clock: Clock, ring: KeyRing, token_for: TokenFor, snapshot_env: dict[str, str]
):
    harness = build(idp, clock, {**snapshot_env, "JWKS_SNAPSHOT_MAX_AGE_SECONDS": "3600"})
    idp.mode = "down"
    unavailable(harness, token_for(ring.rsa))  # exactly one hour old: not below the max age
    harness = build(idp, clock, {**snapshot_env, "JWKS_SNAPSHOT_MAX_AGE_SECONDS": "3601"})
    assert harness.call(token_for(ring.rsa))["principalId"] == "user-1"


def test_a_kid_the_snapshot_lacks_is_keys_unavailable_not_unknown_kid(
    idp: Idp, clock: Clock, ring: KeyRing, token_for: TokenFor, snapshot_env: dict[str, str]
):
    harness = build(idp, clock, snapshot_env)
    idp.mode = "down"
    assert unavailable(harness, token_for(ring.rsa_next)) == (
        f"kid 'rsa-2' is not in the key snapshot and refreshing fails: {idp.base}/.well-known/"
        "openid-configuration: HTTP 503"
    )


def test_refresh_attempts_keep_their_cooldown_and_live_keys_take_over(
    idp: Idp, clock: Clock, ring: KeyRing, token_for: TokenFor, snapshot_env: dict[str, str]
):
    harness = build(idp, clock, snapshot_env)
    idp.mode = "down"
    harness.call(token_for(ring.rsa))
    clock.advance(9.9)
    harness.call(token_for(ring.rsa))
    discovery = "/.well-known/openid-configuration"
    assert idp.count(discovery) == 1  # the failed attempt paces the next one
    idp.mode = "ok"
    clock.advance(0.1)
    harness.call(token_for(ring.rsa))
    assert idp.count(discovery) == 2
    assert "key_source" not in harness.last_decision()


def test_unknown_kid_refetch_rules_are_unchanged_after_the_snapshot(
    idp: Idp, clock: Clock, ring: KeyRing, token_for: TokenFor, snapshot_env: dict[str, str]
):
    harness = build(idp, clock, snapshot_env)
    harness.call(token_for(ring.rsa))  # live
    with pytest.raises(Rejection):
        harness.call(token_for(ring.rsa.with_kid("made-up-1")))
    with pytest.raises(Rejection):
        harness.call(token_for(ring.rsa.with_kid("made-up-2")))
    assert idp.count("/jwks") == 2  # one refetch, then the cooldown


def test_every_issuer_gets_its_own_snapshot_keys(
    idp: Idp, clock: Clock, ring: KeyRing, token_for: TokenFor, tmp_path: Path
):
    partner = "https://partner.example.com/"
    issuers = {idp.issuer: public(ring.rsa), partner: public(ring.es256)}
    path = write_snapshot(tmp_path / "keys.json", issuers, NOW - HOUR)
    additional = json.dumps([{"issuer": partner, "audience": ["api://orders"], "jwksUri": idp.jwks_uri}])
    harness = build(idp, clock, {"JWKS_SNAPSHOT_FILE": str(path), "ADDITIONAL_ISSUERS": additional})
    idp.mode = "down"
    harness.call(token_for(ring.es256, iss=partner))
    assert harness.last_decision()["key_source"] == "snapshot"
    # The primary issuer's snapshot does not hold the partner's key, nor the other way round.
    assert "is not in the key snapshot" in unavailable(harness, token_for(ring.es256))


def test_a_relative_path_is_read_from_the_asset_root(
    idp: Idp, clock: Clock, ring: KeyRing, token_for: TokenFor, tmp_path: Path
):
    (tmp_path / "keys").mkdir()
    write_snapshot(tmp_path / "keys" / "snapshot.json", {idp.issuer: public(ring.rsa)}, NOW - HOUR)
    harness = build(idp, clock, {"JWKS_SNAPSHOT_FILE": "keys/snapshot.json"}, root=str(tmp_path))
    idp.mode = "down"
    assert harness.call(token_for(ring.rsa))["principalId"] == "user-1"


def bad_snapshot(tmp_path: Path, idp: Idp, ring: KeyRing, **changes: Any) -> dict[str, str]:
    document = snapshot_document(int(NOW) - HOUR, {idp.issuer: public(ring.rsa)})
    document.update(changes)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))
    return {"JWKS_SNAPSHOT_FILE": str(path)}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"fetched_at": "yesterday"}, "'fetched_at' must be a number of seconds since the epoch"),
        ({"fetched_at": NOW + 3600}, "'fetched_at' (1700003600) lies in the future"),
        ({"issuers": {}}, "'issuers' must be a non-empty object"),
        ({"issuers": {"x": []}}, "issuer 'x' must be {\"keys\": [...]}"),
        ({"issuers": {"x": {"keys": []}}}, "issuer 'x': 'keys' must be a non-empty array"),
        (
            {"issuers": {"x": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}}},
            "issuer 'x': key 0: kty 'oct' is not a public-key type (RSA, EC, OKP)",
        ),
        ({"extra": 1}, 'expected {"fetched_at": <seconds>, "issuers": {"<iss>": {"keys": [...]}}}'),
    ],
)
def test_a_bad_snapshot_file_is_a_config_error(
    idp: Idp, clock: Clock, ring: KeyRing, tmp_path: Path, change, message
):
    env = bad_snapshot(tmp_path, idp, ring, **change)
    with pytest.raises(ConfigError) as caught:
        build(idp, clock, env)
    assert caught.value.variable == "JWKS_SNAPSHOT_FILE"
    assert str(caught.value) == f"JWKS_SNAPSHOT_FILE: {tmp_path / 'bad.json'}: {message}"


def test_a_private_member_makes_the_snapshot_invalid(idp: Idp, clock: Clock, ring: KeyRing, tmp_path: Path):
    leaked = {**public(ring.rsa)[0], "d": "AQAB", "x5c": ["MIIB"]}
    path = write_snapshot(tmp_path / "bad.json", {idp.issuer: [leaked]}, NOW - HOUR)
    with pytest.raises(ConfigError) as caught:
        build(idp, clock, {"JWKS_SNAPSHOT_FILE": str(path)})
    assert str(caught.value) == (
        f"JWKS_SNAPSHOT_FILE: {path}: issuer {idp.issuer!r}: key 0 has members other than public ones "
        "and kid, use, alg, key_ops: d, x5c"
    )


def test_a_snapshot_without_a_trusted_issuer_is_a_config_error(
    idp: Idp, clock: Clock, ring: KeyRing, tmp_path: Path
):
    path = write_snapshot(tmp_path / "keys.json", {"https://other.example.com/": public(ring.rsa)}, NOW)
    with pytest.raises(ConfigError) as caught:
        build(idp, clock, {"JWKS_SNAPSHOT_FILE": str(path)})
    assert str(caught.value) == (
        f"JWKS_SNAPSHOT_FILE: {path} holds no keys of the trusted issuer {idp.issuer!r} "
        "(run make snapshot-keys again)"
    )


def test_unreadable_and_non_json_snapshot_files_are_config_errors(idp: Idp, clock: Clock, tmp_path: Path):
    missing = tmp_path / "missing.json"
    with pytest.raises(ConfigError) as caught:
        build(idp, clock, {"JWKS_SNAPSHOT_FILE": str(missing)})
    assert str(caught.value) == f"JWKS_SNAPSHOT_FILE: cannot read {missing}: No such file or directory"
    garbage = tmp_path / "garbage.json"
    garbage.write_text("<html>")
    with pytest.raises(ConfigError) as caught:
        build(idp, clock, {"JWKS_SNAPSHOT_FILE": str(garbage)})
    assert str(caught.value) == f"JWKS_SNAPSHOT_FILE: {garbage}: not valid JSON (JSONDecodeError)"


@pytest.mark.parametrize("value", ["0", "-1", "nan", "week"])
def test_a_bad_max_age_is_a_config_error(idp: Idp, clock: Clock, value: str):
    with pytest.raises(ConfigError) as caught:
        build(idp, clock, {"JWKS_SNAPSHOT_MAX_AGE_SECONDS": value})
    assert caught.value.variable == "JWKS_SNAPSHOT_MAX_AGE_SECONDS"


def test_a_cold_start_in_a_fresh_interpreter_survives_the_outage(
    idp: Idp, ring: KeyRing, token_for: TokenFor, tmp_path: Path
):
    """handler.py as Lambda imports it: prefetch fails (IdP down), the first request is served from the
    snapshot, and the decision line on stdout says so."""
    now = int(time.time())
    path = write_snapshot(tmp_path / "keys.json", {idp.issuer: public(ring.rsa)}, now - HOUR)
    idp.mode = "down"
    token = token_for(ring.rsa, iat=now, exp=now + 300)
    child = (
        f"import sys, json; sys.path.insert(0, {str(AUTHORIZER_ROOT)!r})\n"
        "import handler\n"
        "event = {'type': 'TOKEN', 'authorizationToken': 'Bearer ' + sys.argv[1], 'methodArn': sys.argv[2]}\n"
        "handler.handler(event, None)\n"
    )
    env = {"PATH": os.environ.get("PATH", ""), **base_env(idp, JWKS_SNAPSHOT_FILE=str(path))}
    done = subprocess.run(
        [sys.executable, "-I", "-c", child, token, method_arn()],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    decisions = [json.loads(line) for line in done.stdout.splitlines() if "authorizer_decision" in line]
    assert [(d["outcome"], d.get("key_source")) for d in decisions] == [("allow", "snapshot")]


# ---- Keys from SSM through the extension (stand-in) ----

PARAMETER = "/jwt-gate/test/jwks/0"


class Store:
    """The parameter values the stand-in serves: name -> value (a missing name is ParameterNotFound)."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def __call__(self, name: str) -> str | None:
        return self.values.get(name)


@pytest.fixture
def store() -> Store:
    return Store()


@pytest.fixture
def extension(store: Store) -> Iterator[ParametersExtensionStandIn]:
    server = ParametersExtensionStandIn(store).start()
    yield server
    server.stop()


def ssm_env(
    extension: ParametersExtensionStandIn, parameter: str = PARAMETER, **extra: str
) -> dict[str, str]:
    return {"JWKS_SSM_PARAMETER": parameter, **extension.environment(), **extra}


def publish(store: Store, issuer: str, *keys: SigningKey, fetched_at: float = NOW - 60) -> None:
    store.values[PARAMETER] = parameter_value(issuer, int(fetched_at), public(*keys))


def test_ssm_keys_are_served_through_the_extension(
    idp: Idp, clock: Clock, ring: KeyRing, token_for: TokenFor, store: Store, extension
):
    publish(store, idp.issuer, ring.rsa)
    harness = build(idp, clock, ssm_env(extension))
    for _ in range(3):
        assert harness.call(token_for(ring.rsa))["principalId"] == "user-1"
    assert extension.requests == [(PARAMETER, 200)]  # cached like any key set
    assert idp.requests == {}  # the identity provider is never asked
    assert "key_source" not in harness.last_decision()


def test_ssm_key_sets_are_not_prefetched_in_the_init_phase(
    idp: Idp, clock: Clock, ring: KeyRing, store: Store, extension
):
    publish(store, idp.issuer, ring.rsa)
    harness = build(idp, clock, ssm_env(extension))
    assert harness.authorizer.prefetch_keys() is False
    assert extension.requests == []


def test_a_wrong_token_is_refused_by_the_extension_and_keys_are_unavailable(
    idp: Idp, clock: Clock, ring: KeyRing, token_for: TokenFor, store: Store, extension
):
    publish(store, idp.issuer, ring.rsa)
    harness = build(idp, clock, {**ssm_env(extension), "AWS_SESSION_TOKEN": "not-the-session-token"})
    detail = unavailable(harness, token_for(ring.rsa))
    url = (
        f"http://localhost:{extension.port}/systemsmanager/parameters/get?name=%2Fjwt-gate%2Ftest%2Fjwks%2F0"
    )
    assert detail == f"{url}&withDecryption=false: HTTP 403"
    assert extension.requests == [(PARAMETER, 403)]


def test_the_stand_in_answers_401_without_the_token_header(store: Store, extension):
    url = f"http://localhost:{extension.port}/systemsmanager/parameters/get?name={PARAMETER}"
    with pytest.raises(FetchError, match=r": HTTP 401$"):
        fetch_json(url, timeout=2)
    with pytest.raises(FetchError, match=r": HTTP 403$"):
        fetch_json(url, timeout=2, headers={"X-Aws-Parameters-Secrets-Token": "wrong"})
    store.values[PARAMETER] = "v"
    answer = fetch_json(url, timeout=2, headers={"X-Aws-Parameters-Secrets-Token": extension.token})
    assert {k: answer["Parameter"][k] for k in ("Name", "Type", "Value", "Version")} == {
        "Name": PARAMETER,
        "Type": "String",
        "Value": "v",
        "Version": 1,
    }


def test_a_missing_parameter_is_keys_unavailable(
    idp: Idp, clock: Clock, ring: KeyRing, token_for: TokenFor, store: Store, extension
):
    harness = build(idp, clock, ssm_env(extension))
    assert unavailable(harness, token_for(ring.rsa)).endswith("&withDecryption=false: HTTP 400")


@pytest.mark.parametrize(
    ("value", "detail"),
    [
        (
            lambda issuer, keys: parameter_value(issuer, None, []),
            f"SSM parameter {PARAMETER}: no key set yet (the key refresher has not written this parameter)",
        ),
        (
            lambda issuer, keys: parameter_value("https://other.example.com/", int(NOW), keys),
            f"SSM parameter {PARAMETER}: holds the keys of 'https://other.example.com/', not of '{{issuer}}'",
        ),
        (
            lambda issuer, keys: "{",
            f"SSM parameter {PARAMETER}: the parameter value is not JSON (JSONDecodeError)",
        ),
        (
            lambda issuer, keys: parameter_value(issuer, int(NOW) - 86400 - 600, keys),
            f"SSM parameter {PARAMETER}: keys fetched 87000 s ago, past JWKS_CACHE_SECONDS + "
            "JWKS_MAX_STALE_SECONDS (the key refresher is failing)",
        ),
    ],
)
def test_bad_parameter_values_are_failed_fetches(
    idp: Idp, clock: Clock, ring: KeyRing, token_for: TokenFor, store: Store, extension, value, detail
):
    store.values[PARAMETER] = value(idp.issuer, public(ring.rsa))
    harness = build(idp, clock, ssm_env(extension))
    assert unavailable(harness, token_for(ring.rsa)) == detail.replace("{issuer}", idp.issuer)


def test_ssm_keys_serve_stale_while_the_extension_fails(
    idp: Idp, clock: Clock, ring: KeyRing, token_for: TokenFor, store: Store, extension
):
    publish(store, idp.issuer, ring.rsa)
    harness = build(idp, clock, ssm_env(extension, JWKS_CACHE_SECONDS="60"))
    harness.call(token_for(ring.rsa))
    del store.values[PARAMETER]
    clock.advance(60)
    assert harness.call(token_for(ring.rsa))["principalId"] == "user-1"  # stale-if-error
    assert extension.requests == [(PARAMETER, 200), (PARAMETER, 400)]


def test_a_key_the_refresher_publishes_is_found_by_the_unknown_kid_refetch(
    idp: Idp, clock: Clock, ring: KeyRing, token_for: TokenFor, store: Store, extension
):
    publish(store, idp.issuer, ring.rsa)
    harness = build(idp, clock, ssm_env(extension))
    harness.call(token_for(ring.rsa))
    publish(store, idp.issuer, ring.rsa, ring.rsa_next)
    harness.call(token_for(ring.rsa_next))
    with pytest.raises(Rejection) as caught:
        harness.call(token_for(ring.rsa.with_kid("made-up")))  # within the cooldown: nothing fetched
    assert caught.value.reason == "unknown_kid"
    assert len(extension.requests) == 2


def test_each_issuer_reads_its_own_parameter(
    idp: Idp, clock: Clock, ring: KeyRing, token_for: TokenFor, store: Store, extension
):
    partner = "https://partner.example.com/"
    store.values["/p/0"] = parameter_value(idp.issuer, int(NOW), public(ring.rsa))
    store.values["/p/1"] = parameter_value(partner, int(NOW), public(ring.es256))
    additional = json.dumps([{"issuer": partner, "audience": ["api://orders"]}])
    mapping = json.dumps({idp.issuer: "/p/0", partner: "/p/1"})
    harness = build(idp, clock, {**ssm_env(extension, mapping), "ADDITIONAL_ISSUERS": additional})
    harness.call(token_for(ring.es256, iss=partner))
    harness.call(token_for(ring.rsa))
    assert sorted(extension.requests) == [("/p/0", 200), ("/p/1", 200)]


def test_ssm_and_snapshot_combine(
    idp: Idp, clock: Clock, ring: KeyRing, token_for: TokenFor, store: Store, extension, tmp_path: Path
):
    # First deploy: the refresher has not run yet, the snapshot covers the gap.
    store.values[PARAMETER] = parameter_value(idp.issuer, None, [])
    path = write_snapshot(tmp_path / "keys.json", {idp.issuer: public(ring.rsa)}, NOW - HOUR)
    harness = build(idp, clock, {**ssm_env(extension), "JWKS_SNAPSHOT_FILE": str(path)})
    harness.call(token_for(ring.rsa))
    assert harness.last_decision()["key_source"] == "snapshot"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"JWKS_SSM_PARAMETER": "/p", "AWS_SESSION_TOKEN": ""},
            "AWS_SESSION_TOKEN: is required with JWKS_SSM_PARAMETER (the extension's "
            "X-Aws-Parameters-Secrets-Token)",
        ),
        (
            {"JWKS_SSM_PARAMETER": "/p", "AWS_SESSION_TOKEN": "t", "ADDITIONAL_ISSUERS": "PARTNER"},
            "JWKS_SSM_PARAMETER: with ADDITIONAL_ISSUERS it must be a JSON object issuer -> parameter name",
        ),
        (
            {"JWKS_SSM_PARAMETER": '{"https://nobody.example.com/": "/p"}', "AWS_SESSION_TOKEN": "t"},
            "JWKS_SSM_PARAMETER: names no parameter for 'ISSUER' (it must map exactly ISSUER and "
            "ADDITIONAL_ISSUERS)",
        ),
        (
            {"JWKS_SSM_PARAMETER": "bad name!", "AWS_SESSION_TOKEN": "t"},
            "JWKS_SSM_PARAMETER: 'bad name!' is not an SSM parameter name or ARN",
        ),
        (
            {
                "JWKS_SSM_PARAMETER": "/p",
                "AWS_SESSION_TOKEN": "t",
                "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": "0",
            },
            "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT: must be a port number from 1 to 65535, got '0'",
        ),
    ],
)
def test_ssm_configuration_errors_name_the_variable(idp: Idp, clock: Clock, env, message):
    additional = json.dumps([{"issuer": "https://partner.example.com/", "audience": ["a"]}])
    env = {k: v.replace("PARTNER", additional) for k, v in env.items()}
    with pytest.raises(ConfigError) as caught:
        build(idp, clock, env)
    assert str(caught.value) == message.replace("'ISSUER'", repr(idp.issuer))


def test_the_source_url_and_header_follow_the_extension_contract():
    source = SsmParameterSource(
        "https://idp.example.com/", "/a/b", port=2773, token="tok", timeout=1, max_age=10
    )
    assert (
        source.url == "http://localhost:2773/systemsmanager/parameters/get?name=%2Fa%2Fb&withDecryption=false"
    )


def test_the_public_members_are_the_ones_the_key_set_reads():
    from gate import jwks_document, keys

    assert {kty: ("kty", *members) for kty, members in jwks_document.PUBLIC_MEMBERS.items()} == dict(
        keys._PUBLIC_MEMBERS
    )
