"""kube-proxy in iptables mode (``kubeplane proxy``): Services and EndpointSlices in, one
``iptables-restore`` per sync into the node's network namespace out.

* ``model`` — Services and EndpointSlices as ServicePort / Endpoint values, chain-name hashes
* ``categorize`` — which endpoints each traffic policy may use on this node
* ``rules`` — the ruleset as one restore payload (upstream's chain layout)
* ``changes`` — change tracking between syncs
* ``iptables`` — running iptables in the node's namespace; the Service-range route
* ``proxier`` — the rate-limited sync loop; ``metrics`` — /metrics and /healthz; ``app`` — main()
"""
