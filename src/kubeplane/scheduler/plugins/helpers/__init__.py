"""Matching rules several plugins share (tolerations, node selectors)."""
