"""Plumbing every component shares: cluster PKI, background processes and readiness waits,
storage start-up helpers. Imports nothing from the components themselves."""
