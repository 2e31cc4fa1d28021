"""A loopback stand-in for the AWS Parameters and Secrets Lambda Extension's Parameter Store route.

It answers the one request the authorizer makes with `keySource: ssm` (gate/key_sources.py) the way the
extension documents it (https://docs.aws.amazon.com/systems-manager/latest/userguide/
ps-integration-lambda-extensions.html): `GET /systemsmanager/parameters/get?name=NAME[&withDecryption=...]`
on `localhost`, authenticated by the `X-Aws-Parameters-Secrets-Token` header, which must equal the function's
`AWS_SESSION_TOKEN`; the body is the SSM GetParameter response, `{"Parameter": {"Name", "Type", "Value",
"Version", "LastModifiedDate", "ARN", "DataType"}}`.

Error answers (the page documents the header requirement, not the status codes, so these are this stand-in's
choice and the authorizer does not depend on them: any answer but 200 is a failed fetch): no token header 401,
a wrong token 403, no `name` 400, an unknown parameter 400 with SSM's `ParameterNotFound`, another path 404.

`values` maps a parameter name to its current value, or to None when it does not exist; it is called per
request, so a value may follow a key store (`make local` serves the development issuer's keys this way).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

PATH = "/systemsmanager/parameters/get"
TOKEN_HEADER = "X-Aws-Parameters-Secrets-Token"  # noqa: S105 - a header name, not a secret
LOCAL_ARN_PREFIX = "arn:aws:ssm:us-east-1:123456789012:parameter"

ParameterValues = Callable[[str], str | None]


class ParametersExtensionStandIn(ThreadingHTTPServer):
    """Serves `values` on 127.0.0.1:`port` (0 picks one) to callers presenting `token`."""

    daemon_threads = True

    def __init__(self, values: ParameterValues, *, token: str | None = None, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.values = values
        self.token = token or secrets.token_urlsafe(24)
        self.requests: list[tuple[str, int]] = []  # (name or path, status) per request, for tests
        self._lock = threading.Lock()
        self._versions: dict[str, tuple[str, int]] = {}
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def environment(self) -> dict[str, str]:
        """What a function needs to reach this stand-in as it would reach the extension."""
        return {"AWS_SESSION_TOKEN": self.token, "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": str(self.port)}

    def start(self) -> ParametersExtensionStandIn:
        self._thread = threading.Thread(target=self.serve_forever, name="parameters-extension", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self.shutdown()
            self._thread.join()
        self.server_close()

    def version(self, name: str, value: str) -> int:
        """Parameter Store's Version: 1 for the first value seen, one more for each different value."""
        with self._lock:
            previous = self._versions.get(name)
            number = 1 if previous is None else previous[1] + (previous[0] != value)
            self._versions[name] = (value, number)
            return number

    def record(self, what: str, status: int) -> None:
        with self._lock:
            self.requests.append((what, status))


class _Handler(BaseHTTPRequestHandler):
    server: ParametersExtensionStandIn
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        name = (query.get("name") or [""])[0]
        token = self.headers.get(TOKEN_HEADER)
        if url.path.rstrip("/") != PATH:
            self._answer(url.path, 404, {"message": "not found"})
        elif token is None:
            self._answer(name, 401, {"message": f"missing {TOKEN_HEADER} header"})
        elif not secrets.compare_digest(token, self.server.token):
            self._answer(name, 403, {"message": f"invalid {TOKEN_HEADER}"})
        elif not name:
            self._answer(name, 400, {"message": "the name query parameter is required"})
        else:
            value = self.server.values(name)
            if value is None:
                self._answer(name, 400, {"__type": "ParameterNotFound", "message": f"{name} not found"})
                return
            self._answer(
                name,
                200,
                {
                    "Parameter": {
                        "ARN": f"{LOCAL_ARN_PREFIX}/{name.lstrip('/')}",
                        "DataType": "text",
                        "LastModifiedDate": time.time(),
                        "Name": name,
                        "Selector": None,
                        "SourceResult": None,
                        "Type": "String",
                        "Value": value,
                        "Version": self.server.version(name, value),
                    },
                    "ResultMetadata": {},
                },
            )

    def _answer(self, what: str, status: int, document: object) -> None:
        self.server.record(what, status)
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the gateway's decision log is the interesting one."""
