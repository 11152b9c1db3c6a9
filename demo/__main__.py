"""``python -m demo``: run the seeded delivery day (see ``demo.runner``)."""

import sys

from demo import runner

sys.exit(runner.main())
