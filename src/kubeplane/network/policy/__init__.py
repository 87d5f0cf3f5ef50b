"""NetworkPolicy (networking.k8s.io/v1) enforced on one node, in its network namespace.

``selection`` turns policies, pods and namespaces into per-pod allow-lists (pure, no I/O);
``rules`` renders those lists as one ``iptables-restore --noflush`` payload of ``KUBEPLANE-NP-*``
chains; ``agent`` runs rate-limited syncs; ``app`` is ``kubeplane network-policy-agent``.
"""
