"""Offline-first Hugging Face hub downloads: the cache first, the network only when it answers at once."""

from __future__ import annotations

import socket
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlparse

from align3r.errors import first_line


def hub_reachable(endpoint: str) -> bool:
    """Whether the hub's host answers within 3 s (the hub client's own retries take ~25 s)."""
    url = urlparse(endpoint)
    try:
        socket.create_connection((url.hostname, url.port or 443), timeout=3).close()
    except OSError:
        return False
    return True


def fetch_snapshot(repo_id: str, patterns: Sequence[str]) -> tuple[Path | None, str]:
    """The local folder of hub repository `repo_id` holding the files that match `patterns`.

    The hub cache is tried first; a download is tried only when the hub is not switched off
    (`HF_HUB_OFFLINE`) and its host answers within 3 s, so that an offline machine fails at once.

    Returns:
        (folder, "") when found or downloaded, else (None, why not: "offline" or the hub's answer).
    """
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        return Path(snapshot_download(repo_id, allow_patterns=list(patterns), local_files_only=True)), ""
    except LocalEntryNotFoundError:
        pass
    reason = "offline"
    if not constants.HF_HUB_OFFLINE and hub_reachable(constants.ENDPOINT):
        try:
            return Path(snapshot_download(repo_id, allow_patterns=list(patterns))), ""
        except (HfHubHTTPError, LocalEntryNotFoundError, OSError) as err:
            reason = first_line(err)
    return None, reason


def hub_cache() -> str:
    """The Hugging Face hub cache folder (for messages)."""
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)
