"""The hostile corpus: each case is a few requests against one side; what the last one comes to is compared.

A case is written once and run twice, on a fresh Lambda side and a fresh native side (compare/world.py), each
with its own identity provider and a clock at NOW. Tokens are minted against the side's clock; every token
gets its own `jti`, so the gateway's result cache never answers for another request.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from compare.jose import KeyRing, SigningKey, b64url, compact
from compare.world import API_AUDIENCE, CLI_CLIENT, Clock, Observation, Side

GROUPS: Final = (
    "Baseline",
    "Signatures and algorithms",
    "Issuer and audience",
    "ID tokens and typ",
    "Header and JSON edge cases",
    "Dates",
    "The Authorization header",
    "Scopes and routes",
    "Keys and the identity provider",
)
FLOOD_SIZE: Final = 20
AFTER_WARM_UP: Final = "after the first valid request"


class Minter:
    """Tokens for one side: its issuer, its clock, a fresh `jti` each."""

    def __init__(self, keys: KeyRing, issuer: str, clock: Clock) -> None:
        self.keys = keys
        self.issuer = issuer
        self.clock = clock
        self._count = 0

    def claims(self, **overrides: Any) -> dict[str, Any]:
        """RFC 9068 access-token claims valid for 10 minutes from now; an override of None removes a claim."""
        self._count += 1
        now = int(self.clock())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": API_AUDIENCE,
            "sub": "user-1",
            "client_id": "orders-web",
            "scope": "orders:read",
            "iat": now,
            "exp": now + 600,
            "jti": f"jti-{self._count}",
        }
        claims.update(overrides)
        return {name: value for name, value in claims.items() if value is not None}

    def token(
        self,
        key: SigningKey | None = None,
        *,
        header: dict[str, Any] | None = None,
        payload: bytes | None = None,
        **claims: Any,
    ) -> str:
        key = key or self.keys.rsa
        return compact(key, payload if payload is not None else self.claims(**claims), header=header)

    def bearer(self, key: SigningKey | None = None, **options: Any) -> str:
        return "Bearer " + self.token(key, **options)


Run = Callable[[Side, Minter], Observation]


@dataclass(frozen=True)
class Case:
    id: str
    group: str
    title: str
    sent: str  # what the requests carry (Markdown)
    shows: str  # what the outcome means for choosing a mode (Markdown)
    run: Run
    counted: str = ""  # when set, report the identity provider's requests since the case's mark, so described
    idp_down: bool = False  # the identity provider is down from the start (a cold start in an outage)
    native_rules: tuple[str, ...] = ()  # model rules (local/native_jwt.RULES) the native outcome rests on


CASES: list[Case] = []


def case(
    id: str,
    group: str,
    title: str,
    *,
    sent: str,
    shows: str,
    counted: str = "",
    idp_down: bool = False,
    native_rules: tuple[str, ...] = (),
) -> Callable[[Run], Run]:
    def register(run: Run) -> Run:
        CASES.append(Case(id, group, title, sent, shows, run, counted, idp_down, native_rules))
        return run

    return register


def get(side: Side, path: str, authorization: str | None, method: str = "GET") -> Observation:
    return side.request(method, path, authorization)


# --- Baseline -------------------------------------------------------------------------------------


@case(
    "valid-rs256",
    "Baseline",
    "A valid RS256 access token",
    sent="`GET /orders`, RS256, `typ: at+jwt`, `scope: orders:read`.",
    shows="Both accept the ordinary token: every difference below is about something the case changes.",
)
def _valid_rs256(side: Side, mint: Minter) -> Observation:
    return get(side, "/orders", mint.bearer())


@case(
    "valid-es256",
    "Baseline",
    "A valid ES256 access token",
    sent="`GET /orders`, ES256 (P-256), otherwise the same.",
    shows="ECDSA works on both.",
)
def _valid_es256(side: Side, mint: Minter) -> Observation:
    return get(side, "/orders", mint.bearer(mint.keys.es256))


@case(
    "public-route",
    "Baseline",
    "A public route without a token",
    sent="`GET /health`, no `Authorization` header.",
    shows="Routes outside the gate stay open on both.",
)
def _public_route(side: Side, mint: Minter) -> Observation:
    return get(side, "/health", None)


# --- Signatures and algorithms --------------------------------------------------------------------


@case(
    "forged-signature",
    "Signatures and algorithms",
    "Signed by another key under the issuer's kid",
    sent="RS256 with the issuer's `kid` `rsa-1`, signed by an attacker's RSA key.",
    shows="Both verify signatures against the issuer's key set only.",
)
def _forged(side: Side, mint: Minter) -> Observation:
    return get(side, "/orders", mint.bearer(mint.keys.attacker))


@case(
    "tampered-payload",
    "Signatures and algorithms",
    "A valid token with its payload swapped",
    sent="A valid token's payload replaced by one granting `orders:admin orders:delete`, signature kept.",
    shows="Both verify the signature over the payload as sent.",
)
def _tampered(side: Side, mint: Minter) -> Observation:
    header, _, signature = mint.token().split(".")
    payload = b64url(json.dumps(mint.claims(scope="orders:admin orders:delete")).encode())
    return get(side, "/orders/1", f"Bearer {header}.{payload}.{signature}", method="DELETE")


@case(
    "alg-none",
    "Signatures and algorithms",
    "`alg: none`",
    sent='Header `{"alg":"none","kid":"rsa-1"}`, a one-byte signature.',
    shows="Neither accepts an unsigned token.",
)
def _alg_none(side: Side, mint: Minter) -> Observation:
    header = b64url(json.dumps({"alg": "none", "kid": "rsa-1", "typ": "at+jwt"}).encode())
    payload = b64url(json.dumps(mint.claims()).encode())
    return get(side, "/orders", f"Bearer {header}.{payload}.AA")


@case(
    "hs256-confusion",
    "Signatures and algorithms",
    "HS256 keyed with the issuer's public key",
    sent="`alg: HS256`, HMAC keyed with the issuer's RSA public key (the classic key-confusion attack).",
    shows="Neither lets a public key act as an HMAC secret: HS256 is not an allowed algorithm on either "
    "side.",
)
def _hs256(side: Side, mint: Minter) -> Observation:
    header = b64url(json.dumps({"alg": "HS256", "kid": "rsa-1", "typ": "at+jwt"}).encode())
    payload = b64url(json.dumps(mint.claims()).encode())
    secret = json.dumps(mint.keys.rsa.jwk, sort_keys=True).encode()
    signature = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return get(side, "/orders", f"Bearer {header}.{payload}.{b64url(signature)}")


@case(
    "ps256",
    "Signatures and algorithms",
    "An issuer that signs with PS256",
    sent="A valid token signed PS256 with a key the issuer publishes (`alg: PS256` in its JWK).",
    shows="The Lambda accepts what the issuer really uses; the native authorizer cannot be configured for "
    "RSA-PSS, so every such token is a 401 (synth refuses `gate=native` with PS* in `algorithms`).",
)
def _ps256(side: Side, mint: Minter) -> Observation:
    return get(side, "/orders", mint.bearer(mint.keys.ps256))


@case(
    "eddsa",
    "Signatures and algorithms",
    "An issuer that signs with EdDSA",
    sent="A valid token signed EdDSA (Ed25519) with a key the issuer publishes.",
    shows="Same as PS256: native is RS/ES only.",
)
def _eddsa(side: Side, mint: Minter) -> Observation:
    return get(side, "/orders", mint.bearer(mint.keys.eddsa))


# --- Issuer and audience --------------------------------------------------------------------------


@case(
    "wrong-issuer",
    "Issuer and audience",
    "Another issuer",
    sent="`iss` of another provider (same key, so only `iss` differs).",
    shows="Both compare `iss` exactly.",
)
def _wrong_issuer(side: Side, mint: Minter) -> Observation:
    return get(side, "/orders", mint.bearer(iss="https://other-idp.example.net/"))


@case(
    "wrong-audience",
    "Issuer and audience",
    "Another audience",
    sent="`aud: api://billing`.",
    shows="Both require one of the configured audiences.",
)
def _wrong_audience(side: Side, mint: Minter) -> Observation:
    return get(side, "/orders", mint.bearer(aud="api://billing"))


@case(
    "audience-array",
    "Issuer and audience",
    "An audience array with one match",
    sent='`aud: ["api://billing", "api://orders"]`.',
    shows="Both accept an array when one entry matches.",
)
def _audience_array(side: Side, mint: Minter) -> Observation:
    return get(side, "/orders", mint.bearer(aud=["api://billing", API_AUDIENCE]))


@case(
    "client-id-instead-of-aud",
    "Issuer and audience",
    "No `aud`, a `client_id` equal to an audience",
    sent=f"No `aud`; `client_id: {CLI_CLIENT}` (a configured audience, as Cognito-style setups configure "
    "the app client).",
    shows="Native falls back to `client_id` when `aud` is absent (documented for HTTP APIs); the Lambda "
    "checks the one claim `audienceClaim` names (`aud`) and requires it.",
    native_rules=("client_id_fallback",),
)
def _client_id(side: Side, mint: Minter) -> Observation:
    return get(side, "/orders", mint.bearer(aud=None, client_id=CLI_CLIENT))


# --- ID tokens and typ ----------------------------------------------------------------------------


def _id_token(mint: Minter) -> str:
    """An OpenID Connect ID token of the same issuer for the client `orders-cli` (`typ: JWT`, no scope)."""
    claims = mint.claims(
        aud=CLI_CLIENT, scope=None, client_id=None, jti=None, nonce="n-1", email="a@b.example"
    )
    header = {"alg": "RS256", "kid": mint.keys.rsa.kid, "typ": "JWT"}
    return "Bearer " + compact(mint.keys.rsa, claims, header=header)


@case(
    "id-token-any-valid-route",
    "ID tokens and typ",
    "An ID token on a route that takes any valid token",
    sent=f'`GET /profile` (rule `""`) with an ID token: `typ: JWT`, `aud: {CLI_CLIENT}`, `nonce`, no scope.',
    shows="The native authorizer does not read `typ`, so an ID token whose `aud` is an accepted audience "
    "is a valid token to it; the Lambda's `tokenTypes` refuses it (synth refuses `tokenTypes` under "
    "`gate=native`).",
    native_rules=("typ", "scopes"),
)
def _id_token_profile(side: Side, mint: Minter) -> Observation:
    return get(side, "/profile", _id_token(mint))


@case(
    "id-token-scoped-route",
    "ID tokens and typ",
    "An ID token on a scoped route",
    sent="The same ID token on `GET /orders` (needs `orders:read`).",
    shows="Scopes stop it natively (403, as the HTTP API page recommends); the Lambda stops it earlier "
    "(401, wrong type).",
    native_rules=("typ",),
)
def _id_token_orders(side: Side, mint: Minter) -> Observation:
    return get(side, "/orders", _id_token(mint))


@case(
    "typ-jwt",
    "ID tokens and typ",
    "An access token typed `JWT`",
    sent="A valid access token with `typ: JWT` instead of `at+jwt`.",
    shows="With `tokenTypes` the Lambda only takes RFC 9068 access tokens; native takes any `typ`.",
    native_rules=("typ",),
)
def _typ_jwt(side: Side, mint: Minter) -> Observation:
    header = {"alg": "RS256", "kid": mint.keys.rsa.kid, "typ": "JWT"}
    return get(side, "/orders", mint.bearer(header=header))


@case(
    "typ-absent",
    "ID tokens and typ",
    "An access token without `typ`",
    sent="A valid access token whose header has no `typ`.",
    shows="Same as `typ: JWT`.",
    native_rules=("typ",),
)
def _typ_absent(side: Side, mint: Minter) -> Observation:
    return get(side, "/orders", mint.bearer(header={"alg": "RS256", "kid": mint.keys.rsa.kid}))


# --- Header and JSON edge cases -------------------------------------------------------------------


@case(
    "crit-header",
    "Header and JSON edge cases",
    "A `crit` header naming an unknown extension",
    sent='Header `"crit": ["x-bound"], "x-bound": true`, otherwise valid.',
    shows="RFC 7515 says a verifier that does not understand a `crit` extension must reject the token; the "
    "Lambda does. The native pages say nothing about `crit`; the model ignores it (assumed).",
    native_rules=("crit",),
)
def _crit(side: Side, mint: Minter) -> Observation:
    header = {"alg": "RS256", "kid": mint.keys.rsa.kid, "typ": "at+jwt", "crit": ["x-bound"], "x-bound": True}
    return get(side, "/orders", mint.bearer(header=header))


@case(
    "numeric-string-exp",
    "Header and JSON edge cases",
    "`exp` as a numeric string",
    sent='`"exp": "9999999999"` (a string).',
    shows="Both refuse a date that is not a JSON number (natively: assumed; the pages say `exp` must be "
    "after the current time, nothing about strings).",
)
def _string_exp(side: Side, mint: Minter) -> Observation:
    return get(side, "/orders", mint.bearer(exp="9999999999"))


@case(
    "duplicate-claim",
    "Header and JSON edge cases",
    "A payload with `aud` twice",
    sent='Payload `{..., "aud": "api://billing", ..., "aud": "api://orders"}`, validly signed.',
    shows="Two parsers may read different claims from such a payload; the Lambda refuses it outright. The "
    "native pages are silent; the model keeps the last member, as most JSON parsers do (assumed).",
    native_rules=("compact_jws",),
)
def _duplicate(side: Side, mint: Minter) -> Observation:
    claims = mint.claims()
    body = json.dumps(claims)[:-1] + ', "aud": "api://orders"}'
    body = body.replace('"aud": "api://orders"', '"aud": "api://billing"', 1)
    return get(side, "/orders", mint.bearer(payload=body.encode()))


@case(
    "second-spelling",
    "Header and JSON edge cases",
    "A second spelling of a valid token",
    sent="A valid token whose last signature character has different unused bits (same bytes, other text).",
    shows="The Lambda accepts one spelling per token, so a deny-list or cache keyed on the token text "
    "cannot be bypassed. The model decodes base64url leniently, as common decoders do (assumed).",
    native_rules=("compact_jws",),
)
def _second_spelling(side: Side, mint: Minter) -> Observation:
    token = mint.token()
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    value = alphabet.index(token[-1])
    unused_bits = {2: 0b1111, 3: 0b11}[len(token.rsplit(".", 1)[1]) % 4]
    return get(side, "/orders", "Bearer " + token[:-1] + alphabet[value | unused_bits])


# --- Dates ----------------------------------------------------------------------------------------


@case(
    "expired",
    "Dates",
    "Expired two minutes ago",
    sent="`exp` = now - 120 s.",
    shows="Both refuse it.",
)
def _expired(side: Side, mint: Minter) -> Observation:
    return get(side, "/orders", mint.bearer(exp=int(side.clock()) - 120))


@case(
    "expired-within-leeway",
    "Dates",
    "Expired 30 seconds ago",
    sent="`exp` = now - 30 s.",
    shows="The Lambda allows 60 s of clock skew (`leewaySeconds`); native skew is not documented and the "
    "model allows none. Here the Lambda is the more permissive one.",
    native_rules=("leeway",),
)
def _expired_leeway(side: Side, mint: Minter) -> Observation:
    return get(side, "/orders", mint.bearer(exp=int(side.clock()) - 30))


@case(
    "not-yet-valid",
    "Dates",
    "`nbf` five minutes ahead",
    sent="`nbf` = now + 300 s.",
    shows="Both refuse it.",
)
def _nbf(side: Side, mint: Minter) -> Observation:
    return get(side, "/orders", mint.bearer(nbf=int(side.clock()) + 300))


@case(
    "issued-in-future",
    "Dates",
    "`iat` a day ahead",
    sent="`iat` = now + 86400 s, `exp` still ahead of it.",
    shows="The Lambda refuses tokens from the future (a skewed or compromised issuer); the REST pages "
    "document no `iat` check (the HTTP API page has one).",
    native_rules=("iat",),
)
def _iat_future(side: Side, mint: Minter) -> Observation:
    now = int(side.clock())
    return get(side, "/orders", mint.bearer(iat=now + 86400, exp=now + 90000))


@case(
    "no-exp",
    "Dates",
    "No `exp`",
    sent="A token without `exp`.",
    shows="Neither accepts a token that never expires (natively: assumed, `exp` must be after the current "
    "time).",
)
def _no_exp(side: Side, mint: Minter) -> Observation:
    return get(side, "/orders", mint.bearer(exp=None))


@case(
    "no-sub",
    "Dates",
    "No `sub`",
    sent="A token without `sub`.",
    shows="`requiredClaims` (default `iss,aud,exp,sub`) becomes a required `sub` additional claim "
    "natively, so both refuse it.",
)
def _no_sub(side: Side, mint: Minter) -> Observation:
    return get(side, "/orders", mint.bearer(sub=None))


# --- The Authorization header ---------------------------------------------------------------------


@case(
    "missing-header",
    "The Authorization header",
    "No `Authorization` header",
    sent="`GET /orders` without the header.",
    shows="Both answer 401 without evaluating anything (the gate's function is not invoked).",
)
def _missing_header(side: Side, mint: Minter) -> Observation:
    return get(side, "/orders", None)


@case(
    "bare-token",
    "The Authorization header",
    "The token without `Bearer`",
    sent="`Authorization: <token>`.",
    shows="The HTTP API page lets the identity source hold the token alone; the Lambda requires the Bearer "
    "scheme (RFC 6750).",
    native_rules=("bearer",),
)
def _bare(side: Side, mint: Minter) -> Observation:
    return get(side, "/orders", mint.token())


@case(
    "lowercase-bearer",
    "The Authorization header",
    "`bearer` in lower case",
    sent="`Authorization: bearer <token>`.",
    shows="The auth scheme is case-insensitive (RFC 9110); the Lambda accepts it. The pages only show "
    "`Bearer`; the model strips nothing else (assumed).",
    native_rules=("bearer_spelling",),
)
def _lowercase(side: Side, mint: Minter) -> Observation:
    return get(side, "/orders", "bearer " + mint.token())


# --- Scopes and routes ----------------------------------------------------------------------------


@case(
    "two-scope-rule-one-scope",
    "Scopes and routes",
    "A rule needing two scopes, a token with one",
    sent="`DELETE /orders/1` (rule `orders:admin orders:delete`) with `scope: orders:delete`.",
    shows="The Lambda requires every scope of the rule; a native method passes any one of its "
    "AuthorizationScopes. This is why synth keeps such a route on the Lambda (`auto`) or refuses "
    "(`native`).",
    native_rules=("scopes",),
)
def _two_scopes_one(side: Side, mint: Minter) -> Observation:
    return get(side, "/orders/1", mint.bearer(scope="orders:delete"), method="DELETE")


@case(
    "two-scope-rule-both",
    "Scopes and routes",
    "A rule needing two scopes, a token with both",
    sent="`DELETE /orders/1` with `scope: orders:admin orders:delete`.",
    shows="Both allow it.",
)
def _two_scopes_both(side: Side, mint: Minter) -> Observation:
    return get(side, "/orders/1", mint.bearer(scope="orders:admin orders:delete"), method="DELETE")


@case(
    "missing-scope",
    "Scopes and routes",
    "A token without the route's scope",
    sent="`GET /orders` with `scope: orders:write`.",
    shows="Both answer 403 for a valid token without the scope.",
)
def _missing_scope(side: Side, mint: Minter) -> Observation:
    return get(side, "/orders", mint.bearer(scope="orders:write"))


@case(
    "scp-list",
    "Scopes and routes",
    "Scopes in an `scp` list (Okta)",
    sent='No `scope`; `scp: ["orders:read"]`.',
    shows="Both read `scp`.",
    native_rules=("scopes",),
)
def _scp(side: Side, mint: Minter) -> Observation:
    return get(side, "/orders", mint.bearer(scope=None, scp=["orders:read"]))


@case(
    "overlap-general-scope-on-admin",
    "Scopes and routes",
    "Overlapping routes: the general scope on the admin route",
    sent="`GET /items/admin/x` (rule `GET /items/admin/*`: `items:admin`) with `scope: items:read`.",
    shows="`GET /items/*` does not open `GET /items/admin/*` on either side: each request reaches one route.",
)
def _overlap_admin(side: Side, mint: Minter) -> Observation:
    return get(side, "/items/admin/x", mint.bearer(scope="items:read"))


@case(
    "overlap-admin-scope-on-general",
    "Scopes and routes",
    "Overlapping routes: the admin scope on the general route",
    sent="`GET /items/x` (rule `GET /items/*`: `items:read`) with `scope: items:admin`.",
    shows="Nor does the more specific scope open the general route.",
)
def _overlap_general(side: Side, mint: Minter) -> Observation:
    return get(side, "/items/x", mint.bearer(scope="items:admin"))


# --- Keys and the identity provider ---------------------------------------------------------------


def _warm(side: Side, mint: Minter) -> None:
    """One accepted request, so both sides hold the issuer's keys; the count starts after it."""
    get(side, "/orders", mint.bearer())
    side.mark()


