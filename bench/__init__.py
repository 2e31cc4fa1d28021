"""`make bench`: the authorizer's cost against the physical limit and against its peers, in one run.

Everything runs on this machine: a loopback JWKS server, freshly generated RSA-2048 keys, distinct tokens, and
the peers (PyJWT, and the Node.js original and aws-jwt-verify from bench/node_modules). Ratios to the limit
measured in the same interleaved rounds are the headline because the machine is shared and absolute timings
drift.
"""
