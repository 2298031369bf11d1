import sys
from pathlib import Path

# tests/naive.py and tests/gradcheck.py are imported as plain modules.
sys.path.insert(0, str(Path(__file__).parent))
