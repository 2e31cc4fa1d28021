"""The trusted key set: the only source of verification keys (never the token's jwk/jku/x5u/x5c).

Lifecycle, per container (one Lambda container serves one request at a time; a lock still guards
refreshes for multi-threaded local runners):

* **fresh** for ``cache_seconds`` after a successful fetch: lookups are a dict access, no I/O;
* **unknown kid** (not in a fresh key set): an immediate refetch, so a key the identity provider
  rotates in and uses at once works on its first token, even right after a cold-start or scheduled
  fetch. The refetch opens a penalty box: for ``cooldown_seconds`` after an unknown-kid refetch, further
  unknown kids fetch nothing and are rejected (``unknown_kid``). Regular fetches never open it, so a
  flood of random kids costs the provider at most one request per cooldown on top of the regular
  refreshes. The residual trade-off: a key rotated in during a running penalty box (an attacker's flood,
  or a second new kid within seconds of the first) is rejected until the box closes, at most
  ``cooldown_seconds``. A box keyed by kid would not help (a flood brings a new kid each time), and
  refetching for every unknown kid would hand the provider's request rate to whoever sends tokens;
* **stale** after ``cache_seconds``: the next lookup refreshes. Only failures pace refreshes: after a
  failed attempt the next one waits a cooldown, so a failing provider is not hit on every request, while
  a cache shorter than the cooldown is still honoured after successes; while refreshes fail, the cached
  keys keep serving for ``max_stale_seconds`` more, then are dropped;
* **no usable key** (never fetched, dropped, or the kid is unknown while refreshes are failing):
  :class:`~gate.errors.KeysUnavailable` - never a rejection, because the token may well be good.

``unknown_kid`` is therefore only claimed against a key set that the last fetch attempt confirmed.
Concurrent lookups of unknown kids queue on the lock and re-check the cache and the penalty box, so
only the first of them refetches. Each JWK becomes a cryptography public key once; unchanged JWKs are
reused across refreshes. A JWKS response with no usable key counts as a failed fetch (it is far more
often a broken endpoint than a deliberate revocation of every key).

Issue 13 adds two optional key sources (gate/key_sources.py). ``document_source`` replaces the identity
provider as what a refresh fetches (the SSM parameter through the Lambda extension); every rule above is
unchanged, except that such a key set is not prefetched (the extension answers only during invocations).
``snapshot`` holds deploy-time keys: while no live key set could ever be fetched in this container, a lookup
that finds no usable live key falls back to them as stale keys (marked ``source="snapshot"``, reported once
as ``jwks_snapshot_in_use``); a kid the snapshot lacks is KeysUnavailable, never ``unknown_kid``, because no
fetch confirmed the set. Live keys always win, and after the first successful fetch the snapshot is never
used again. A snapshot older than its max age is never used (``jwks_snapshot_too_old``, then 503 as before).
"""

# Annotations are not postponed (no __future__ import): typing.NamedTuple compiles every string annotation
# when it creates a class, ~0.1 ms per class on every cold start (tests/authorizer/test_authz_imports.py).
import json
from _thread import allocate_lock  # threading.Lock itself, without importing threading (cold start)
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from gate.errors import KEY_ALG_MISMATCH, MISSING_KID, UNKNOWN_KID, KeysUnavailable, Rejection
from gate.fetch import FetchError, fetch_json
from gate.jwk import JwkError, load_public_key
from gate.settings import Settings, TrustedIssuer, fetch_url_problem

if TYPE_CHECKING:
    from gate.jwk import PublicKey
    from gate.key_sources import Snapshot

Fetch = Callable[..., Any]
Report = Callable[[str, Mapping[str, object]], None]

MIN_RSA_BITS: Final = 2048
# Which key an algorithm may use (RFC 7518 section 3, RFC 8037): key type and, for curves, the curve.
_KEY_FIT: Final[Mapping[str, tuple[str, frozenset[str] | None]]] = {
    **dict.fromkeys(("RS256", "RS384", "RS512", "PS256", "PS384", "PS512"), ("RSA", None)),
    "ES256": ("EC", frozenset({"P-256"})),
    "ES384": ("EC", frozenset({"P-384"})),
    "ES512": ("EC", frozenset({"P-521"})),
    "EdDSA": ("OKP", frozenset({"Ed25519", "Ed448"})),
}
# Only public members are read: a JWKS that leaks private parameters must not make us load them.
_PUBLIC_MEMBERS: Final[Mapping[str, tuple[str, ...]]] = {
    "RSA": ("kty", "n", "e"),
    "EC": ("kty", "crv", "x", "y"),
    "OKP": ("kty", "crv", "x"),
}


