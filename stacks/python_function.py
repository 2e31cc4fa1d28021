"""Every Python Lambda of this project: ARM_64, newest Python, least-privilege role, own log group.

Why a shared builder: both functions need the same hardening (no AWS-managed policies, explicit log groups
with retention, source-path metadata for the local gateway), and a second hand-written copy would drift.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from aws_cdk import Acknowledgment, Duration, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from stacks.bundling import python_function_code

# The bundler precompiles bytecode only when synth runs this runtime's Python (stacks/bundling.py), so the
# deploy workflow sets up the same version (.github/workflows/deploy-stage.yml; tests/ops checks they agree).
RUNTIME: Final = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE: Final = lambda_.Architecture.ARM_64
PROJECT_ROOT: Final = Path(__file__).resolve().parents[1]
# CloudFormation Metadata key naming the function's source folder, relative to the project root. The local
# gateway maps each function in cdk.out back to host source with it (it cannot run the aarch64 bundle).
SOURCE_PATH_METADATA_KEY: Final = "JwtGate:SourcePath"

_RETENTION_BY_DAYS: Final = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1096: logs.RetentionDays.THREE_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    2192: logs.RetentionDays.SIX_YEARS,
    2557: logs.RetentionDays.SEVEN_YEARS,
    2922: logs.RetentionDays.EIGHT_YEARS,
    3288: logs.RetentionDays.NINE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}


def retention(days: int) -> logs.RetentionDays:
    """The CDK enum for a retention in days (config.py validates days against the same list)."""
    return _RETENTION_BY_DAYS[days]


def source_path_label(source_dir: Path) -> str:
    """Project-relative POSIX path of a source folder (absolute if it lives outside this project)."""
    resolved = source_dir.resolve()
    try:
        return resolved.relative_to(PROJECT_ROOT).as_posix()
    except ValueError:
        return resolved.as_posix()


class PythonFunction(Construct):
    """A Python 3.14 ARM_64 Lambda whose role may only write to its own, explicitly retained log group."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        source_dir: Path,
        description: str,
        memory_size_mb: int,
        timeout: Duration,
        log_retention: logs.RetentionDays,
        tracing: bool,
        environment: Mapping[str, str],
        extra_files: Mapping[str, Path] | None = None,
        function_options: Mapping[str, Any] | None = None,
    ) -> None:
        """`extra_files` (bundle path -> host file) and `function_options` (more lambda_.Function keyword
        arguments, e.g. a VPC placement) serve the key delivery of issue 13 (stacks/key_sources.py)."""
        super().__init__(scope, construct_id)
        # Retained on stack deletion (the CDK default): these logs are the audit trail of access decisions.
        self.log_group = logs.LogGroup(self, "Logs", retention=log_retention)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Runs: {description}",
        )
        self.log_group.grant_write(self.role)
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler="handler.handler",
            code=python_function_code(source_dir, RUNTIME, ARCHITECTURE, extra_files=extra_files),
            description=description,
            memory_size=memory_size_mb,
            timeout=timeout,
            role=self.role,
            log_group=self.log_group,
            tracing=lambda_.Tracing.ACTIVE if tracing else lambda_.Tracing.DISABLED,
            environment=dict(environment),
            **dict(function_options or {}),
        )
        cfn_function = self.function.node.default_child
        assert isinstance(cfn_function, lambda_.CfnFunction)
        cfn_function.add_metadata(SOURCE_PATH_METADATA_KEY, source_path_label(source_dir))
        if tracing:
            Validations.of(self.role).acknowledge(
                Acknowledgment(
                    id="AwsSolutions-IAM5[Resource::*]",
                    reason="X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level "
                    "permissions; CDK grants exactly these two actions for active tracing.",
                )
            )
