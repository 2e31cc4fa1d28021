"""One cold start, run by bench.cold in a fresh interpreter: ``python cold_child.py MODE``.

Each mode imports only what its contender needs (lazily, inside its function) so the process pays exactly that
contender's start-up. The last two lines on stdout are ``peak_rss_kib=N`` and the decision. Configuration
comes from the environment, as in Lambda: ISSUER, AUDIENCE, JWKS_URI, plus BENCH_TOKEN, BENCH_METHOD_ARN,
BENCH_REQUEST_EVENT (the gate's REQUEST event as JSON, built by bench.fixtures.request_event) and
BENCH_AUTHORIZER_ROOT.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

# Run as a script, Python puts bench/ first on sys.path, where fixtures.py or stats.py could shadow what the
# handler imports. Lambda's path has no such folder.
del sys.path[0]


def _token_event() -> dict[str, str]:
    """The TOKEN event the PyJWT reference takes."""
    return {
        "type": "TOKEN",
        "authorizationToken": f"Bearer {os.environ['BENCH_TOKEN']}",
        "methodArn": os.environ["BENCH_METHOD_ARN"],
    }


def _decision(result: Any) -> str:
    statements = result.get("policyDocument", {}).get("Statement", []) if isinstance(result, dict) else []
    return "allowed" if any(s.get("Effect") == "Allow" for s in statements) else "deny policy"


def floor() -> str:
    """The least a cold authorizer can do: fetch keys with the stdlib, load one key, parse and verify once."""
    import base64
    import json
    import urllib.request

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    def decode(text: str) -> bytes:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

    with urllib.request.urlopen(os.environ["JWKS_URI"], timeout=2) as response:  # noqa: S310 - loopback http
        document = json.loads(response.read())
    token = os.environ["BENCH_TOKEN"]
    header_part, payload_part, signature_part = token.split(".")
    header = json.loads(decode(header_part))
    json.loads(decode(payload_part))
    jwk = next(key for key in document["keys"] if key["kid"] == header["kid"])
    numbers = rsa.RSAPublicNumbers(
        int.from_bytes(decode(jwk["e"]), "big"), int.from_bytes(decode(jwk["n"]), "big")
    )
    numbers.public_key().verify(
        decode(signature_part), f"{header_part}.{payload_part}".encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    return "allowed"


def gate() -> str:
    sys.path.insert(0, os.environ["BENCH_AUTHORIZER_ROOT"])
    authorizer = __import__("handler")  # not importlib: the harness must not add imports of its own
    import json  # already loaded by the handler's modules: costs a dict lookup, not an import

    # the REQUEST event the deployed authorizer receives
    event = json.loads(os.environ["BENCH_REQUEST_EVENT"])
    try:
        return _decision(authorizer.handler(event, None))
    except Exception as error:  # noqa: BLE001 - the parent reports whatever came out
        return f"{type(error).__name__}: {error}"


def pyjwt() -> str:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from bench.pyjwt_reference import make_handler

    handler = make_handler(os.environ["JWKS_URI"], os.environ["ISSUER"], os.environ["AUDIENCE"])
    try:
        return _decision(handler(_token_event(), None))
    except Exception as error:  # noqa: BLE001 - the parent reports whatever came out
        return f"{type(error).__name__}: {error}"


def bare() -> str:
    return "bare"


def peak_rss_kib() -> int:
    """Own peak RSS. Not getrusage: after a vfork-based spawn it counts the parent's pages too."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak


MODES = {"floor": floor, "gate": gate, "pyjwt": pyjwt, "bare": bare}

if __name__ == "__main__":
    decision = MODES[sys.argv[1]]()
    print(f"peak_rss_kib={peak_rss_kib()}")
    print(decision)
