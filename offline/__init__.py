"""Evaluate the stack program without the Pulumi CLI or a cloud: mocks, preview, policy input."""