def _flood(side: Side, mint: Minter, size: int) -> Observation:
    last = Observation(0, "", "")
    for index in range(size):
        last = get(side, "/orders", mint.bearer(mint.keys.attacker.with_kid(f"unknown-{index}")))
    return last


@case(
    "unknown-kid-flood",
    "Keys and the identity provider",
    f"{FLOOD_SIZE} tokens with unknown kids",
    sent=f"After one valid request, {FLOOD_SIZE} tokens with made-up `kid`s, one after the other.",
    shows="Each unknown `kid` makes the native authorizer retrieve the key set again (documented); no "
    "limit is documented, so the model's count is the worst case. The Lambda refetches once and then waits "
    "out its cooldown (10 s), whatever the attacker sends.",
    counted=AFTER_WARM_UP,
    native_rules=("key_cache", "refetch_limit"),
)
def _kid_flood(side: Side, mint: Minter) -> Observation:
    _warm(side, mint)
    return _flood(side, mint, FLOOD_SIZE)


@case(
    "key-rotation",
    "Keys and the identity provider",
    "Key rotation",
    sent="After one valid request the issuer publishes a second key (`rsa-2`) and signs with it at once.",
    shows="Both fetch the key set once more and accept the new key on its first token.",
    counted=AFTER_WARM_UP,
    native_rules=("key_cache",),
)
def _rotation(side: Side, mint: Minter) -> Observation:
    _warm(side, mint)
    side.idp.publish(*mint.keys.published(), mint.keys.rsa_next)
    return get(side, "/orders", mint.bearer(mint.keys.rsa_next))


