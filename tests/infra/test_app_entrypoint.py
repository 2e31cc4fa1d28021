"""app.py as the CDK CLI runs it: context in CDK_CONTEXT_JSON, output directory in CDK_OUTDIR."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.infra.conftest import CDK_JSON_CONTEXT, PROJECT_ROOT, SKIP_BUNDLING


def run_app(context: dict[str, object], outdir: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "CDK_CONTEXT_JSON": json.dumps(context),
        "CDK_OUTDIR": str(outdir),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }
    return subprocess.run(
        [sys.executable, "app.py"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_bad_cli_value_exits_1_with_one_line(tmp_path):
    result = run_app({**CDK_JSON_CONTEXT, **SKIP_BUNDLING, "authorizerCacheTtlSeconds": "7200"}, tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (
        1,
        "",
        'error: invalid config "authorizerCacheTtlSeconds": must be from 0 to 3600, got 7200 '
        "(example: -c authorizerCacheTtlSeconds=300)\n",
    )
    assert list(tmp_path.iterdir()) == []


def test_cdk_json_config_synthesizes_the_stack(tmp_path):
    result = run_app({**CDK_JSON_CONTEXT, **SKIP_BUNDLING}, tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    template = json.loads((tmp_path / "JwtGate-dev.template.json").read_text())
    assert template["Outputs"].keys() >= {"ApiUrl", "AuthorizerFunctionName"}
