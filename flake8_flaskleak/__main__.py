"""``python -m flake8_flaskleak`` runs the ``flaskleak`` command."""

import sys

from .cli import main

sys.exit(main())
