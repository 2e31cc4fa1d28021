"""The authorizer's logic, importable and testable without AWS.

The Lambda entry point (``handler.py`` next to this package) only builds an
:class:`gate.authorizer.Authorizer` once per container and forwards events to it.
"""
