"""Sender-constrained tokens in the stack (issue 12): the authorizer's part, replay table, mTLS domain.

The settings and every refusal across them are in stacks/sender_config.py (no jsii); this module turns them
into resources. With `dpop` and `mtlsBoundTokens` off and no `mtls` it creates nothing and changes nothing.

* `AuthorizerSenderConstraint` (used by JwtAuthorizer): the environment (DPOP, DPOP_ALGORITHMS,
  DPOP_MAX_AGE_SECONDS, PUBLIC_BASE_URL, DPOP_REPLAY_TABLE, MTLS_BOUND_TOKENS), the identity sources (the
  `DPoP` header only under `dpop=required`, see SenderConstraint.identity_headers), the result cache TTL (0
  whenever a binding is on) and, with `dpopReplayTable`, the table and `dynamodb:PutItem` on exactly it.
* `MutualTlsDomain` (used by JwtApiStack): the regional custom domain with mutual TLS (certificate and
  truststore bucket referenced by name, never looked up) and the mapping of its root to the stage. The stack
  disables the default execute-api endpoint with it, or clients could go around mutual TLS.

The replay table (gate/replay.py): partition key `jti` (string, `<jkt>:<jti>`), TTL attribute `expires_at`,
on-demand, AWS-owned encryption, point-in-time recovery on (cdk-nag AwsSolutions-DDB3; the table holds a
few minutes of entries, so it costs next to nothing). It is deleted with the stack: its entries are only worth
the proofs' window. If the authorizer cannot write to it, requests fail closed with 503 (never 401, never an
allow) until it can.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.sender_config import MutualTls, SenderConstraint

REPLAY_PARTITION_KEY: Final = "jti"
REPLAY_TTL_ATTRIBUTE: Final = "expires_at"
REPLAY_TABLE_ACTIONS: Final = ("dynamodb:PutItem",)  # the conditional write of gate/replay.py, nothing else


class AuthorizerSenderConstraint:
    """What the authorizer function takes from the sender-constraint settings; `bind` grants afterwards."""

    def __init__(self, scope: Construct, constraint: SenderConstraint) -> None:
        self.constraint = constraint
        self.environment: dict[str, str] = constraint.environment()
        self.replay_table: dynamodb.Table | None = None
        if constraint.dpop_on and constraint.dpop_replay_table:
            self.replay_table = dynamodb.Table(
                scope,
                "DpopReplayTable",
                partition_key=dynamodb.Attribute(
                    name=REPLAY_PARTITION_KEY, type=dynamodb.AttributeType.STRING
                ),
                billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
                time_to_live_attribute=REPLAY_TTL_ATTRIBUTE,
                point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                    point_in_time_recovery_enabled=True
                ),
                removal_policy=RemovalPolicy.DESTROY,
            )
            self.environment["DPOP_REPLAY_TABLE"] = self.replay_table.table_name

    def identity_sources(self, base: Sequence[str]) -> list[str]:
        """`base` plus the headers a binding needs before API Gateway invokes the authorizer."""
        extra = [
            apigw.IdentitySource.header(name)
            for name in self.constraint.identity_headers
            if apigw.IdentitySource.header(name) not in base
        ]
        return [*base, *extra]

    def cache_ttl(self, requested: Duration | None, default: Duration) -> Duration:
        """0 whenever a binding is on (a cached result skips the authorizer); non-zero is then an error."""
        if not self.constraint.checks_every_request:
            return requested if requested is not None else default
        if requested is not None and requested.to_seconds() != 0:
            raise ValueError(
                "results_cache_ttl must be 0 with DPoP or certificate-bound tokens: a cached result would "
                "let a replayed proof or another client certificate through without the authorizer seeing it"
            )
        return Duration.seconds(0)

    def bind(self, function: lambda_.IFunction) -> None:
        """dynamodb:PutItem on exactly the replay table, when there is one."""
        if self.replay_table is not None:
            function.add_to_role_policy(
                iam.PolicyStatement(
                    actions=list(REPLAY_TABLE_ACTIONS), resources=[self.replay_table.table_arn]
                )
            )


class MutualTlsDomain(Construct):
    """The regional custom domain with mutual TLS, its root mapped to the stage (`mtls`).

    Attributes: `domain` (apigw.DomainName), `mapping` (apigw.BasePathMapping), `url` (the API's base URL).
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, settings: MutualTls, rest_api: apigw.RestApi
    ) -> None:
        super().__init__(scope, construct_id)
        certificate = acm.Certificate.from_certificate_arn(self, "Certificate", settings.certificate_arn)
        truststore = s3.Bucket.from_bucket_name(self, "Truststore", settings.truststore_bucket)
        self.domain = apigw.DomainName(
            self,
            "Domain",
            domain_name=settings.domain_name,
            certificate=certificate,
            endpoint_type=apigw.EndpointType.REGIONAL,  # mutual TLS needs a regional domain
            security_policy=apigw.SecurityPolicy.TLS_1_2,
            mtls=apigw.MTLSConfig(
                bucket=truststore, key=settings.truststore_key, version=settings.truststore_version
            ),
        )
        self.mapping = apigw.BasePathMapping(
            self, "Mapping", domain_name=self.domain, rest_api=rest_api, stage=rest_api.deployment_stage
        )
        self.url = settings.url
