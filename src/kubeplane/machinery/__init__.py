"""What every component shares about Kubernetes objects: Status errors, metadata rules, selectors,
patches, printing, the version catalog. Imports nothing else from kubeplane."""
