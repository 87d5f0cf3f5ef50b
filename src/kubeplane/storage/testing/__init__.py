"""The storage conformance suite every backend must pass."""
