"""DPoP (RFC 9449): proof-of-possession checks for DPoP-bound access tokens, written out by hand.

Why by hand: these checks decide whether a stolen token is worthless, so each one is spelled out here
and has its own reason code and test; they run on every request (with DPoP the stack sets the
authorizer cache TTL to 0, or a cached allow would let a replayed proof through), so they must cost
little more than the proof's one signature; and no Python library checks DPoP for a
resource server (PyJWT would verify the proof's signature but none of ``htm``/``htu``/``ath``/``jti``
/``cnf.jkt``, and importing it costs every cold start ~18 ms). The parts that already exist are reused:
gate/jws.py's strict compact parsing, gate/keys.py's key/algorithm fit and key loading, gate/verify.py's
signature checks.

DPOP (gate/settings.py) ``allowed``: unbound tokens work as ``Bearer`` as before (a DPoP header next to
them is ignored); a token with ``cnf.jkt`` must come as ``Authorization: DPoP`` with a valid proof, and
as ``Bearer`` it is ``dpop_bound_token_as_bearer`` (the downgrade RFC 9449 section 7.2 forbids).
``required``: every token must be bound (``dpop_token_not_bound``, also for ``Bearer``) and come with a
proof. ``Authorization: DPoP`` with an unbound token is ``dpop_token_not_bound`` in both modes. With
``off`` nothing here is built and the ``DPoP`` scheme stays ``malformed_authorization``.

Order: cheap and structural first; no proof key is loaded and no proof signature checked unless the
access token is valid and bound to that very key:

1. :meth:`DpopGate.presented`, before the token is looked at: the scheme; for ``DPoP`` exactly one
   ``DPoP`` header (none: ``dpop_proof_missing``, several: ``dpop_proof_invalid``), a compact JWS
   (gate/jws.py: canonical base64url, JSON without duplicates, size cap) whose header has ``typ``
   ``dpop+jwt`` (media types are case-insensitive, ``application/`` may be spelled out), an ``alg`` from
   DPOP_ALGORITHMS, no ``crit``, and a ``jwk`` holding the public members of an RSA, EC or OKP key (each
   base64url member unpadded; no private member at all). Its RFC 7638 SHA-256 thumbprint is computed
   from exactly those members. Anything wrong: ``dpop_proof_invalid``.
2. The access token is verified exactly as a Bearer token (gate/verify.py).
3. :meth:`DpopGate.check`: the binding against scheme and mode (above); ``cnf.jkt`` against the proof
   key's thumbprint (``dpop_key_mismatch``; other ``cnf`` members, such as Keycloak's, are ignored);
   the proof key (built from the thumbprint members alone, so it must fit ``alg`` by type and curve, RSA
   at least 2048 bits, exactly as a JWKS key) and the proof's signature (``dpop_proof_invalid``); then
   the now-signed claims: ``htm`` is the request's method, case-sensitive (``dpop_htm_mismatch``);
   ``htu`` is the request URL (``dpop_htu_mismatch``, see :func:`normalized_url`); ``iat`` lies in
   ``[now - DPOP_MAX_AGE_SECONDS, now + LEEWAY_SECONDS]`` (``dpop_proof_expired`` on either side);
   ``ath`` is base64url(SHA-256(the access token)) (``dpop_ath_mismatch``); ``jti`` is a string of
   1-256 characters. A claim that is missing or of the wrong JSON type is ``dpop_proof_invalid``.
   ``nonce`` is not used (a server nonce needs a ``DPoP-Nonce`` response the authorizer cannot send).
4. Last, the ``jti`` replay check (gate/replay.py): ``dpop_replayed``, or ReplayStoreUnavailable (503).
   Being last, a rejected request never burns a ``jti``, and only valid requests take replay memory.

Warm path: a client sends the same proof header (``typ``, ``alg``, ``jwk``) with every proof, so the
header of each proof that passed every check is remembered by its exact base64url text, with its
thumbprint and loaded key (at most :data:`MAX_KNOWN_HEADERS`, oldest out first). A later proof with that
very header skips the header's JSON, checks, thumbprint and key loading - identical bytes, identical
verdicts - while its payload and signature segments are parsed as strictly as ever. Only valid proofs'
headers are remembered, so nobody without a valid token and its key can add to the memo.

The expected ``htu`` is ``PUBLIC_BASE_URL`` + the event's ``path`` (the path below the stage or base path
mapping) when PUBLIC_BASE_URL is set, else ``https://{requestContext.domainName}{requestContext.path}``
(on the execute-api endpoint ``requestContext.path`` starts with the stage; REST APIs pass paths
percent-encoded, as sent). The request method is the method ARN's verb, API Gateway's ``httpMethod``.
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
from collections.abc import Callable, Mapping
from typing import Any, Final, NamedTuple

from cryptography.exceptions import InvalidSignature

from gate.binding import confirmation
from gate.errors import (
    DPOP_ATH_MISMATCH,
    DPOP_BOUND_TOKEN_AS_BEARER,
    DPOP_HTM_MISMATCH,
    DPOP_HTU_MISMATCH,
    DPOP_KEY_MISMATCH,
    DPOP_PROOF_EXPIRED,
    DPOP_PROOF_INVALID,
    DPOP_PROOF_MISSING,
    DPOP_REPLAYED,
    DPOP_TOKEN_NOT_BOUND,
    MALFORMED_EVENT,
    Rejection,
    ReplayStoreUnavailable,
)
from gate.events import credentials, header_values
from gate.jwk import EC_COORDINATE_BYTES, OKP_CURVES
from gate.jws import MAX_TOKEN_LENGTH, CompactJws, b64url_decode, parse_compact, parse_json_object
from gate.keys import VerificationKey, parse_jwk
from gate.replay import DynamoDbReplayStore, MemoryReplayStore, ReplayStore
from gate.settings import Settings
from gate.verify import VerifiedToken, signature_checks

MAX_JTI_LENGTH: Final = 256
MAX_KNOWN_HEADERS: Final = 1024
DPOP_TYPES: Final = frozenset({"dpop+jwt", "application/dpop+jwt"})
# RFC 7638 section 3.2 (RFC 8037 section 2 for OKP): the required members, in lexicographic order.
_THUMBPRINT_MEMBERS: Final[Mapping[object, tuple[str, ...]]] = {
    "RSA": ("e", "kty", "n"),
    "EC": ("crv", "kty", "x", "y"),
    "OKP": ("crv", "kty", "x"),
}
_CURVES: Final[Mapping[object, frozenset[str]]] = {"EC": frozenset(EC_COORDINATE_BYTES), "OKP": OKP_CURVES}
# Private members of RSA/EC/OKP keys (RFC 7518 section 6, RFC 8037) and the symmetric key ``k``.
_PRIVATE_MEMBERS: Final = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_BASE64URL: Final = re.compile(r"[A-Za-z0-9_-]+", re.ASCII)


class Proof(NamedTuple):
    """A DPoP proof that passed the structural checks (step 1); nothing in it is verified yet."""

    header_segment: str
    alg: str
    jwk: dict[str, str]  # exactly the thumbprint members
    thumbprint: str
    jws: CompactJws
    key: VerificationKey | None  # known when an earlier valid proof had this very header


class _KnownHeader(NamedTuple):
    alg: str
    jwk: dict[str, str]
    thumbprint: str
    header: dict[str, Any]
    key: VerificationKey


class Presented(NamedTuple):
    token: str
    proof: Proof | None  # None: the Bearer scheme


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def jwk_thumbprint(jwk: Mapping[str, object]) -> tuple[dict[str, str], str] | None:
    """The thumbprint members of ``jwk`` and its RFC 7638 SHA-256 thumbprint; None if it has none.

    The members' values come from fixed vocabularies or the base64url alphabet, so the canonical JSON
    needs no escaping and is written directly.
    """
    names = _THUMBPRINT_MEMBERS.get(jwk.get("kty"))
    if names is None:
        return None
    members: dict[str, str] = {}
    for name in names:
        value = jwk.get(name)
        if type(value) is not str:
            return None
        if name == "crv":
            if value not in _CURVES[jwk["kty"]]:
                return None
        elif name != "kty" and _BASE64URL.fullmatch(value) is None:
            return None
        members[name] = value
    canonical = "{" + ",".join(f'"{name}":"{members[name]}"' for name in names) + "}"
    return members, b64url(hashlib.sha256(canonical.encode("ascii")).digest())


class DpopGate:
    """DPOP ``allowed`` or ``required``; see the module docstring."""

    def __init__(
        self, settings: Settings, *, clock: Callable[[], float], replay: ReplayStore | None = None
    ) -> None:
        self._required = settings.dpop == "required"
        self._algorithms = settings.dpop_algorithms
        self._checks = signature_checks(settings.dpop_algorithms)
        self._max_age = settings.dpop_max_age_seconds
        self._leeway = settings.leeway_seconds
        self._base_url = settings.public_base_url
        self._clock = clock
        self._known: dict[str, _KnownHeader] = {}  # header segment of a valid proof -> what it says
        window = settings.dpop_max_age_seconds + settings.leeway_seconds
        if replay is None:
            table = settings.dpop_replay_table
            replay = MemoryReplayStore(window) if table is None else DynamoDbReplayStore(table, window)
        self._replay = replay

    def presented(self, event: dict[str, Any]) -> Presented:
        """Step 1: the token, and for the DPoP scheme its structurally valid proof."""
        scheme, token = credentials(event)
        if scheme == "bearer":
            return Presented(token, None)
        proofs = header_values(event, "dpop")
        if not proofs:
            raise Rejection(DPOP_PROOF_MISSING)
        if len(proofs) > 1:
            raise Rejection(DPOP_PROOF_INVALID)
        return Presented(token, self._structure(proofs[0]))

    def check(self, presented: Presented, event: dict[str, Any], verb: str, verified: VerifiedToken) -> None:
        """Steps 3 and 4, for a token that verified; Rejection or ReplayStoreUnavailable if not good."""
        cnf = confirmation(verified)
        bound = cnf is not None and "jkt" in cnf  # present means bound, even as null
        proof = presented.proof
        reason: str | None
        if proof is None:
            reason = DPOP_BOUND_TOKEN_AS_BEARER if bound else DPOP_TOKEN_NOT_BOUND if self._required else None
        elif not bound:
            reason = DPOP_TOKEN_NOT_BOUND
        elif cnf is not None and cnf["jkt"] != proof.thumbprint:
            reason = DPOP_KEY_MISMATCH
        else:
            reason = self._proof_problem(proof, presented.token, event, verb, verified)
        if reason is not None:
            raise Rejection(reason, kid=verified.kid, sub=verified.sub)

    def _structure(self, value: str) -> Proof:
        head, _, rest = value.partition(".")
        known = self._known.get(head)
        if known is not None:
            jws = _with_known_header(value, head, rest, known.header)
            return Proof(head, known.alg, known.jwk, known.thumbprint, jws, known.key)
        try:
            jws = parse_compact(value)
        except Rejection:
            raise Rejection(DPOP_PROOF_INVALID) from None
        header = jws.header
        typ, alg, jwk = header.get("typ"), header.get("alg"), header.get("jwk")
        if (
            type(typ) is not str
            or typ.lower() not in DPOP_TYPES
            or type(alg) is not str
            or alg not in self._checks
            or "crit" in header
            or "b64" in header
            or type(jwk) is not dict
            or not _PRIVATE_MEMBERS.isdisjoint(jwk)
        ):
            raise Rejection(DPOP_PROOF_INVALID)
        thumbprinted = jwk_thumbprint(jwk)
        if thumbprinted is None:
            raise Rejection(DPOP_PROOF_INVALID)
        members, thumbprint = thumbprinted
        return Proof(head, alg, members, thumbprint, jws, None)

    def _proof_problem(
        self, proof: Proof, token: str, event: dict[str, Any], verb: str, verified: VerifiedToken
    ) -> str | None:
        """The reason code for the first problem of a proof whose key is the token's; None if none."""
        key = proof.key or self._key(proof)
        if key is None:
            return DPOP_PROOF_INVALID
        jws = proof.jws
        try:
            self._checks[proof.alg](key.public_key, jws.signing_input, jws.signature)
            claims = parse_json_object(jws.payload)
        except (InvalidSignature, ValueError):
            return DPOP_PROOF_INVALID
        htm, htu, iat, ath, jti = map(claims.get, ("htm", "htu", "iat", "ath", "jti"))
        if (
            type(htm) is not str
            or type(htu) is not str
            or not (type(iat) is int or (type(iat) is float and math.isfinite(iat)))
            or type(ath) is not str
            or type(jti) is not str
            or not 0 < len(jti) <= MAX_JTI_LENGTH
        ):
            return DPOP_PROOF_INVALID
        if htm != verb:
            return DPOP_HTM_MISMATCH
        if not same_url(htu, self._expected_htu(event)):
            return DPOP_HTU_MISMATCH
        now = self._clock()
        if not now - self._max_age <= iat <= now + self._leeway:
            return DPOP_PROOF_EXPIRED
        if ath != b64url(hashlib.sha256(token.encode("ascii")).digest()):
            return DPOP_ATH_MISMATCH
        try:
            first = self._replay.first_use(f"{proof.thumbprint}:{jti}", iat=iat, now=now)
        except ReplayStoreUnavailable as failure:
            raise ReplayStoreUnavailable(failure.detail, kid=verified.kid, sub=verified.sub) from None
        if not first:
            return DPOP_REPLAYED
        if proof.key is None:
            self._remember(proof, key)
        return None

    def _key(self, proof: Proof) -> VerificationKey | None:
        """The proof's key if it may verify the proof's ``alg`` (gate/keys.py's key/algorithm fit)."""
        key = parse_jwk(proof.jwk, self._algorithms)
        if isinstance(key, str) or proof.alg not in key.algorithms:
            return None
        return key

    def _remember(self, proof: Proof, key: VerificationKey) -> None:
        known = self._known
        if len(known) >= MAX_KNOWN_HEADERS:
            known.pop(next(iter(known)), None)  # the oldest
        known[proof.header_segment] = _KnownHeader(
            proof.alg, proof.jwk, proof.thumbprint, proof.jws.header, key
        )

    def _expected_htu(self, event: dict[str, Any]) -> str:
        if self._base_url is not None:
            path = event.get("path")
            if type(path) is not str:
                raise Rejection(MALFORMED_EVENT)
            return self._base_url + path
        context = event.get("requestContext")
        if type(context) is not dict:
            raise Rejection(MALFORMED_EVENT)
        domain, path = context.get("domainName"), context.get("path")
        if type(domain) is not str or type(path) is not str:
            raise Rejection(MALFORMED_EVENT)
        return f"https://{domain}{path}"


