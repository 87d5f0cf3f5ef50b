"""Cluster networking. ``vpc/`` simulates an AWS VPC with network namespaces: subnets per zone, a
router, instances with ENIs. Later parts (the VPC CNI, kube-proxy, DNS) build on it."""