class VerificationKey(NamedTuple):
    kid: str | None
    algorithms: frozenset[str]
    public_key: "PublicKey"  # quoted: imported only for type checking (see above)
    source: str | None = None  # "snapshot" for deploy-time snapshot keys; None for fetched keys


def parse_jwk(jwk: object, algorithms: frozenset[str]) -> VerificationKey | str:
    """A usable verification key, or the reason (a short string) why this JWK is not trusted."""
    if not isinstance(jwk, dict):
        return "not a JSON object"
    kid, kty, crv, use, jwk_alg, key_ops = (
        jwk.get(m) for m in ("kid", "kty", "crv", "use", "alg", "key_ops")
    )
    if kid is not None and not isinstance(kid, str):
        return "kid is not a string"
    if use is not None and use != "sig":
        return f"use is {use!r}, not 'sig'"
    if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
        return "key_ops does not include 'verify'"
    if jwk_alg is not None and not isinstance(jwk_alg, str):
        return "alg is not a string"
    if not isinstance(kty, str) or (crv is not None and not isinstance(crv, str)):
        return "kty and crv must be strings"
    usable = frozenset(
        alg
        for alg in algorithms
        if _KEY_FIT[alg][0] == kty
        and _curve_fits(_KEY_FIT[alg][1], crv)
        and (jwk_alg is None or jwk_alg == alg)
    )
    if not usable:
        return f"no configured algorithm fits kty={kty!r} crv={crv!r} alg={jwk_alg!r}"
    public = {m: jwk[m] for m in _PUBLIC_MEMBERS[kty] if m in jwk}
    if any(not isinstance(value, str) for value in public.values()):
        return "key members must be strings"
    try:
        key = load_public_key(public)
    except JwkError as err:
        return f"invalid key material ({err})"
    if isinstance(key, RSAPublicKey) and key.key_size < MIN_RSA_BITS:
        return f"RSA key of {key.key_size} bits is below {MIN_RSA_BITS}"
    return VerificationKey(kid=kid, algorithms=usable, public_key=key)


def _curve_fits(curves: frozenset[str] | None, crv: str | None) -> bool:
    return curves is None or crv in curves


def _fingerprint(jwk: object) -> str | None:
    if not isinstance(jwk, dict):
        return None
    try:
        return json.dumps(jwk, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError):
        return None


