"""Cache-safe policy documents from SCOPE_RULES.

API Gateway caches the returned policy per token and applies it to every route of the API while
cached, so the policy must describe everything the token may call, never just the current route
(the classic "403 on the second endpoint" bug). The document therefore depends only on the token's
scopes and the API/stage prefix, and the current request only decides what the log says: whether
the method ARN falls under the policy is evaluated with IAM wildcard semantics over the very
Resource strings returned, so the log cannot disagree with what API Gateway will enforce.

* no SCOPE_RULES: ``Allow <prefix>/*``;
* rules, some granted: ``Allow`` on exactly the granted ``<prefix>/<METHOD|*>/<path>`` resources;
* rules, none granted: ``Deny <prefix>/*``.

Documents are memoized by (granted rules, prefix) and granted rules by scope string, so a warm
request builds nothing. Returned documents are shared: callers must treat them as read-only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Final, NamedTuple, TypeVar

from gate.settings import ScopeRule

MEMO_LIMIT: Final = 1024
_VERSION: Final = "2012-10-17"
_ACTION: Final = "execute-api:Invoke"
_K = TypeVar("_K")
_V = TypeVar("_V")


def iam_pattern(resources: Iterable[str]) -> re.Pattern[str]:
    """A regex equivalent to IAM Resource matching over ``resources`` (``*`` any run, ``?`` one char)."""
    alternatives = (
        "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in resource)
        for resource in resources
    )
    return re.compile("|".join(f"(?:{a})" for a in alternatives), re.DOTALL)


class Policy(NamedTuple):
    document: dict[str, Any]
    allowed: re.Pattern[str] | None  # the Resources as one regex; None when nothing is allowed

    def allows(self, method_arn: str) -> bool:
        return self.allowed is not None and self.allowed.fullmatch(method_arn) is not None


def _document(effect: str, resources: list[str]) -> dict[str, Any]:
    return {
        "Version": _VERSION,
        "Statement": [{"Action": _ACTION, "Effect": effect, "Resource": resources}],
    }


def deny_all(prefix: str) -> Policy:
    return Policy(_document("Deny", [f"{prefix}/*"]), None)


class PolicyBook:
    """Maps (token scopes, API prefix) to the one policy that is right for every route."""

    def __init__(self, rules: tuple[ScopeRule, ...] | None) -> None:
        self._rules = rules
        self._granted_by_scopes: dict[str, tuple[int, ...]] = {}
        self._by_grant: dict[tuple[tuple[int, ...], str], Policy] = {}

    def policy_for(self, scope_string: str, prefix: str) -> Policy:
        """The policy for a token holding the space-separated scopes ``scope_string``."""
        granted = self._granted_by_scopes.get(scope_string)
        if granted is None:
            granted = self._grant(frozenset(scope_string.split(" ")) - {""})
            _bounded(self._granted_by_scopes)[scope_string] = granted
        key = (granted, prefix)
        policy = self._by_grant.get(key)
        if policy is None:
            policy = self._build(granted, prefix)
            _bounded(self._by_grant)[key] = policy
        return policy

    def _grant(self, held: frozenset[str]) -> tuple[int, ...]:
        if self._rules is None:
            return ()
        return tuple(i for i, rule in enumerate(self._rules) if rule.scopes <= held)

    def _build(self, granted: tuple[int, ...], prefix: str) -> Policy:
        if self._rules is None:
            resources = [f"{prefix}/*"]
        elif not granted:
            return deny_all(prefix)
        else:
            suffixes = dict.fromkeys(self._rules[i].resource_suffix for i in granted)
            resources = [f"{prefix}/{suffix}" for suffix in suffixes]
        return Policy(_document("Allow", resources), iam_pattern(resources))


def _bounded(memo: dict[_K, _V]) -> dict[_K, _V]:
    # Scope strings come from (validly signed) tokens; cap the memo instead of trusting their variety.
    if len(memo) >= MEMO_LIMIT:
        memo.clear()
    return memo
