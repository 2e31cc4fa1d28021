"""Strict parsing of a compact JWS (RFC 7515 section 7.1), before any key is looked up.

Why not ``jwt.decode``: it parses, looks up and verifies in one call, so a warm authorization would
pay for PyJWT's generic option handling on every request. This module does only the parsing, and
more strictly than PyJWT (tests compare verdicts):

* exactly three non-empty segments of the base64url alphabet, no padding, and canonical trailing
  bits, so one token has exactly one spelling (a second spelling would bypass API Gateway's
  per-token cache and any deny-list keyed on the token);
* header and payload are UTF-8 JSON objects without duplicate member names (RFC 7515 section 5.2
  allows rejecting them; accepting would let two parsers see different claims) and without the
  non-standard NaN/Infinity constants;
* a size cap before any decoding, so hostile input costs at most a bounded amount of work.

The payload is decoded here (cheap) but parsed as JSON only after the signature has been verified.
"""

# Annotations are not postponed (no __future__ import): typing.NamedTuple compiles every string annotation
# when it creates a class, ~0.1 ms per class on every cold start (tests/authorizer/test_authz_imports.py).
import binascii
import json
from collections.abc import Callable
from typing import Any, Final, NamedTuple

from gate.errors import MALFORMED_TOKEN, TOKEN_TOO_LARGE, Rejection

# Real access tokens are 1-4 KB; Entra ID tokens with many groups reach ~8 KB. API Gateway itself
# caps a header at 10 KB, so anything above 16 KiB is hostile.
MAX_TOKEN_LENGTH: Final = 16384

# The documented shape (three base64url segments), as pattern text: split_compact checks it by hand on the
# warm path, tests/authorizer holds the two equal, and nothing compiles it at import (cold start).
COMPACT: Final = r"([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)"
# A final base64 group of 2 (3) characters carries 4 (2) unused low bits; canonical encodings set
# them to zero, which leaves exactly these final characters.
_LAST_OF_TWO: Final = frozenset(b"AQgw")
_LAST_OF_THREE: Final = frozenset(b"AEIMQUYcgkosw048")
_TO_STANDARD: Final = bytes.maketrans(b"-_", b"+/")


class CompactJws(NamedTuple):
    """A syntactically valid, not yet verified token."""

    header: dict[str, Any]
    signing_input: bytes
    payload: bytes
    signature: bytes


def b64url_decode(segment: bytes) -> bytes:
    """Decode one canonical, unpadded base64url segment (alphabet already checked by the caller)."""
    remainder = len(segment) & 3
    if remainder == 2:
        if segment[-1] not in _LAST_OF_TWO:
            raise ValueError("non-canonical base64url")
        segment += b"=="
    elif remainder == 3:
        if segment[-1] not in _LAST_OF_THREE:
            raise ValueError("non-canonical base64url")
        segment += b"="
    elif remainder == 1:
        raise ValueError("impossible base64url length")
    return binascii.a2b_base64(segment.translate(_TO_STANDARD), strict_mode=True)


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate member name")
    return result


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_DECODER: Final = json.JSONDecoder(object_pairs_hook=_object_without_duplicates, parse_constant=_no_constants)


_SCAN: Final[Callable[[str, int], tuple[Any, int]]] = _DECODER.scan_once  # type: ignore[attr-defined]
# The same scanner without the duplicate hook: it builds each object in C (see parse_json_object)
_SCAN_PLAIN: Final[Callable[[str, int], tuple[Any, int]]] = json.JSONDecoder(  # type: ignore[attr-defined]
    parse_constant=_no_constants
).scan_once
_JSON_WHITESPACE: Final = " \t\n\r"


