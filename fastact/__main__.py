"""``python -m fastact ...`` is ``fastact ...`` (see ``fastact.cli``)."""
import sys

from .cli import main

sys.exit(main())
