"""What every `aftercare` command shares: exit codes, error lines and timestamps."""

from __future__ import annotations

import json
import sys
from typing import Any

EXIT_OK, EXIT_FATAL, EXIT_PARTIAL = 0, 1, 3
EXIT_TAMPERED = 4


def fail(message: str, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"error": message}), file=sys.stderr)
    else:
        print(f"aftercare: {message}", file=sys.stderr)


def iso(moment: Any) -> str | None:
    return moment.isoformat() if moment is not None else None
