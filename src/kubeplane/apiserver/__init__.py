"""kube-apiserver: HTTP endpoints over a generic registry over storage.

Request flow: ``server`` (aiohttp app, filters) -> ``requestinfo`` (what is asked) -> ``endpoints``
(one handler per verb) -> ``registry`` (a generic store plus a strategy per resource) ->
``kubeplane.storage`` (watch cache over etcd). Discovery and OpenAPI documents come from the
version ``catalog``.
"""
