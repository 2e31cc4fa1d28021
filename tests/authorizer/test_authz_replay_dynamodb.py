"""The DynamoDB replay store, for real: dynalite (npm, a DynamoDB implementation on LevelDB/memory) on
127.0.0.1, started by these tests, and the authorizer's own boto3 client pointed at it through
``AWS_ENDPOINT_URL_DYNAMODB`` (the SDK's standard variable), with dummy credentials. Two Authorizer
instances stand for two Lambda containers sharing the table.

Also here: boto3 is imported only when DPOP_REPLAY_TABLE is set (a cold start without the table must
not pay for it), and an unreachable table is a 5xx (ReplayStoreUnavailable), never a 401.
"""

from __future__ import annotations

import importlib
import math
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3  # type: ignore[import-untyped]
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from gate.authorizer import Authorizer
from gate.errors import Rejection, ReplayStoreUnavailable
from gate.settings import Settings
from tests.authorizer.authz_support import (
    Clock,
    Harness,
    Idp,
    KeyRing,
    SigningKey,
    base_env,
    dpop_event,
    dpop_proof,
    event_outcome,
    event_rejection,
    public_jwk,
    thumbprint,
)
from tests.authorizer.test_authz_imports import cold_start, loaded_prefixes, now_valid

TokenFor = Callable[..., str]
LoadHandler = Callable[..., ModuleType]
ROOT = Path(__file__).resolve().parents[2]
# dynalite's CLI treats --port 0 as "unset" (4567), so its JS API picks the free port instead.
START_DYNALITE = """
const server = require('dynalite')({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 })
server.listen(0, '127.0.0.1', () => console.log(server.address().port))
"""
WINDOW = 120  # DPOP_MAX_AGE_SECONDS 60 + LEEWAY_SECONDS 60, the defaults


@pytest.fixture(scope="module")
def dynalite() -> Iterator[str]:
    if not (ROOT / "node_modules" / "dynalite" / "package.json").exists():
        pytest.fail("node_modules/dynalite is missing: run `npm ci` (make setup does)")
    process = subprocess.Popen(
        ["node", "-e", START_DYNALITE], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    port = process.stdout.readline().strip()
    if not port.isdigit():
        process.kill()
        _, errors = process.communicate(timeout=10)
        pytest.fail(f"dynalite did not start: {errors}")
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.communicate(timeout=10)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, dynalite: str) -> str:
    """Dummy credentials, a region and the endpoint, as Lambda (or make local) would provide them;
    no profile, config file or instance metadata is consulted."""
    for name in (
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL",
        "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", dynalite)
    return dynalite


@pytest.fixture
def dynamodb(aws: str) -> Any:
    return boto3.client("dynamodb", endpoint_url=aws)


@pytest.fixture
def table(dynamodb: Any) -> str:
    """A fresh table shaped as the stack creates it: partition key ``jti`` (string), on demand."""
    name = f"dpop-jti-{uuid.uuid4().hex[:12]}"
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "jti", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "jti", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 50})
    return name


@pytest.fixture(scope="module")
def client_key() -> SigningKey:
    return SigningKey("client-ec", "ES256", ec.generate_private_key(ec.SECP256R1()))


@pytest.fixture
def bound(token_for: TokenFor, ring: KeyRing, client_key: SigningKey) -> str:
    return token_for(ring.rsa, cnf={"jkt": thumbprint(public_jwk(client_key))})


def container(idp: Idp, clock: Clock, table: str, **env: str) -> Harness:
    """One "Lambda container": an Authorizer built from the environment, with its own log."""
    log: list[str] = []
    settings = Settings.from_env(base_env(idp, DPOP="required", DPOP_REPLAY_TABLE=table, **env))
    return Harness(Authorizer(settings, clock=clock, write=log.append), idp, clock, log)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_the_first_use_is_recorded_with_its_expiry(
    idp: Idp, clock: Clock, table: str, dynamodb: Any, client_key: SigningKey, bound: str
):
    harness = container(idp, clock, table)
    iat = clock.now - 10.5
    proof = dpop_proof(client_key, token=bound, iat=iat, jti="first")
    assert event_outcome(harness, dpop_event(bound, proof)) == "allow"
    key = f"{thumbprint(public_jwk(client_key))}:first"
    item = dynamodb.get_item(TableName=table, Key={"jti": {"S": key}}, ConsistentRead=True)["Item"]
    assert item == {"jti": {"S": key}, "expires_at": {"N": str(math.ceil(iat + WINDOW))}}


def test_a_replay_against_another_container_is_rejected(
    idp: Idp, clock: Clock, table: str, client_key: SigningKey, bound: str
):
    first, second = container(idp, clock, table), container(idp, clock, table)
    proof = dpop_proof(client_key, token=bound, iat=clock.now)
    assert event_outcome(first, dpop_event(bound, proof)) == "allow"
    assert event_rejection(second, dpop_event(bound, proof)) == "dpop_replayed"
    assert event_rejection(first, dpop_event(bound, proof)) == "dpop_replayed"


def test_fresh_proofs_keep_working_across_containers(
    idp: Idp, clock: Clock, table: str, client_key: SigningKey, bound: str
):
    containers = [container(idp, clock, table), container(idp, clock, table)]
    for turn in range(4):
        proof = dpop_proof(client_key, token=bound, iat=clock.now)
        assert event_outcome(containers[turn % 2], dpop_event(bound, proof)) == "allow"


