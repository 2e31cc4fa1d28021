"""Policies about one route, safe to cache under API Gateway's key for it.

The stack's REQUEST authorizer caches by (Authorization header, verb, resource path), so API Gateway only
ever applies a returned policy to requests that reach the same route with the same verb. Each policy
therefore speaks about that route alone (docs/routes.md):

* granted: ``Allow`` the route's request ARNs for the verb, and ``Deny`` the ARNs of the more specific
  resources nested inside a greedy route (requests there reach other routes);
* not granted: ``Deny`` the route's request ARNs for the verb (``insufficient_scope``);
* no SCOPE_RULES at all: ``Allow <prefix>/*`` (any valid token, every route).

Under IAM semantics (``*`` any run including ``/``, ``?`` one character, explicit Deny wins) a policy never
allows a request that reaches another route, whatever it is evaluated against. Documents are memoized by
(rule, verb, granted, prefix), and grants by scope string, so a warm request builds nothing. Returned
documents are shared: callers must treat them as read-only.
"""

# Annotations are not postponed (no __future__ import): typing.NamedTuple compiles every string annotation
# when it creates a class, ~0.1 ms per class on every cold start (tests/authorizer/test_authz_imports.py).
import re
from collections.abc import Iterable
from typing import Any, Final, NamedTuple, Protocol, TypeVar

from gate.routes import RouteTable

MEMO_LIMIT: Final = 1024
_VERSION: Final = "2012-10-17"
_ACTION: Final = "execute-api:Invoke"
_K = TypeVar("_K")
_V = TypeVar("_V")


class Matcher(Protocol):
    """IAM Resource matching over a set of resources: ``fullmatch(arn)`` is not None when one matches."""

    def fullmatch(self, text: str, /) -> object: ...


def iam_pattern(resources: Iterable[str]) -> Matcher:
    """IAM Resource matching over ``resources`` (``*`` any run, ``?`` one character).

    Resources without ``?`` whose only ``*`` ends them (a route's exact ARNs and ``.../*`` subtrees, the usual
    case) match by equality or prefix: no regex to compile on a cold start's first decision, and cheaper on
    every new ARN. Any other wildcard gets the regex (iam_regex); a property test holds the two equal.
    """
    resources = list(resources)
    if any("?" in resource or "*" in resource[:-1] for resource in resources):
        return iam_regex(resources)
    exact = frozenset(resource for resource in resources if not resource.endswith("*"))
    prefixes = tuple(resource[:-1] for resource in resources if resource.endswith("*"))
    return _Literal(exact, prefixes)


def iam_regex(resources: Iterable[str]) -> re.Pattern[str]:
    """A regex equivalent to IAM Resource matching over ``resources``."""
    alternatives = (
        "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in resource)
        for resource in resources
    )
    return re.compile("|".join(f"(?:{a})" for a in alternatives), re.DOTALL)


class _Literal:
    """Exact resources and ``prefix*`` resources: see iam_pattern."""

    __slots__ = ("_exact", "_prefixes")

    def __init__(self, exact: frozenset[str], prefixes: tuple[str, ...]) -> None:
        self._exact = exact
        self._prefixes = prefixes

    def fullmatch(self, text: str, /) -> bool | None:
        return True if text in self._exact or text.startswith(self._prefixes) else None


class Policy(NamedTuple):
    document: dict[str, Any]
    allow: Matcher | None  # the Allow Resources
    deny: Matcher | None  # the Deny Resources

    def allows(self, method_arn: str) -> bool:
        """IAM's verdict on ``method_arn``, from the very Resource strings returned (so the decision log
        cannot disagree with what API Gateway enforces)."""
        return (
            self.allow is not None
            and self.allow.fullmatch(method_arn) is not None
            and (self.deny is None or self.deny.fullmatch(method_arn) is None)
        )


def _statement(effect: str, resources: list[str]) -> dict[str, Any]:
    return {"Action": _ACTION, "Effect": effect, "Resource": resources}


def _document(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": _VERSION, "Statement": list(statements)}


def deny_all(prefix: str) -> Policy:
    resources = [f"{prefix}/*"]
    return Policy(_document(_statement("Deny", resources)), None, iam_pattern(resources))


def allow_all(prefix: str) -> Policy:
    resources = [f"{prefix}/*"]
    return Policy(_document(_statement("Allow", resources)), iam_pattern(resources), None)


class PolicyBook:
    """Maps (token scopes, route, verb, API prefix) to the policy for that route."""

    def __init__(self, table: RouteTable) -> None:
        self._table = table
        self._granted_by_scopes: dict[str, frozenset[int]] = {}
        self._by_route: dict[tuple[int, str, bool, str], Policy] = {}

    def granted(self, scope_string: str) -> frozenset[int]:
        """Indexes of the rules whose scopes the space-separated ``scope_string`` holds in full."""
        granted = self._granted_by_scopes.get(scope_string)
        if granted is None:
            held = frozenset(scope_string.split(" "))
            granted = frozenset(i for i, rule in enumerate(self._table.rules) if rule.scopes <= held)
            _bounded(self._granted_by_scopes)[scope_string] = granted
        return granted

    def policy_for(self, scope_string: str, rule: int, verb: str, prefix: str) -> Policy:
        """The policy for rule ``rule`` reached with ``verb``, for a token holding ``scope_string``."""
        key = (rule, verb, rule in self.granted(scope_string), prefix)
        policy = self._by_route.get(key)
        if policy is None:
            policy = self._build(*key)
            _bounded(self._by_route)[key] = policy
        return policy

    def _build(self, rule: int, verb: str, granted: bool, prefix: str) -> Policy:
        own = [f"{prefix}/{pattern}" for pattern in self._table.rules[rule].patterns(verb)]
        if not granted:
            return Policy(_document(_statement("Deny", own)), None, iam_pattern(own))
        nested = [f"{prefix}/{pattern}" for pattern in self._table.nested_patterns(rule, verb)]
        if not nested:
            return Policy(_document(_statement("Allow", own)), iam_pattern(own), None)
        document = _document(_statement("Allow", own), _statement("Deny", nested))
        return Policy(document, iam_pattern(own), iam_pattern(nested))


def _bounded(memo: dict[_K, _V]) -> dict[_K, _V]:
    # Scope strings come from (validly signed) tokens; cap the memo instead of trusting their variety.
    if len(memo) >= MEMO_LIMIT:
        memo.clear()
    return memo