class KeySet:
    """Keys by kid of one issuer, fetched from its JWKS URI (or discovered ``jwks_uri``), per container.

    Each trusted issuer gets its own KeySet (``source``; the primary issuer by default), so a key is
    only ever used for tokens of the issuer that published it, even when two issuers reuse a kid.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], float],
        fetch: Fetch = fetch_json,
        report: Report | None = None,
        source: TrustedIssuer | None = None,
        document_source: Callable[[], object] | None = None,
        snapshot: "Snapshot | None" = None,
    ) -> None:
        source = source or settings.trusted_issuers[0]
        self._issuer = source.issuer
        self._jwks_uri = source.jwks_uri
        self._discovery_uri = source.discovery_uri
        self._algorithms = settings.algorithms
        self._fresh_for = settings.jwks_cache_seconds
        self._usable_for = settings.jwks_cache_seconds + settings.jwks_max_stale_seconds
        self._cooldown = settings.jwks_refetch_cooldown_seconds
        self._timeout = settings.jwks_timeout_seconds
        self._clock = clock
        self._fetch = fetch
        self._report_to = report or (lambda _event, _fields: None)
        self._lock = allocate_lock()
        self._by_kid: dict[str, tuple[VerificationKey, ...]] = {}
        self._lone: VerificationKey | None = None  # the only key, for tokens without kid
        # _pick's choice for each (kid, alg) it accepts, kid None for the lone key: the warm path's lookup
        self._chosen: dict[tuple[str | None, str], VerificationKey] = {}
        self._fetched_at: float | None = None
        self._last_attempt: float | None = None  # any fetch: after a failure, paces the next refresh
        self._last_unknown_kid_refetch: float | None = None  # opens the penalty box
        self._last_attempt_ok = False
        self._last_error = "no key set fetched yet"
        self._discovered_jwks_uri: str | None = None
        self._parsed: dict[str, VerificationKey] = {}
        self._document_source = document_source
        self._snapshot = snapshot
        self._snapshot_keys: tuple[dict[str, tuple[VerificationKey, ...]], VerificationKey | None] | None
        self._snapshot_keys = None  # (by kid, lone key), built from the snapshot at its first use
        self._ever_fetched = False
        self._snapshot_refused = False

    def _report(self, event: str, fields: Mapping[str, object]) -> None:
        self._report_to(event, {"issuer": self._issuer, **fields})

    def key_for(self, kid: str | None, alg: str) -> VerificationKey:
        """The trusted key for ``kid`` that may verify ``alg``; Rejection or KeysUnavailable otherwise."""
        fetched_at = self._fetched_at
        if fetched_at is not None and 0 <= self._clock() - fetched_at < self._fresh_for:
            key = self._chosen.get((kid, alg))
            if key is not None:
                return key
        return self._key_after_refresh(kid, alg)  # also says why there is none (unknown kid, other alg)

    def prefetch(self) -> bool:
        """Fetch now (cold start). A failure leaves no cooldown behind, so the first request retries.

        A key set read through the SSM extension is not prefetched: the extension answers only during
        invocations, not in the init phase."""
        if self._document_source is not None:
            return False
        with self._lock:
            ok = self._refresh(self._clock())
            if not ok:
                self._last_attempt = None
            return ok

    def _candidates(self, kid: str | None) -> tuple[VerificationKey, ...]:
        if kid is None:
            return (self._lone,) if self._lone is not None else ()
        return self._by_kid.get(kid, ())

    def _key_after_refresh(self, kid: str | None, alg: str) -> VerificationKey:
        with self._lock:
            now = self._clock()
            fetched_at = self._fetched_at
            if fetched_at is not None and 0 <= now - fetched_at < self._fresh_for:
                candidates = self._candidates(kid)
                if candidates:  # another thread refetched while this one waited for the lock
                    return _pick(candidates, kid, alg)
                if self._cooled_down(self._last_unknown_kid_refetch, now):
                    self._last_unknown_kid_refetch = now
                    self._refresh(now)
            elif self._last_attempt_ok or self._cooled_down(self._last_attempt, now):
                self._refresh(now)
            fetched_at = self._fetched_at
            if fetched_at is None or now - fetched_at >= self._usable_for:
                self._drop_keys()
                if self._snapshot is not None and not self._ever_fetched:
                    return self._snapshot_key(kid, alg, now)
                raise KeysUnavailable(self._last_error, kid=kid)
            candidates = self._candidates(kid)
            if candidates:
                return _pick(candidates, kid, alg)
            if not self._last_attempt_ok:
                raise KeysUnavailable(
                    f"kid {kid!r} is not cached and refreshing fails: {self._last_error}", kid=kid
                )
            raise Rejection(UNKNOWN_KID if kid is not None else MISSING_KID, kid=kid)

    def _cooled_down(self, since: float | None, now: float) -> bool:
        """True unless ``since`` lies within the last cooldown (a clock that went back counts as past)."""
        return since is None or not 0 <= now - since < self._cooldown

    def _drop_keys(self) -> None:
        if self._fetched_at is not None:
            self._report("jwks_expired", {"detail": "max stale age exceeded; cached keys dropped"})
        self._by_kid, self._lone, self._fetched_at, self._parsed = {}, None, None, {}
        self._chosen = {}

    def _refresh(self, now: float) -> bool:
        self._last_attempt = now
        try:
            if self._document_source is not None:
                document = self._document_source()
            else:
                document = self._fetch(self._current_jwks_uri(), timeout=self._timeout)
            keys = self._parse_set(document)
        except FetchError as err:
            self._last_attempt_ok = False
            self._last_error = str(err)
            self._discovered_jwks_uri = None  # rediscover next time: the jwks_uri may have moved
            self._report("jwks_refresh_failed", {"detail": self._last_error})
            return False
        by_kid: dict[str, list[VerificationKey]] = {}
        for key in keys:
            if key.kid is not None:
                by_kid.setdefault(key.kid, []).append(key)
        self._by_kid = {kid: tuple(group) for kid, group in by_kid.items()}
        self._lone = keys[0] if len(keys) == 1 else None
        self._chosen = _choices(self._by_kid, self._lone)
        self._fetched_at = now
        self._last_attempt_ok = True
        self._ever_fetched = True
        return True

    def _current_jwks_uri(self) -> str:
        if self._jwks_uri is not None:
            return self._jwks_uri
        if self._discovered_jwks_uri is None:
            self._discovered_jwks_uri = self._discover()
        return self._discovered_jwks_uri

    def _discover(self) -> str:
        assert self._discovery_uri is not None  # Settings sets exactly one of the two URIs
        document = self._fetch(self._discovery_uri, timeout=self._timeout)
        if not isinstance(document, dict):
            raise FetchError(f"{self._discovery_uri}: discovery document is not a JSON object")
        if document.get("issuer") != self._issuer:
            raise FetchError(
                f"{self._discovery_uri}: discovery issuer {document.get('issuer')!r} != {self._issuer!r}"
            )
        jwks_uri = document.get("jwks_uri")
        if not isinstance(jwks_uri, str):
            raise FetchError(f"{self._discovery_uri}: discovery document has no jwks_uri")
        problem = fetch_url_problem(jwks_uri)
        if problem is not None:
            raise FetchError(f"discovered jwks_uri {jwks_uri!r}: {problem}")
        return jwks_uri

    def _parse_set(self, document: object) -> list[VerificationKey]:
        entries = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(entries, list):
            raise FetchError("JWKS is not a JSON object with a 'keys' array")
        parsed: dict[str, VerificationKey] = {}
        keys: list[VerificationKey] = []
        dropped: list[str] = []
        for entry in entries:
            fingerprint = _fingerprint(entry)
            result = self._parsed.get(fingerprint) if fingerprint is not None else None
            if result is None:
                outcome = parse_jwk(entry, self._algorithms)
                if isinstance(outcome, str):
                    kid = entry.get("kid") if isinstance(entry, dict) else None
                    dropped.append(f"{kid!r}: {outcome}")
                    continue
                result = outcome
            if fingerprint is not None:
                parsed[fingerprint] = result
            keys.append(result)
        if dropped:
            self._report("jwks_keys_ignored", {"keys": dropped})
        if not keys:
            raise FetchError("JWKS contains no usable key")
        self._parsed = parsed
        return keys

    def _snapshot_key(self, kid: str | None, alg: str, now: float) -> VerificationKey:
        """The snapshot's key for ``kid``: no live key set was ever fetched (see the module docs)."""
        snapshot = self._snapshot
        assert snapshot is not None
        age = now - snapshot.fetched_at
        if not age < snapshot.max_age:
            if not self._snapshot_refused:
                self._snapshot_refused = True
                self._report(
                    "jwks_snapshot_too_old",
                    {"snapshot_age_seconds": round(age), "max_age_seconds": snapshot.max_age},
                )
            raise KeysUnavailable(
                f"{self._last_error}; the key snapshot is {age:.0f} s old, "
                "past JWKS_SNAPSHOT_MAX_AGE_SECONDS",
                kid=kid,
            )
        if self._snapshot_keys is None:
            by_kid: dict[str, list[VerificationKey]] = {}
            usable: list[VerificationKey] = []
            for entry in snapshot.keys:
                outcome = parse_jwk(entry, self._algorithms)
                if isinstance(outcome, VerificationKey):
                    usable.append(outcome._replace(source="snapshot"))
            for key in usable:
                if key.kid is not None:
                    by_kid.setdefault(key.kid, []).append(key)
            self._snapshot_keys = (
                {k: tuple(group) for k, group in by_kid.items()},
                usable[0] if len(usable) == 1 else None,
            )
            self._report(
                "jwks_snapshot_in_use",
                {
                    "snapshot_age_seconds": round(age),
                    "usable_keys": len(usable),
                    "detail": f"no key set fetched in this container: {self._last_error}",
                },
            )
        snapshot_by_kid, snapshot_lone = self._snapshot_keys
        if kid is None:
            candidates: tuple[VerificationKey, ...] = (snapshot_lone,) if snapshot_lone is not None else ()
        else:
            candidates = snapshot_by_kid.get(kid, ())
        if candidates:
            return _pick(candidates, kid, alg)
        raise KeysUnavailable(
            f"kid {kid!r} is not in the key snapshot and refreshing fails: {self._last_error}", kid=kid
        )


def _choices(
    by_kid: dict[str, tuple[VerificationKey, ...]], lone: VerificationKey | None
) -> dict[tuple[str | None, str], VerificationKey]:
    """The key _pick chooses for every (kid, alg) it does not refuse."""
    groups: list[tuple[str | None, tuple[VerificationKey, ...]]] = [*by_kid.items()]
    if lone is not None:
        groups.append((None, (lone,)))
    return {
        (kid, alg): _pick(group, kid, alg)
        for kid, group in groups
        for alg in sorted({alg for key in group for alg in key.algorithms})
    }


def _pick(candidates: tuple[VerificationKey, ...], kid: str | None, alg: str) -> VerificationKey:
    for key in candidates:
        if alg in key.algorithms:
            return key
    raise Rejection(KEY_ALG_MISMATCH, kid=kid)
