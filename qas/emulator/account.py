"""Where the emulator deploys: a fixed fake account and region, the template, the code's S3 object."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qas.emulator import offline

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = REPO_ROOT / "template.yaml"
REGION = offline.REGION  # where the emulator deploys
ACCOUNT_ID = "123456789012"  # moto's default account
PARTITION = "aws"
CODE_BUCKET = "queue-autoscaler-emulated-code"
CODE_KEY = "src.zip"

JsonDict = dict[str, Any]
