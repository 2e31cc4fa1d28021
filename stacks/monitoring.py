"""Alarms and a dashboard for the gate: the few signals that say "callers are being locked out".

Why metric filters: the authorizer raises "Unauthorized" for every bad token, and Lambda counts that as an
error, so the function's Errors metric mixes attackers and expired tokens with real outages. The
authorizer writes one JSON decision line per request (`{"event":"authorizer_decision","outcome":...,
"reason":...}`); filters on those lines count exactly the outages (`reason = keys_unavailable`) and the
rejections, and Errors minus rejections leaves crashes and timeouts. API Gateway has no metric for 429
answers, so one more filter counts them in the stage's JSON access log.

With `gate=native` there is no authorizer Lambda: its filters, alarms and graphs are left out (API Gateway's
native JWT authorizer has no logs or metrics of its own; its 401/403 answers count in the stage's 4XX).
"""

from __future__ import annotations

from typing import Final

from aws_cdk import Acknowledgment, Duration, Stack, Validations
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from stacks.config import AlarmSettings

KEYS_UNAVAILABLE_PATTERN: Final = '{ $.reason = "keys_unavailable" }'
UNAUTHORIZED_PATTERN: Final = '{ $.outcome = "unauthorized" }'
THROTTLED_PATTERN: Final = '{ $.status = "429" }'
FIVE_MINUTES: Final = Duration.minutes(5)


