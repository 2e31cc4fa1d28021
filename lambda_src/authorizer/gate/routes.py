"""SCOPE_RULES as routes: which rule a request reaches, and the request ARNs each route answers for.

Written by hand because it is security-critical and sits on the hot path: the policy for a token is
built from these patterns, and a pattern one character too wide opens another route. The semantics are
docs/routes.md; in short:

* a rule key ``"METHOD /path"`` is a route; a final ``/*`` is greedy (the API resource ``/x/{proxy+}``);
* a request reaches the most specific resource (literal, then the longest greedy prefix), then the
  exact verb before ``*`` (ANY); a resource without either is no route (no fallback);
* the method slot of a pattern is always the concrete verb (IAM's ``*`` would also match ``/`` and reach
  into other paths), greedy patterns end in ``?*`` (``/x/`` itself is not under ``/x/*``) and a literal
  route also answers for its trailing-slash spelling, which API Gateway sends to the same resource.

REQUEST events name the resource API Gateway selected (``resource``), so :meth:`RouteTable.for_resource`
only looks it up; TOKEN events carry no route and go through :meth:`RouteTable.select`, the same
selection on the method ARN's path.
"""

# Annotations are not postponed (no __future__ import): typing.NamedTuple compiles every string annotation
# when it creates a class, ~0.1 ms per class on every cold start (tests/authorizer/test_authz_imports.py).
from typing import Final, NamedTuple

ROUTE_METHODS: Final = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "*")
ANY: Final = "*"
# Letters, digits and . _ - : per segment (what CDK accepts for a resource path part, without "$"), never
# "." or ".." alone (clients normalize those away); a greedy "*" only as the whole last segment.
# A literal path segment: SEGMENT as a pattern, checked as a character set (no regex compiled at import,
# a cold start cost); tests/authorizer/test_authz_fast_paths.py holds the two equal.
SEGMENT: Final = r"[A-Za-z0-9._:-]+"
_SEGMENT_CHARACTERS: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-")
_DOT_SEGMENTS: Final = frozenset({".", ".."})


class RuleError(ValueError):
    """A rule key or its scopes are invalid; str() says which and why."""


def is_segment(text: str) -> bool:
    """Whether ``text`` fully matches SEGMENT."""
    return bool(text) and _SEGMENT_CHARACTERS.issuperset(text)


class Rule(NamedTuple):
    """One ``"METHOD /path": "scope1 scope2"`` entry."""

    method: str  # a verb or "*"
    path: str  # "/", "/a/b" or greedy "/a/*"
    scopes: frozenset[str]

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def greedy(self) -> bool:
        return self.path.endswith("*")

    @property
    def prefix(self) -> str:
        """For a greedy rule, what a request path must start with: ``/a/`` for ``/a/*``, ``/`` for ``/*``."""
        return self.path[:-1]

    @property
    def resource(self) -> str:
        """The API Gateway resource path the stack creates for this rule."""
        return self.path[:-1] + "{proxy+}" if self.greedy else self.path

    def covers(self, path: str) -> bool:
        """Whether this rule's resource matches ``path`` (already without its one trailing slash)."""
        if self.greedy:
            return path.startswith(self.prefix) and len(path) > len(self.prefix)
        return path == self.path

    def patterns(self, verb: str) -> tuple[str, ...]:
        """IAM Resource patterns, after ``<apiId>/<stage>/``, of the requests this resource answers."""
        if self.greedy:
            return (f"{verb}{self.prefix}?*",)
        if self.path == "/":
            return (f"{verb}/",)
        return (f"{verb}{self.path}", f"{verb}{self.path}/")


def parse_route(key: str) -> tuple[str, str]:
    """``(method, path)`` of a rule key; raises RuleError with a one-line reason."""
    method, separator, path = key.partition(" ")
    if not separator or method not in ROUTE_METHODS:
        methods = ", ".join(ROUTE_METHODS)
        raise RuleError(f'route {key!r} must look like "GET /path" with a method from {methods}')
    if path == "/":
        return method, path
    segments = path.split("/")
    if segments[0] != "" or len(segments) < 2:
        raise RuleError(f"route {key!r}: the path must start with /")
    body = segments[1:]
    for index, segment in enumerate(body):
        greedy = index == len(body) - 1 and segment == "*"
        if not greedy and (not is_segment(segment) or segment in _DOT_SEGMENTS):
            raise RuleError(
                f"route {key!r}: path segments may use letters, digits and . _ - : "
                "(not . or .. alone); a * is allowed only as the whole last segment"
            )
    return method, path


def request_path(path: str) -> str:
    """The path API Gateway matches resources against: one trailing slash removed, the root kept."""
    return path[:-1] if len(path) > 1 and path.endswith("/") else path


class RouteTable:
    """The rules, indexed for both lookups; built once per container."""

    def __init__(self, rules: tuple[Rule, ...]) -> None:
        self.rules = rules
        self._by_resource: dict[tuple[str, str], int] = {
            (rule.resource, rule.method): index for index, rule in enumerate(rules)
        }
        self._nested: dict[tuple[int, str], tuple[str, ...]] = {}

    def for_resource(self, resource: str, verb: str) -> int | None:
        """The rule API Gateway runs for ``verb`` on ``resource`` (exact verb, then ANY), by index."""
        found = self._by_resource.get((resource, verb))
        return found if found is not None else self._by_resource.get((resource, ANY))

    def select(self, verb: str, path: str) -> int | None:
        """The rule a request reaches, by index; None when API Gateway would find no route."""
        path = request_path(path)
        best: Rule | None = None
        for rule in self.rules:
            if rule.covers(path) and (best is None or _more_specific(rule, best)):
                best = rule
        if best is None:
            return None
        return self.for_resource(best.resource, verb)

    def nested_patterns(self, index: int, verb: str) -> tuple[str, ...]:
        """Patterns of the resources more specific than rule ``index``'s that lie inside it.

        Requests there reach other routes (or none, if that resource lacks the verb), so a granted
        route's Allow must not cover them.
        """
        memo_key = (index, verb)
        nested = self._nested.get(memo_key)
        if nested is None:
            outer = self.rules[index]
            inner = {rule.resource: rule for rule in self.rules if _inside(rule, outer)}
            nested = tuple(p for rule in inner.values() for p in rule.patterns(verb))
            self._nested[memo_key] = nested
        return nested


def _inside(rule: Rule, outer: Rule) -> bool:
    """Whether ``rule``'s resource is more specific than ``outer``'s and covers some of its requests."""
    if not outer.greedy or rule.resource == outer.resource:
        return False
    if rule.greedy:
        return rule.prefix.startswith(outer.prefix) and len(rule.prefix) > len(outer.prefix)
    return outer.covers(rule.path)


def _more_specific(rule: Rule, other: Rule) -> bool:
    """Resource order only (the verb is decided per resource): a literal beats any greedy resource, and a
    longer greedy prefix beats a shorter one. Two rules covering the same path are never both literal."""
    if not rule.greedy:
        return other.greedy
    return other.greedy and len(rule.prefix) > len(other.prefix)
