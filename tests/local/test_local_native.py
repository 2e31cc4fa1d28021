"""The native JWT authorizer model (local/native_jwt.py): one test per rule in its RULES, each through the
model itself and, where a request shows it, through the local gateway serving a hand-built template with a JWT
authorizer; then the template hooks, the README's citations and a real `-c gate=native` synthesis.

Keys are real (RSA, EC, RSA-PSS, Ed25519) and served by a real loopback identity provider (compare/idp.py).
Model tests run on a fake clock; gateway tests on the wall clock, with tokens minted against it.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from compare.idp import LoopbackIdp
from compare.jose import KeyRing, SigningKey, b64url, compact
from local.gateway import LocalGateway, Request, claim_json
from local.native_jwt import (
    RULES,
    FetchError,
    NativeConfigError,
    NativeJwtAuthorizer,
    Verdict,
    loopback_fetch_json,
    parse_authorizer,
)
from local.server import GatewayServer, build_gateway
from local.state import scopes_for, token_audience
from local.template import TemplateError, load_api_model
from tests.local.conftest import Reply, call
from tests.local.synth import synthesize

AUDIENCE = "api://orders"
CLIENT = "orders-cli"
OTHER_ISSUER = "https://idp.example.net/"  # a second trusted issuer that is not on loopback
ORDERS_SCOPES = ["orders:read", "orders:admin"]
README = Path(__file__).resolve().parents[2] / "local" / "README.md"
NOW = 1_700_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def keys() -> KeyRing:
    return KeyRing.generate()


@pytest.fixture(scope="module")
def es384() -> SigningKey:
    return SigningKey("ec-384", "ES384", ec.generate_private_key(ec.SECP384R1()))


@pytest.fixture(scope="module")
def idp(keys: KeyRing, es384: SigningKey) -> Iterator[LoopbackIdp]:
    server = LoopbackIdp()
    server.publish(*keys.published(), es384)
    yield server
    server.close()


@pytest.fixture
def fresh_idp(keys: KeyRing) -> Iterator[LoopbackIdp]:
    """An identity provider a test may take down or rotate."""
    server = LoopbackIdp()
    server.publish(*keys.published())
    yield server
    server.close()


def authorizer_props(issuer: str, header: str = "Authorization") -> dict[str, Any]:
    """A JWT authorizer as stacks/native_authorizer.py writes one (plus a second issuer and two claims)."""
    return {
        "Type": "JWT",
        "Name": "jwt-gate-native",
        "RestApiId": {"Ref": "Api"},
        "IdentitySource": f"method.request.header.{header}",
        "JwtConfiguration": {
            "DefaultAlgorithms": ["RS256", "ES256"],
            "Issuers": [
                {
                    "Issuer": issuer,
                    "Audiences": [AUDIENCE, CLIENT],
                    "AdditionalClaims": [
                        {"ClaimName": "sub", "Format": "SINGLE_STRING", "Required": True},
                        {"ClaimName": "tenant", "Format": "SINGLE_STRING", "ExpectedValues": ["acme"]},
                    ],
                },
                {"Issuer": OTHER_ISSUER, "Audiences": ["api://other"]},
            ],
        },
    }


def model(issuer: str, clock: Callable[[], float] = time.time) -> NativeJwtAuthorizer:
    return NativeJwtAuthorizer(parse_authorizer("Authorizer", authorizer_props(issuer)), clock=clock)


def claims(issuer: str, now: float, **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "iss": issuer,
        "aud": AUDIENCE,
        "sub": "user-1",
        "client_id": "orders-web",
        "tenant": "acme",
        "scope": "orders:read",
        "iat": int(now),
        "exp": int(now) + 600,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def token(
    key: SigningKey,
    issuer: str,
    now: float,
    *,
    header: dict[str, Any] | None = None,
    payload: bytes | None = None,
    **overrides: Any,
) -> str:
    return compact(key, payload if payload is not None else claims(issuer, now, **overrides), header=header)


# --- The gateway: a hand-built template in the CDK's shapes -----------------------------------------------


def _method(
    path_ref: dict[str, Any], verb: str, authorization: dict[str, Any], integration: dict[str, Any]
) -> Any:
    return {
        "Type": "AWS::ApiGateway::Method",
        "Properties": {
            "HttpMethod": verb,
            "ResourceId": path_ref,
            "RestApiId": {"Ref": "Api"},
            **authorization,
            "Integration": integration,
        },
    }


MOCK = {
    "Type": "MOCK",
    "RequestTemplates": {"application/json": '{"statusCode": 200}'},
    "IntegrationResponses": [
        {"StatusCode": "200", "ResponseTemplates": {"application/json": '{"ok": true}'}}
    ],
}
ECHO = {
    "Type": "AWS_PROXY",
    "IntegrationHttpMethod": "POST",
    "Uri": {
        "Fn::Join": [
            "",
            [
                "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/",
                {"Fn::GetAtt": ["EchoFunction", "Arn"]},
                "/invocations",
            ],
        ]
    },
}


def native_template(issuer: str) -> dict[str, Any]:
    """/orders (scopes orders:read or orders:admin), /profile (no scopes), /echo (the echo Lambda), /alt (a
    second JWT authorizer reading X-Token), /health (public); API Gateway's default gateway responses."""

    def jwt(scopes: list[str] | None = None, authorizer: str = "Authorizer") -> dict[str, Any]:
        found: dict[str, Any] = {"AuthorizationType": "JWT", "AuthorizerId": {"Ref": authorizer}}
        if scopes:
            found["AuthorizationScopes"] = scopes
        return found

    resources: dict[str, Any] = {
        "Api": {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Name": "native"}},
        "Stage": {
            "Type": "AWS::ApiGateway::Stage",
            "Properties": {"RestApiId": {"Ref": "Api"}, "StageName": "prod"},
        },
        "Authorizer": {"Type": "AWS::ApiGateway::Authorizer", "Properties": authorizer_props(issuer)},
        "AltAuthorizer": {
            "Type": "AWS::ApiGateway::Authorizer",
            "Properties": authorizer_props(issuer, "X-Token"),
        },
        "EchoFunction": {
            "Type": "AWS::Lambda::Function",
            "Metadata": {"JwtGate:SourcePath": "tests/local/functions/echo_backend"},
            "Properties": {"Handler": "handler.handler"},
        },
    }
    root = {"Fn::GetAtt": ["Api", "RootResourceId"]}
    for name, verb, authorization, integration in (
        ("orders", "GET", jwt(ORDERS_SCOPES), MOCK),
        ("profile", "GET", jwt(), MOCK),
        ("echo", "GET", jwt(), ECHO),
        ("alt", "GET", jwt(authorizer="AltAuthorizer"), MOCK),
        ("health", "GET", {"AuthorizationType": "NONE"}, MOCK),
    ):
        resources[f"{name}Resource"] = {
            "Type": "AWS::ApiGateway::Resource",
            "Properties": {"ParentId": root, "PathPart": name, "RestApiId": {"Ref": "Api"}},
        }
        resources[f"{name}Method"] = _method({"Ref": f"{name}Resource"}, verb, authorization, integration)
    return {"Resources": resources}


class Api:
    def __init__(self, server: GatewayServer, decisions: list[dict[str, Any]]) -> None:
        self.server = server
        self.decisions = decisions

    def get(self, path: str, authorization: str | None = None, **headers: str) -> Reply:
        sent = dict(headers)
        if authorization is not None:
            sent["Authorization"] = authorization
        return call(self.server.url, "GET", path, sent)


@pytest.fixture(scope="module")
def api(idp: LoopbackIdp, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    path = tmp_path_factory.mktemp("native") / "template.json"
    path.write_text(json.dumps(native_template(idp.issuer)))
    decisions: list[dict[str, Any]] = []
    server = build_gateway(path, log_sink=lambda *_: None, decision_log=decisions.append).start()
    yield Api(server, decisions)
    server.stop()


def bearer(value: str) -> str:
    return f"Bearer {value}"


def assert_401(reply: Reply) -> None:
    assert (reply.status, reply.json()) == (401, {"message": "Unauthorized"})
    assert reply.headers["x-amzn-ErrorType"] == "UnauthorizedException"
    assert "WWW-Authenticate" not in reply.headers  # rule responses: no HTTP API-style header


def assert_verdict(verdict: Verdict, status: int, reason: str, rule: str | None = None) -> None:
    assert (verdict.status, verdict.reason) == (status, reason)
    if rule is not None:
        assert verdict.rule == rule


# --- One test per rule ------------------------------------------------------------------------------------


def test_identity_source(idp: LoopbackIdp, keys: KeyRing, api: Api) -> None:
    native = model(idp.issuer)
    assert_verdict(native.authorize(None, ORDERS_SCOPES), 401, "missing_token", "identity_source")
    assert_verdict(native.authorize("", ORDERS_SCOPES), 401, "missing_token", "identity_source")
    assert_401(api.get("/orders"))
    assert api.decisions[-1]["reason"] == "missing_token"
    assert api.decisions[-1]["nativeRule"] == "identity_source"
    good = token(keys.rsa, idp.issuer, time.time())
    # The second authorizer reads X-Token: Authorization means nothing to it.
    assert_401(api.get("/alt", bearer(good)))
    assert api.get("/alt", **{"X-Token": bearer(good)}).status == 200


def test_bearer_prefix_or_token_alone(idp: LoopbackIdp, keys: KeyRing, api: Api) -> None:
    good = token(keys.rsa, idp.issuer, time.time())
    native = model(idp.issuer)
    assert native.authorize(good, ORDERS_SCOPES).allowed
    assert native.authorize(bearer(good), ORDERS_SCOPES).allowed
    assert api.get("/orders", good).status == 200
    assert api.get("/orders", bearer(good)).status == 200


@pytest.mark.parametrize("spelling", ["bearer ", "BEARER ", "Bearer  ", "Bearer\t", "Token "])
def test_bearer_spelling(idp: LoopbackIdp, keys: KeyRing, api: Api, spelling: str) -> None:
    value = spelling + token(keys.rsa, idp.issuer, time.time())
    assert_verdict(model(idp.issuer).authorize(value, ORDERS_SCOPES), 401, "malformed_token", "compact_jws")
    assert_401(api.get("/orders", value))


def test_compact_jws(idp: LoopbackIdp, keys: KeyRing, api: Api) -> None:
    now = time.time()
    native = model(idp.issuer)
    good = token(keys.rsa, idp.issuer, now)
    for broken in ("a.b", good + ".x", "", "!!.!!.!!", good.replace(".", "..", 1)):
        assert_verdict(
            native.authorize(bearer(broken) if broken else "x", ORDERS_SCOPES), 401, "malformed_token"
        )
    # Padding and non-canonical unused bits are tolerated; the last of duplicate members counts.
    padded = good + "=" * (-len(good.rsplit(".", 1)[1]) % 4)  # the signature segment (not signed over)
    assert padded != good
    assert native.authorize(bearer(padded), ORDERS_SCOPES).allowed
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    respelled = good[:-1] + alphabet[alphabet.index(good[-1]) | 0b1111]
    assert respelled != good
    assert native.authorize(bearer(respelled), ORDERS_SCOPES).allowed
    body = json.dumps(claims(idp.issuer, now))[:-1] + ', "tenant": "acme"}'
    duplicated = compact(keys.rsa, body.replace('"tenant": "acme"', '"tenant": "evil"', 1).encode())
    assert native.authorize(bearer(duplicated), ORDERS_SCOPES).allowed
    assert api.get("/orders", bearer(duplicated)).status == 200
    assert_401(api.get("/orders", bearer("not.a.jwt")))


def test_algorithm(idp: LoopbackIdp, keys: KeyRing, es384: SigningKey, api: Api) -> None:
    now = time.time()
    native = model(idp.issuer)
    assert native.authorize(bearer(token(keys.es256, idp.issuer, now)), ORDERS_SCOPES).allowed
    for key in (keys.ps256, keys.eddsa, es384):  # published by the issuer, but not DefaultAlgorithms
        value = bearer(token(key, idp.issuer, now))
        assert_verdict(native.authorize(value, ORDERS_SCOPES), 401, "unsupported_alg", "algorithm")
        assert_401(api.get("/orders", value))
    header = b64url(json.dumps({"alg": "none", "kid": keys.rsa.kid}).encode())
    unsigned = f"{header}.{b64url(json.dumps(claims(idp.issuer, now)).encode())}.AA"
    assert_verdict(native.authorize(bearer(unsigned), ORDERS_SCOPES), 401, "unsupported_alg")
    props = authorizer_props(idp.issuer)
    props["JwtConfiguration"]["DefaultAlgorithms"] = ["RS256", "PS256"]
    with pytest.raises(NativeConfigError, match="PS256"):
        parse_authorizer("Authorizer", props)


def test_issuer(idp: LoopbackIdp, keys: KeyRing, api: Api) -> None:
    now = time.time()
    native = model(idp.issuer)
    for iss in ("https://evil.example.net/", idp.issuer + "/", idp.issuer.upper()):
        value = bearer(token(keys.rsa, idp.issuer, now, iss=iss))
        assert_verdict(native.authorize(value, ORDERS_SCOPES), 401, "issuer_not_trusted", "issuer")
    assert native.requests() == {}  # an untrusted iss costs no fetch
    # The issuer the token names decides the audiences: the second issuer accepts only api://other.
    value = bearer(token(keys.rsa, OTHER_ISSUER, now, aud=AUDIENCE))
    assert_verdict(native.authorize(value, ORDERS_SCOPES), 401, "keys_unavailable")  # not on loopback
    assert_401(api.get("/orders", bearer(token(keys.rsa, idp.issuer, now, iss="https://evil.example.net/"))))
    props = authorizer_props(idp.issuer)
    props["JwtConfiguration"]["Issuers"][1]["Issuer"] = idp.issuer
    with pytest.raises(NativeConfigError, match="twice"):
        parse_authorizer("Authorizer", props)
    for bad in (
        "http://idp.example.net",
        "https://idp.example.net/?x=1",
        "https://u@idp.example.net/",
        "idp",
    ):
        props = authorizer_props(bad)
        with pytest.raises(NativeConfigError, match="Issuer"):
            parse_authorizer("Authorizer", props)


def test_kid(idp: LoopbackIdp, keys: KeyRing, api: Api) -> None:
    now = time.time()
    native = model(idp.issuer)
    no_kid = bearer(token(keys.rsa, idp.issuer, now, header={"alg": "RS256", "typ": "at+jwt"}))
    assert_verdict(native.authorize(no_kid, ORDERS_SCOPES), 401, "missing_kid", "kid")
    unknown = bearer(token(keys.rsa.with_kid("nope"), idp.issuer, now))
    assert_verdict(native.authorize(unknown, ORDERS_SCOPES), 401, "unknown_kid", "kid")
    assert_401(api.get("/orders", no_kid))
    assert_401(api.get("/orders", unknown))


def test_key_cache(fresh_idp: LoopbackIdp, keys: KeyRing) -> None:
    """Discovery once; keys for an hour; an unseen kid refetches at once (a rotated key works at once)."""
    clock = Clock()
    native = model(fresh_idp.issuer, clock)
    good = bearer(token(keys.rsa, fresh_idp.issuer, NOW))
    assert native.authorize(good, ORDERS_SCOPES).allowed
    assert native.requests() == {"discovery": 1, "jwks": 1}
    fresh_idp.publish(*keys.published(), keys.rsa_next)
    assert native.authorize(bearer(token(keys.rsa_next, fresh_idp.issuer, NOW)), ORDERS_SCOPES).allowed
    assert native.requests() == {"discovery": 1, "jwks": 2}
    clock.now = NOW + 3599
    assert native.authorize(bearer(token(keys.rsa, fresh_idp.issuer, clock.now)), ORDERS_SCOPES).allowed
    assert native.requests() == {"discovery": 1, "jwks": 2}
    clock.now = NOW + 3600 + 2400  # the hour has passed since the last fetch
    assert native.authorize(bearer(token(keys.rsa, fresh_idp.issuer, clock.now)), ORDERS_SCOPES).allowed
    assert native.requests() == {"discovery": 1, "jwks": 3}
    # A key the issuer no longer publishes stays trusted until the cache is refreshed.
    fresh_idp.publish(keys.rsa_next)
    assert native.authorize(bearer(token(keys.rsa, fresh_idp.issuer, clock.now)), ORDERS_SCOPES).allowed


def test_key_cache_through_the_gateway(fresh_idp: LoopbackIdp, keys: KeyRing, tmp_path: Path) -> None:
    """The gateway takes injected models (a fixed clock), as `make compare` uses it."""
    path = tmp_path / "template.json"
    path.write_text(json.dumps(native_template(fresh_idp.issuer)))
    api_model = load_api_model(path, Path(__file__).resolve().parents[2])
    clock = Clock()
    native = {
        lid: NativeJwtAuthorizer(config, clock=clock) for lid, config in api_model.jwt_authorizers.items()
    }
    decisions: list[dict[str, Any]] = []
    gateway = LocalGateway(api_model, {}, decisions.append, clock, native)
    request = Request(
        "GET",
        "/orders",
        headers=(("Authorization", bearer(token(keys.rsa, fresh_idp.issuer, NOW, exp=int(NOW) + 7200))),),
    )
    assert gateway.handle(request).status == 200
    fresh_idp.down = True
    clock.now += 1800
    assert gateway.handle(request).status == 200  # within the hour: cached keys
    clock.now += 1800
    reply = gateway.handle(request)
    assert reply.status == 401
    assert decisions[-1]["reason"] == "keys_unavailable"


def test_refetch_limit(fresh_idp: LoopbackIdp, keys: KeyRing) -> None:
    native = model(fresh_idp.issuer, Clock())
    assert native.authorize(bearer(token(keys.rsa, fresh_idp.issuer, NOW)), ORDERS_SCOPES).allowed
    for index in range(7):
        value = bearer(token(keys.attacker.with_kid(f"made-up-{index}"), fresh_idp.issuer, NOW))
        assert_verdict(native.authorize(value, ORDERS_SCOPES), 401, "unknown_kid")
    assert native.requests() == {"discovery": 1, "jwks": 8}


def test_keys_unavailable(fresh_idp: LoopbackIdp, keys: KeyRing, api: Api) -> None:
    fresh_idp.down = True
    clock = Clock()
    native = model(fresh_idp.issuer, clock)
    good = bearer(token(keys.rsa, fresh_idp.issuer, NOW))
    assert_verdict(native.authorize(good, ORDERS_SCOPES), 401, "keys_unavailable", "keys_unavailable")
    assert native.authorize(good, ORDERS_SCOPES).status == 401
    assert native.requests() == {"discovery": 2}  # a failed discovery is not remembered: tried again
    fresh_idp.down = False
    assert native.authorize(good, ORDERS_SCOPES).allowed
    # Another trusted issuer off loopback: its keys are never fetched locally.
    with pytest.raises(FetchError, match="loopback"):
        loopback_fetch_json("https://idp.example.net/.well-known/openid-configuration")
    other = bearer(token(keys.rsa, OTHER_ISSUER, time.time(), aud="api://other"))
    assert_401(api.get("/orders", other))
    assert api.decisions[-1]["reason"] == "keys_unavailable"


def test_signature(idp: LoopbackIdp, keys: KeyRing, api: Api) -> None:
    now = time.time()
    native = model(idp.issuer)
    forged = bearer(token(keys.attacker, idp.issuer, now))  # kid rsa-1, another key
    assert_verdict(native.authorize(forged, ORDERS_SCOPES), 401, "bad_signature", "signature")
    header, _, signature = token(keys.rsa, idp.issuer, now).split(".")
    swapped = (
        f"{header}.{b64url(json.dumps(claims(idp.issuer, now, scope='orders:admin')).encode())}.{signature}"
    )
    assert_verdict(native.authorize(bearer(swapped), ORDERS_SCOPES), 401, "bad_signature")
    # A kid naming the EC key under RS256: key type and algorithm must fit.
    confused = bearer(token(keys.rsa, idp.issuer, now, header={"alg": "RS256", "kid": keys.es256.kid}))
    assert_verdict(native.authorize(confused, ORDERS_SCOPES), 401, "bad_signature")
    es = token(keys.es256, idp.issuer, now)
    es_header, es_payload, _ = es.split(".")
    der_length = b64url(b"\x30" + b"\x00" * 70)  # not the fixed-width r||s of JWS
    assert_verdict(
        native.authorize(bearer(f"{es_header}.{es_payload}.{der_length}"), ORDERS_SCOPES),
        401,
        "bad_signature",
    )
    assert native.authorize(bearer(es), ORDERS_SCOPES).allowed
    assert_401(api.get("/orders", forged))


def test_audience(idp: LoopbackIdp, keys: KeyRing, api: Api) -> None:
    now = time.time()
    native = model(idp.issuer)
    accepted: list[Any] = [["api://billing", AUDIENCE], CLIENT, [CLIENT]]
    for aud in accepted:
        assert native.authorize(bearer(token(keys.rsa, idp.issuer, now, aud=aud)), ORDERS_SCOPES).allowed
    refused: list[Any] = ["api://billing", ["api://billing"], 42, [42], [], "API://ORDERS"]
    for bad in refused:
        value = bearer(token(keys.rsa, idp.issuer, now, aud=bad))
        assert_verdict(native.authorize(value, ORDERS_SCOPES), 401, "audience_mismatch", "audience")
    assert_401(api.get("/orders", bearer(token(keys.rsa, idp.issuer, now, aud="api://billing"))))


def test_client_id_fallback(idp: LoopbackIdp, keys: KeyRing, api: Api) -> None:
    now = time.time()
    native = model(idp.issuer)
    only_client = bearer(token(keys.rsa, idp.issuer, now, aud=None, client_id=CLIENT))
    assert native.authorize(only_client, ORDERS_SCOPES).allowed
    assert api.get("/orders", only_client).status == 200
    # With an aud present, client_id is not looked at.
    both = bearer(token(keys.rsa, idp.issuer, now, aud="api://billing", client_id=CLIENT))
    assert_verdict(native.authorize(both, ORDERS_SCOPES), 401, "audience_mismatch")
    neither = bearer(token(keys.rsa, idp.issuer, now, aud=None, client_id=None))
    assert_verdict(native.authorize(neither, ORDERS_SCOPES), 401, "audience_mismatch")


def test_exp(idp: LoopbackIdp, keys: KeyRing, api: Api) -> None:
    clock = Clock()
    native = model(idp.issuer, clock)
    assert_verdict(
        native.authorize(bearer(token(keys.rsa, idp.issuer, NOW, exp=int(NOW))), ORDERS_SCOPES),
        401,
        "expired",
        "exp",
    )
    assert native.authorize(bearer(token(keys.rsa, idp.issuer, NOW, exp=int(NOW) + 1)), ORDERS_SCOPES).allowed
    assert native.authorize(bearer(token(keys.rsa, idp.issuer, NOW, exp=NOW + 0.5)), ORDERS_SCOPES).allowed
    assert_401(
        api.get("/orders", bearer(token(keys.rsa, idp.issuer, time.time(), exp=int(time.time()) - 100)))
    )


def test_nbf(idp: LoopbackIdp, keys: KeyRing) -> None:
    native = model(idp.issuer, Clock())
    ahead = bearer(token(keys.rsa, idp.issuer, NOW, nbf=int(NOW) + 1))
    assert_verdict(native.authorize(ahead, ORDERS_SCOPES), 401, "not_yet_valid", "nbf")
    assert native.authorize(bearer(token(keys.rsa, idp.issuer, NOW, nbf=int(NOW))), ORDERS_SCOPES).allowed


def test_numeric_dates(idp: LoopbackIdp, keys: KeyRing, api: Api) -> None:
    native = model(idp.issuer, Clock())
    for overrides in ({"exp": None}, {"exp": "9999999999"}, {"exp": True}, {"exp": [NOW + 60]}):
        value = bearer(token(keys.rsa, idp.issuer, NOW, **overrides))
        assert_verdict(native.authorize(value, ORDERS_SCOPES), 401, "invalid_exp", "numeric_dates")
    value = bearer(token(keys.rsa, idp.issuer, NOW, nbf="1"))
    assert_verdict(native.authorize(value, ORDERS_SCOPES), 401, "invalid_nbf", "numeric_dates")
    assert_401(api.get("/orders", bearer(token(keys.rsa, idp.issuer, time.time(), exp="9999999999"))))


def test_no_leeway(idp: LoopbackIdp, keys: KeyRing) -> None:
    native = model(idp.issuer, Clock())
    assert_verdict(
        native.authorize(bearer(token(keys.rsa, idp.issuer, NOW, exp=int(NOW) - 1)), ORDERS_SCOPES),
        401,
        "expired",
    )
    assert_verdict(
        native.authorize(bearer(token(keys.rsa, idp.issuer, NOW, nbf=int(NOW) + 2)), ORDERS_SCOPES),
        401,
        "not_yet_valid",
    )


def test_iat_not_checked(idp: LoopbackIdp, keys: KeyRing, api: Api) -> None:
    native = model(idp.issuer, Clock())
    for iat in (int(NOW) + 86400, "yesterday", None):
        assert native.authorize(bearer(token(keys.rsa, idp.issuer, NOW, iat=iat)), ORDERS_SCOPES).allowed
    now = time.time()
    assert api.get("/orders", bearer(token(keys.rsa, idp.issuer, now, iat=int(now) + 86400))).status == 200


def test_typ_not_checked(idp: LoopbackIdp, keys: KeyRing, api: Api) -> None:
    now = time.time()
    native = model(idp.issuer)
    for header in (
        {"alg": "RS256", "kid": keys.rsa.kid, "typ": "JWT"},
        {"alg": "RS256", "kid": keys.rsa.kid},
    ):
        assert native.authorize(
            bearer(token(keys.rsa, idp.issuer, now, header=header)), ORDERS_SCOPES
        ).allowed
    id_token = token(
        keys.rsa,
        idp.issuer,
        now,
        header={"alg": "RS256", "kid": keys.rsa.kid, "typ": "JWT"},
        aud=CLIENT,
        scope=None,
        nonce="n",
    )
    assert api.get("/profile", bearer(id_token)).status == 200  # no scopes on the method
    assert api.get("/orders", bearer(id_token)).status == 403  # scopes stop it


def test_crit_not_evaluated(idp: LoopbackIdp, keys: KeyRing, api: Api) -> None:
    header = {"alg": "RS256", "kid": keys.rsa.kid, "crit": ["x-bound"], "x-bound": True}
    value = bearer(token(keys.rsa, idp.issuer, time.time(), header=header))
    assert model(idp.issuer).authorize(value, ORDERS_SCOPES).allowed
    assert api.get("/orders", value).status == 200


def test_additional_claims(idp: LoopbackIdp, keys: KeyRing, api: Api) -> None:
    now = time.time()
    native = model(idp.issuer)
    missing_sub = bearer(token(keys.rsa, idp.issuer, now, sub=None))
    assert_verdict(
        native.authorize(missing_sub, ORDERS_SCOPES), 401, "additional_claim_missing", "additional_claims"
    )
    assert native.authorize(
        bearer(token(keys.rsa, idp.issuer, now, tenant=None)), ORDERS_SCOPES
    ).allowed  # optional
    for tenant in ("ACME", "acme ", ["acme"], 1):
        value = bearer(token(keys.rsa, idp.issuer, now, tenant=tenant))
        assert_verdict(
            native.authorize(value, ORDERS_SCOPES), 401, "additional_claim_mismatch", "additional_claims"
        )
    assert_verdict(
        native.authorize(bearer(token(keys.rsa, idp.issuer, now, sub=7)), ORDERS_SCOPES),
        401,
        "additional_claim_mismatch",
    )
    assert_401(api.get("/orders", missing_sub))
    assert_401(api.get("/orders", bearer(token(keys.rsa, idp.issuer, now, tenant="ACME"))))
    for claim, problem in (
        ({"ClaimName": "exp", "Format": "SINGLE_STRING"}, "ClaimName"),
        ({"ClaimName": "tenant", "Format": "STRING_ARRAY"}, "Format"),
        ({"ClaimName": "tenant", "Format": "SINGLE_STRING", "ExpectedValues": [""]}, "ExpectedValues"),
        ({"ClaimName": "tenant", "Format": "SINGLE_STRING", "Required": "yes"}, "Required"),
    ):
        props = authorizer_props(idp.issuer)
        props["JwtConfiguration"]["Issuers"][0]["AdditionalClaims"] = [claim]
        with pytest.raises(NativeConfigError, match=problem):
            parse_authorizer("Authorizer", props)


def test_scopes_any_of(idp: LoopbackIdp, keys: KeyRing, api: Api) -> None:
    now = time.time()
    native = model(idp.issuer)
    for granted in (
        {"scope": "orders:admin"},
        {"scope": "x orders:read y"},
        {"scope": None, "scp": ["orders:read"]},
        {"scope": None, "scp": "a orders:admin"},
    ):
        value = bearer(token(keys.rsa, idp.issuer, now, **granted))
        assert native.authorize(value, ORDERS_SCOPES).allowed
        assert api.get("/orders", value).status == 200
    lacking = bearer(token(keys.rsa, idp.issuer, now, scope="orders:write"))
    verdict = native.authorize(lacking, ORDERS_SCOPES)
    assert_verdict(verdict, 403, "insufficient_scope", "scopes")
    assert verdict.claims is not None
    assert verdict.claims["sub"] == "user-1"
    reply = api.get("/orders", lacking)
    assert (reply.status, reply.json()) == (403, {"message": "Forbidden"})
    assert reply.headers["x-amzn-ErrorType"] == "AccessDeniedException"
    assert native.authorize(lacking, ()).allowed  # no AuthorizationScopes: any valid token
    assert api.get("/profile", lacking).status == 200


def test_claims_reach_the_integration(idp: LoopbackIdp, keys: KeyRing, api: Api) -> None:
    now = time.time()
    value = bearer(token(keys.rsa, idp.issuer, now, roles=["user", "editor"], version="42", name="Jos\u00e9"))
    reply = api.get("/echo", value)
    assert reply.status == 200
    authorizer = reply.json()["event"]["requestContext"]["authorizer"]
    assert authorizer["principalId"] == "user-1"
    assert authorizer["claims"] == claims(
        idp.issuer, now, roles=["user", "editor"], version="42", name="Jos\u00e9"
    )
    # Parameter mappings see JSON text (the page's own examples).
    assert claim_json('Doe, "Jane"') == '"Doe, \\"Jane\\""'
    assert claim_json(1516239022) == "1516239022"
    assert claim_json("42") == '"42"'
    assert claim_json(["user", "editor"]) == '["user","editor"]'
    assert claim_json("\u00e9") == '"\\u00E9"'
    assert claim_json("\\u00e9") == '"\\\\u00e9"'  # a literal backslash-u stays as it was


def test_responses_are_the_gateway_responses(idp: LoopbackIdp, keys: KeyRing, api: Api) -> None:
    """401 and 403 come from the template's gateway responses (API Gateway's defaults here); the 401's
    detail stays in the decision line."""
    assert_401(api.get("/orders", "Bearer x.y.z"))
    record = api.decisions[-1]
    assert (record["authorizer"], record["reason"], record["nativeRule"]) == (
        "native",
        "malformed_token",
        "compact_jws",
    )
    assert record["detail"] == "the token is not a signed JWT"
    assert api.get("/health").status == 200


# --- Template hooks ---------------------------------------------------------------------------------------


def test_template_reads_jwt_authorizers_and_scopes(idp: LoopbackIdp, tmp_path: Path) -> None:
    path = tmp_path / "template.json"
    path.write_text(json.dumps(native_template(idp.issuer)))
    api_model = load_api_model(path, Path(__file__).resolve().parents[2])
    assert set(api_model.jwt_authorizers) == {"Authorizer", "AltAuthorizer"}
    assert api_model.authorizers == {}
    config = api_model.jwt_authorizers["Authorizer"]
    assert (config.header, config.algorithms) == ("Authorization", ("RS256", "ES256"))
    assert [i.issuer for i in config.issuers] == [idp.issuer, OTHER_ISSUER]
    orders = next(r for r in api_model.routes if r.resource_path == "/orders")
    assert (orders.authorization_type, orders.authorizer_id, orders.authorization_scopes) == (
        "JWT",
        "Authorizer",
        tuple(ORDERS_SCOPES),
    )
    assert token_audience(api_model) == AUDIENCE
    assert scopes_for(api_model, "GET", "/orders") == tuple(ORDERS_SCOPES)
    assert scopes_for(api_model, "GET", "/profile") == ()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda t: t["Resources"]["ordersMethod"]["Properties"].update(AuthorizerId={"Ref": "Nope"}),
            "unknown JWT",
        ),
        (
            lambda t: t["Resources"]["ordersMethod"]["Properties"].update(AuthorizationType="CUSTOM"),
            "unknown CUSTOM",
        ),
        (
            lambda t: t["Resources"]["ordersMethod"]["Properties"].update(AuthorizationScopes="orders:read"),
            "AuthorizationScopes",
        ),
        (
            lambda t: t["Resources"]["Authorizer"]["Properties"].update(
                IdentitySource="method.request.querystring.t"
            ),
            "one request header",
        ),
        (lambda t: t["Resources"]["Authorizer"]["Properties"].pop("JwtConfiguration"), "JwtConfiguration"),
    ],
)
def test_template_refuses_what_api_gateway_would(
    idp: LoopbackIdp, tmp_path: Path, change: Callable[[dict[str, Any]], Any], message: str
) -> None:
    template = native_template(idp.issuer)
    change(template)
    path = tmp_path / "template.json"
    path.write_text(json.dumps(template))
    with pytest.raises(TemplateError, match=message):
        load_api_model(path, Path(__file__).resolve().parents[2])


