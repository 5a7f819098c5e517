"""The file store: photos (and later other files) given as answers, kept with the visit.

One interface, :class:`FileStore` — ``put(data, name) -> key``, ``read``/``open(key)``, ``path(key)`` —
so a deployment can swap the local folder (:class:`LocalFileStore`, ``VISITBOT_FILES_DIR``) for an
object store without touching a front-end. Keys are content addresses (``ab/ab12….jpg``, from the
SHA-256 of the bytes): the same photo sent twice is kept once, a key never names another file,
and a file kept by an answer that was then not recorded harms nothing.

A front-end gets the bytes (Telegram's ``getFile``, a path typed on the console), calls
:func:`keep` and hands the :class:`KeptFile` to :meth:`bot.desk.visits.VisitDesk.act`, which writes
the attachment row in the same transaction as the answer.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import mimetypes
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

from dialogs.i18n import register

__all__ = ["FileStore", "FileStoreError", "KeptFile", "LocalFileStore", "keep", "keep_path", "photo_hash"]

log = logging.getLogger(__name__)

register(
    {
        "files_photo_kept": {
            "zh-CN": "照片已保存：{question}（文件 {file}）",
            "en": "Photo kept: {question} (file {file})",
        },
        "files_not_kept": {
            "zh-CN": "照片没能保存，未做记录。请再发送一次这张照片。",
            "en": "The photo could not be kept, so nothing was recorded. Please send it again.",
        },
    }
)

MAX_FILE = 20 * 1024 * 1024
"""The largest file kept (Telegram's bots download at most 20 MB)."""
_SUFFIX = re.compile(r"^\.[a-z0-9]{1,8}$")
_KEY = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{64}(\.[a-z0-9]{1,8})?$")


class FileStoreError(Exception):
    """A file that cannot be kept or found (too large, an unknown key, the store unreachable)."""


@dataclass(frozen=True)
class KeptFile:
    """A file in the store, with what the attachment row records about it."""

    key: str
    sha256: str
    size: int
    content_type: str | None = None
    source_ref: str | None = None
    """Where it came from: a Telegram file_id, a console path."""
    phash: str | None = None
    """The picture's perceptual hash (:func:`photo_hash`); None for a file that is no image."""


@runtime_checkable
class FileStore(Protocol):
    """Where kept files live. Implementations are synchronous; :func:`keep` runs them off the loop."""

    def put(self, data: bytes, name: str) -> str:
        """Keep ``data`` (``name`` gives the suffix) and return its key."""
        ...

    def read(self, key: str) -> bytes:
        """The bytes kept under ``key``."""
        ...

    def open(self, key: str) -> BinaryIO:
        """A binary stream of the file kept under ``key`` (the caller closes it)."""
        ...

    def path(self, key: str) -> str:
        """Where people find the file: a local path, or a URL for a remote store."""
        ...

    def exists(self, key: str) -> bool:
        """Whether ``key`` is kept."""
        ...

    def delete(self, key: str) -> None:
        """Remove ``key`` (retention); a missing key is no error."""
        ...


def _suffix(name: str) -> str:
    suffix = Path(name).suffix.lower()
    return suffix if _SUFFIX.match(suffix) else ""


def content_key(sha256: str, name: str) -> str:
    """The key of a file by its SHA-256 and name: ``ab/ab12….jpg``."""
    return f"{sha256[:2]}/{sha256}{_suffix(name)}"


class LocalFileStore:
    """Files in a local folder (``VISITBOT_FILES_DIR``), one per content address; made on first use."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser()

    def __repr__(self) -> str:
        return f"LocalFileStore({str(self.root)!r})"

    def _file(self, key: str) -> Path:
        if not _KEY.match(key):
            raise FileStoreError(f"not a file store key: {key!r}")
        return self.root / key

    def put(self, data: bytes, name: str) -> str:
        """Write ``data`` once under its content key (atomically: a crash leaves no half file)."""
        if len(data) > MAX_FILE:
            raise FileStoreError(f"file too large to keep: {len(data)} bytes (at most {MAX_FILE})")
        key = content_key(hashlib.sha256(data).hexdigest(), name)
        target = self._file(key)
        if target.is_file() and target.stat().st_size == len(data):
            return key
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".part-")
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(temporary, target)
        except OSError as exc:
            raise FileStoreError(f"cannot keep {name!r} in {self.root}: {exc}") from exc
        return key

    def read(self, key: str) -> bytes:
        """The bytes of a kept file."""
        try:
            return self._file(key).read_bytes()
        except OSError as exc:
            raise FileStoreError(f"no kept file {key!r} in {self.root}") from exc

    def open(self, key: str) -> BinaryIO:
        """A stream of a kept file."""
        try:
            return self._file(key).open("rb")
        except OSError as exc:
            raise FileStoreError(f"no kept file {key!r} in {self.root}") from exc

    def path(self, key: str) -> str:
        """The file's absolute local path."""
        return str(self._file(key).resolve())

    def exists(self, key: str) -> bool:
        """Whether the file is kept."""
        return self._file(key).is_file()

    def delete(self, key: str) -> None:
        """Remove a kept file, if it is there."""
        self._file(key).unlink(missing_ok=True)


def photo_hash(data: bytes) -> str | None:
    """The perceptual hash of a picture (``imagehash.phash``, 64 bits as 16 hex digits), the same for the photo
    re-encoded or resized; None (logged) when the bytes are no image Pillow can read."""
    import imagehash  # imported when a photo is kept: numpy and Pillow are slow to import
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as picture:
            return str(imagehash.phash(picture))
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as exc:  # truncated, bombs
        log.info("a kept file is no readable image, so it has no perceptual hash: %s", exc)
        return None


def _kept(store: FileStore, data: bytes, name: str, content_type: str | None, source_ref: str | None) -> KeptFile:
    key = store.put(data, name)
    kind = content_type or mimetypes.guess_type(name)[0]
    return KeptFile(key, hashlib.sha256(data).hexdigest(), len(data), kind, source_ref, photo_hash(data))


async def keep(
    store: FileStore, data: bytes, name: str, *, content_type: str | None = None, source_ref: str | None = None
) -> KeptFile:
    """Put ``data`` in the store off the event loop; what the attachment row needs comes back."""
    return await asyncio.to_thread(_kept, store, bytes(data), name, content_type, source_ref)


def keep_path(store: FileStore, path: str | os.PathLike[str]) -> KeptFile:
    """Copy a local file (a photo's path typed on the console) into the store."""
    source = Path(path)
    try:
        data = source.read_bytes()
    except OSError as exc:
        raise FileStoreError(f"cannot read {source}: {exc}") from exc
    return _kept(store, data, source.name, None, str(source))
