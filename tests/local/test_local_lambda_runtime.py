"""The emulated Lambda containers: exact template environment, warm reuse, separate logs, cold restarts."""

from __future__ import annotations

from pathlib import Path

from tests.local.conftest import Harness, allow_all_response, scripted_token

ECHO_DIR = Path(__file__).resolve().parent / "functions" / "echo_backend"


def test_function_sees_exactly_the_template_environment_plus_lambda_variables(gateway: Harness) -> None:
    environ = gateway.get("/health").json()["environ"]
    assert environ == {
        "GREETING": "hi",
        "RESOURCE_ARN": "arn:aws:execute-api:us-east-1:123456789012:local/prod",
        "SELF_ARN": "aws:local",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_LAMBDA_FUNCTION_NAME": "EchoFunction",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/EchoFunction",
        "AWS_LAMBDA_LOG_STREAM_NAME": "local",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python_local",
        "LAMBDA_TASK_ROOT": str(ECHO_DIR),
        "LOCAL_FUNCTION_ARN": "arn:aws:lambda:us-east-1:123456789012:function:EchoFunction",
        "TZ": ":UTC",
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def test_function_runs_in_its_source_folder(gateway: Harness) -> None:
    assert gateway.get("/health").json()["cwd"] == str(ECHO_DIR)


def test_warm_container_keeps_module_state_between_invocations(gateway: Harness) -> None:
    first, second = gateway.get("/health").json(), gateway.get("/health").json()
    assert (second["pid"], second["invocation"]) == (first["pid"], first["invocation"] + 1)
    assert first["request_id"] != second["request_id"]
    assert first["remaining_ms_positive"] is True


def test_function_prints_go_to_the_log_sink_not_the_response(gateway: Harness) -> None:
    reply = gateway.get("/health")
    assert b"echo backend invoked" not in reply.body
    assert ("EchoFunction", "echo backend invoked") in gateway.function_logs


def test_function_error_keeps_the_container_warm(gateway: Harness) -> None:
    before = gateway.get("/health").json()
    assert gateway.get("/health", **{"X-Echo-Mode": "raise"}).status == 502
    after = gateway.get("/health").json()
    assert (after["pid"], after["invocation"]) == (before["pid"], before["invocation"] + 2)


def test_timed_out_container_is_replaced_by_a_cold_one(start_gateway) -> None:
    gateway = start_gateway(authorizer_timeout=1, ttl=0)
    assert gateway.get("/hello", authorization=scripted_token({"sleep": 5})).status == 503
    assert gateway.get("/hello", authorization=scripted_token({"return": allow_all_response()})).status == 200
    pool = gateway.server.gateway.pools["AuthorizerFunction"]
    assert (pool.invocations, pool.cold_starts) == (2, 2)


def test_stopping_the_gateway_ends_its_containers(start_gateway) -> None:
    gateway = start_gateway()
    pid = gateway.get("/health").json()["pid"]
    gateway.server.stop()
    assert not Path(f"/proc/{pid}").exists()
