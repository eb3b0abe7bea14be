"""What every Lambda shares: Powertools objects, settings parsing, error logging, a local context."""
