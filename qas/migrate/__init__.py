"""`qas import`: another tool's configuration as this template's parameters (docs/migrate-from-copilot.md)."""
