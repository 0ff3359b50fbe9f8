"""Log setup: readable lines by default, one JSON object per line with `--log-json`.

JSON lines carry `time` (UTC, ISO-8601), `level`, `logger`, `message`, and
`exception` when there is one, so a log shipper can index them without parsing.
Log messages never carry secrets (the RMS client never logs headers; errors name
the environment variables, not their values).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc = {"time": datetime.fromtimestamp(record.created, UTC).isoformat(),
               "level": record.levelname.lower(), "logger": record.name,
               "message": record.getMessage()}
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False)


def setup(*, verbose: bool = False, json_lines: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter(TEXT_FORMAT))
    handler.set_name("unyo")
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "unyo"]:
        root.removeHandler(old)  # a second setup in one process (tests) replaces the first
    root.addHandler(handler)
    root.setLevel(logging.INFO if verbose else logging.WARNING)
