"""kube-controller-manager: controllers that drive the cluster toward what its objects ask for.

Each controller lives in its own package and meets the others only through the API (via
``kubeplane.client``); ``manager`` registers and runs them, ``app`` is the command line.
"""
