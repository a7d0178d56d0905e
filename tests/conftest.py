import os
import sys
from pathlib import Path

# Rule bugs must fail the tests, not be reported and skipped as they are for users.
os.environ["FLASKLEAK_STRICT"] = "1"
sys.path.insert(0, str(Path(__file__).parent))
