"""``python -m compare``: see compare.run."""

import sys
from pathlib import Path

# The gate is imported as the Lambda runtime imports it: its asset folder on sys.path (pytest and mypy are
# configured the same way in pyproject.toml).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lambda_src" / "authorizer"))

from compare.run import main

raise SystemExit(main())
