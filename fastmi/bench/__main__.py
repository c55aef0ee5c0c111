"""``python -m fastmi.bench``: the same as ``fastmi bench``."""
import sys

from ._cli import main

sys.exit(main())
