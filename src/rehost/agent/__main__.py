"""`python -m rehost.agent`: the portable agent's command line."""

import sys

from rehost.agent.cli import main

sys.exit(main())
