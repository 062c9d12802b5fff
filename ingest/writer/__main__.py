"""`python -m ingest.writer --socket PATH --parent PID`: started by `optiview serve` only."""

import sys

from ingest.writer.server import main

sys.exit(main())
