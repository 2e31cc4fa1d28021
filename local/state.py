"""What `python -m local` leaves in `.local/` so that `python -m local.token` mints tokens it accepts.

The token command runs in another process; it needs the issuer URL (its port), the audience the authorizer
expects and the signing key. The key lives in the key store; the rest in a small JSON file written at start
and removed at exit.
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
DEFAULT_STATE_DIR = Path(__file__).resolve().parent.parent / ".local"


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


def authorizer_environment(model: ApiModel) -> dict[str, str]:
    """The environment of the (first) authorizer function: where audience and scope rules are configured."""
    for authorizer in model.authorizers.values():
        return dict(model.functions[authorizer.function_id].environment)
    return {}


def token_audience(model: ApiModel) -> str:
    """Tokens carry the first configured audience, as a provider issuing for this API would."""
    audience = authorizer_environment(model).get("AUDIENCE", "")
    first = audience.split(",")[0].strip()
    if not first:
        raise ValueError("the template's authorizer has no AUDIENCE")
    return first


def _glob_match(pattern: str, value: str) -> bool:
    """SCOPE_RULES paths use `*` for any characters, `/` included (the authorizer's contract)."""
    regex = ".*".join(re.escape(part) for part in pattern.split("*"))
    return re.fullmatch(regex, value, re.DOTALL) is not None


def scopes_for(model: ApiModel, method: str, path: str) -> tuple[str, ...]:
    """The scopes of the first SCOPE_RULES rule that grants `method path` (empty when no rules are set)."""
    rules = json.loads(authorizer_environment(model).get("SCOPE_RULES") or "{}")
    for route_key, scopes in rules.items():
        rule_method, _, rule_path = route_key.partition(" ")
        if rule_method in ("*", method) and _glob_match(rule_path, path):
            return tuple(str(scopes).split())
    return ()