def test_an_expired_item_the_ttl_has_not_deleted_yet_does_not_block(
    idp: Idp, clock: Clock, table: str, dynamodb: Any, client_key: SigningKey, bound: str
):
    # DynamoDB deletes expired items lazily; an old entry for this key and jti must not count.
    key = f"{thumbprint(public_jwk(client_key))}:recycled"
    dynamodb.put_item(TableName=table, Item={"jti": {"S": key}, "expires_at": {"N": str(int(clock.now) - 1)}})
    proof = dpop_proof(client_key, token=bound, iat=clock.now, jti="recycled")
    assert event_outcome(container(idp, clock, table), dpop_event(bound, proof)) == "allow"
    item = dynamodb.get_item(TableName=table, Key={"jti": {"S": key}}, ConsistentRead=True)["Item"]
    assert item["expires_at"] == {"N": str(math.ceil(clock.now + WINDOW))}


def test_a_rejected_proof_writes_nothing(
    idp: Idp, clock: Clock, table: str, dynamodb: Any, client_key: SigningKey, bound: str
):
    proof = dpop_proof(client_key, token=bound, iat=clock.now, htm="POST")
    assert event_rejection(container(idp, clock, table), dpop_event(bound, proof)) == "dpop_htm_mismatch"
    assert dynamodb.scan(TableName=table)["Count"] == 0


def test_an_unreachable_table_fails_closed_with_a_503_not_a_401(
    monkeypatch: pytest.MonkeyPatch, idp: Idp, clock: Clock, table: str, client_key: SigningKey, bound: str
):
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", f"http://127.0.0.1:{closed_port()}")
    harness = container(idp, clock, table)
    proof = dpop_proof(client_key, token=bound, iat=clock.now)
    with pytest.raises(ReplayStoreUnavailable) as caught:
        harness.authorizer.handle(dpop_event(bound, proof))
    assert not isinstance(caught.value, Rejection)
    assert str(caught.value).startswith(f"DPoP replay store unavailable: {table}: ")
    decision = harness.last_decision()
    assert (decision["outcome"], decision["reason"], decision["sub"], decision["kid"]) == (
        "error",
        "dpop_replay_store_unavailable",
        "user-1",
        "rsa-1",
    )
    assert "Could not connect" in decision["detail"]


def test_a_missing_table_fails_closed(idp: Idp, clock: Clock, aws: str, client_key: SigningKey, bound: str):
    harness = container(idp, clock, "no-such-table")
    proof = dpop_proof(client_key, token=bound, iat=clock.now)
    with pytest.raises(ReplayStoreUnavailable, match="ResourceNotFoundException"):
        harness.authorizer.handle(dpop_event(bound, proof))
    assert harness.last_decision()["reason"] == "dpop_replay_store_unavailable"


@pytest.fixture
def load_handler(
    monkeypatch: pytest.MonkeyPatch, idp: Idp, clock: Clock
) -> Iterator[Callable[..., ModuleType]]:
    clock.now = time.time()  # the handler reads the real clock

    def load(**env: str) -> ModuleType:
        for name, value in base_env(idp, **env).items():
            monkeypatch.setenv(name, value)
        sys.modules.pop("handler", None)
        return importlib.import_module("handler")

    yield load
    sys.modules.pop("handler", None)


def test_the_handler_lets_an_unavailable_table_through_as_an_error(
    monkeypatch: pytest.MonkeyPatch,
    load_handler: LoadHandler,
    table: str,
    client_key: SigningKey,
    bound: str,
    clock: Clock,
):
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", f"http://127.0.0.1:{closed_port()}")
    handler = load_handler(DPOP="required", DPOP_REPLAY_TABLE=table)
    proof = dpop_proof(client_key, token=bound, iat=clock.now)
    with pytest.raises(Exception) as caught:  # noqa: PT011 - the exact type is asserted below
        handler.handler(dpop_event(bound, proof), None)
    assert type(caught.value) is ReplayStoreUnavailable  # API Gateway 500 -> 503, never "Unauthorized"


def test_the_handler_allows_through_the_table(
    load_handler: LoadHandler, table: str, client_key: SigningKey, bound: str, clock: Clock
):
    handler = load_handler(DPOP="required", DPOP_REPLAY_TABLE=table)
    event = dpop_event(bound, dpop_proof(client_key, token=bound, iat=clock.now))
    assert handler.handler(event, None)["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        handler.handler(event, None)


# --- what a cold start imports ------------------------------------------------------------------------


def test_a_cold_start_with_dpop_and_mtls_but_no_table_imports_neither_boto3_nor_x509(
    idp: Idp, ring: KeyRing, token_for: TokenFor
):
    env = base_env(idp, ALGORITHMS="RS256", DPOP="allowed", MTLS_BOUND_TOKENS="allowed")
    loaded = cold_start(env, now_valid(token_for, ring.rsa))
    assert loaded["effect"] == "Allow"
    assert loaded_prefixes(loaded["modules"], ("boto3", "botocore", "cryptography.x509", "jwt")) == []


def test_a_cold_start_with_a_table_builds_its_client_at_init(
    idp: Idp, ring: KeyRing, token_for: TokenFor, table: str, aws: str
):
    aws_env = {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ENDPOINT_URL_DYNAMODB": aws,
    }
    env = base_env(idp, ALGORITHMS="RS256", DPOP="allowed", DPOP_REPLAY_TABLE=table, **aws_env)
    loaded = cold_start(env, now_valid(token_for, ring.rsa))  # an unbound Bearer token: no write
    assert loaded["effect"] == "Allow"
    modules = loaded["modules"]
    assert isinstance(modules, list)
    assert "boto3" in modules