def parse_json_object(data: bytes) -> dict[str, Any]:
    """Strict JSON object from UTF-8 bytes; raises ValueError on anything else.

    A text that starts with ``{`` (every real token) goes straight to the decoder's scanner: that is what
    ``JSONDecoder.decode`` does after its two whitespace regex passes, which cost a third of the parse on the
    warm path. The trailing-whitespace rule is decode()'s.

    A text without arrays is first scanned without the duplicate hook (which builds a list of pairs and calls
    back into Python for every object: about a sixth of the parse), and its commas are counted instead. Every
    member after an object's first, and every element after an array's first, follows a comma of its own, and
    strings may hold more commas: so a text holds at least (members - 1) commas for its outer object, plus one
    for each further member of anything nested. When the commas number exactly one less than the names the
    plain scan kept, each of those terms is at its least: no name of the outer object came twice, and nothing
    nested has a second member to repeat a name with. Otherwise (a name given twice, a nested object with
    several members, a comma in a string) the hooked scan decides, as it does at once for texts with a ``[``,
    whose arrays would fail the count anyway. Property tests hold both shortcuts to decode() with the hook.
    """
    text = data.decode("utf-8")
    try:
        if text[:1] != "{":
            value = _DECODER.decode(text)
        else:
            if "[" not in text:
                value, end = _SCAN_PLAIN(text, 0)
                if text.count(",") + 1 != len(value):
                    value, end = _SCAN(text, 0)
            else:
                value, end = _SCAN(text, 0)
            if end != len(text) and text[end:].strip(_JSON_WHITESPACE):
                raise ValueError("data after the JSON value")
    except StopIteration:
        raise ValueError("not JSON") from None
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    if type(value) is not dict:
        raise ValueError("not a JSON object")
    return value


# The three base64url segments of a compact JWS, still encoded, and the bytes the signature covers: header,
# payload, signature, signing input. A plain tuple, not a NamedTuple: building one is a Python-level call that
# the warm path would pay per token.
Segments = tuple[bytes, bytes, bytes, bytes]


def split_compact(token: str) -> Segments:
    """The size, alphabet and shape checks of :func:`parse_compact`, without decoding anything.

    Split from the decoding so that a verifier can look the header segment up among the headers it has
    judged before (gate/verify.py): an identity provider's tokens share a handful of header spellings.
    """
    if len(token) > MAX_TOKEN_LENGTH:
        raise Rejection(TOKEN_TOO_LARGE)
    # The alphabet check without a regex pass (warm path): "+", "/" and "=" are the only characters that
    # strict standard-base64 decoding accepts and base64url does not; every other stray character (and any
    # non-ASCII one) fails encode() or a2b_base64 later. tests/authorizer holds this to COMPACT.
    if "+" in token or "/" in token or "=" in token:
        raise Rejection(MALFORMED_TOKEN)
    try:
        # bytes from here on: bytes.translate and a2b_base64 are several times faster than on str
        raw = token.encode("ascii")
    except UnicodeEncodeError:
        raise Rejection(MALFORMED_TOKEN) from None
    try:
        header_segment, payload_segment, signature_segment = raw.split(b".")
    except ValueError:  # not three segments
        raise Rejection(MALFORMED_TOKEN) from None
    if not (header_segment and payload_segment and signature_segment):
        raise Rejection(MALFORMED_TOKEN)
    signing_input = raw[: len(header_segment) + 1 + len(payload_segment)]
    return header_segment, payload_segment, signature_segment, signing_input


def decode_compact(segments: Segments) -> CompactJws:
    """Header, payload and signature of ``segments``; Rejection on any defect."""
    header_segment, payload_segment, signature_segment, signing_input = segments
    try:
        header = parse_json_object(b64url_decode(header_segment))
        payload = b64url_decode(payload_segment)
        signature = b64url_decode(signature_segment)
    except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
        raise Rejection(MALFORMED_TOKEN) from None
    return CompactJws(header=header, signing_input=signing_input, payload=payload, signature=signature)


def parse_compact(token: str) -> CompactJws:
    """Split and decode ``token``; raises :class:`Rejection` with a reason code on any defect."""
    return decode_compact(split_compact(token))
