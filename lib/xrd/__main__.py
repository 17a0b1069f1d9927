"""``python -m lib.xrd classify PATTERN [PATTERN ...] --model MODEL [--top 3] [--json]``."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from .cli import main  # noqa: E402

raise SystemExit(main())
