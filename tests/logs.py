"""Log records as the processes write them: one JSON object per line (service.log_config)."""

import json

from service.log_config import json_formatter

_FORMATTER = json_formatter()


def logged_lines(caplog, name_ends_with: str = "") -> list[dict]:
    """Each captured record as the JSON object its line holds, message and fields alike."""
    return [json.loads(_FORMATTER.format(record)) for record in caplog.records if record.name.endswith(name_ends_with)]


def logged_text(caplog) -> str:
    """Every captured line as written, for checking that no secret appears in any field."""
    return "\n".join(_FORMATTER.format(record) for record in caplog.records)
