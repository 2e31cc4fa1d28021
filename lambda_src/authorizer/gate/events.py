"""What an API Gateway REST authorizer event carries: the access token and the method ARN.

TOKEN events hold the header value in ``authorizationToken``; REQUEST events hold all headers, in
``headers`` (last value per name) and ``multiValueHeaders``. Header names are case-insensitive, so
two differently-cased Authorization headers, or one with several values, are ambiguous and rejected
rather than guessed at. The scheme is ``Bearer`` in any ASCII case, then one or more spaces, then
the token, and nothing else. With DPoP on (and only then, see gate/dpop.py) the scheme may also be
``DPoP`` (RFC 9449 section 7.1; any ASCII case, as every HTTP auth-scheme), and the ``DPoP`` header's
values are collected as sent, however many there are, so the caller can insist on exactly one.
"""

# Annotations are not postponed (no __future__ import): typing.NamedTuple compiles every string annotation
# when it creates a class, ~0.1 ms per class on every cold start (tests/authorizer/test_authz_imports.py).
import functools
import re
from operator import countOf
from typing import Any, Final, NamedTuple

from gate.errors import MALFORMED_AUTHORIZATION, MALFORMED_EVENT, MISSING_TOKEN, Rejection

# The documented scheme rules, as pattern text, not compiled at import (~0.2 ms of a cold start each):
# bearer_token follows BEARER by hand (tests/authorizer holds it to it); _bearer_or_dpop compiles the
# other on first use.
BEARER: Final = r"bearer +([^ ]+)"
BEARER_OR_DPOP: Final = r"(bearer|dpop) +([^ ]+)"
SCHEME_FLAGS: Final = re.IGNORECASE | re.ASCII
# arn:<partition>:execute-api:<region>:<account>:<apiId>/<stage>/<METHOD>/<resource path>
_METHOD_ARN: Final = re.compile(
    r"(arn:[a-z-]+:execute-api:[^:/\s]+:[^:/\s]+:[^:/\s]+/[^/\s]+)/([^/\s]+)(/\S*)"
)


class MethodArn(NamedTuple):
    arn: str
    prefix: str  # arn:...:<apiId>/<stage>
    verb: str
    path: str  # the request path, "/" for the root


def method_arn_of(event: dict[str, Any]) -> MethodArn:
    arn = event.get("methodArn")
    if type(arn) is not str:
        raise Rejection(MALFORMED_EVENT)
    match = _METHOD_ARN.fullmatch(arn)
    if match is None:
        raise Rejection(MALFORMED_EVENT)
    return MethodArn(arn=arn, prefix=match.group(1), verb=match.group(2), path=match.group(3))


class Credentials(NamedTuple):
    scheme: str  # "bearer" or "dpop", lower-cased
    token: str


def bearer_token(event: dict[str, Any]) -> str:
    # Equivalent to re.fullmatch(BEARER, value, SCHEME_FLAGS) (a test holds them to each other) without a
    # regex pass over the token; the usual spelling of the scheme is recognised without lower-casing it.
    value = _authorization(event)
    if value.startswith("Bearer ") or (
        len(value) > 7 and value[6] == " " and value[:6].isascii() and value[:6].lower() == "bearer"
    ):
        token = value[7:].lstrip(" ")
        if token and " " not in token:
            return token
    raise Rejection(MALFORMED_AUTHORIZATION)


@functools.cache
def _bearer_or_dpop() -> re.Pattern[str]:
    """BEARER_OR_DPOP, compiled on first use: only a gate with DPoP on reads it."""
    return re.compile(BEARER_OR_DPOP, SCHEME_FLAGS)


def credentials(event: dict[str, Any]) -> Credentials:
    """The token and its scheme, ``Bearer`` or ``DPoP``; everything else as :func:`bearer_token`.

    The usual spellings of the schemes are followed by hand (a regex pass over the token costs more than the
    rest of this function); anything else, accepted or not, is left to BEARER_OR_DPOP itself. A test holds the
    two to each other.
    """
    value = _authorization(event)
    if value.startswith("DPoP "):
        scheme, token = "dpop", value[5:].lstrip(" ")
    elif value.startswith("Bearer "):
        scheme, token = "bearer", value[7:].lstrip(" ")
    else:  # another spelling of a scheme, or none: the pattern decides below
        scheme, token = "", ""
    if token and " " not in token:
        return Credentials(scheme=scheme, token=token)
    match = _bearer_or_dpop().fullmatch(value)
    if match is None:
        raise Rejection(MALFORMED_AUTHORIZATION)
    return Credentials(scheme=match.group(1).lower(), token=match.group(2))


