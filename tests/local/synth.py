"""Synthesize the real stack for tests, the way the CDK CLI runs the app, without bundling or the CLI.

The CLI reads cdk.json's context and hands it to the app in CDK_CONTEXT_JSON; run directly, the app does not
read cdk.json, so this merges it in. Bundling is skipped (the local gateway runs the source folders).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from local.template import find_stack_template

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def synthesize(outdir: Path, **context_overrides: Any) -> Path:
    """Run app.py into `outdir` and return the stack template's path."""
    context = json.loads((PROJECT_ROOT / "cdk.json").read_text())["context"]
    context.update(context_overrides)
    context["aws:cdk:bundling-stacks"] = []
    env = {**os.environ, "CDK_OUTDIR": str(outdir), "CDK_CONTEXT_JSON": json.dumps(context)}
    result = subprocess.run(
        [sys.executable, "app.py"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"synth failed:\n{result.stdout}\n{result.stderr}")
    return find_stack_template(outdir)
