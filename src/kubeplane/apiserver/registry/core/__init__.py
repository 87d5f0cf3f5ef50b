"""Strategies of core/v1 resources that differ from the generic defaults."""
