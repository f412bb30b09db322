"""Downloading files with `keras.utils.get_file`, with errors that say what went wrong.

`get_file` raises a bare `Exception("URL fetch failure on URL: CODE -- MESSAGE")`
for network failures (the `HTTPError` or `URLError` behind it is its context)
and a `ValueError` for a hash mismatch, and it leaves a file whose hash does
not match in its cache. `download` turns each into a one-line `BadInput` that
names the cause (an HTTP status, an unreachable host, a hash mismatch) and
removes what a failed download left behind.
"""

import os
import urllib.error
from pathlib import Path

import keras

from style_transfer.base.errors import BadInput


def download(url, path, sha256=None, what="file"):
    """Downloads `url` to `path` (a progress bar on the terminal), checking `sha256` if given.

    Args:
        url: http(s) or file URL.
        path: Destination file; its folder is created. An existing file is
            downloaded again.
        sha256: Expected SHA-256 of the file (hex), or `None` when none is published.
        what: What the file is, for error messages ("the Magenta checkpoint").

    Returns:
        `path`.

    Raises:
        BadInput: the server answered with an HTTP error, the host could not be
            reached, the transfer broke off, or the hash does not match; nothing
            is left at `path`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        keras.utils.get_file(path.name, url, file_hash=sha256, hash_algorithm="sha256",
                             cache_dir=str(path.parent), cache_subdir="", force_download=True)
    except (Exception, KeyboardInterrupt) as error:
        if path.exists():
            os.remove(path)
        if isinstance(error, KeyboardInterrupt):
            raise
        raise BadInput(f"could not download {what} from {url}: {download_failure(error)}.") \
            from None
    return path


def download_failure(error):
    """The cause of a `keras.utils.get_file` failure, in a few words."""
    cause = error.__context__ if isinstance(error.__context__, urllib.error.URLError) else error
    if isinstance(cause, urllib.error.ContentTooShortError):
        return "the transfer broke off before the end of the file (truncated download)"
    if isinstance(cause, urllib.error.HTTPError):
        return f"the server answered HTTP {cause.code} ({cause.reason})"
    if isinstance(cause, urllib.error.URLError):
        return f"the host could not be reached ({cause.reason}): this computer may be offline"
    if isinstance(error, ValueError) and "hash" in str(error):
        return "the file's SHA-256 does not match the published one (damaged or changed file)"
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0][:200] if lines else ''}"
