"""Direct checks of the IAM evaluation corners and gateway-response fallbacks not reached over HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from local.iam import Decision, MalformedPolicyError, evaluate
from local.responses import render
from local.template import GatewayResponse

ARN = "arn:aws:execute-api:us-east-1:123456789012:local/prod/GET/hello"


def document(*statements: Any) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


@pytest.mark.parametrize(
    ("policy", "decision"),
    [
        (document(), Decision.IMPLICIT_DENY),
        (
            {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}},
            Decision.ALLOW,
        ),
        (document({"Effect": "Allow", "NotAction": "s3:*", "Resource": ARN}), Decision.ALLOW),
        (
            document({"Effect": "Allow", "NotAction": "execute-api:*", "Resource": ARN}),
            Decision.IMPLICIT_DENY,
        ),
        (document({"Effect": "Allow", "Action": "*", "NotResource": "*/POST/*"}), Decision.ALLOW),
        (document({"Effect": "Allow", "Action": "*", "NotResource": "*/GET/*"}), Decision.IMPLICIT_DENY),
        (
            document(
                {"Effect": "Deny", "Action": "*", "Resource": "*/GET/*"},
                {"Effect": "Allow", "Action": "*", "Resource": "*"},
            ),
            Decision.EXPLICIT_DENY,
        ),
        (document({"Effect": "Deny", "Action": "*", "Resource": "*/POST/*"}), Decision.IMPLICIT_DENY),
    ],
)
def test_policy_decisions(policy: dict[str, Any], decision: Decision) -> None:
    assert evaluate(policy, ARN) is decision


PREFIX = "arn:aws:execute-api:us-east-1:123456789012:local/prod"


@pytest.mark.parametrize(
    ("resource", "method_arn", "decision"),
    [
        pytest.param(
            f"{PREFIX}/GET/items/?*", f"{PREFIX}/GET/items/", Decision.IMPLICIT_DENY, id="?*-not-empty"
        ),
        pytest.param(f"{PREFIX}/GET/items/?*", f"{PREFIX}/GET/items/1", Decision.ALLOW, id="?*-one-char"),
        pytest.param(f"{PREFIX}/GET/?*", f"{PREFIX}/GET/", Decision.IMPLICIT_DENY, id="?*-not-root"),
        pytest.param(
            f"{PREFIX}/GET/items/*", f"{PREFIX}/GET/items/a/b/c", Decision.ALLOW, id="*-crosses-slash"
        ),
        pytest.param(
            f"{PREFIX}/*/items", f"{PREFIX}/GET/a/items", Decision.ALLOW, id="*-method-slot-crosses"
        ),
        pytest.param(
            f"{PREFIX}/GET/items/*", f"{PREFIX}/GET/items/a\nb", Decision.ALLOW, id="*-crosses-newline"
        ),
        pytest.param(
            f"{PREFIX}/GET/items/?", f"{PREFIX}/GET/items/\n", Decision.ALLOW, id="?-matches-newline"
        ),
        pytest.param(
            f"{PREFIX}/GET/items/?", f"{PREFIX}/GET/items/ab", Decision.IMPLICIT_DENY, id="?-one-only"
        ),
        pytest.param(
            f"{PREFIX}/GET/items", f"{PREFIX}/GET/items/", Decision.IMPLICIT_DENY, id="literal-exact"
        ),
        pytest.param(
            f"{PREFIX}/GET/Items", f"{PREFIX}/GET/items", Decision.IMPLICIT_DENY, id="case-sensitive"
        ),
    ],
)
def test_resource_patterns(resource: str, method_arn: str, decision: Decision) -> None:
    assert (
        evaluate(document({"Effect": "Allow", "Action": "*", "Resource": resource}), method_arn) is decision
    )


def test_explicit_deny_on_a_nested_greedy_path_wins_over_the_allow() -> None:
    policy = document(
        {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": f"{PREFIX}/GET/?*"},
        {"Effect": "Deny", "Action": "execute-api:Invoke", "Resource": f"{PREFIX}/GET/admin/?*"},
    )
    assert evaluate(policy, f"{PREFIX}/GET/admin/x") is Decision.EXPLICIT_DENY
    assert evaluate(policy, f"{PREFIX}/GET/adminx") is Decision.ALLOW


@pytest.mark.parametrize(
    "policy",
    [
        document({"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {}}),
        document({"Effect": "Allow", "Action": "*", "NotAction": "s3:*", "Resource": "*"}),
        document({"Effect": "Allow", "Action": [], "Resource": "*"}),
        document("Allow"),
        {"Version": "2012-10-17", "Statement": "Allow"},
        {"Version": "2012-10-17"},
    ],
)
def test_malformed_policies_are_rejected(policy: dict[str, Any]) -> None:
    with pytest.raises(MalformedPolicyError):
        evaluate(policy, ARN)


def test_builtin_default_response() -> None:
    reply = render("MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token", {}, "r1")
    assert (reply.status, reply.body) == (403, b'{"message":"Missing Authentication Token"}')
    assert dict(reply.headers) == {
        "Content-Type": "application/json",
        "x-amzn-RequestId": "r1",
        "x-amzn-ErrorType": "MissingAuthenticationTokenException",
    }


def test_default_4xx_customization_applies_to_uncustomized_4xx_types() -> None:
    default_4xx = GatewayResponse(
        "DEFAULT_4XX", None, {"X-Gw": "yes"}, '{"type":"$context.error.responseType"}'
    )
    reply = render("UNAUTHORIZED", "Unauthorized", {"DEFAULT_4XX": default_4xx}, "r1")
    assert (reply.status, reply.body, dict(reply.headers)["X-Gw"]) == (401, b'{"type":"UNAUTHORIZED"}', "yes")
    assert render("AUTHORIZER_FAILURE", None, {"DEFAULT_4XX": default_4xx}, "r1").body == b'{"message":null}'


def test_specific_response_wins_over_the_default_class() -> None:
    default_5xx = GatewayResponse("DEFAULT_5XX", 599, {}, '{"d":1}')
    specific = GatewayResponse("AUTHORIZER_FAILURE", 503, {"Retry-After": "5"}, '{"s":1}')
    responses = {"DEFAULT_5XX": default_5xx, "AUTHORIZER_FAILURE": specific}
    reply = render("AUTHORIZER_FAILURE", None, responses, "r1")
    assert (reply.status, reply.body, dict(reply.headers)["Retry-After"]) == (503, b'{"s":1}', "5")
    assert render("AUTHORIZER_CONFIGURATION_ERROR", None, responses, "r1").status == 599