class GateMonitoring(Construct):
    """Metric filters, alarms (optionally notifying an SNS topic) and one dashboard for a JwtApiStack.

    Attributes: `alarms` (name -> cloudwatch.Alarm, empty when alarms are off), `topic` (the SNS topic the
    alarms notify, if any), `dashboard`.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: AlarmSettings,
        stage: apigw.Stage,
        authorizer: lambda_.Function | None,
        authorizer_logs: logs.ILogGroup | None,
        backend: lambda_.Function,
        access_logs: logs.ILogGroup,
    ) -> None:
        super().__init__(scope, construct_id)
        stack_name = Stack.of(self).stack_name
        namespace = f"JwtGate/{stack_name}"

        def counted(log_group: logs.ILogGroup, filter_id: str, pattern: str, name: str) -> cloudwatch.Metric:
            metric_filter = logs.MetricFilter(
                self,
                filter_id,
                log_group=log_group,
                filter_pattern=logs.FilterPattern.literal(pattern),
                metric_namespace=namespace,
                metric_name=name,
                metric_value="1",
                default_value=0,
            )
            return metric_filter.metric(statistic="Sum", period=FIVE_MINUTES)

        # The authorizer Lambda's signals; None with gate=native, where no authorizer Lambda exists.
        keys_unavailable: cloudwatch.Metric | None = None
        rejected: cloudwatch.Metric | None = None
        if authorizer_logs is not None:
            keys_unavailable = counted(
                authorizer_logs, "KeysUnavailableFilter", KEYS_UNAVAILABLE_PATTERN, "KeysUnavailable"
            )
            rejected = counted(
                authorizer_logs, "UnauthorizedFilter", UNAUTHORIZED_PATTERN, "UnauthorizedDecisions"
            )
        throttled = counted(access_logs, "ThrottledFilter", THROTTLED_PATTERN, "ThrottledRequests")
        failures: cloudwatch.MathExpression | None = None
        if authorizer is not None and rejected is not None:
            authorizer_errors = authorizer.metric_errors(statistic="Sum", period=FIVE_MINUTES)
            failures = cloudwatch.MathExpression(
                expression="FILL(errors, 0) - FILL(rejected, 0)",
                using_metrics={"errors": authorizer_errors, "rejected": rejected},
                label="Authorizer errors other than rejected tokens",
                period=FIVE_MINUTES,
            )
        server_error_rate = cloudwatch.MathExpression(
            expression="100 * FILL(errors5xx, 0) / requests",
            using_metrics={
                "errors5xx": stage.metric_server_error(statistic="Sum", period=FIVE_MINUTES),
                "requests": stage.metric_count(statistic="Sum", period=FIVE_MINUTES),
            },
            label="5XX responses (% of requests)",
            period=FIVE_MINUTES,
        )

        self.topic = self._topic(settings)
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        if settings.enabled:
            at_least_one = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
            specs: tuple[
                tuple[str, cloudwatch.IMetric | None, float, cloudwatch.ComparisonOperator, str], ...
            ] = (
                (
                    "KeysUnavailableAlarm",
                    keys_unavailable,
                    1,
                    at_least_one,
                    "The authorizer could not obtain the identity provider's signing keys (callers get 503).",
                ),
                (
                    "AuthorizerFailuresAlarm",
                    failures,
                    1,
                    at_least_one,
                    "The authorizer failed other than by rejecting a token (crash, timeout, no keys).",
                ),
                (
                    "ServerErrorRateAlarm",
                    server_error_rate,
                    settings.server_error_rate_percent,
                    cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                    f"More than {settings.server_error_rate_percent:g}% of API responses were 5XX.",
                ),
                (
                    "ApiThrottledAlarm",
                    throttled,
                    1,
                    at_least_one,
                    "API Gateway answered 429: the stage's throttling limits were reached.",
                ),
                (
                    "AuthorizerThrottlesAlarm",
                    authorizer.metric_throttles(statistic="Sum", period=FIVE_MINUTES)
                    if authorizer is not None
                    else None,
                    1,
                    at_least_one,
                    "Lambda throttled the authorizer (account or function concurrency limit).",
                ),
                (
                    "BackendThrottlesAlarm",
                    backend.metric_throttles(statistic="Sum", period=FIVE_MINUTES),
                    1,
                    at_least_one,
                    "Lambda throttled the sample endpoint (account or function concurrency limit).",
                ),
            )
            for alarm_id, metric, threshold, comparison, description in specs:
                if metric is None:
                    continue
                alarm = cloudwatch.Alarm(
                    self,
                    alarm_id,
                    metric=metric,
                    threshold=threshold,
                    comparison_operator=comparison,
                    evaluation_periods=1,
                    treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                    alarm_description=f"[{stack_name}] {description}",
                )
                if self.topic is not None:
                    action = cloudwatch_actions.SnsAction(self.topic)
                    alarm.add_alarm_action(action)
                    alarm.add_ok_action(action)
                self.alarms[alarm_id] = alarm

        latency: list[cloudwatch.IMetric] = [
            stage.metric_latency(statistic="p50", period=FIVE_MINUTES),
            stage.metric_latency(statistic="p99", period=FIVE_MINUTES),
        ]
        lambda_throttles = [backend.metric_throttles(statistic="Sum", period=FIVE_MINUTES)]
        if authorizer is not None:
            latency.append(authorizer.metric_duration(statistic="p99", period=FIVE_MINUTES))
            lambda_throttles.insert(0, authorizer.metric_throttles(statistic="Sum", period=FIVE_MINUTES))
        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=stack_name)
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Requests and errors",
                left=[
                    stage.metric_count(statistic="Sum", period=FIVE_MINUTES),
                    stage.metric_client_error(statistic="Sum", period=FIVE_MINUTES),
                    stage.metric_server_error(statistic="Sum", period=FIVE_MINUTES),
                    throttled,
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(title="Latency (ms)", left=latency, width=12),
        )
        throttles_widget = cloudwatch.GraphWidget(title="Lambda throttles", left=lambda_throttles, width=12)
        if authorizer is not None and rejected is not None and keys_unavailable is not None and failures:
            self.dashboard.add_widgets(
                cloudwatch.GraphWidget(
                    title="Authorizer",
                    left=[
                        authorizer.metric_invocations(statistic="Sum", period=FIVE_MINUTES),
                        rejected,
                        keys_unavailable,
                        failures,
                    ],
                    width=12,
                ),
                throttles_widget,
            )
        else:
            self.dashboard.add_widgets(throttles_widget)
        if self.alarms:
            self.dashboard.add_widgets(
                cloudwatch.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms.values()), width=24)
            )

    def _topic(self, settings: AlarmSettings) -> sns.ITopic | None:
        if not settings.enabled:
            return None
        if settings.topic_arn is not None:
            return sns.Topic.from_topic_arn(self, "AlarmTopic", settings.topic_arn)
        if settings.email is None:
            return None
        topic = sns.Topic(self, "AlarmTopic", display_name="jwt-gate alarms", enforce_ssl=True)
        topic.add_subscription(subscriptions.EmailSubscription(settings.email))
        Validations.of(topic).acknowledge(
            Acknowledgment(
                id="AwsSolutions-SNS2",
                reason="The topic carries CloudWatch alarm notifications only (alarm names and states, no "
                "request data). CloudWatch cannot publish to a topic encrypted with the AWS-managed SNS key, "
                "and a customer-managed key would add cost and a key policy for no protected content.",
            )
        )
        return topic

    def watch_log_event(
        self,
        name: str,
        *,
        log_group: logs.ILogGroup,
        pattern: str,
        description: str,
        alarm: bool,
    ) -> cloudwatch.Metric:
        """Count the JSON log lines matching `pattern` as metric `name` (this stack's namespace), with an
        alarm at one or more per five minutes (when `alarm`) and a dashboard widget. Used for the key
        sources' events (issue 13, stacks/key_sources.py)."""
        metric = logs.MetricFilter(
            self,
            f"{name}Filter",
            log_group=log_group,
            filter_pattern=logs.FilterPattern.literal(pattern),
            metric_namespace=f"JwtGate/{Stack.of(self).stack_name}",
            metric_name=name,
            metric_value="1",
            default_value=0,
        ).metric(statistic="Sum", period=FIVE_MINUTES)
        if not alarm:
            self.dashboard.add_widgets(cloudwatch.GraphWidget(title=name, left=[metric], width=12))
            return metric
        watched = cloudwatch.Alarm(
            self,
            f"{name}Alarm",
            metric=metric,
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=f"[{Stack.of(self).stack_name}] {description}",
        )
        if self.topic is not None:
            action = cloudwatch_actions.SnsAction(self.topic)
            watched.add_alarm_action(action)
            watched.add_ok_action(action)
        self.alarms[f"{name}Alarm"] = watched
        self.dashboard.add_widgets(cloudwatch.AlarmWidget(alarm=watched, title=name, width=12))
        return metric