def header_values(event: dict[str, Any], name: str) -> list[str]:
    """Every value a REQUEST event holds for the header ``name`` (lower-case ASCII); none for TOKEN events.

    ``multiValueHeaders`` lists each value, ``headers`` the last one per name (as sent, in any case); a
    ``headers`` value that the list does not hold is added, so a disagreement shows up as several values.
    Names are compared by length first, so lower() (a new string each time) only runs on names that can
    match: lower() lengthens only ``İ``, into a pair with a non-ASCII mark, so a match has ``name``'s length.
    """
    if event.get("type") != "REQUEST":
        return []
    headers, multi = _header_maps(event)
    size = len(name)
    values: list[str] = []
    for key, listed in multi.items():
        if isinstance(key, str) and len(key) == size and key.lower() == name:
            if not isinstance(listed, list):
                raise Rejection(MALFORMED_EVENT)
            values += (_string(value) for value in listed)
    for key, value in headers.items():
        if (
            isinstance(key, str)
            and len(key) == size
            and key.lower() == name
            and (text := _string(value)) not in values
        ):
            values.append(text)
    return values


def _authorization(event: dict[str, Any]) -> str:
    kind = event.get("type")
    if kind == "REQUEST":
        value: object = None
        headers = event.get("headers")
        multi = event.get("multiValueHeaders")
        if type(headers) is not dict or type(multi) is not dict:  # both dicts: the warm path
            headers, multi = _header_maps(event)
        found = False
        # One pass over each map's names, the length test first, then the usual spelling: lower() (a new
        # string each time) only runs on other names that can be "authorization". Two spellings of the name,
        # or several values, are ambiguous: refused.
        try:
            # The usual event first, counted in C: when "Authorization" is the only name of its length in
            # both maps, no other name can be a spelling of it, and the passes below would take its one value.
            if (
                countOf(map(len, headers), 13) == 1
                and countOf(map(len, multi), 13) == 1
                and type(usual := headers.get("Authorization")) is str
                and type(listed := multi.get("Authorization")) is list
                and len(listed) == 1
                and listed[0] == usual
                and usual
            ):
                return usual
            for name in headers:
                if len(name) == 13 and (
                    name == "Authorization" or (type(name) is str and name.lower() == "authorization")
                ):
                    if found:
                        raise Rejection(MALFORMED_AUTHORIZATION)
                    value, found = headers[name], True
            for name in multi:
                if len(name) == 13 and (
                    name == "Authorization" or (type(name) is str and name.lower() == "authorization")
                ):
                    listed = multi[name]
                    if type(listed) is not list or len(listed) > 1:
                        raise Rejection(MALFORMED_AUTHORIZATION)
                    if listed:
                        if found and listed[0] != value:
                            raise Rejection(MALFORMED_AUTHORIZATION)
                        value, found = listed[0], True
        except TypeError:  # a name without a length (never from API Gateway): names that are not strings
            return _authorization(
                {"type": kind, "headers": _named(headers), "multiValueHeaders": _named(multi)}
            )
    elif kind == "TOKEN":
        value = event.get("authorizationToken")
    else:
        raise Rejection(MALFORMED_EVENT)
    if value is None or value == "":
        raise Rejection(MISSING_TOKEN)
    if not isinstance(value, str):
        raise Rejection(MALFORMED_EVENT)
    return value


def _named(headers: dict[Any, object]) -> dict[Any, object]:
    """``headers`` without the names that are not strings: those are skipped, they cannot name a header."""
    return {name: value for name, value in headers.items() if type(name) is str}


def _string(value: object) -> str:
    if not isinstance(value, str):
        raise Rejection(MALFORMED_EVENT)
    return value


# Names are Any: a hand-built event may hold any key, and _authorization's scan relies on len() raising.
def _header_maps(event: dict[str, Any]) -> tuple[dict[Any, object], dict[Any, object]]:
    headers = event.get("headers")
    multi = event.get("multiValueHeaders")
    if headers is not None and not isinstance(headers, dict):
        raise Rejection(MALFORMED_EVENT)
    if multi is not None and not isinstance(multi, dict):
        raise Rejection(MALFORMED_EVENT)
    return headers or {}, multi or {}
