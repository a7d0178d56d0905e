import os
import sys
from pathlib import Path

# Rule bugs must fail the tests, not be reported and skipped as they are for users.
os.environ["FLASKLEAK_STRICT"] = "1"
sys.path.insert(0, str(Path(__file__).parent))

# Fixture code is read by the rules, never run: a fixture project may hold its own test suite.
collect_ignore = ["fixtures"]
