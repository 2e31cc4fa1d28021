"""Run the synthesized stack on a laptop: an API Gateway REST emulator plus a development OpenID issuer.

Everything here is built from the CloudFormation template the CDK app synthesizes, so the local run cannot
drift from what gets deployed. See local/README.md for what differs from the real API Gateway.
"""
