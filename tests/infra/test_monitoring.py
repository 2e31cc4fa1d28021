"""Operations: metric filters that separate outages from rejected tokens, alarms, notifications, dashboard."""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.conftest import CDK_JSON_CONTEXT, Synthesized, synth_stack

TOPIC_ARN = "arn:aws:sns:eu-west-1:123456789012:ops-alerts"


@pytest.fixture(scope="module")
def topic_synth(tmp_path_factory) -> Synthesized:
    context = {**CDK_JSON_CONTEXT, "alarmTopicArn": TOPIC_ARN, "alarm5xxRatePercent": "2.5"}
    return synth_stack(context, tmp_path_factory.mktemp("topic-cdk-out"))


@pytest.fixture(scope="module")
def quiet_synth(tmp_path_factory) -> Synthesized:
    return synth_stack({**CDK_JSON_CONTEXT, "alarms": "false"}, tmp_path_factory.mktemp("quiet-cdk-out"))


def log_group_of(synth: Synthesized, source_path: str) -> dict[str, Any]:
    (function,) = [
        f
        for f in synth.of_type("AWS::Lambda::Function").values()
        if f["Metadata"]["JwtGate:SourcePath"] == source_path
    ]
    return {"Ref": function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]}


def test_metric_filters_count_outages_rejections_and_429s(default_synth):
    (stage,) = default_synth.of_type("AWS::ApiGateway::Stage").values()
    access_logs = stage["Properties"]["AccessLogSetting"]["DestinationArn"]["Fn::Join"][1][-1]
    authorizer_logs = log_group_of(default_synth, "lambda_src/authorizer")
    filters = {
        f["Properties"]["MetricTransformations"][0]["MetricName"]: (
            f["Properties"]["FilterPattern"],
            f["Properties"]["LogGroupName"],
            f["Properties"]["MetricTransformations"][0],
        )
        for f in default_synth.of_type("AWS::Logs::MetricFilter").values()
    }
    transformation = {"MetricNamespace": "JwtGate/JwtGate-dev", "MetricValue": "1", "DefaultValue": 0}
    assert filters == {
        "KeysUnavailable": (
            '{ $.reason = "keys_unavailable" }',
            authorizer_logs,
            {**transformation, "MetricName": "KeysUnavailable"},
        ),
        "UnauthorizedDecisions": (
            '{ $.outcome = "unauthorized" }',
            authorizer_logs,
            {**transformation, "MetricName": "UnauthorizedDecisions"},
        ),
        "ThrottledRequests": (
            '{ $.status = "429" }',
            access_logs,
            {**transformation, "MetricName": "ThrottledRequests"},
        ),
    }


def alarms_by_description(synth: Synthesized) -> dict[str, dict[str, Any]]:
    return {
        a["Properties"]["AlarmDescription"].split("] ", 1)[1]: a["Properties"]
        for a in synth.of_type("AWS::CloudWatch::Alarm").values()
    }


def test_alarms_cover_keys_failures_5xx_and_throttles_without_actions(default_synth):
    alarms = alarms_by_description(default_synth)
    summary = {
        description: (
            props.get("MetricName") or next(m["Id"] for m in props["Metrics"] if "Expression" in m),
            props["ComparisonOperator"],
            props["Threshold"],
            props["TreatMissingData"],
        )
        for description, props in alarms.items()
    }
    at_least = "GreaterThanOrEqualToThreshold"
    assert summary == {
        "The authorizer could not obtain the identity provider's signing keys (callers get 503).": (
            "KeysUnavailable",
            at_least,
            1,
            "notBreaching",
        ),
        "The authorizer failed other than by rejecting a token (crash, timeout, no keys).": (
            "expr_1",
            at_least,
            1,
            "notBreaching",
        ),
        "More than 5% of API responses were 5XX.": ("expr_1", "GreaterThanThreshold", 5, "notBreaching"),
        "API Gateway answered 429: the stage's throttling limits were reached.": (
            "ThrottledRequests",
            at_least,
            1,
            "notBreaching",
        ),
        "Lambda throttled the authorizer (account or function concurrency limit).": (
            "Throttles",
            at_least,
            1,
            "notBreaching",
        ),
        "Lambda throttled the sample endpoint (account or function concurrency limit).": (
            "Throttles",
            at_least,
            1,
            "notBreaching",
        ),
    }
    assert all("AlarmActions" not in props for props in alarms.values())
    assert all(props.get("AlarmDescription", "").startswith("[JwtGate-dev] ") for props in alarms.values())


