"""The environment of every process that talks to the emulator instead of AWS.

One place for it: the test suite, the demo's child processes and the benchmarks all use these
values, so none of them can drift back to real credentials or to the instance metadata address.
Kept free of heavy imports so the test suite's root conftest can load it cheaply.
"""

from __future__ import annotations

REGION = "us-east-1"

# Fake credentials (boto3 then never looks elsewhere for real ones) and no instance metadata look-up.
OFFLINE_ENV: dict[str, str] = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
}

# The same credentials as boto3.client() keyword arguments.
FAKE_CREDENTIALS: dict[str, str] = {
    "aws_access_key_id": OFFLINE_ENV["AWS_ACCESS_KEY_ID"],
    "aws_secret_access_key": OFFLINE_ENV["AWS_SECRET_ACCESS_KEY"],
}
