"""Shared synthesis for the infrastructure tests.

Synthesis goes through jsii (a Node.js process), so each distinct configuration is synthesized once per
session and its template shared. Every synthesis registers cdk-nag's AwsSolutions pack, so any template a test
looks at has also passed cdk-nag; bundling is skipped here (tests/infra/test_bundling_asset.py bundles).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# Node 20 is what this project supports; jsii's end-of-life banner would only clutter test output.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import aws_cdk as cdk  # after the variable above: jsii reads it at start
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks

from stacks.jwt_api_stack import JwtApiStack, create_stack
from stacks.stages import load_config

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CDK_JSON_CONTEXT: dict[str, Any] = json.loads((PROJECT_ROOT / "cdk.json").read_text())["context"]
SKIP_BUNDLING: dict[str, object] = {"aws:cdk:bundling-stacks": []}

# Overrides written the way `-c key=value` delivers them (strings), to prove they flow through to the stack.
VARIANT_OVERRIDES: dict[str, str] = {
    "issuer": "https://login.example.org/tenant-a/v2.0",
    "audience": "api://orders,api://billing",
    "jwksUri": "https://login.example.org/tenant-a/keys",
    "algorithms": "RS256,ES256,EdDSA",
    "scopeRules": '{"GET /orders": "orders:read", "* /orders/*": ["orders:read", "orders:write"], '
    '"GET /": ""}',
    "publicRoutes": '["GET /status", "HEAD /status"]',
    "tokenTypes": "at+jwt,application/at+jwt",
    "requiredClaims": "iss,aud,exp,sub,client_id",
    "contextClaims": "email,tenant",
    "leewaySeconds": "30",
    "authorizerCacheTtlSeconds": "0",
    "jwksCacheSeconds": "300",
    "jwksMaxStaleSeconds": "3600",
    "jwksTimeoutSeconds": "1.5",
    "jwksRefetchCooldownSeconds": "30",
    "lambdaMemoryMb": "1024",
    "logRetentionDays": "7",
    "throttlingRateLimit": "25.5",
    "throttlingBurstLimit": "50",
    "tracing": "false",
    "corsOrigins": "https://app.example.com,https://admin.example.com",
    "stageName": "v2",
    "realm": "orders-api",
    "apiGatewayAccountLogRole": "false",
}


@dataclass(frozen=True)
class Synthesized:
    stack: JwtApiStack
    template: Template
    outdir: Path

    @property
    def template_path(self) -> Path:
        return self.outdir / f"{self.stack.stack_name}.template.json"

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        resources: dict[str, dict[str, Any]] = self.template.to_json()["Resources"]
        return resources

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v["Type"] == resource_type}

    def validation_report(self) -> dict[str, Any]:
        report: dict[str, Any] = json.loads((self.outdir / "validation-report.json").read_text())
        return report


def synthesize(context: Mapping[str, object], outdir: Path, build: Callable[[cdk.App], cdk.Stack]) -> cdk.App:
    """Synthesize with cdk-nag attached; a finding fails the calling test with the rules it names."""
    app = cdk.App(context={**context, **SKIP_BUNDLING}, outdir=str(outdir))
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    build(app)
    try:
        app.synth()
    except RuntimeError as err:
        if not str(err).startswith("ValidationFailed"):
            raise
        report = json.loads((outdir / "validation-report.json").read_text())
        rules = sorted(
            f"{violation['ruleName']} at {construct['constructPath']}"
            for plugin in report["pluginReports"]
            for violation in plugin["violations"]
            for construct in violation["violatingConstructs"]
        )
        pytest.fail(f"cdk-nag findings: {rules}")
    return app


def _synth_stack(context: Mapping[str, object], outdir: Path) -> Synthesized:
    stacks: list[JwtApiStack] = []

    def build(app: cdk.App) -> cdk.Stack:
        stack = create_stack(app, load_config(app.node.try_get_context))
        stacks.append(stack)
        return stack

    synthesize(context, outdir, build)
    return Synthesized(stacks[0], Template.from_stack(stacks[0]), outdir)


def synth_stack(context: Mapping[str, object], outdir: Path) -> Synthesized:
    """Synthesize the stack app.py would build from this context (stage, preset and all), with cdk-nag."""
    return _synth_stack(context, outdir)


@pytest.fixture(scope="session")
def default_synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The stack exactly as cdk.json configures it on a fresh clone."""
    return _synth_stack(CDK_JSON_CONTEXT, tmp_path_factory.mktemp("default-cdk-out"))


@pytest.fixture(scope="session")
def variant_synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """Every key overridden with string values, wildcard routes, several CORS origins, tracing off."""
    context = {**CDK_JSON_CONTEXT, **VARIANT_OVERRIDES}
    return _synth_stack(context, tmp_path_factory.mktemp("variant-cdk-out"))


# A production stage with real-looking values (cdk.json's prod block ships placeholders it must refuse).
REAL_PROD: dict[str, str] = {
    "stage": "prod",
    "issuer": "https://login.acme-corp.com/",
    "audience": "https://orders.acme-corp.com",
}


@pytest.fixture(scope="session")
def prod_synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return _synth_stack({**CDK_JSON_CONTEXT, **REAL_PROD}, tmp_path_factory.mktemp("prod-cdk-out"))


@pytest.fixture(scope="session")
def pinned_synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """A production stage from its own block: pinned account/region, Cognito preset, a new alarm topic."""
    live = {
        "production": True,
        "account": "123456789012",
        "region": "eu-west-1",
        "preset": "cognito",
        "cognitoUserPoolId": "eu-west-1_AbCdEf123",
        "cognitoClientIds": ["4f5ac2a1b3c4d5e6f7g8h9i0j1"],
        "alarmEmail": "ops@acme-corp.com",
    }
    context = {**CDK_JSON_CONTEXT, "stage": "live", "stages": {**CDK_JSON_CONTEXT["stages"], "live": live}}
    return _synth_stack(context, tmp_path_factory.mktemp("live-cdk-out"))


def resource_arn(api_logical_id: str, stage: str) -> dict[str, Any]:
    """RESOURCE_ARN as the stack synthesizes it: this API and stage; partition, region, account at deploy."""
    return {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":execute-api:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                ":",
                {"Ref": api_logical_id},
                f"/{stage}",
            ],
        ]
    }
