"""The ``kubeplane`` command: parses arguments, then calls into the component packages."""
