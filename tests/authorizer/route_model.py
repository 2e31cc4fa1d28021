"""A reference model of docs/routes.md, written from that page alone.

It deliberately shares no code with the Lambda (``gate/routes.py``, ``gate/policy.py``): the property
tests in ``test_authz_routes.py`` hold the authorizer's policies to this model, and two independent
readings of the page only agree by accident if both are right.

* :func:`parse_rules` - ``{"METHOD /path": "scopes"}`` to :class:`Rule` (``ValueError`` if malformed);
* :func:`route_for` - the rule a request reaches ("Which route a request reaches"), or ``None``;
* :func:`allowed` - the request reaches a route and the token holds all of that route's scopes;
* :func:`iam_decision` - how IAM evaluates an identity policy for one ``execute-api:Invoke`` ARN;
* :func:`method_arn` and :func:`requests` - request ARNs and a finite universe of requests.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "*"})
ANY = "*"
_SEGMENT = re.compile(r"[A-Za-z0-9._:-]+")

Decision = Literal["allow", "explicit_deny", "implicit_deny"]


@dataclass(frozen=True)
class Rule:
    """One scope rule, i.e. one route: ``method`` is a verb or ``*`` (ANY), ``path`` as written."""

    method: str
    path: str  # "/", "/a/b", or greedy "/a/*" and "/*"
    scopes: frozenset[str]

    @property
    def greedy(self) -> bool:
        return self.path.endswith("/*")

    @property
    def resource(self) -> str:
        """The resource this rule creates: ``/x/*`` -> ``/x/{proxy+}``, ``/*`` -> ``/{proxy+}``."""
        return api_resource(self.path)

    @property
    def stem(self) -> str:
        """A greedy rule's required path start: ``/x/*`` -> ``/x/``, ``/*`` -> ``/``."""
        assert self.greedy
        return self.path[:-1]


def api_resource(path: str) -> str:
    return path[:-1] + "{proxy+}" if path.endswith("/*") else path


def valid_path(path: str) -> bool:
    """``/`` or ``/seg/seg...`` with an optional final greedy ``/*``; nothing else."""
    if path == "/":
        return True
    if not path.startswith("/"):
        return False
    segments = path[1:].split("/")
    if segments[-1] == "*":
        segments = segments[:-1]
    return all(_SEGMENT.fullmatch(s) is not None and s not in (".", "..") for s in segments)


def parse_rule(key: str, scopes: str) -> Rule:
    method, separator, path = key.partition(" ")
    if not separator or method not in METHODS or not valid_path(path):
        raise ValueError(f"not a rule key: {key!r}")
    return Rule(method=method, path=path, scopes=frozenset(s for s in scopes.split(" ") if s))


def parse_rules(rules: Mapping[str, str]) -> tuple[Rule, ...]:
    return tuple(parse_rule(key, scopes) for key, scopes in rules.items())


def _rules(rules: Mapping[str, str] | Iterable[Rule]) -> tuple[Rule, ...]:
    if isinstance(rules, Mapping):
        return parse_rules(rules)
    return tuple(rules)


def normalise(path: str) -> str:
    """Step 1: one trailing ``/`` goes; the root ``/`` stays ``/``."""
    return path[:-1] if path != "/" and path.endswith("/") else path


def resource_for(rules: Mapping[str, str] | Iterable[Rule], path: str) -> str | None:
    """Step 2: the most specific resource matching ``path`` - literal, else the longest greedy stem."""
    path = normalise(path)
    parsed = _rules(rules)
    if any(not rule.greedy and rule.path == path for rule in parsed):
        return path
    stems = [
        rule.stem
        for rule in parsed
        if rule.greedy and path.startswith(rule.stem) and len(path) > len(rule.stem)
    ]
    if not stems:
        return None
    return api_resource(max(stems, key=len) + "*")


def route_for(rules: Mapping[str, str] | Iterable[Rule], verb: str, path: str) -> Rule | None:
    """Steps 3 and 4: on the selected resource, the verb's rule, else its ANY rule, else no route."""
    parsed = _rules(rules)
    resource = resource_for(parsed, path)
    if resource is None:
        return None
    on_resource = {rule.method: rule for rule in parsed if rule.resource == resource}
    return on_resource.get(verb) or on_resource.get(ANY)


def allowed(rules: Mapping[str, str] | Iterable[Rule], scopes: Collection[str], verb: str, path: str) -> bool:
    """A request is allowed iff it reaches a route and the token holds every scope of that route."""
    route = route_for(rules, verb, path)
    return route is not None and route.scopes <= frozenset(scopes)


def method_arn(prefix: str, verb: str, path: str) -> str:
    """The request's method ARN, path as requested: ``<prefix>/GET/`` for the root."""
    return f"{prefix}/{verb}{path}"


def requests(
    segments: Iterable[str], verbs: Iterable[str], depth: int = 3, *, empty_segments: bool = False
) -> tuple[tuple[str, str], ...]:
    """Every (verb, path) with up to ``depth`` segments, each path with and without a trailing ``/``.

    ``empty_segments=False``: no path contains ``//``; ``True``: only paths that do (the page's edge).
    """
    alphabet = tuple(dict.fromkeys(segments))
    if empty_segments:
        alphabet = (*alphabet, "")
    paths: dict[str, None] = {}
    for count in range(depth + 1):
        for chosen in itertools.product(alphabet, repeat=count):
            path = "/" + "/".join(chosen)
            for spelling in (path, path + "/") if path != "/" else (path,):
                if ("//" in spelling) == empty_segments:
                    paths[spelling] = None
    return tuple((verb, path) for verb in dict.fromkeys(verbs) for path in paths)


# --- IAM -------------------------------------------------------------------------------------------

_STATEMENT_KEYS = frozenset({"Sid", "Effect", "Action", "Resource"})


@lru_cache(maxsize=8192)
def _wildcard(pattern: str, case_sensitive: bool) -> re.Pattern[str]:
    parts = [".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern]
    flags = re.DOTALL if case_sensitive else re.DOTALL | re.IGNORECASE
    return re.compile("".join(parts), flags)


def wildcard_match(pattern: str, text: str, *, case_sensitive: bool = True) -> bool:
    """IAM string matching: ``*`` any run of characters (``/`` included), ``?`` exactly one."""
    return _wildcard(pattern, case_sensitive).fullmatch(text) is not None


def _strings(value: object) -> list[str]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(item, str) for item in items):
        raise ValueError(f"expected a string or a non-empty list of strings: {value!r}")
    return [str(item) for item in items]


def iam_decision(document: Mapping[str, Any], arn: str, action: str = "execute-api:Invoke") -> Decision:
    """Evaluate an identity policy for ``action`` on ``arn``: an explicit Deny wins over any Allow.

    Actions match case-insensitively, resources case-sensitively. Anything this model does not
    evaluate (NotAction, NotResource, Condition, ...) raises instead of being ignored.
    """
    if set(document) != {"Version", "Statement"} or document["Version"] != "2012-10-17":
        raise ValueError(f"not a policy document this model evaluates: {document!r}")
    statements = document["Statement"]
    if isinstance(statements, Mapping):
        statements = [statements]
    if not isinstance(statements, list):
        raise ValueError(f"Statement must be an object or a list: {statements!r}")
    allowing = False
    for statement in statements:
        if not isinstance(statement, Mapping) or not set(statement) <= _STATEMENT_KEYS:
            raise ValueError(f"statement this model does not evaluate: {statement!r}")
        effect = statement["Effect"]
        if effect not in ("Allow", "Deny"):
            raise ValueError(f"Effect must be Allow or Deny: {effect!r}")
        actions = _strings(statement["Action"])
        resources = _strings(statement["Resource"])
        if not any(wildcard_match(p, action, case_sensitive=False) for p in actions):
            continue
        if not any(wildcard_match(p, arn) for p in resources):
            continue
        if effect == "Deny":
            return "explicit_deny"
        allowing = True
    return "allow" if allowing else "implicit_deny"
