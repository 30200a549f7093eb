"""Test-support code shared by tests, benchmarks and the demo's checks: never part of the production image.

- ``sendgrid_server``: a strict SendGrid-compatible v3 Mail Send server (thread or process).
- ``logs``: helpers that capture everything a run logged and look for secrets and addresses.
"""
