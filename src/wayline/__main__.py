"""``python -m wayline`` is the ``wayline`` command."""

import sys

from wayline.server import main

sys.exit(main())
