"""The authorizer's logic, importable and testable without AWS.

The Lambda entry point (``handler.py`` next to this package) only builds an
:class:`gate.authorizer.Authorizer` once per container and forwards events to it.

Every import here is paid by each cold start, so the package keeps to narrow modules: value types
are ``typing.NamedTuple`` rather than dataclasses (``dataclasses`` pulls in ``inspect``, ~4 ms),
JWKs are parsed by :mod:`gate.jwk` rather than PyJWT (~18 ms), and what only some configurations
use (EC, Ed25519/Ed448, TLS) is imported when first needed. tests/authorizer/test_authz_imports.py
guards the list.
"""