@case(
    "rotation-after-flood",
    "Keys and the identity provider",
    "Key rotation right after a kid flood",
    sent="One valid request, 5 unknown `kid`s, then the issuer rotates in `rsa-2` and a token signed with "
    "it arrives within the same second.",
    shows="The price of the Lambda's flood protection: inside its 10 s cooldown a genuinely new key is "
    "refused too (the next token after the cooldown passes). The native authorizer refetches and accepts "
    "it.",
    counted=AFTER_WARM_UP,
    native_rules=("key_cache", "refetch_limit"),
)
def _rotation_after_flood(side: Side, mint: Minter) -> Observation:
    _warm(side, mint)
    _flood(side, mint, 5)
    side.idp.publish(*mint.keys.published(), mint.keys.rsa_next)
    return get(side, "/orders", mint.bearer(mint.keys.rsa_next))


@case(
    "idp-down-cold",
    "Keys and the identity provider",
    "The identity provider is down at a cold start",
    sent="Discovery and JWKS answer 503 from the start; one valid token.",
    shows='The Lambda says "try again" (503 with `Retry-After`: the token may be fine); the native pages '
    "document no such outcome, and the model answers 401 like any token it cannot verify (assumed). "
    "Clients that drop tokens on 401 then log users out during an IdP outage.",
    counted="from the cold start (the gate's prefetch included)",
    idp_down=True,
)
def _down_cold(side: Side, mint: Minter) -> Observation:
    return get(side, "/orders", mint.bearer())  # counted from the start: the gate's prefetch included


