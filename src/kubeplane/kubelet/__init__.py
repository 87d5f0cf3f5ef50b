"""The node agent: a kubelet on a per-node containerd, reached through CRI v1.

``cri/`` speaks to the container runtime (a CRI v1 client, and the per-node containerd it talks
to); ``images/`` builds the base images (busybox, pause) as OCI archives and imports them, so
nodes run pods without any registry.
"""
