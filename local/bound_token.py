"""`make token DPOP=1` and `make token MTLS=1` (`python -m local.token --dpop/--mtls`): bound tokens for
manual curl runs against `make local` (issue 12).

* `--dpop`: the token's `cnf.jkt` is the thumbprint of the client key in `.local/dpop-client-key.pem` (made on
  first use); stdout gets two header lines, `Authorization: DPoP <token>` and `DPoP: <proof>`, the proof for
  `--method` (GET) on `--url` (the running API's `/hello`). A proof is good for one request, within
  DPOP_MAX_AGE_SECONDS (60 s) of its minting; run the command again for the next request.
* `--mtls`: the token's `cnf["x5t#S256"]` is the thumbprint of the development client certificate
  (`.local/tls/client-NAME.pem`, `--client-cert NAME`, default `local-client`); stdout gets the token.
* Both: a token bound to both, with the DPoP headers.

stderr gets the ready-to-paste curl (with `--cacert/--cert/--key` for `--mtls`).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from local.issuer import SigningKey, mint_access_token
from local.sender_constraints import DPOP_CLIENT_KEY_FILE, DpopKey, shown_path
from local.state import RunState
from local.tls import DEFAULT_CLIENT, DevelopmentCa

DEMO_PATH = "/hello"


@dataclass(frozen=True)
class BoundToken:
    stdout: list[str]
    stderr: list[str]


def bound_token(
    signing_key: SigningKey,
    state: RunState,
    *,
    scopes: list[str],
    subject: str,
    client_id: str,
    ttl_seconds: int,
    state_root: Path,
    dpop: bool,
    mtls: bool,
    method: str = "GET",
    url: str | None = None,
    client_cert: str = DEFAULT_CLIENT,
    dpop_key_path: Path | None = None,
) -> BoundToken:
    target = url or state.api_url + DEMO_PATH
    confirmation: dict[str, str] = {}
    key: DpopKey | None = None
    curl = ["curl", "-i"]
    notes: list[str] = []
    if mtls:
        ca = DevelopmentCa.under(state_root)
        client = ca.client(client_cert)
        confirmation["x5t#S256"] = client.thumbprint()
        curl += ["--cacert", shown_path(ca.ca_cert), "--cert", shown_path(client.cert)]
        curl += ["--key", shown_path(client.key)]
        if urlsplit(target).scheme != "https":
            notes.append(f"{target} is not https, so no client certificate is sent: make local MTLS=1")
    if dpop:
        key = DpopKey.load_or_create(dpop_key_path or state_root / DPOP_CLIENT_KEY_FILE)
        confirmation["jkt"] = key.thumbprint()
    token = mint_access_token(
        signing_key,
        issuer=state.issuer,
        audience=state.audience,
        scopes=scopes,
        subject=subject,
        client_id=client_id,
        ttl_seconds=ttl_seconds,
        confirmation=confirmation,
    )
    if key is None:
        out = [token]
        headers = [f"Authorization: Bearer {token}"]
    else:
        proof = key.proof(method, target, access_token=token)
        out = headers = [f"Authorization: DPoP {token}", f"DPoP: {proof}"]
        notes.append(f"The proof is for one {method} {target} within 60 s (DPOP_MAX_AGE_SECONDS).")
    if method != "GET":
        curl += ["-X", method]
    for header in headers:
        curl += ["-H", header]
    curl.append(target)
    return BoundToken(out, [*notes, " ".join(shlex.quote(part) for part in curl)])