def _outage(side: Side, mint: Minter, seconds: float) -> Observation:
    _warm(side, mint)
    side.idp.down = True
    side.clock.advance(seconds)
    return get(side, "/orders", mint.bearer())


@case(
    "idp-down-30-minutes",
    "Keys and the identity provider",
    "A 30-minute outage with warm caches",
    sent="One valid request, then the identity provider goes down; 30 minutes later a fresh valid token.",
    shows="Both ride out a short outage on cached keys (the Lambda past its 10-minute cache on stale keys, "
    "native inside its hour).",
    counted=AFTER_WARM_UP,
    native_rules=("key_cache",),
)
def _down_30(side: Side, mint: Minter) -> Observation:
    return _outage(side, mint, 1800)


@case(
    "idp-down-2-hours",
    "Keys and the identity provider",
    "A 2-hour outage with warm caches",
    sent="The same, 2 hours later.",
    shows="The Lambda serves stale keys for up to `jwksMaxStaleSeconds` (24 h) while refreshes fail; "
    "native keys are cached for up to an hour, and the model then has none (assumed: nothing documents "
    "keeping them longer).",
    counted=AFTER_WARM_UP,
    native_rules=("key_cache",),
)
def _down_2h(side: Side, mint: Minter) -> Observation:
    return _outage(side, mint, 7200)


def by_id() -> dict[str, Case]:
    return {c.id: c for c in CASES}
