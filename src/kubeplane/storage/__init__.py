"""Object storage for the API server: the narrow seam (``interface``), the only code that speaks
etcd (``etcd3``), the watch cache decorator (``cacher``), an in-memory backend for unit tests
(``memory``) and the conformance suite every backend passes (``testing``).

Only ``kubeplane.apiserver`` imports this package.
"""
