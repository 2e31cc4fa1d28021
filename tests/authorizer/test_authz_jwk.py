"""gate.jwk against PyJWT's from_jwk (the oracle): never laxer, and stricter only where listed.

The differential property: whenever gate.jwk accepts a JWK, PyJWT's ``from_jwk`` (given the same
public members, as gate.keys passes them) accepts it and yields the same public key; whenever PyJWT
accepts one that gate.jwk refuses, the JWK falls under a deliberate strictness listed in gate.jwk's
docstring (``deliberately_stricter`` below).
"""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from gate.jwk import JwkError, load_public_key

PUBLIC_MEMBERS = {"RSA": ("kty", "n", "e"), "EC": ("kty", "crv", "x", "y"), "OKP": ("kty", "crv", "x")}
ORACLES: dict[str, Any] = {"RSA": RSAAlgorithm, "EC": ECAlgorithm, "OKP": OKPAlgorithm}
STRICT_B64URL = re.compile(r"[A-Za-z0-9_-]+(={0,2})")
CURVES = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1(), "P-521": ec.SECP521R1()}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def uint(value: int) -> str:
    return b64(value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big"))


RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
EC_KEYS = {name: ec.generate_private_key(curve).public_key() for name, curve in CURVES.items()}
ED25519_KEY = ed25519.Ed25519PrivateKey.generate().public_key()
ED448_KEY = ed448.Ed448PrivateKey.generate().public_key()


def rsa_jwk(**members: Any) -> dict[str, Any]:
    numbers = RSA_KEY.public_numbers()
    return {"kty": "RSA", "n": uint(numbers.n), "e": uint(numbers.e), **members}


def ec_jwk(crv: str = "P-256", **members: Any) -> dict[str, Any]:
    numbers = EC_KEYS[crv].public_numbers()
    size = {"P-256": 32, "P-384": 48, "P-521": 66}[crv]
    x, y = numbers.x.to_bytes(size, "big"), numbers.y.to_bytes(size, "big")
    return {"kty": "EC", "crv": crv, "x": b64(x), "y": b64(y), **members}


def okp_jwk(crv: str = "Ed25519", **members: Any) -> dict[str, Any]:
    key = ED25519_KEY if crv == "Ed25519" else ED448_KEY
    return {"kty": "OKP", "crv": crv, "x": b64(key.public_bytes_raw()), **members}


def fingerprint(key: object) -> object:
    """What identifies a public key: its numbers (RSA, EC with curve) or raw bytes (OKP)."""
    if isinstance(key, rsa.RSAPublicKey):
        numbers = key.public_numbers()
        return ("RSA", numbers.n, numbers.e)
    if isinstance(key, ec.EllipticCurvePublicKey):
        point = key.public_numbers()
        return ("EC", key.curve.name, point.x, point.y)
    if isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        return (type(key).__name__, key.public_bytes_raw())
    return ("not a public key", type(key).__name__)


def ours(jwk: dict[str, Any]) -> object:
    try:
        return fingerprint(load_public_key(jwk))
    except JwkError:
        return None


def pyjwt(jwk: dict[str, Any]) -> object:
    kty = jwk.get("kty")
    if not isinstance(kty, str) or kty not in ORACLES:
        return None
    oracle = ORACLES[kty]
    public = {m: jwk[m] for m in PUBLIC_MEMBERS[kty] if m in jwk}
    try:
        return fingerprint(oracle.from_jwk(public))
    except Exception:  # noqa: BLE001 - any refusal by the oracle, whatever its type
        return None


def deliberately_stricter(jwk: dict[str, Any]) -> bool:
    """The listed cases where gate.jwk may refuse what PyJWT accepts."""
    kty = jwk.get("kty")
    if kty == "EC" and jwk.get("crv") == "secp256k1":
        return True
    loaded = pyjwt(jwk)
    if isinstance(loaded, tuple) and loaded[0] == "RSA" and loaded[1] % 2 == 0:
        return True  # an even modulus
    names = {"RSA": ("n", "e"), "EC": ("x", "y"), "OKP": ("x",)}.get(kty if isinstance(kty, str) else "", ())
    for name in names:
        value = jwk.get(name)
        if not isinstance(value, str):
            continue
        match = STRICT_B64URL.fullmatch(value)
        if match is None:
            return True  # outside the base64url alphabet, or empty
        body = len(value) - len(match.group(1))
        if match.group(1) and len(match.group(1)) != (4 - body % 4) % 4:
            return True  # padding, but not the exact amount
    return False


def test_valid_keys_load_as_the_same_public_keys_as_pyjwt():
    for jwk in (rsa_jwk(), *(ec_jwk(crv) for crv in CURVES), okp_jwk("Ed25519"), okp_jwk("Ed448")):
        assert ours(jwk) is not None
        assert ours(jwk) == pyjwt(jwk)


def test_private_members_are_ignored_and_a_public_key_comes_out():
    leaked = rsa_jwk(d="AQAB", p="AQAB", q="AQAB", dp="AQAB", dq="AQAB", qi="AQAB")
    assert isinstance(load_public_key(leaked), rsa.RSAPublicKey)
    assert isinstance(load_public_key(okp_jwk(d=b64(bytes(32)))), ed25519.Ed25519PublicKey)
    assert isinstance(load_public_key(ec_jwk(d=b64(bytes(32)))), ec.EllipticCurvePublicKey)


def test_leading_zero_octets_are_accepted_like_pyjwt():
    numbers = RSA_KEY.public_numbers()
    padded = rsa_jwk(n=b64(b"\x00" + numbers.n.to_bytes(256, "big")), e=b64(b"\x00\x01\x00\x01"))
    assert ours(padded) == pyjwt(padded) == ("RSA", numbers.n, numbers.e)


def test_exact_padding_is_tolerated_like_pyjwt():
    padded = rsa_jwk(e="AQAB", n=uint(RSA_KEY.public_numbers().n) + "==")  # 2048-bit n: 342 chars, 2 pad
    assert ours(padded) == pyjwt(padded) == fingerprint(RSA_KEY)


P256_X = ec_jwk()["x"]
P256_Y = ec_jwk()["y"]
_K1_POINT = ec.generate_private_key(ec.SECP256K1()).public_key().public_numbers()
SECP256K1_JWK = {
    "kty": "EC",
    "crv": "secp256k1",
    "x": b64(_K1_POINT.x.to_bytes(32, "big")),
    "y": b64(_K1_POINT.y.to_bytes(32, "big")),
}
OFF_CURVE_Y = b64((EC_KEYS["P-256"].public_numbers().y ^ 1).to_bytes(32, "big"))

# (jwk, our exact error message, whether PyJWT accepts it: True only for listed strictness)
HOSTILE: list[tuple[str, dict[str, Any], str, bool]] = [
    ("no kty", {"n": "AQAB", "e": "AQAB"}, "unsupported kty None", False),
    ("kty lowercase", rsa_jwk(kty="rsa"), "unsupported kty 'rsa'", False),
    ("kty oct", {"kty": "oct", "k": "AQAB"}, "unsupported kty 'oct'", False),
    ("kty not a string", rsa_jwk(kty=["RSA"]), "unsupported kty ['RSA']", False),
    ("RSA n missing", {"kty": "RSA", "e": "AQAB"}, "member 'n' is missing or not a string", False),
    ("RSA e missing", {"kty": "RSA", "n": rsa_jwk()["n"]}, "member 'e' is missing or not a string", False),
    (
        "RSA n an integer",
        rsa_jwk(n=RSA_KEY.public_numbers().n),
        "member 'n' is missing or not a string",
        False,
    ),
    ("RSA e null", rsa_jwk(e=None), "member 'e' is missing or not a string", False),
    ("RSA e empty", rsa_jwk(e=""), "member 'e' is not base64url", False),
    ("RSA e even", rsa_jwk(e=uint(65536)), "invalid RSA public numbers (e must be odd.)", False),
    ("RSA e one", rsa_jwk(e=uint(1)), "invalid RSA public numbers (e must be >= 3 and < n.)", False),
    (
        "RSA e not below n",
        rsa_jwk(n=uint(65537), e=uint(65539)),
        "invalid RSA public numbers (e must be >= 3 and < n.)",
        False,
    ),
    ("RSA n even", rsa_jwk(n=uint(2**2048)), "RSA modulus n is even", True),
    ("RSA impossible length", rsa_jwk(e="AQABA"), "member 'e' has an impossible base64url length", False),
    ("RSA excess padding", rsa_jwk(e="AQAB="), "member 'e' has an impossible base64url length", True),
    (
        "RSA standard alphabet",
        rsa_jwk(n=rsa_jwk()["n"].replace("-", "+").replace("_", "/") + "+/"),
        "member 'n' is not base64url",
        True,
    ),
    ("RSA whitespace", rsa_jwk(e="AQ AB"), "member 'e' is not base64url", True),
    ("RSA trailing newline", rsa_jwk(e="AQAB\n"), "member 'e' is not base64url", True),
    ("EC crv missing", {"kty": "EC", "x": P256_X, "y": P256_Y}, "unsupported EC crv None", False),
    ("EC crv unknown", ec_jwk(crv="P-256") | {"crv": "P-192"}, "unsupported EC crv 'P-192'", False),
    ("EC crv secp256k1", SECP256K1_JWK, "unsupported EC crv 'secp256k1'", True),
    ("EC crv mismatch", ec_jwk() | {"crv": "P-384"}, "EC coordinates must be 48 octets for P-384", False),
    (
        "EC y missing",
        {"kty": "EC", "crv": "P-256", "x": P256_X},
        "member 'y' is missing or not a string",
        False,
    ),
    ("EC x short", ec_jwk(x=b64(bytes(31))), "EC coordinates must be 32 octets for P-256", False),
    (
        "EC x with a leading zero",
        ec_jwk(x=b64(bytes(33))),
        "EC coordinates must be 32 octets for P-256",
        False,
    ),
    ("EC off-curve point", ec_jwk(y=OFF_CURVE_Y), "EC point is not on P-256", False),
    ("EC point at zero", ec_jwk(x=b64(bytes(32)), y=b64(bytes(32))), "EC point is not on P-256", False),
    ("OKP crv missing", {"kty": "OKP", "x": okp_jwk()["x"]}, "unsupported OKP crv None", False),
    ("OKP crv X25519", okp_jwk() | {"crv": "X25519"}, "unsupported OKP crv 'X25519'", False),
    ("OKP Ed25519 short", okp_jwk(x=b64(bytes(31))), "invalid Ed25519 public key", False),
    ("OKP Ed448 as Ed25519", okp_jwk("Ed448") | {"crv": "Ed25519"}, "invalid Ed25519 public key", False),
    ("OKP x missing", {"kty": "OKP", "crv": "Ed25519"}, "member 'x' is missing or not a string", False),
]


@pytest.mark.parametrize(
    ("jwk", "message", "pyjwt_accepts"), [c[1:] for c in HOSTILE], ids=[c[0] for c in HOSTILE]
)
def test_hostile_jwk_is_refused(jwk: dict[str, Any], message: str, pyjwt_accepts: bool):
    with pytest.raises(JwkError) as caught:
        load_public_key(jwk)
    assert str(caught.value) == message
    assert (pyjwt(jwk) is not None) == pyjwt_accepts
    if pyjwt_accepts:
        assert deliberately_stricter(jwk)


def _raw_bytes(size: int) -> st.SearchStrategy[bytes]:
    return st.one_of(st.binary(min_size=size, max_size=size), st.binary(max_size=size + 2))


@st.composite
def encodings(draw: st.DrawFn, data: bytes) -> object:
    """``data`` spelt the right way, or in one of the ways a broken or hostile JWKS spells it."""
    canonical = b64(data)
    spelling = draw(
        st.sampled_from(
            [
                "canonical",
                "padded",
                "over-padded",
                "standard",
                "space",
                "newline",
                "junk",
                "text",
                "empty",
                "int",
                "none",
            ]
        )
    )
    if spelling == "padded":
        return base64.urlsafe_b64encode(data).decode("ascii")
    if spelling == "over-padded":
        return canonical + "="
    if spelling == "standard":
        return base64.b64encode(data).decode("ascii").rstrip("=")
    if spelling in ("space", "newline", "junk"):
        cut = draw(st.integers(0, len(canonical)))
        extra = {"space": " ", "newline": "\n", "junk": draw(st.sampled_from(["!", "*", ".", "é", "\x00"]))}[
            spelling
        ]
        return canonical[:cut] + extra + canonical[cut:]
    if spelling == "text":
        return draw(st.text(max_size=12))
    if spelling == "empty":
        return ""
    if spelling == "int":
        return int.from_bytes(data, "big")
    if spelling == "none":
        return None
    return canonical


@st.composite
def rsa_jwks(draw: st.DrawFn) -> dict[str, Any]:
    if draw(st.booleans()):
        n, e = RSA_KEY.public_numbers().n, 65537
    else:
        n = draw(st.integers(0, 2**2100))
        e = draw(st.sampled_from([0, 1, 2, 3, 65537, 65536, n, n + 2, n - 2]) | st.integers(0, 2**70))
    n_bytes = n.to_bytes(max(1, (n.bit_length() + 7) // 8), "big") if n >= 0 else b""
    e_bytes = e.to_bytes(max(1, (e.bit_length() + 7) // 8), "big") if e >= 0 else b""
    zeros = b"\x00" * draw(st.integers(0, 2))
    return {"kty": "RSA", "n": draw(encodings(zeros + n_bytes)), "e": draw(encodings(e_bytes))}


@st.composite
def ec_jwks(draw: st.DrawFn) -> dict[str, Any]:
    crv = draw(st.sampled_from(["P-256", "P-384", "P-521"]))
    size = {"P-256": 32, "P-384": 48, "P-521": 66}[crv]
    if draw(st.booleans()):
        point = EC_KEYS[crv].public_numbers()
        x, y = point.x.to_bytes(size, "big"), point.y.to_bytes(size, "big")
        if draw(st.booleans()):
            flip = draw(st.integers(0, size * 8 - 1))
            y = (int.from_bytes(y, "big") ^ (1 << flip)).to_bytes(size, "big")
    else:
        x, y = draw(_raw_bytes(size)), draw(_raw_bytes(size))
    claimed = draw(st.sampled_from([crv, crv, crv, "P-256", "P-521", "secp256k1", "p-256", None]))
    jwk: dict[str, Any] = {"kty": "EC", "x": draw(encodings(x)), "y": draw(encodings(y))}
    if claimed is not None:
        jwk["crv"] = claimed
    return jwk


@st.composite
def okp_jwks(draw: st.DrawFn) -> dict[str, Any]:
    crv = draw(st.sampled_from(["Ed25519", "Ed448"]))
    real = ED25519_KEY if crv == "Ed25519" else ED448_KEY
    size = 32 if crv == "Ed25519" else 57
    x = real.public_bytes_raw() if draw(st.booleans()) else draw(_raw_bytes(size))
    claimed = draw(st.sampled_from([crv, crv, "Ed25519", "Ed448", "X25519", "ed25519", None]))
    jwk: dict[str, Any] = {"kty": "OKP", "x": draw(encodings(x))}
    if claimed is not None:
        jwk["crv"] = claimed
    return jwk


@st.composite
def any_jwks(draw: st.DrawFn) -> dict[str, Any]:
    jwk: dict[str, Any] = draw(st.one_of(rsa_jwks(), ec_jwks(), okp_jwks()))
    if draw(st.integers(0, 9)) == 0:  # a kty that does not describe the members
        jwk["kty"] = draw(st.sampled_from(["RSA", "EC", "OKP", "oct", "rsa", "", None]))
    if draw(st.integers(0, 9)) == 0:  # private members are never read
        jwk["d"] = draw(st.sampled_from(["AQAB", "", "!", b64(bytes(32))]))
    return jwk


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_jwks())
def test_never_laxer_than_pyjwt_and_stricter_only_where_listed(jwk: dict[str, Any]):
    mine, theirs = ours(jwk), pyjwt(jwk)
    if mine is not None:
        assert mine == theirs
    elif theirs is not None:
        assert deliberately_stricter(jwk), jwk
