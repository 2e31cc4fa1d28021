"""IAM policy evaluation for the policies a Lambda authorizer returns, as API Gateway applies them.

Rules that matter for this project: an explicit Deny wins over any Allow; no matching Allow means an implicit
deny; Resource patterns use `*` (any run of characters, `/` and newlines included) and `?` (exactly one
character) and compare case-sensitively; Action names compare case-insensitively, so `execute-api:Invoke`,
`execute-api:*` and `*` all cover an invocation. Anything outside the policy grammar is malformed: API
Gateway then fails the request as an authorizer error rather than guessing, and so does this.
"""

from __future__ import annotations

import re
from enum import Enum
from functools import lru_cache
from typing import Any

INVOKE_ACTION = "execute-api:Invoke"


class Decision(Enum):
    ALLOW = "allow"
    EXPLICIT_DENY = "explicit_deny"
    IMPLICIT_DENY = "implicit_deny"


class MalformedPolicyError(ValueError):
    """The authorizer returned something that is not a policy document API Gateway accepts."""


@lru_cache(maxsize=1024)
def _pattern(glob: str, case_sensitive: bool) -> re.Pattern[str]:
    """`*` any run of characters (`/` and newlines included), `?` exactly one character."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob)
    return re.compile(regex, re.DOTALL if case_sensitive else re.DOTALL | re.IGNORECASE)


def _matches_any(patterns: list[str], value: str, case_sensitive: bool) -> bool:
    return any(_pattern(p, case_sensitive).fullmatch(value) for p in patterns)


def _string_list(statement: dict[str, Any], key: str) -> list[str] | None:
    value = statement.get(key)
    if value is None:
        return None
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(i, str) for i in items):
        raise MalformedPolicyError(f"{key} must be a string or a non-empty list of strings")
    return items


def _statement_applies(statement: Any, method_arn: str) -> tuple[str, bool]:
    if not isinstance(statement, dict):
        raise MalformedPolicyError("each Statement must be an object")
    effect = statement.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise MalformedPolicyError("Effect must be Allow or Deny")
    if "Condition" in statement:
        raise MalformedPolicyError("Condition is not supported in authorizer policies here")
    actions, not_actions = _string_list(statement, "Action"), _string_list(statement, "NotAction")
    resources, not_resources = _string_list(statement, "Resource"), _string_list(statement, "NotResource")
    if (actions is None) == (not_actions is None) or (resources is None) == (not_resources is None):
        raise MalformedPolicyError(
            "a Statement needs exactly one of Action/NotAction and Resource/NotResource"
        )
    action_ok = (
        _matches_any(actions, INVOKE_ACTION, case_sensitive=False)
        if actions is not None
        else not _matches_any(not_actions or [], INVOKE_ACTION, case_sensitive=False)
    )
    resource_ok = (
        _matches_any(resources, method_arn, case_sensitive=True)
        if resources is not None
        else not _matches_any(not_resources or [], method_arn, case_sensitive=True)
    )
    return effect, action_ok and resource_ok


def evaluate(policy_document: Any, method_arn: str) -> Decision:
    """Decide whether `policy_document` lets the caller invoke `method_arn`."""
    if not isinstance(policy_document, dict):
        raise MalformedPolicyError("policyDocument must be an object")
    if policy_document.get("Version") not in ("2012-10-17", "2008-10-17"):
        raise MalformedPolicyError("policyDocument.Version must be 2012-10-17")
    statements = policy_document.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list):
        raise MalformedPolicyError("policyDocument.Statement must be a list or an object")
    allowed = False
    denied = False
    for statement in statements:
        effect, applies = _statement_applies(statement, method_arn)
        if applies:
            denied = denied or effect == "Deny"
            allowed = allowed or effect == "Allow"
    if denied:
        return Decision.EXPLICIT_DENY
    return Decision.ALLOW if allowed else Decision.IMPLICIT_DENY
