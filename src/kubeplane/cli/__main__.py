"""``python -m kubeplane.cli``: how the CLI starts component processes with the same interpreter."""

import sys

from kubeplane.cli.main import main

sys.exit(main())
