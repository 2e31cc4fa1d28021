"""Where a key set comes from besides the identity provider itself (issue 13), read from the environment once.

* **Deploy-time snapshot** (``JWKS_SNAPSHOT_FILE``, relative to the asset root, i.e. the folder holding
  ``handler.py``; an absolute path is taken as is): the public keys ``make snapshot-keys`` fetched, bundled
  into the asset. Loaded and validated at cold start (a few hundred bytes of JSON; the keys themselves are
  built only if the snapshot is ever used). It never competes with live keys: a KeySet falls back to it
  only while no live key set could ever be fetched in this container, and never once it is older than
  ``JWKS_SNAPSHOT_MAX_AGE_SECONDS`` (default 604800, 7 days). It must hold every trusted issuer (a snapshot
  made before an issuer was added is a configuration to fix, so the cold start fails, naming the variable).
* **SSM parameter through the AWS Parameters and Secrets Lambda Extension** (``JWKS_SSM_PARAMETER``): the
  key refresher (lambda_src/key_refresher) writes each issuer's public keys to one parameter; the authorizer
  reads it from the extension on ``localhost:PARAMETERS_SECRETS_EXTENSION_HTTP_PORT`` (default 2773) with
  ``GET /systemsmanager/parameters/get?name=...`` and the ``X-Aws-Parameters-Secrets-Token`` header set to
  ``AWS_SESSION_TOKEN``, through gate/fetch.py's bounded client (no SDK on the cold path). The variable
  holds one parameter name, or with ADDITIONAL_ISSUERS a JSON object issuer -> parameter name covering every
  trusted issuer. The extension only answers during invocations, so such key sets are not prefetched
  during the init phase. A value older than ``JWKS_CACHE_SECONDS + JWKS_MAX_STALE_SECONDS`` counts as a
  failed fetch (the refresher is failing; the keys age as fetched keys would).

Everything the key set guarantees holds for both (gate/keys.py): caching, stale-if-error, the unknown-kid
cooldown, and KeysUnavailable (503), never a rejection, when no usable key can be had.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from collections.abc import Callable, Mapping
from typing import Any, Final, NamedTuple
from urllib.parse import quote

from gate.errors import ConfigError
from gate.fetch import FetchError, fetch_json
from gate.jwks_document import DocumentError, parse_parameter_value, parse_snapshot
from gate.settings import Settings

DEFAULT_SNAPSHOT_MAX_AGE_SECONDS: Final = 604800.0
DEFAULT_EXTENSION_PORT: Final = 2773
TOKEN_HEADER: Final = "X-Aws-Parameters-Secrets-Token"  # noqa: S105 - a header name, not a secret
# The folder holding handler.py and the gate package: the root of the Lambda asset.
ASSET_ROOT: Final = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# SSM parameter names (letters, digits, _ . - and / for hierarchies) or a parameter ARN.
_PARAMETER_NAME: Final = re.compile(
    r"(arn:aws[a-z-]*:ssm:[a-z0-9-]+:[0-9]{12}:parameter)?[A-Za-z0-9_./-]{1,1011}"
)


class Snapshot(NamedTuple):
    """One issuer's keys from the deploy-time snapshot: public JWKs, when they were fetched, how old they
    may get before they are never used."""

    fetched_at: float
    max_age: float
    keys: tuple[dict[str, Any], ...]


class KeySources(NamedTuple):
    """Per trusted issuer: its snapshot keys (if any) and its SSM parameter (if the keys come from SSM)."""

    snapshots: Mapping[str, Snapshot] = {}
    parameters: Mapping[str, str] = {}
    extension_port: int = DEFAULT_EXTENSION_PORT
    session_token: str = ""

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str],
        settings: Settings,
        *,
        root: str = ASSET_ROOT,
        now: Callable[[], float] = time.time,
    ) -> KeySources:
        issuers = [trusted.issuer for trusted in settings.trusted_issuers]
        parameters = _parameters(env, issuers)
        token = env.get("AWS_SESSION_TOKEN", "")
        if parameters and not token:
            raise ConfigError(
                "AWS_SESSION_TOKEN", f"is required with JWKS_SSM_PARAMETER (the extension's {TOKEN_HEADER})"
            )
        return cls(
            snapshots=_snapshots(env, issuers, root, now()),
            parameters=parameters,
            extension_port=_port(env),
            session_token=token,
        )

    def document_source(
        self, issuer: str, settings: Settings, *, fetch: Callable[..., Any], clock: Callable[[], float]
    ) -> Callable[[], object] | None:
        """What the issuer's KeySet fetches instead of the identity provider, if anything."""
        name = self.parameters.get(issuer)
        if name is None:
            return None
        return SsmParameterSource(
            issuer,
            name,
            port=self.extension_port,
            token=self.session_token,
            timeout=settings.jwks_timeout_seconds,
            max_age=settings.jwks_cache_seconds + settings.jwks_max_stale_seconds,
            fetch=fetch,
            clock=clock,
        )


