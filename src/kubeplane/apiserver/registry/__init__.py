"""The generic registry: one ``Store`` does the storage work for every resource; each resource
contributes a small ``Strategy`` (prepare, validate, canonicalise, graceful delete). Subresources
swap the strategy: the status endpoint restores spec, the main endpoint restores status."""
