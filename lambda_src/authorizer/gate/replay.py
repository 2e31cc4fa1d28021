"""The DPoP replay check: has this proof been presented before, while it could still be accepted?

RFC 9449 section 11.1: a proof is accepted for a short window after its ``iat``, and within that window
its ``jti`` must not be accepted twice. gate/dpop.py asks :meth:`ReplayStore.first_use` only for proofs
that passed every other check (a valid access token bound to the proof's key, a valid signature, the
right method, URL, time and token hash), so only holders of a valid token and its key can add entries,
and a rejected request never burns a ``jti``.

What is remembered is ``<jkt>:<jti>``: the RFC 7638 thumbprint of the proof key (exactly 43 characters,
so the pair is unambiguous) and the proof's ``jti``. A replay is the same proof again, so the same key
and ``jti``; keying by the key as well means one client's ``jti`` can never block another client's (a
client with a poor ``jti`` generator only collides with itself), and nobody without the key can burn
someone else's ``jti`` in advance. The pair is stricter than RFC 9449's "in the context of the target
URI": a ``jti`` is single-use across every URL.

Two stores, chosen by DPOP_REPLAY_TABLE:

* :class:`MemoryReplayStore` (default), per container. It never forgets an entry before the proof's
  window has closed: each entry lives ``max_age + leeway`` seconds from when it was recorded, which is
  at least until ``iat + max_age`` because an accepted ``iat`` is at most ``now + leeway``. Entries are
  recorded in time order, so expired ones are dropped from the front in amortized O(1) per request.
  Memory is bounded (:data:`MAX_REMEMBERED` entries, a few tens of MB at most): if it is full of live
  entries, the request fails closed with :class:`~gate.errors.ReplayStoreUnavailable` (503) instead of
  forgetting one. The bound covers ``MAX_REMEMBERED / (max_age + leeway)`` accepted DPoP requests per
  second per container (833/s with the defaults, 60 + 60 s), well above what one Lambda container
  serves: it handles one request at a time, each with two signature verifications. A replay against
  another container is not seen; that needs the table.
* :class:`DynamoDbReplayStore` (DPOP_REPLAY_TABLE), shared by all containers. Each first use is one
  conditional ``PutItem``: partition key ``jti`` (string) holding ``<jkt>:<jti>``, and ``expires_at``
  (number, epoch seconds, ``ceil(iat + max_age + leeway)``) as the table's TTL attribute. The condition
  ``attribute_not_exists(jti) OR expires_at < :now`` makes a failed condition mean "seen within its
  window"; the ``OR`` matters because DynamoDB deletes expired items lazily (often days later). The
  leeway on top of the window absorbs clock skew between containers. boto3 is imported only here, when
  the table is configured (the Lambda Python runtime ships it; the bundle does not): importing it and
  building a client take a few hundred milliseconds that a deployment without the table never pays, and
  that one with the table pays in the init phase (the client is built at construction), not on its
  first request. Short timeouts and one retry bound a slow table to a few seconds per request, well
  inside the Lambda timeout. The authorizer needs ``dynamodb:PutItem`` on the table, nothing else;
  ``AWS_ENDPOINT_URL_DYNAMODB`` (the SDK's own variable) points it at a local DynamoDB for tests. Any
  failure other than the condition (unreachable, throttled, no permission, no table) is
  :class:`~gate.errors.ReplayStoreUnavailable`: fail closed, 503, never 401 and never an allow. The
  in-container memory is not used as well: it would only save the round trip for replays, never for
  legitimate requests.

Both are safe under concurrent calls (local multi-threaded runners): the memory check-and-record holds
a lock, DynamoDB's conditional write is atomic.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from typing import Any, Final, Protocol

from gate.errors import ConfigError, ReplayStoreUnavailable

MAX_REMEMBERED: Final = 100_000
CONNECT_TIMEOUT_SECONDS: Final = 1.0
READ_TIMEOUT_SECONDS: Final = 1.0
MAX_ATTEMPTS: Final = 2  # botocore counts the first attempt: one retry


class ReplayStore(Protocol):
    def first_use(self, key: str, *, iat: float, now: float) -> bool:
        """Record ``key`` and return True, or False if it was recorded within its window.

        Raises :class:`~gate.errors.ReplayStoreUnavailable` when it cannot tell.
        """
        ...


class MemoryReplayStore:
    """Per-container memory of recent proofs; see the module docstring."""

    def __init__(self, window_seconds: float, *, capacity: int | None = None) -> None:
        self._window = window_seconds
        self._capacity = MAX_REMEMBERED if capacity is None else capacity
        self._until: dict[str, float] = {}  # key -> end of its memory
        self._order: deque[tuple[float, str]] = deque()  # (end, key), oldest first
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._until)

    def first_use(self, key: str, *, iat: float, now: float) -> bool:
        with self._lock:
            self._forget_expired(now)
            until = self._until.get(key)
            if until is not None and now < until:
                return False
            if len(self._until) >= self._capacity:
                raise ReplayStoreUnavailable(
                    f"the replay memory holds {self._capacity} live proofs; configure DPOP_REPLAY_TABLE"
                )
            end = now + self._window
            self._until[key] = end
            self._order.append((end, key))
            return True

    def _forget_expired(self, now: float) -> None:
        # Ends are appended in time order; after a clock step back a later entry may end earlier than
        # one before it, and then stays until that one goes: remembered longer, never shorter.
        order, until = self._order, self._until
        while order and order[0][0] <= now:
            end, key = order.popleft()
            if until.get(key) == end:
                del until[key]


class DynamoDbReplayStore:
    """The replay table shared by all containers; see the module docstring."""

    def __init__(self, table: str, window_seconds: float, *, client: Any = None) -> None:
        # Imported here, only when DPOP_REPLAY_TABLE is set: boto3 and botocore are slow to import.
        import boto3  # type: ignore[import-untyped]
        from botocore.config import Config  # type: ignore[import-untyped]
        from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

        self._table = table
        self._window = window_seconds
        self._client_error: type[Exception] = ClientError
        self._botocore_error: type[Exception] = BotoCoreError
        if client is None:
            config = Config(
                connect_timeout=CONNECT_TIMEOUT_SECONDS,
                read_timeout=READ_TIMEOUT_SECONDS,
                retries={"max_attempts": MAX_ATTEMPTS, "mode": "standard"},
            )
            try:
                client = boto3.client("dynamodb", config=config)
            except BotoCoreError as err:  # e.g. no region: Lambda always sets one, a local run may not
                raise ConfigError("DPOP_REPLAY_TABLE", f"cannot create a DynamoDB client ({err})") from None
        self._client = client

    def first_use(self, key: str, *, iat: float, now: float) -> bool:
        try:
            self._client.put_item(
                TableName=self._table,
                Item={"jti": {"S": key}, "expires_at": {"N": str(math.ceil(iat + self._window))}},
                ConditionExpression="attribute_not_exists(#key) OR #expires < :now",
                ExpressionAttributeNames={"#key": "jti", "#expires": "expires_at"},
                ExpressionAttributeValues={":now": {"N": str(math.floor(now))}},
            )
        except self._client_error as err:
            code = getattr(err, "response", {}).get("Error", {}).get("Code", "")
            if code == "ConditionalCheckFailedException":
                return False
            raise ReplayStoreUnavailable(f"{self._table}: {code or err}") from None
        except self._botocore_error as err:
            raise ReplayStoreUnavailable(f"{self._table}: {err}") from None
        return True
