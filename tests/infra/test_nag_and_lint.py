"""Quality gates: cdk-nag AwsSolutions (no unacknowledged finding, reasoned acknowledgments) and cfn-lint."""

from __future__ import annotations

import json

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from cdk_nag import AwsSolutionsChecks
from cfnlint.api import lint_file

from tests.infra.conftest import Synthesized

ACKNOWLEDGED_RULES_METADATA = "aws:cdk:acknowledged-rules"
# W3005 (redundant DependsOn): CDK adds DependsOn on a function's role *and* its default policy so the policy
# exists before the function is created; the role half is also implied by GetAtt. Harmless, CDK-generated.
TOLERATED_LINT_WARNINGS = {"W3005"}


@pytest.mark.parametrize("synth_name", ["default_synth", "variant_synth"])
def test_cdk_nag_reports_no_findings(request, synth_name):
    synth: Synthesized = request.getfixturevalue(synth_name)
    assert synth.validation_report()["pluginReports"] == []


def test_cdk_nag_harness_reports_an_unacknowledged_finding(tmp_path):
    """Negative control: the same plugin setup fails synthesis on a real finding, so clean means clean."""
    app = cdk.App(outdir=str(tmp_path))
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    stack = cdk.Stack(app, "Control")
    iam.Role(
        stack,
        "Role",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name("ReadOnlyAccess")],
    )
    with pytest.raises(RuntimeError, match=r"^ValidationFailed: "):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    rules = {v["ruleName"] for p in report["pluginReports"] for v in p["violations"]}
    assert rules == {"AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/ReadOnlyAccess]"}


def acknowledgments(synth: Synthesized) -> dict[tuple[str, str], str]:
    found = {}
    for construct in synth.stack.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == ACKNOWLEDGED_RULES_METADATA:
                for rule, reason in entry.data.items():
                    found[(construct.node.path, rule.removeprefix("Annotation::"))] = reason
    return found


def test_every_acknowledgment_is_expected_and_reasoned(default_synth):
    found = acknowledgments(default_synth)
    assert set(found) == {
        ("JwtGate-dev/Api", "AwsSolutions-COG4"),
        ("JwtGate-dev/Api", "AwsSolutions-APIG2"),
        ("JwtGate-dev/Api/DeploymentStage.dev", "AwsSolutions-APIG3"),
        ("JwtGate-dev/Api/Default/health/GET", "AwsSolutions-APIG4"),
        (
            "JwtGate-dev/Api/CloudWatchRole",
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AmazonAPIGatewayPushToCloudWatchLogs]",
        ),
        ("JwtGate-dev/JwtAuthorizer/Handler/Role", "AwsSolutions-IAM5[Resource::*]"),
        ("JwtGate-dev/Hello/Role", "AwsSolutions-IAM5[Resource::*]"),
    }
    assert all(len(reason) >= 80 for reason in found.values()), found


def test_tracing_off_drops_the_xray_acknowledgments(variant_synth):
    assert not [key for key in acknowledgments(variant_synth) if key[1].startswith("AwsSolutions-IAM5")]


@pytest.mark.parametrize("synth_name", ["default_synth", "variant_synth"])
def test_cfn_lint_finds_no_errors(request, synth_name):
    synth: Synthesized = request.getfixturevalue(synth_name)
    matches = lint_file(synth.template_path)
    unexpected = [f"{m.rule.id}: {m.message}" for m in matches if m.rule.id not in TOLERATED_LINT_WARNINGS]
    assert unexpected == []
    assert not [m for m in matches if m.rule.id.startswith("E")]
