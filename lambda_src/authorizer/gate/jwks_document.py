"""Public key sets kept outside the identity provider: the deploy-time snapshot and the SSM parameter value.

Both are written by jwt-gate's own tools from the issuers' discovery and JWKS (``make snapshot-keys``,
ops/snapshot_keys.py; the key refresher, lambda_src/key_refresher) and read by the authorizer
(gate/key_sources.py). Standard library and gate.fetch only: the key refresher's asset carries this module
and gate/fetch.py, but not cryptography.

Only public members are ever written or accepted: per key ``kty``, its public members (RSA ``n``, ``e``;
EC ``crv``, ``x``, ``y``; OKP ``crv``, ``x``) and the metadata the authorizer checks (``kid``, ``use``,
``alg``, ``key_ops``). Everything else a provider publishes (``x5c`` chains, ``x5t``, and above all private
members such as ``d``) is dropped when writing; a key of another ``kty`` (``oct`` is a shared secret) is
never written. Reading is strict: a member outside that set makes the document invalid, because a file that
holds one was not written by these tools (someone pasted a private key, or a provider's raw JWKS).

Formats (JSON; ``fetched_at`` in whole seconds since the epoch, UTC)::

    snapshot file:   {"fetched_at": 1767225600, "issuers": {"<iss>": {"keys": [<public JWK>, ...]}, ...}}
    parameter value: {"issuer": "<iss>", "fetched_at": 1767225600, "keys": [<public JWK>, ...]}

A parameter holding ``"fetched_at": null`` and no keys is the placeholder the stack creates before the
refresher first runs.
"""

from __future__ import annotations

import ipaddress
import json
import math
from collections.abc import Callable, Mapping
from typing import Any, Final
from urllib.parse import urlsplit

from gate.fetch import FetchError, fetch_json

# Per kty, the members that make up the public key (the same as gate/keys.py reads; a test holds them equal).
PUBLIC_MEMBERS: Final[Mapping[str, tuple[str, ...]]] = {
    "RSA": ("n", "e"),
    "EC": ("crv", "x", "y"),
    "OKP": ("crv", "x"),
}
# Metadata the authorizer's key checks read (gate/keys.py parse_jwk): kept as published.
KEY_METADATA: Final = ("kid", "use", "alg", "key_ops")
# A fetch time later than now by more than this is refused (a clock that far off is a broken clock).
MAX_CLOCK_SKEW_SECONDS: Final = 300.0

Fetch = Callable[..., Any]


class DocumentError(ValueError):
    """The document is not a public key set of the expected shape; str() is one line for operators."""


def public_jwk(entry: object) -> dict[str, Any] | str:
    """The public part of one JWK, or the reason (a short string) why it cannot be kept."""
    if not isinstance(entry, dict):
        return "not a JSON object"
    kty = entry.get("kty")
    members = PUBLIC_MEMBERS.get(kty) if isinstance(kty, str) else None
    if members is None:
        return f"kty {kty!r} is not a public-key type (RSA, EC, OKP)"
    missing = [m for m in members if not isinstance(entry.get(m), str) or not entry[m]]
    if missing:
        return f"member {missing[0]!r} is missing or not a string"
    kept: dict[str, Any] = {"kty": kty}
    for name in KEY_METADATA:
        if name in entry:
            kept[name] = entry[name]
    for name in members:
        kept[name] = entry[name]
    return kept


def public_keys(document: object, where: str) -> tuple[list[dict[str, Any]], list[str]]:
    """The public JWKs of a JWKS document and, for each key left out, ``"<kid>: <reason>"``.

    Raises :class:`DocumentError` when the document has no ``keys`` array or no key can be kept.
    """
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise DocumentError(f"{where}: not a JSON object with a 'keys' array")
    kept: list[dict[str, Any]] = []
    dropped: list[str] = []
    for entry in entries:
        outcome = public_jwk(entry)
        if isinstance(outcome, str):
            kid = entry.get("kid") if isinstance(entry, dict) else None
            dropped.append(f"{kid!r}: {outcome}")
        else:
            kept.append(outcome)
    if not kept:
        raise DocumentError(f"{where}: no usable public key ({len(entries)} published)")
    return kept, dropped


def discovery_uri(issuer: str) -> str:
    """OpenID Connect Discovery 1.0 section 4: drop one terminating "/" before appending."""
    return issuer.removesuffix("/") + "/.well-known/openid-configuration"