def _with_known_header(value: str, head: str, rest: str, header: dict[str, Any]) -> CompactJws:
    """``value`` parsed as gate/jws.parse_compact would, for a header segment parsed before."""
    payload_segment, _, signature_segment = rest.partition(".")
    if (
        len(value) > MAX_TOKEN_LENGTH
        or _BASE64URL.fullmatch(payload_segment) is None
        or _BASE64URL.fullmatch(signature_segment) is None  # also refuses a fourth segment
    ):
        raise Rejection(DPOP_PROOF_INVALID)
    try:
        payload = b64url_decode(payload_segment.encode("ascii"))
        signature = b64url_decode(signature_segment.encode("ascii"))
    except ValueError:
        raise Rejection(DPOP_PROOF_INVALID) from None
    signing_input = value[: len(head) + 1 + len(payload_segment)].encode("ascii")
    return CompactJws(header=header, signing_input=signing_input, payload=payload, signature=signature)


# --- htu comparison: RFC 3986 section 6.2.2 (syntax-based) and 6.2.3 (scheme-based) normalization ---

_URL: Final = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://([^/?#]*)([^?#]*)(?:[?#].*)?", re.DOTALL)
_AUTHORITY: Final = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[^:@\[\]]+)(?::([0-9]*))?")
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
_UNRESERVED: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# A percent-encoded octet, or a character that may not appear in a path as it is (RFC 3986 pchar / "/").
_PATH_FIXES: Final = re.compile(r"%([0-9A-Fa-f]{2})|[^A-Za-z0-9._~!$&'()*+,;=:@/-]")


