"""`make compare`: one hostile corpus through the Lambda gate and through the native JWT authorizer model.

Both sides run behind the same local API Gateway emulator (local/gateway.py) with the same routes and gateway
responses, one built from a template with the stack's REQUEST authorizer (the gate, in-process, as handler.py
runs it), the other from a template with a native JWT authorizer (local/native_jwt.py). Real keys, a real
loopback identity provider (discovery and JWKS, requests counted), a fixed clock: the report,
docs/native-vs-lambda.md, comes out the same on every run, and tests/compare checks the committed one.
"""
