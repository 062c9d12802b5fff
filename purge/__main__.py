import sys

from ingest.config import load_env_file
from purge.cli import main

load_env_file()
sys.exit(main())