def test_readme_cites_every_rule() -> None:
    """local/README.md has one table row per rule, naming its page, and labels its evidence."""
    text = README.read_text()
    labels = {"REST": "REST", "HTTP API": "HTTP API only", "assumed": "**assumed**"}
    for rule in RULES:
        row = next((line for line in text.splitlines() if line.startswith(f"| `{rule.code}` |")), None)
        assert row is not None, f"no README row for rule {rule.code}"
        assert f"]({rule.source})" in row
        assert row.rstrip(" |").endswith(labels[rule.evidence])
    assert len(re.findall(r"^\| `[a-z_]+` \|", text, re.M)) == len(RULES)


# --- The real stack, synthesized with -c gate=native ------------------------------------------------------


@pytest.fixture(scope="module")
def native_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GatewayServer, Any]]:
    from local.issuer import IssuerServer, KeyStore

    template = synthesize(tmp_path_factory.mktemp("cdk.out-native"), gate="native")
    issuer = IssuerServer(KeyStore(tmp_path_factory.mktemp("issuer"))).start()
    server = build_gateway(
        template,
        issuer=issuer.issuer,
        jwks_uri=issuer.jwks_uri,
        log_sink=lambda *_: None,
        decision_log=lambda _: None,
    ).start()
    yield server, issuer
    server.stop()
    issuer.stop()