def test_math_alarms_subtract_rejections_and_divide_by_requests(default_synth):
    alarms = alarms_by_description(default_synth)
    failures = alarms["The authorizer failed other than by rejecting a token (crash, timeout, no keys)."]
    rate = alarms["More than 5% of API responses were 5XX."]
    expressions = {
        "failures": [m["Expression"] for m in failures["Metrics"] if "Expression" in m],
        "rate": [m["Expression"] for m in rate["Metrics"] if "Expression" in m],
    }
    assert expressions == {
        "failures": ["FILL(errors, 0) - FILL(rejected, 0)"],
        "rate": ["100 * FILL(errors5xx, 0) / requests"],
    }
    inputs = {
        m["Id"]: m["MetricStat"]["Metric"]["MetricName"] for m in failures["Metrics"] if "MetricStat" in m
    }
    assert inputs == {"errors": "Errors", "rejected": "UnauthorizedDecisions"}
    rate_inputs = {m["Id"]: m["MetricStat"]["Metric"] for m in rate["Metrics"] if "MetricStat" in m}
    assert {
        k: (v["MetricName"], sorted(d["Name"] for d in v["Dimensions"])) for k, v in rate_inputs.items()
    } == {
        "errors5xx": ("5XXError", ["ApiName", "Stage"]),
        "requests": ("Count", ["ApiName", "Stage"]),
    }


def test_topic_arn_receives_alarm_and_ok_notifications(topic_synth):
    alarms = alarms_by_description(topic_synth)
    assert len(alarms) == 6
    assert all(
        (props["AlarmActions"], props["OKActions"]) == ([TOPIC_ARN], [TOPIC_ARN]) for props in alarms.values()
    )
    assert "More than 2.5% of API responses were 5XX." in alarms
    assert topic_synth.of_type("AWS::SNS::Topic") == {}


def test_alarm_email_creates_an_ssl_only_topic_with_a_subscription(pinned_synth):
    synth = pinned_synth
    (topic_id,) = synth.of_type("AWS::SNS::Topic")
    (subscription,) = synth.of_type("AWS::SNS::Subscription").values()
    assert subscription["Properties"] == {
        "Protocol": "email",
        "TopicArn": {"Ref": topic_id},
        "Endpoint": "ops@acme-corp.com",
    }
    (policy,) = synth.of_type("AWS::SNS::TopicPolicy").values()
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert (statement["Effect"], statement["Condition"]) == (
        "Deny",
        {"Bool": {"aws:SecureTransport": "false"}},
    )
    assert all(
        props["AlarmActions"] == [{"Ref": topic_id}] for props in alarms_by_description(synth).values()
    )


def test_alarms_off_keeps_the_dashboard_without_alarms(quiet_synth):
    assert quiet_synth.of_type("AWS::CloudWatch::Alarm") == {}
    (dashboard,) = quiet_synth.of_type("AWS::CloudWatch::Dashboard").values()
    assert dashboard["Properties"]["DashboardName"] == "JwtGate-dev"


def test_dashboard_shows_requests_latency_authorizer_throttles_and_alarms(default_synth):
    (dashboard,) = default_synth.of_type("AWS::CloudWatch::Dashboard").values()
    body = "".join(
        part if isinstance(part, str) else ""
        for part in dashboard["Properties"]["DashboardBody"]["Fn::Join"][1]
    )
    for title in ("Requests and errors", "Latency (ms)", "Authorizer", "Lambda throttles", "Alarms"):
        assert f'"title":"{title}"' in body