class SsmParameterSource:
    """Reads one issuer's parameter through the extension and returns it as a JWKS document."""

    def __init__(
        self,
        issuer: str,
        name: str,
        *,
        port: int,
        token: str,
        timeout: float,
        max_age: float,
        fetch: Callable[..., Any] = fetch_json,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._issuer = issuer
        self._name = name
        self.url = (
            f"http://localhost:{port}/systemsmanager/parameters/get?name={quote(name, safe='')}"
            "&withDecryption=false"
        )
        self._headers = {TOKEN_HEADER: token}
        self._timeout = timeout
        self._max_age = max_age
        self._fetch = fetch
        self._clock = clock

    def __call__(self) -> object:
        response = self._fetch(self.url, timeout=self._timeout, headers=self._headers)
        where = f"SSM parameter {self._name}"
        parameter = response.get("Parameter") if isinstance(response, dict) else None
        if not isinstance(parameter, dict) or "Value" not in parameter:
            raise FetchError(f"{self.url}: not a Parameters and Secrets extension response")
        now = self._clock()
        fetched_at, keys = parse_parameter_value(parameter["Value"], where, issuer=self._issuer, now=now)
        age = now - fetched_at
        if age >= self._max_age:
            raise FetchError(
                f"{where}: keys fetched {age:.0f} s ago, past JWKS_CACHE_SECONDS + JWKS_MAX_STALE_SECONDS "
                "(the key refresher is failing)"
            )
        return {"keys": list(keys)}


def _optional(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def _parameters(env: Mapping[str, str], issuers: list[str]) -> dict[str, str]:
    name = "JWKS_SSM_PARAMETER"
    raw = _optional(env, name)
    if raw is None:
        return {}
    if not raw.startswith("{"):
        if len(issuers) > 1:
            raise ConfigError(
                name, "with ADDITIONAL_ISSUERS it must be a JSON object issuer -> parameter name"
            )
        mapping: object = {issuers[0]: raw}
    else:
        try:
            mapping = json.loads(raw)
        except ValueError as err:
            raise ConfigError(name, f"not valid JSON ({err})") from None
    if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
        raise ConfigError(name, 'expected a parameter name or a JSON object {"<issuer>": "<name>"}')
    if set(mapping) != set(issuers):
        missing = sorted(set(issuers) - set(mapping))
        detail = f"names no parameter for {missing[0]!r}" if missing else "names an untrusted issuer"
        raise ConfigError(name, f"{detail} (it must map exactly ISSUER and ADDITIONAL_ISSUERS)")
    for parameter in mapping.values():
        if not _PARAMETER_NAME.fullmatch(parameter):
            raise ConfigError(name, f"{parameter!r} is not an SSM parameter name or ARN")
    return dict(mapping)


def _port(env: Mapping[str, str]) -> int:
    name = "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"
    raw = _optional(env, name)
    if raw is None:
        return DEFAULT_EXTENSION_PORT
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise ConfigError(name, f"must be a port number from 1 to 65535, got {raw!r}")
    return int(raw)


def _max_age(env: Mapping[str, str]) -> float:
    name = "JWKS_SNAPSHOT_MAX_AGE_SECONDS"
    raw = _optional(env, name)
    if raw is None:
        return DEFAULT_SNAPSHOT_MAX_AGE_SECONDS
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(name, f"not a number: {raw!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(name, f"must be a finite number of seconds > 0, got {raw!r}")
    return value


def _snapshots(env: Mapping[str, str], issuers: list[str], root: str, now: float) -> dict[str, Snapshot]:
    name = "JWKS_SNAPSHOT_FILE"
    max_age = _max_age(env)
    relative = _optional(env, name)
    if relative is None:
        return {}
    path = os.path.join(root, relative)  # an absolute path replaces the root
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read(1024 * 1024)
    except OSError as err:
        raise ConfigError(name, f"cannot read {path}: {err.strerror or err}") from None
    try:
        fetched_at, by_issuer = parse_snapshot(text, path, now=now)
    except DocumentError as err:
        raise ConfigError(name, str(err)) from None
    for issuer in issuers:
        if issuer not in by_issuer:
            raise ConfigError(
                name, f"{path} holds no keys of the trusted issuer {issuer!r} (run make snapshot-keys again)"
            )
    return {issuer: Snapshot(fetched_at, max_age, by_issuer[issuer]) for issuer in issuers}
