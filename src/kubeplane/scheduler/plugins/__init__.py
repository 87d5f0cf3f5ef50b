"""The in-tree plugins, one package each; ``registry.in_tree_registry()`` names them all."""