def url_problem(url: str) -> str | None:
    """Why ``url`` may not be fetched: https anywhere, plain http only on loopback (gate.settings' rule)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - evaluated for its ValueError on a malformed port
    except ValueError as err:
        return f"not a valid URL ({err})"
    if not host or parts.username is not None or parts.password is not None:
        return "URL has no host or carries credentials"
    if parts.scheme == "https":
        return None
    if parts.scheme == "http" and (host == "localhost" or _is_loopback_address(host)):
        return None
    return "URL scheme must be https (plain http only on loopback hosts)"


def _is_loopback_address(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def fetch_issuer_jwks(
    issuer: str, jwks_uri: str | None, *, timeout: float, fetch: Fetch = fetch_json
) -> object:
    """The issuer's JWKS document, from ``jwks_uri`` or the one its discovery document names.

    The same rules as the authorizer's own fetch (gate/keys.py): the discovery document must name exactly
    this issuer, and every URL is https (plain http only on loopback). Raises FetchError.
    """
    uri = jwks_uri
    if uri is None:
        where = discovery_uri(issuer)
        problem = url_problem(where)
        if problem is not None:
            raise FetchError(f"{where}: {problem}")
        discovered = fetch(where, timeout=timeout)
        if not isinstance(discovered, dict):
            raise FetchError(f"{where}: discovery document is not a JSON object")
        if discovered.get("issuer") != issuer:
            raise FetchError(f"{where}: discovery issuer {discovered.get('issuer')!r} != {issuer!r}")
        uri = discovered.get("jwks_uri")
        if not isinstance(uri, str):
            raise FetchError(f"{where}: discovery document has no jwks_uri")
    problem = url_problem(uri)
    if problem is not None:
        raise FetchError(f"jwks_uri {uri!r}: {problem}")
    return fetch(uri, timeout=timeout)


# ---- The two formats ----


def snapshot_document(fetched_at: int, issuers: Mapping[str, list[dict[str, Any]]]) -> dict[str, Any]:
    return {"fetched_at": fetched_at, "issuers": {iss: {"keys": keys} for iss, keys in issuers.items()}}


def parameter_value(issuer: str, fetched_at: int | None, keys: list[dict[str, Any]]) -> str:
    """The SSM parameter's Value: compact JSON (a standard parameter holds at most 4 KB)."""
    return json.dumps({"issuer": issuer, "fetched_at": fetched_at, "keys": keys}, separators=(",", ":"))


def _fetch_time(value: object, where: str, now: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise DocumentError(f"{where}: 'fetched_at' must be a number of seconds since the epoch")
    if value - now > MAX_CLOCK_SKEW_SECONDS:
        raise DocumentError(f"{where}: 'fetched_at' ({value:.0f}) lies in the future")
    return float(value)


def _strict_keys(entries: object, where: str) -> PublicKeys:
    """Keys exactly as these tools write them: public members and key metadata only, at least one."""
    if not isinstance(entries, list) or not entries:
        raise DocumentError(f"{where}: 'keys' must be a non-empty array")
    keys: list[dict[str, Any]] = []
    for index, entry in enumerate(entries):
        outcome = public_jwk(entry)
        if isinstance(outcome, str):
            raise DocumentError(f"{where}: key {index}: {outcome}")
        assert isinstance(entry, dict)
        extra = sorted(set(entry) - set(outcome))
        if extra:
            raise DocumentError(
                f"{where}: key {index} has members other than public ones and {', '.join(KEY_METADATA)}: "
                f"{', '.join(extra)}"
            )
        keys.append(outcome)
    return tuple(keys)


PublicKeys = tuple[dict[str, Any], ...]


def parse_snapshot(text: str, where: str, *, now: float) -> tuple[float, dict[str, PublicKeys]]:
    """(fetch time, issuer -> public JWKs) of a snapshot file; :class:`DocumentError` if it is not one."""
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as err:
        raise DocumentError(f"{where}: not valid JSON ({type(err).__name__})") from None
    if not isinstance(document, dict) or set(document) != {"fetched_at", "issuers"}:
        shape = '{"fetched_at": <seconds>, "issuers": {"<iss>": {"keys": [...]}}}'
        raise DocumentError(f"{where}: expected {shape}")
    fetched_at = _fetch_time(document["fetched_at"], where, now)
    issuers = document["issuers"]
    if not isinstance(issuers, dict) or not issuers:
        raise DocumentError(f"{where}: 'issuers' must be a non-empty object")
    parsed: dict[str, PublicKeys] = {}
    for issuer, entry in issuers.items():
        if not isinstance(entry, dict) or set(entry) != {"keys"}:
            raise DocumentError(f'{where}: issuer {issuer!r} must be {{"keys": [...]}}')
        parsed[issuer] = _strict_keys(entry["keys"], f"{where}: issuer {issuer!r}")
    return fetched_at, parsed


def parse_parameter_value(text: object, where: str, *, issuer: str, now: float) -> tuple[float, PublicKeys]:
    """(fetch time, public JWKs) of a parameter value written by the key refresher; raises FetchError
    (to the authorizer a bad value is a failed fetch, like a bad JWKS response)."""
    if not isinstance(text, str):
        raise FetchError(f"{where}: the parameter value is not a string")
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as err:
        raise FetchError(f"{where}: the parameter value is not JSON ({type(err).__name__})") from None
    if not isinstance(document, dict) or set(document) != {"issuer", "fetched_at", "keys"}:
        raise FetchError(f'{where}: expected {{"issuer": ..., "fetched_at": ..., "keys": [...]}}')
    if document["issuer"] != issuer:
        raise FetchError(f"{where}: holds the keys of {document['issuer']!r}, not of {issuer!r}")
    if document["fetched_at"] is None:
        raise FetchError(f"{where}: no key set yet (the key refresher has not written this parameter)")
    try:
        return _fetch_time(document["fetched_at"], where, now), _strict_keys(document["keys"], where)
    except DocumentError as err:
        raise FetchError(str(err)) from None
