"""CDK side of jwt-gate: configuration, the reusable JwtAuthorizer construct and the deployable stack."""
