"""Composition: one :class:`Authorizer` per container, built from :class:`~gate.settings.Settings`.

``handle(event)`` returns the response dict (allow or deny policy) or raises
:class:`~gate.errors.Rejection` (the handler turns it into ``Exception("Unauthorized")``),
:class:`~gate.errors.KeysUnavailable` or :class:`~gate.errors.ReplayStoreUnavailable`; each outcome
writes exactly one decision log line.

Sender constraints (issue 12) sit around token verification and are built only when configured, so
with DPOP and MTLS_BOUND_TOKENS off a request takes the same steps as before: the DPoP gate reads the
scheme and the proof's structure before the token is verified (gate/dpop.py), the certificate binding
(gate/binding.py, a hash) comes right after verification, and the proof's signature, claims and replay
check come last, so a replay entry is only ever spent on an otherwise valid request.

The policy is about the one route the request reaches (docs/routes.md): for REQUEST events the route
API Gateway selected (``resource`` and ``httpMethod``), for TOKEN events the route the method ARN's path
selects under the same rules. The stack's REQUEST authorizer caches per token, verb and route, so the
policy is never applied to another route.

Choices the contract leaves open:

* a route that is not in SCOPE_RULES (the function attached to a method it was not configured for) gets
  a deny policy for the whole stage (403, reason ``route_not_configured``);
* a method ARN outside RESOURCE_ARN gets a **deny policy** (403, reason ``resource_outside_api``)
  for ``<that API/stage>/*``, not 401: the caller's token is fine, the authorizer is attached to an
  API it was not configured for, and a 401 would make clients throw good tokens away;
* an event without a parsable ``methodArn`` (never sent by API Gateway) is rejected as
  ``malformed_event`` (401);
* context: ``sub``, ``scope`` (the scopes granted by SCOPE_CLAIMS, space-separated, ``""`` if
  none), ``client_id`` (the ``client_id`` claim - or the AUDIENCE_CLAIM when that names the client,
  ``azp`` or ``cid`` - ``""`` if absent or not a string), ``iss``, plus CONTEXT_CLAIMS whose
  values are strings, finite numbers or booleans (others are left out);
* ``principalId`` is ``sub``, else ``client_id``, else ``"unknown"``; with PRINCIPAL_ID_FORMAT
  ``iss#sub`` it is prefixed by ``iss`` and ``#``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

from gate.decision_log import DecisionLog, Write, line_parts
from gate.errors import (
    DPOP_REPLAY_STORE_UNAVAILABLE,
    INSUFFICIENT_SCOPE,
    KEYS_UNAVAILABLE,
    MALFORMED_EVENT,
    OK,
    RESOURCE_OUTSIDE_API,
    ROUTE_ARN_MISMATCH,
    ROUTE_NOT_CONFIGURED,
    KeysUnavailable,
    Rejection,
    ReplayStoreUnavailable,
)
from gate.events import MethodArn, bearer_token, method_arn_of
from gate.fetch import fetch_json
from gate.keys import Fetch, KeySet
from gate.policy import Policy, PolicyBook, allow_all, deny_all, iam_pattern
from gate.routes import RouteTable
from gate.settings import Settings
from gate.verify import VerifiedToken, Verifier

if TYPE_CHECKING:  # imported only when configured: a gate without them never loads them (cold start)
    from gate.binding import CertificateBinding
    from gate.dpop import DpopGate, Presented
    from gate.key_sources import KeySources

# The variables gate/key_sources.py reads: with none of them set there is no key source to build, and its
# module (with the snapshot and SSM parsers) stays unloaded.
_KEY_SOURCE_VARIABLES: Final = (
    "JWKS_SNAPSHOT_FILE",
    "JWKS_SNAPSHOT_MAX_AGE_SECONDS",
    "JWKS_SSM_PARAMETER",
    "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT",
)

_BASE_CONTEXT: Final = frozenset({"sub", "scope", "client_id", "iss"})
DECISION_MEMO_LIMIT: Final = 4096
ROUTE_MEMO_LIMIT: Final = 1024
# the method ARN and the index of the route's rule (None: no rule, or no SCOPE_RULES)
_Routed = tuple[MethodArn, int | None]
# policy, scope string, outcome, reason, route key, and the decision line's parts before and after sub's value
# (gate/decision_log.py)
_Decided = tuple[Policy, str, str, str, str | None, str, str]


class Authorizer:
    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.time,
        fetch: Fetch = fetch_json,
        write: Write | None = None,
        key_sources: KeySources | None = None,
    ) -> None:
        self._log = DecisionLog(write) if write is not None else DecisionLog()
        self._key_sets = {
            trusted.issuer: KeySet(
                settings,
                clock=clock,
                fetch=fetch,
                report=self._log.event,
                source=trusted,
                # issue 13: snapshot keys, SSM parameters (gate/key_sources.py)
                document_source=(
                    key_sources.document_source(trusted.issuer, settings, fetch=fetch, clock=clock)
                    if key_sources is not None
                    else None
                ),
                snapshot=key_sources.snapshots.get(trusted.issuer) if key_sources is not None else None,
            )
            for trusted in settings.trusted_issuers
        }
        self._keys = self._key_sets[settings.issuer]
        self._verifier = Verifier(settings, self._key_sets, clock=clock)
        self._scope_claims = settings.scope_claims
        # one name is read twice: the memo key keeps its shape, and the value is the same
        self._scope_claim_pair = (
            (*self._scope_claims, *self._scope_claims)[:2] if len(self._scope_claims) <= 2 else None
        )
        self._client_claim = settings.audience_claim if settings.audience_claim != "aud" else "client_id"
        self._routes = RouteTable(settings.scope_rules) if settings.scope_rules is not None else None
        self._policies = PolicyBook(self._routes) if self._routes is not None else None
        self._qualified_principal = settings.principal_id_format == "iss#sub"
        self._resource_arn = settings.resource_arn
        self._inside = iam_pattern([settings.resource_arn + "/*"]) if settings.resource_arn else None
        self._extra_claims = tuple(c for c in settings.context_claims if c not in _BASE_CONTEXT)
        self._routed: dict[tuple[object, ...], _Routed] = {}
        self._decided: dict[tuple[object, ...], _Decided] = {}
        self._dpop: DpopGate | None = None
        if settings.dpop != "off":
            from gate.dpop import DpopGate  # lazily: see the TYPE_CHECKING import

            self._dpop = DpopGate(settings, clock=clock)
        self._certificates: CertificateBinding | None = None
        if settings.mtls_bound_tokens != "off":
            from gate.binding import CertificateBinding  # lazily: see the TYPE_CHECKING import

            self._certificates = CertificateBinding(settings.mtls_bound_tokens)
        self._binds_senders = self._dpop is not None or self._certificates is not None

    @classmethod
    def from_env(cls, env: Mapping[str, str], **options: Any) -> Authorizer:
        settings = Settings.from_env(env)
        if "key_sources" not in options and any(env.get(name) for name in _KEY_SOURCE_VARIABLES):
            from gate.key_sources import KeySources  # lazily: see _KEY_SOURCE_VARIABLES

            options["key_sources"] = KeySources.from_env(env, settings)
        return cls(settings, **options)

    def prefetch_keys(self) -> bool:
        """Fetch the primary issuer's keys (cold start); additional issuers' key sets fill lazily.

        Lazily, because a cold start must not wait on (or fail with) every tenant's identity provider
        in turn, nor spend requests on tenants that never call this container.
        """
        return self._keys.prefetch()

    def handle(self, event: object) -> dict[str, Any]:
        try:
            if not isinstance(event, dict):
                raise Rejection(MALFORMED_EVENT)
            # The route memo's lookup (see _route_of), here rather than in a call: this is the warm path.
            route_key = (
                event.get("type"),
                event.get("methodArn"),
                event.get("resource"),
                event.get("httpMethod"),
            )
            try:
                routed = self._routed.get(route_key)
            except TypeError:  # a list or an object among them: decided (and refused, or not) by _route_of
                routed = None
            method, rule = routed if routed is not None else self._route_of(event, route_key)
            dpop = self._dpop
            presented = dpop.presented(event) if dpop is not None else None
            verified = self._verifier.verify(bearer_token(event) if presented is None else presented.token)
            if self._binds_senders:
                self._check_sender(event, method, verified, presented)
        except Rejection as rejection:
            self._log.decision(
                "unauthorized",
                rejection.reason,
                sub=rejection.sub,
                kid=rejection.kid,
                method_arn=_logged_arn(event),
                key_source=rejection.key_source,
            )
            raise
        except KeysUnavailable as failure:
            self._log.decision(
                "error",
                KEYS_UNAVAILABLE,
                sub=None,
                kid=failure.kid,
                method_arn=_logged_arn(event),
                detail=failure.detail,
            )
            raise
        except ReplayStoreUnavailable as failure:
            self._log.decision(
                "error",
                DPOP_REPLAY_STORE_UNAVAILABLE,
                sub=failure.sub,
                kid=failure.kid,
                method_arn=_logged_arn(event),
                detail=failure.detail,
            )
            raise
        claims, kid, sub, key_source = verified
        # The decision memo's lookup (see _decide), here rather than in a call: this is the warm path, and one
        # or two SCOPE_CLAIMS (the default is two) are read without building a list.
        pair = self._scope_claim_pair
        key: tuple[object, ...]
        if pair is not None:
            key = (method.arn, rule, kid, claims.get(pair[0]), claims.get(pair[1]))
        else:
            key = (method.arn, rule, kid, *map(claims.get, self._scope_claims))
        try:
            decided = self._decided.get(key)
        except TypeError:  # a list of scopes cannot key a dict: decided afresh each time
            decided = None
        if decided is None:
            decided = self._decide(key, method, rule, kid, claims)
        policy, scope_string, outcome, reason, route, head, rest = decided
        client_id = claims.get(self._client_claim)
        if type(client_id) is not str:
            client_id = ""
        context: dict[str, str | int | float | bool] = {
            "sub": sub or "",
            "scope": scope_string,
            "client_id": client_id,
            "iss": claims["iss"],
        }
        for name in self._extra_claims:
            value = claims.get(name)
            if isinstance(value, str | int) or (isinstance(value, float) and math.isfinite(value)):
                context[name] = value
        if key_source is None:
            self._log.emit(head, sub, rest)
        else:
            self._log.decision(
                outcome, reason, sub=sub, kid=kid, method_arn=method.arn, route=route, key_source=key_source
            )
        principal = sub or client_id or "unknown"
        return {
            "principalId": f"{claims['iss']}#{principal}" if self._qualified_principal else principal,
            "policyDocument": policy.document,
            "context": context,
        }

    def _route_of(self, event: dict[str, Any], key: tuple[object, ...]) -> _Routed:
        """The method ARN, and the SCOPE_RULES entry (index) of the route the request reaches, None if none.

        REQUEST events name the resource API Gateway selected; TOKEN events are routed by the method
        ARN's path under the same rules (gate/routes.py). Memoized under ``key`` (``handle`` builds it from
        the event fields that decide the route, and looks it up), as a container sees the same few routes
        again and again: only events that pass are remembered, and the memo is bounded because those fields
        come from callers.
        """
        method = method_arn_of(event)
        routed = (method, self._rule_of(event, method))
        try:
            if len(self._routed) >= ROUTE_MEMO_LIMIT:
                self._routed.clear()
            self._routed[key] = routed
        except TypeError:  # a list or an object among them (a TOKEN event may carry anything): not remembered
            pass
        return routed

    def _check_sender(
        self, event: dict[str, Any], method: MethodArn, verified: VerifiedToken, presented: Presented | None
    ) -> None:
        """The sender constraints (issue 12) on a token that verified: certificate binding, then DPoP."""
        if self._certificates is not None:
            self._certificates.check(event, verified)
        if self._dpop is not None and presented is not None:
            self._dpop.check(presented, event, method.verb, verified)

    def _rule_of(self, event: dict[str, Any], method: MethodArn) -> int | None:
        if self._routes is None:
            return None
        if event.get("type") != "REQUEST":
            return self._routes.select(method.verb, method.path)
        resource, verb = event.get("resource"), event.get("httpMethod")
        if not isinstance(resource, str) or verb != method.verb:
            raise Rejection(MALFORMED_EVENT)
        return self._routes.for_resource(resource, verb)

    def _decide(
        self,
        key: tuple[object, ...],
        method: MethodArn,
        rule: int | None,
        kid: str | None,
        claims: dict[str, Any],
    ) -> _Decided:
        """Policy, scope string, outcome, reason, route key and decision line parts for this request.

        Memoized by ``handle`` under ``key``: the request ARN, the rule, the kid (it is in the line) and the
        values of SCOPE_CLAIMS, which together determine everything here. The scope string depends on those
        values alone; the only values of different types that compare equal (1, 1.0 and True; a property
        test covers them) are all not scopes. The warm path then costs one dict lookup instead of building
        a policy and matching its patterns. Bounded: ARNs and scopes come from callers.
        """
        scope_string = scope_string_of(claims, self._scope_claims)
        policy, reason, route = self._policy(rule, method, scope_string)
        outcome = "allow" if policy.allows(method.arn) else "deny"
        if outcome == "deny" and reason == OK:
            reason = ROUTE_ARN_MISMATCH
        head, rest = line_parts(outcome, reason, kid=kid, method_arn=method.arn, route=route)
        decided = (policy, scope_string, outcome, reason, route, head, rest)
        try:
            if len(self._decided) >= DECISION_MEMO_LIMIT:
                self._decided.clear()
            self._decided[key] = decided
        except TypeError:  # a list of scopes: see handle
            pass
        return decided

    def _policy(self, rule: int | None, method: MethodArn, scopes: str) -> tuple[Policy, str, str | None]:
        """The policy for the request's route, the decision's reason code and the route's rule key."""
        if self._inside is not None and self._inside.fullmatch(method.arn) is None:
            return deny_all(method.prefix), RESOURCE_OUTSIDE_API, None
        prefix = self._resource_arn or method.prefix
        if self._routes is None or self._policies is None:
            return allow_all(prefix), OK, None
        if rule is None:
            return deny_all(prefix), ROUTE_NOT_CONFIGURED, None
        policy = self._policies.policy_for(scopes, rule, method.verb, prefix)
        reason = OK if rule in self._policies.granted(scopes) else INSUFFICIENT_SCOPE
        return policy, reason, self._routes.rules[rule].key


def _logged_arn(event: object) -> object:
    return event.get("methodArn") if isinstance(event, dict) else None


def scope_string_of(claims: dict[str, Any], scope_claims: tuple[str, ...]) -> str:
    """The token's scopes from SCOPE_CLAIMS as one space-separated string (their union).

    Each claim is a space-separated string or a list of strings, except ``scope``, a string only
    (RFC 9068 section 2.2.3). Other values, and non-string list entries, grant nothing. A lone
    string is returned as sent; otherwise the parts are split on spaces (so list entries are too),
    deduplicated and joined. The string alone determines the scope set, which is what lets the
    policy memo be keyed by it.
    """
    lone: str | None = None
    parts: list[str] | None = None
    for name in scope_claims:
        value = claims.get(name)
        if type(value) is str:
            if parts is None and lone is None:
                lone = value
                continue
            found = value.split(" ")
        elif type(value) is list and name != "scope":
            found = [p for entry in value if type(entry) is str for p in entry.split(" ")]
        else:
            continue
        if parts is None:
            parts = lone.split(" ") if lone is not None else []
        parts += found
    if parts is None:
        return lone or ""
    return " ".join(dict.fromkeys(p for p in parts if p))
