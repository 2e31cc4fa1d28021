"""The authorizer's issue-13 key sources in a local run (`make local`, tests): what stands in for AWS.

* `keySource: ssm` (the template gives the authorizer JWKS_SSM_PARAMETER): a loopback stand-in for the
  Parameters and Secrets Lambda Extension (local/parameters_extension.py) is started, and the authorizer
  containers get its port (PARAMETERS_SECRETS_EXTENSION_HTTP_PORT) and a random AWS_SESSION_TOKEN, which the
  stand-in checks as the extension checks the real one. It serves the primary issuer's parameter with the
  local issuer's public keys as the key refresher would write them (fetched from the issuer's JWKS on each
  read, so `--rotate-key` reaches it at once); when the issuer is replaced, a JSON map in JWKS_SSM_PARAMETER
  is rewritten to name the local issuer. Other issuers' parameters do not exist locally (ParameterNotFound).
* `jwksSnapshot` (JWKS_SNAPSHOT_FILE): the snapshot holds the real issuer's keys, which never verify a local
  token, and the file is only in the bundled asset, not in the source folder a local container runs from, so
  the variable is cleared (the local issuer is always reachable).
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Mapping

from local.parameters_extension import ParametersExtensionStandIn
from local.template import ApiModel

FETCH_TIMEOUT_SECONDS = 2.0


def _local_value(issuer: str, jwks_uri: str) -> str | None:
    """The key refresher's parameter value (gate/jwks_document.py's format) for the local issuer."""
    try:
        with urllib.request.urlopen(jwks_uri, timeout=FETCH_TIMEOUT_SECONDS) as response:  # noqa: S310 - loopback issuer
            keys = json.loads(response.read())["keys"]
    except (OSError, ValueError, KeyError):
        return None
    return json.dumps({"issuer": issuer, "fetched_at": int(time.time()), "keys": keys}, separators=(",", ":"))


def local_key_sources(
    model: ApiModel,
    overrides: dict[str, dict[str, str]],
    *,
    issuer: str | None,
    jwks_uri: str | None,
) -> ParametersExtensionStandIn | None:
    """Add the authorizers' key-source variables to `overrides`; returns the started stand-in, if needed."""
    served: dict[str, str] = {}  # parameter name -> the issuer whose local keys it holds
    needs_extension: list[str] = []
    for authorizer in model.authorizers.values():
        function_id = authorizer.function_id
        template_env: Mapping[str, str] = model.functions[function_id].environment
        extra = overrides.setdefault(function_id, {})
        if template_env.get("JWKS_SNAPSHOT_FILE"):
            extra["JWKS_SNAPSHOT_FILE"] = ""
        names = template_env.get("JWKS_SSM_PARAMETER", "")
        if not names:
            continue
        needs_extension.append(function_id)
        if issuer is None:
            continue
        original = template_env.get("ISSUER", "")
        if names.startswith("{"):
            mapping: dict[str, str] = json.loads(names)
            name = mapping.pop(original, None)
            if name is not None:
                mapping[issuer] = name
            extra["JWKS_SSM_PARAMETER"] = json.dumps(mapping, separators=(",", ":"))
        else:
            name = names
        if name is not None:
            served[name] = issuer
    if not needs_extension:
        return None
    local_jwks = jwks_uri

    def values(name: str) -> str | None:
        owner = served.get(name)
        if owner is None or local_jwks is None:
            return None
        return _local_value(owner, local_jwks)

    stand_in = ParametersExtensionStandIn(values).start()
    for function_id in needs_extension:
        overrides[function_id].update(stand_in.environment())
    return stand_in
