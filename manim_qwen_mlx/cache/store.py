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
import wave
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from filelock import FileLock

from manim_qwen_mlx.cache.key import canonical_json
from manim_qwen_mlx.core.defaults import CACHE_INDEX_NAME, LOGGER_NAME
from manim_qwen_mlx.core.errors import CacheError
from manim_qwen_mlx.core.fsutil import atomic_write
from manim_qwen_mlx.core.text import slug

log = logging.getLogger(LOGGER_NAME)
Entry = dict[str, Any]


SIDECAR_SUFFIX = ".entry.json"  # each audio file's entry beside it, from which the index can be rebuilt


class NarrationCache:
    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory).expanduser().resolve()
        self.index_path = self.directory / CACHE_INDEX_NAME
        self._locks = self.directory / ".locks"

    def lookup(self, input_data: dict[str, Any]) -> Entry | None:
        """The entry for these inputs whose audio file is present and readable, else None."""
        wanted = canonical_json(input_data)
        for entry in reversed(self.entries()):
            if canonical_json(entry.get("input_data")) != wanted:
                continue
            if _playable(self.audio_file(entry)):
                return dict(entry)
            log.warning(
                "The cached audio for %r is missing or unreadable; synthesizing it again.", input_data.get("input_text")
            )
        return None

    def entries(self) -> list[Entry]:
        """Every entry. An unreadable index is rebuilt from the entry files beside the audio (and
        rewritten, when the folder is writable), so a broken ``cache.json`` costs nothing."""
        raw, problem = self._read_index()
        if problem is None:
            return raw
        if problem == "missing":
            return self._from_sidecars()
        try:
            with self._index_lock():
                healed = self._read_for_update()
                self._write_index(healed)
            return healed
        except (CacheError, OSError):
            return self._from_sidecars()

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
            self._write_sidecar(entry)
            raw = self._read_for_update()
            kept = [e for e in raw if canonical_json(e.get("input_data")) != wanted]
            kept.append(entry)
            self._write_index(kept)

    def remove(self, doomed: Callable[[Entry], bool]) -> list[Entry]:
        """Drop the entries ``doomed`` selects and then their audio files; return them."""
        return self.update(lambda entry: None if doomed(entry) else entry)

    def update(self, change: Callable[[Entry], Entry | None]) -> list[Entry]:
        """Replace each entry by ``change(entry)`` (None drops it, its audio too) in one write, only when
        something changed; return the dropped entries."""
        with self._index_lock():
            raw = self._read_for_update()
            changed = [(entry, change(entry)) for entry in raw]
            removed = [old for old, new in changed if new is None]
            kept = [new for _, new in changed if new is not None]
            rewritten = [new for old, new in changed if new is not None and new != old]
            if removed or rewritten:
                for entry in rewritten:
                    self._write_sidecar(entry)
                self._write_index(kept)
            # Files go only after the index no longer names them, so no reader sees a dangling entry.
            still_named = {e.get("original_audio") for e in kept}
            for entry in removed:
                if entry.get("original_audio") not in still_named:
                    for path in (self.audio_file(entry), self._sidecar(entry)):
                        if path is not None:
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

    def _read_index(self) -> tuple[list[Entry], str | None]:
        """The index as a list, or why it could not be read ("missing" when there is none)."""
        try:
            raw = json.loads(self.index_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return [], "missing"
        except (OSError, ValueError) as exc:
            return [], str(exc)
        if not isinstance(raw, list):
            return [], "not a list"
        if not all(isinstance(entry, dict) for entry in raw):
            return [], "holds items that are not entries"
        return raw, None

    def _read_for_update(self) -> list[Entry]:
        raw, problem = self._read_index()
        if problem is None:
            return raw
        if problem != "missing":
            # Keep the unreadable index for inspection rather than overwrite what it may hold.
            aside = self.index_path.with_name(f"{CACHE_INDEX_NAME}.broken-{time.strftime('%Y%m%d-%H%M%S')}")
            os.replace(self.index_path, aside)
            log.warning(
                "%s was unreadable (%s); moved it to %s and rebuilt the index from the entry files.",
                self.index_path,
                problem,
                aside.name,
            )
        return list(self._from_sidecars())

    def _write_sidecar(self, entry: Entry) -> None:
        sidecar = self._sidecar(entry)
        if sidecar is not None:
            payload = json.dumps(entry, indent=2, ensure_ascii=False).encode("utf-8")
            # A backup of the index's entry: the index and the audio are the durable copies.
            atomic_write(sidecar, lambda handle: handle.write(payload), durable=False)

    def _sidecar(self, entry: Entry) -> Path | None:
        audio = self.audio_file(entry)
        return audio.with_name(audio.stem + SIDECAR_SUFFIX) if audio is not None else None

    def _from_sidecars(self) -> list[Entry]:
        """Entries rebuilt from the entry files of audio that is still present, oldest first."""
        found: list[tuple[float, Entry]] = []
        for path in self.directory.glob(f"*{SIDECAR_SUFFIX}"):
            try:
                entry = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if (
                isinstance(entry, dict)
                and isinstance(entry.get("input_data"), dict)
                and _playable(self.audio_file(entry))
            ):
                found.append((path.stat().st_mtime, entry))
        return [entry for _, entry in sorted(found, key=lambda item: item[0])]

    def _write_index(self, entries: list[Any]) -> None:
        payload = json.dumps(entries, indent=2, ensure_ascii=False).encode("utf-8")
        atomic_write(self.index_path, lambda handle: handle.write(payload))


def _playable(path: Path | None) -> bool:
    """A WAV whose header reads and that holds samples (other formats: present and non-empty)."""
    if path is None or not path.is_file():
        return False
    if path.suffix.lower() != ".wav":
        return path.stat().st_size > 0
    try:
        with wave.open(str(path), "rb") as handle:
            return handle.getnframes() > 0
    except (OSError, EOFError, wave.Error):
        return False
