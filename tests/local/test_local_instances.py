"""Issue 10, first-hour defects of `make local`: busy ports, several instances side by side, unknown routes.

Each instance keeps its issuer keys and run state in its own folder (`.local/port-PORT/`), so `make token
PORT=...` mints for the instance it is asked about and a token of one instance is refused by another. The
instances run in-process on free ports with the real synthesized stack (CORS on, so the unknown-route test
also sees the CORS headers every gateway response carries).
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from local.__main__ import LocalInstance, main, start_instance
from local.server import free_port_pair
from local.state import RUN_STATE_FILE
from local.token import main as token_main
from tests.local.conftest import call
from tests.local.synth import synthesize

ORIGIN = "https://app.acme-corp.com"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthesize(tmp_path_factory.mktemp("cdk.out"), corsOrigins=ORIGIN)


def quiet_instance(template: Path, state_root: Path, port: int = 0) -> LocalInstance:
    instance = start_instance(
        template, port=port, state_root=state_root, log_sink=lambda *_: None, decision_log=lambda _: None
    )
    instance.gateway.start()
    return instance


@pytest.fixture
def two(template: Path, tmp_path: Path) -> Iterator[tuple[LocalInstance, LocalInstance]]:
    first = quiet_instance(template, tmp_path)
    second = quiet_instance(template, tmp_path)
    yield first, second
    first.stop()
    second.stop()


def mint(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = token_main(list(args))
    out, err = capsys.readouterr()
    return status, out.strip(), err


def hello(instance: LocalInstance, token: str) -> int:
    return call(instance.gateway.url, "GET", "/hello", {"Authorization": f"Bearer {token}"}).status


def hold(port: int) -> socket.socket:
    """Listen on `port` as another program would (a first `make local`, say)."""
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("127.0.0.1", port))
    holder.listen()
    return holder


@pytest.fixture
def free_pair() -> int:
    """A port that is free together with the next one (API and issuer)."""
    port = free_port_pair(30000)
    assert port is not None
    return port


def busy_port_message(port: int, role: str) -> re.Pattern[str]:
    return re.compile(
        rf"local: port {port}{re.escape(role)} is already in use \(another `make local`\?\); "
        r"start on another port: make local PORT=(\d+)\n"
    )


def test_busy_api_port_is_one_line_naming_it_and_a_free_port(
    template: Path, tmp_path: Path, free_pair: int, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_pair
    with hold(port):
        status = main(["--port", str(port), "--template", str(template), "--state-root", str(tmp_path)])
    out, err = capsys.readouterr()
    match = busy_port_message(port, "").fullmatch(err)
    assert (status, out, match is not None) == (2, "", True), err
    assert match is not None
    suggested = int(match.group(1))
    assert free_port_pair(suggested) == suggested  # it and the port after it are free
    assert list(tmp_path.iterdir()) == []


def test_busy_issuer_port_is_one_line_naming_it(
    template: Path, tmp_path: Path, free_pair: int, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_pair
    with hold(port + 1):  # the API's port is free, its issuer's (PORT + 1) is not
        status = main(["--port", str(port), "--template", str(template), "--state-root", str(tmp_path)])
    out, err = capsys.readouterr()
    match = busy_port_message(port + 1, " (the development issuer's: PORT + 1)").fullmatch(err)
    assert (status, out, match is not None) == (2, "", True), err


def test_two_instances_keep_their_own_keys_and_state(two: tuple[LocalInstance, LocalInstance]) -> None:
    first, second = two
    assert first.port != second.port
    assert first.state_dir == first.state_dir.parent / f"port-{first.port}"
    assert second.state_dir == first.state_dir.parent / f"port-{second.port}"
    assert {p.name for p in first.state_dir.iterdir()} == {"issuer-keys.json", RUN_STATE_FILE}
    assert first.issuer.key_store.signing_key().kid != second.issuer.key_store.signing_key().kid
    assert json.loads((second.state_dir / RUN_STATE_FILE).read_text())["api_url"] == second.gateway.url


def test_token_for_a_port_is_accepted_there_and_refused_by_the_other(
    two: tuple[LocalInstance, LocalInstance], capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = two
    root = str(first.state_dir.parent)
    for mine, other in ((first, second), (second, first)):
        status, token, err = mint(
            capsys, "--state-root", root, "--port", str(mine.port), "--scopes", "items:read"
        )
        assert (status, err) == (0, "")
        assert (hello(mine, token), hello(other, token)) == (200, 401)


def test_token_without_a_port_asks_which_instance(
    two: tuple[LocalInstance, LocalInstance], capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = two
    low, high = sorted((first.port, second.port))
    assert mint(capsys, "--state-root", str(first.state_dir.parent)) == (
        1,
        "",
        f"local.token: 2 local APIs are running (ports {low}, {high}); choose one: make token PORT={low}\n",
    )


def test_token_for_a_port_without_an_instance_names_the_running_ones(
    template: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    instance = quiet_instance(template, tmp_path)
    try:
        absent = instance.port + 1  # its issuer's port: never an API's
        assert mint(capsys, "--state-root", str(tmp_path), "--port", str(absent)) == (
            1,
            "",
            f"local.token: no local API on port {absent}; running on port {instance.port}: "
            f"make token PORT={instance.port}\n",
        )
        status, token, _ = mint(capsys, "--state-root", str(tmp_path))  # the one running instance
        assert (status, hello(instance, token)) == (0, 200)
    finally:
        instance.stop()
    assert not (instance.state_dir / RUN_STATE_FILE).exists()


def test_an_instance_keeps_its_issuer_keys_across_restarts_on_its_port(
    template: Path, tmp_path: Path, free_pair: int
) -> None:
    port = free_pair
    first = quiet_instance(template, tmp_path, port)
    kid = first.issuer.key_store.signing_key().kid
    first.stop()
    again = quiet_instance(template, tmp_path, port)
    try:
        assert again.issuer.key_store.signing_key().kid == kid
    finally:
        again.stop()


def test_unknown_route_is_404_not_found_with_cors_headers(template: Path, tmp_path: Path) -> None:
    instance = quiet_instance(template, tmp_path)
    try:
        reply = call(instance.gateway.url, "GET", "/no-such-route", {"Origin": ORIGIN})
    finally:
        instance.stop()
    assert (reply.status, json.loads(reply.body)) == (
        404,
        {"error": "not_found", "message": "No route matches this method and path."},
    )
    assert (reply.headers["Access-Control-Allow-Origin"], reply.headers["Vary"]) == (ORIGIN, "Origin")
    assert reply.headers["Access-Control-Expose-Headers"] == "WWW-Authenticate,Retry-After"