def test_synthesized_gate_native_is_served_natively(native_stack: tuple[GatewayServer, Any]) -> None:
    server, issuer = native_stack
    api_model = server.gateway.model
    assert api_model.authorizers == {}
    assert len(api_model.jwt_authorizers) == 1
    audience = token_audience(api_model)
    read = issuer.mint(audience, scopes_for(api_model, "GET", "/hello"))
    assert scopes_for(api_model, "GET", "/hello") == ("items:read",)
    assert call(server.url, "GET", "/hello", {"Authorization": f"Bearer {read}"}).status == 200
    denied = call(server.url, "POST", "/hello", {"Authorization": f"Bearer {read}"})
    assert (denied.status, denied.json()["error"]) == (403, "insufficient_scope")  # the stack's ACCESS_DENIED
    missing = call(server.url, "GET", "/hello")
    assert (missing.status, missing.json()["error"]) == (401, "invalid_token")  # the stack's UNAUTHORIZED
    assert "WWW-Authenticate" in missing.headers
    assert call(server.url, "GET", "/health").status == 200


def test_synthesized_gate_auto_mixes_engines_per_method(tmp_path_factory: pytest.TempPathFactory) -> None:
    """`-c gate=auto`: a two-scope rule keeps its method on the Lambda, the other method goes native; the
    local gateway runs each with its own engine."""
    from local.issuer import IssuerServer, KeyStore

    rules = {"GET /hello": "items:read", "POST /hello": "items:write items:admin"}
    template = synthesize(tmp_path_factory.mktemp("cdk.out-auto"), gate="auto", scopeRules=rules)
    issuer = IssuerServer(KeyStore(tmp_path_factory.mktemp("issuer-auto"))).start()
    decisions: list[dict[str, Any]] = []
    server = build_gateway(
        template,
        issuer=issuer.issuer,
        jwks_uri=issuer.jwks_uri,
        log_sink=lambda *_: None,
        decision_log=decisions.append,
    ).start()
    try:
        api_model = server.gateway.model
        engines = {
            r.http_method: r.authorization_type for r in api_model.routes if r.resource_path == "/hello"
        }
        assert engines == {"GET": "JWT", "POST": "CUSTOM"}
        audience = token_audience(api_model)

        def status(method: str, scopes: list[str]) -> tuple[int, str]:
            token_value = issuer.mint(audience, scopes)
            reply = call(server.url, method, "/hello", {"Authorization": f"Bearer {token_value}"})
            return reply.status, decisions[-1]["authorizer"]

        assert status("GET", ["items:read"]) == (200, "native")
        assert status("POST", ["items:write"]) == (403, "invoked")  # the Lambda needs both scopes
        assert status("POST", ["items:write", "items:admin"]) == (200, "invoked")
    finally:
        server.stop()
        issuer.stop()
