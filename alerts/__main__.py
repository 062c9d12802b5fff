import sys

from alerts.cli import main
from ingest.config import load_env_file

load_env_file()
sys.exit(main())
