"""The VPC CNI plugin: pods get secondary IPs of the node's ENIs, wired like aws-vpc-cni.

``plugin`` is the executable containerd runs (stdlib only: it starts for every pod, see
``install``), ``result`` builds CNI results and errors, ``wiring`` is the netlink side (veth, /32
routes, static neighbour, policy rules; run by ipamd, which has pyroute2 loaded already), and
``install`` writes the launcher into a CNI bin dir and the conflist into a conf dir. Nothing is
imported here, for the plugin's start-up time.
"""