def same_url(claimed: str, expected: str) -> bool:
    """Whether ``claimed`` names ``expected``, ignoring query and fragment, after normalization."""
    if claimed == expected:
        return True
    normalized = normalized_url(claimed)
    return normalized is not None and normalized == normalized_url(expected)


def normalized_url(url: str) -> str | None:
    """``scheme://host[:port]/path`` normalized; None if ``url`` is not an absolute URL with a host.

    Scheme and host in lower case; the scheme's default port (http 80, https 443) and an empty port
    dropped, leading zeros of a port too; an empty path is ``/``; in the path, percent-encoded
    unreserved characters decoded, other percent-encodings in upper case, characters that must be
    encoded (spaces, non-ASCII as UTF-8, a lone ``%``) encoded, and ``.``/``..`` segments removed. Query
    and fragment are dropped (RFC 9449: ``htu`` is compared without them); userinfo is refused.
    """
    match = _URL.fullmatch(url)
    if match is None:
        return None
    scheme, authority, path = match.groups()
    host_port = _AUTHORITY.fullmatch(authority)
    if host_port is None:
        return None
    scheme = scheme.lower()
    host, port = host_port.group(1).lower(), host_port.group(2)
    port_part = ""
    if port:
        number = int(port)
        if number != _DEFAULT_PORTS.get(scheme):
            port_part = f":{number}"
    try:
        path = _PATH_FIXES.sub(_fix_path_character, path)
    except UnicodeEncodeError:  # a lone surrogate from JSON: names no URL
        return None
    return f"{scheme}://{host}{port_part}{_remove_dot_segments(path) or '/'}"


def _fix_path_character(match: re.Match[str]) -> str:
    octet = match.group(1)
    if octet is None:
        return "".join(f"%{byte:02X}" for byte in match.group(0).encode("utf-8"))
    character = chr(int(octet, 16))
    return character if character in _UNRESERVED else "%" + octet.upper()


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4 for the path of a URL with an authority (empty or starting with ``/``)."""
    if "." not in path:
        return path
    segments = path.split("/")[1:]
    kept: list[str] = []
    for segment in segments:
        if segment == "..":
            if kept:
                kept.pop()
        elif segment != ".":
            kept.append(segment)
    result = "/" + "/".join(kept)
    if segments[-1] in (".", "..") and not result.endswith("/"):
        result += "/"
    return result
