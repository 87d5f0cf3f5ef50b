"""CustomResourceDefinitions (apiextensions.k8s.io): their validation and strategy, and the serving
of the resources they define (dynamic stores and handlers, discovery, OpenAPI, printing).

Import the serving side from ``kubeplane.apiserver.apiextensions.serving``; this package's root
stays import-light because the registry imports the CRD strategy from it.
"""
