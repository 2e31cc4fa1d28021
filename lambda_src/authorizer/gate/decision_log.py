"""One JSON line per decision on stdout (Lambda ships stdout lines to CloudWatch Logs as events).

The line is assembled from pre-escaped fragments instead of ``json.dumps`` of a dict because it is
on the warm path; every variable part goes through the JSON string encoder, so attacker-chosen
``kid`` or path text cannot break out of its field. Fields, always in this order::

    {"event":"authorizer_decision","outcome":O,"reason":R,"sub":S,"kid":K,"method_arn":M}

``outcome`` is ``allow`` | ``deny`` | ``unauthorized`` | ``error``; ``sub``/``kid``/``method_arn``
are ``null`` when unknown and cut to 256 characters. Policy lines (allow, deny) add ``"route"``, the
rule key of the route the decision is about, when SCOPE_RULES name it. ``error`` lines add
``"detail"``. A decision judged with a deploy-time snapshot key (issue 13) ends with
``"key_source":"snapshot"``. The token, its signature and its claims other than ``sub`` are never logged.
Key-set events (refresh failures, ignored keys) use ``{"event":"jwks_...","issuer":..., ...}``
lines built with
``json.dumps``; ``issuer`` says whose key set, as ADDITIONAL_ISSUERS may configure several.

Where the lines go: by default ``sys.stdout``, looked up per line. The Lambda entry point (handler.py) writes
them to file descriptor 1 itself (:func:`fd_writer`): Lambda's runtime wraps ``sys.stdout`` in a Python object
that flushes after every write, so each line already ends in one write(2) on fd 1, and going there directly
skips two Python layers (4-6% of a warm decision, measured against that wrapper).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Mapping
from json.encoder import encode_basestring_ascii
from typing import Final

MAX_FIELD: Final = 256
Write = Callable[[str], object]


def _stdout(line: str) -> None:
    # Looked up per call so that redirected or captured stdout (tests, local runners) is honoured.
    sys.stdout.write(line)


def fd_writer(fd: int, *, write: Callable[[int, bytes], int] = os.write) -> Write:
    """Each line as one write(2) to ``fd``, the rest written again if the kernel took only part of it.

    The lines are ASCII (gate's JSON encoding escapes the rest), so encoding them cannot fail. Output that
    other code buffers in ``sys.stdout`` is not flushed first: on Lambda there is none (the runtime flushes
    every write), elsewhere it may show up after a later decision line.
    """

    def write_line(line: str) -> None:
        data = line.encode()
        written = write(fd, data)
        while written < len(data):  # a signal can cut a write to a pipe short
            data = data[written:]
            written = write(fd, data)

    return write_line


def _field(value: str | None) -> str:
    if value is None:
        return "null"
    return encode_basestring_ascii(value if len(value) <= MAX_FIELD else value[:MAX_FIELD])


class DecisionLog:
    def __init__(self, write: Write = _stdout) -> None:
        self._write = write

    def decision(
        self,
        outcome: str,
        reason: str,
        *,
        sub: str | None,
        kid: str | None,
        method_arn: object,
        route: str | None = None,
        detail: str | None = None,
        key_source: str | None = None,
    ) -> None:
        head, rest = line_parts(outcome, reason, kid=kid, method_arn=method_arn, route=route)
        if detail is not None:
            rest += f',"detail":{encode_basestring_ascii(detail)}'
        if key_source is not None:
            rest += f',"key_source":{_field(key_source)}'
        self.emit(head, sub, rest)

    def emit(self, head: str, sub: str | None, rest: str) -> None:
        """The line from :func:`line_parts` around this decision's ``sub``.

        Split so that the parts that repeat from call to call are built once (the authorizer keeps them with
        its memoized policy decision): the warm path then encodes only ``sub``.
        """
        # _field inlined for the usual sub (the warm path); the line is the same either way
        field = encode_basestring_ascii(sub) if sub and len(sub) <= MAX_FIELD else _field(sub)
        self._write(f"{head}{field}{rest}}}\n")

    def event(self, name: str, fields: Mapping[str, object]) -> None:
        self._write(json.dumps({"event": name, **fields}, default=str) + "\n")


def line_parts(
    outcome: str, reason: str, *, kid: str | None, method_arn: object, route: str | None
) -> tuple[str, str]:
    """The text of a decision line before ``sub``'s value and after it, less the closing brace."""
    arn = method_arn if isinstance(method_arn, str) else None
    head = f'{{"event":"authorizer_decision","outcome":"{outcome}","reason":"{reason}","sub":'
    rest = f',"kid":{_field(kid)},"method_arn":{_field(arn)}'
    if route is not None:
        rest += f',"route":{_field(route)}'
    return head, rest
