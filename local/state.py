"""What `python -m local` leaves in `.local/` so that `python -m local.token` mints tokens it accepts.

The token command runs in another process; it needs the issuer URL (its port), the audience the authorizer
expects and the signing key. Each local API instance has its own folder, `.local/port-PORT/` (PORT is the
API's port): the development issuer's keys, kept across restarts on the same port, and a small JSON file
written at start and removed at exit. Two instances on different ports therefore never share keys or
state, and `python -m local.token --port PORT` mints for the one it is asked about.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from local.template import ApiModel

RUN_STATE_FILE = "local-run.json"
DEFAULT_STATE_ROOT = Path(__file__).resolve().parent.parent / ".local"
_INSTANCE_DIR = re.compile(r"port-([0-9]{1,5})")


def instance_dir(state_root: Path, port: int) -> Path:
    """The folder of the local API instance serving on `port`."""
    return state_root / f"port-{port}"


@dataclass(frozen=True)
class RunState:
    api_url: str
    issuer: str
    audience: str
    default_scopes: tuple[str, ...]
    pid: int

    def save(self, state_dir: Path) -> Path:
        state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = state_dir / RUN_STATE_FILE
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")
        return path

    @classmethod
    def load(cls, state_dir: Path) -> RunState | None:
        path = state_dir / RUN_STATE_FILE
        if not path.is_file():
            return None
        raw: dict[str, Any] = json.loads(path.read_text())
        return cls(
            api_url=str(raw["api_url"]),
            issuer=str(raw["issuer"]),
            audience=str(raw["audience"]),
            default_scopes=tuple(raw["default_scopes"]),
            pid=int(raw["pid"]),
        )

    def process_alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def running_instances(state_root: Path) -> dict[int, Path]:
    """Port -> folder of every instance under `state_root` whose process is still running."""
    found: dict[int, Path] = {}
    if not state_root.is_dir():
        return found
    for folder in sorted(state_root.iterdir()):
        match = _INSTANCE_DIR.fullmatch(folder.name)
        state = RunState.load(folder) if match else None
        if match and state is not None and state.process_alive():
            found[int(match.group(1))] = folder
    return dict(sorted(found.items()))


def authorizer_environment(model: ApiModel) -> dict[str, str]:
    """The environment of the (first) authorizer function: where audience and scope rules are configured."""
    for authorizer in model.authorizers.values():
        return dict(model.functions[authorizer.function_id].environment)
    return {}


def token_audience(model: ApiModel) -> str:
    """Tokens carry the first configured audience, as a provider issuing for this API would (the Lambda
    authorizer's AUDIENCE, else the first native JWT authorizer's first issuer's)."""
    audience = authorizer_environment(model).get("AUDIENCE", "")
    for jwt_authorizer in model.jwt_authorizers.values():
        audience = audience or jwt_authorizer.issuers[0].audiences[0]
    first = audience.split(",")[0].strip()
    if not first:
        raise ValueError("the template's authorizer has no AUDIENCE")
    return first


def scopes_for(model: ApiModel, method: str, resource_path: str) -> tuple[str, ...]:
    """The scopes of the SCOPE_RULES rule API Gateway runs for `method` on `resource_path` (docs/routes.md:
    the exact verb, else `*`); empty when no rule names it. A method of the native JWT authorizer: its
    AuthorizationScopes (all of them, though any one would do)."""
    native = {
        route.http_method: route.authorization_scopes
        for route in model.routes
        if route.resource_path == resource_path and route.authorization_type == "JWT"
    }
    if method in native or "ANY" in native:
        return native.get(method, native.get("ANY", ()))
    rules = json.loads(authorizer_environment(model).get("SCOPE_RULES") or "{}")
    by_route: dict[tuple[str, str], str] = {}
    for route_key, scopes in rules.items():
        rule_method, _, rule_path = route_key.partition(" ")
        resource = rule_path[:-1] + "{proxy+}" if rule_path.endswith("/*") else rule_path
        by_route[(rule_method, resource)] = str(scopes)
    found = by_route.get((method, resource_path), by_route.get(("*", resource_path), ""))
    return tuple(found.split())
