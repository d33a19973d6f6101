"""The narration cache: manim-voiceover's ``cache.json`` plus WAV files, safe to share.

Writes hold a lock and replace the index atomically; reads need no lock and treat anything
unreadable as a miss, so a broken file costs a re-synthesis, never a crash or a wrong clip.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from filelock import FileLock

from .defaults import CACHE_INDEX_NAME, LOGGER_NAME
from .errors import CacheError
from .fsutil import atomic_write
from .key import canonical_json
from .text import slug

log = logging.getLogger(LOGGER_NAME)
Entry = dict[str, Any]


class NarrationCache:
    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory).expanduser().resolve()
        self.index_path = self.directory / CACHE_INDEX_NAME
        self._locks = self.directory / ".locks"

    def lookup(self, input_data: dict[str, Any]) -> Entry | None:
        """The entry for these inputs whose audio file is present, else None."""
        wanted = canonical_json(input_data)
        for entry in reversed(self.entries()):
            if canonical_json(entry.get("input_data")) != wanted:
                continue
            audio = self.audio_file(entry)
            if audio is not None and audio.is_file() and audio.stat().st_size > 0:
                return dict(entry)
            log.warning(
                "Cache entry for %r names a missing audio file; synthesizing again.",
                input_data.get("input_text"),
            )
        return None

    def entries(self) -> list[Entry]:
        """Every well-formed entry; a missing, truncated or foreign index reads as empty."""
        try:
            raw = json.loads(self.index_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            log.warning("Cannot read %s (%s); treating it as empty.", self.index_path, exc)
            return []
        if not isinstance(raw, list):
            log.warning("%s is not a list of entries; treating it as empty.", self.index_path)
            return []
        return [entry for entry in raw if isinstance(entry, dict)]

    def audio_name(self, text: str, key: str) -> str:
        return f"{slug(text)}-{key[:16]}.wav"

    def audio_file(self, entry: Entry) -> Path | None:
        """The entry's audio path, or None where the name would leave the cache directory."""
        name = entry.get("original_audio")
        if not isinstance(name, str) or not name or "\0" in name:
            return None
        path = (self.directory / name).resolve()
        return path if path.parent == self.directory or self.directory in path.parents else None

    def store(self, entry: Entry) -> None:
        """Add ``entry``, replacing any older entry for the same inputs."""
        wanted = canonical_json(entry["input_data"])
        with self._index_lock():
            raw = self._read_for_update()
            kept = [e for e in raw if not (isinstance(e, dict) and canonical_json(e.get("input_data")) == wanted)]
            kept.append(entry)
            self._write_index(kept)

    def remove(self, doomed: Callable[[Entry], bool]) -> list[Entry]:
        """Drop the entries ``doomed`` selects and then their audio files; return them."""
        with self._index_lock():
            raw = self._read_for_update()
            removed = [e for e in raw if isinstance(e, dict) and doomed(e)]
            if removed:
                self._write_index([e for e in raw if not (isinstance(e, dict) and doomed(e))])
        # Audio goes only after the index no longer names it, so a reader never sees a dangling entry.
        still_named = {e.get("original_audio") for e in self.entries()}
        for entry in removed:
            path = self.audio_file(entry)
            if path is not None and entry.get("original_audio") not in still_named:
                path.unlink(missing_ok=True)
        return removed

    @contextmanager
    def key_lock(self, key: str) -> Iterator[None]:
        """Held while one key is synthesized, so a parallel render waits and then hits."""
        self.ensure_writable()
        with FileLock(str(self._locks / f"{key[:32]}.lock")):
            yield

    def ensure_writable(self) -> None:
        try:
            self._locks.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.directory, prefix=".probe-"):
                pass
        except OSError as exc:
            raise CacheError(
                f"The voiceover cache {self.directory} is not writable ({exc.strerror or exc}). "
                "Pass cache_dir= a writable folder, or fix its permissions."
            ) from exc

    @contextmanager
    def _index_lock(self) -> Iterator[None]:
        self.ensure_writable()
        with FileLock(str(self._locks / "index.lock")):
            yield

    def _read_for_update(self) -> list[Any]:
        try:
            raw = json.loads(self.index_path.read_text(encoding="utf-8"))
            if isinstance(raw, list):
                return raw
            problem = "not a list"
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            problem = str(exc)
        # Keep the unreadable index for inspection rather than overwrite what it may hold.
        aside = self.index_path.with_name(f"{CACHE_INDEX_NAME}.broken-{time.strftime('%Y%m%d-%H%M%S')}")
        os.replace(self.index_path, aside)
        log.warning(
            "%s was unreadable (%s); moved it to %s and started a new index.",
            self.index_path,
            problem,
            aside.name,
        )
        return []

    def _write_index(self, entries: list[Any]) -> None:
        payload = json.dumps(entries, indent=2, ensure_ascii=False).encode("utf-8")
        atomic_write(self.index_path, lambda handle: handle.write(payload))
