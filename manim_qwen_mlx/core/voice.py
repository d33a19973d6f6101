"""What a voice is: a clone of a reference clip, a preset speaker, or a designed voice."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from manim_qwen_mlx.core.defaults import SIDECAR_TRANSCRIPT_SUFFIX
from manim_qwen_mlx.core.errors import MissingTranscriptError, ReferenceAudioError, TranscriptError, VoiceError

VoiceKind = Literal["clone", "preset", "design"]


@dataclass(frozen=True)
class Voice:
    """A voice, validated on its own; whether the model can speak it is checked at synthesis."""

    ref_audio: Path | None = None
    ref_text: str | None = None
    speaker: str | None = None
    instruct: str | None = None

    @classmethod
    def from_options(
        cls,
        ref_audio: str | os.PathLike[str] | None = None,
        ref_text: str | None = None,
        voice: str | None = None,
        instruct: str | None = None,
    ) -> Voice:
        speaker = voice.strip().lower() if voice and voice.strip() else None
        instruct = instruct.strip() if instruct and instruct.strip() else None
        if ref_audio is None:
            if ref_text:
                raise VoiceError("ref_text was given without ref_audio: pass the clip it transcribes.")
            if speaker is None and instruct is None:
                raise VoiceError(
                    "No voice given: pass ref_audio (and ref_text) to clone a voice, voice= for a "
                    "preset speaker of a CustomVoice model, or instruct= for a VoiceDesign model."
                )
            return cls(speaker=speaker, instruct=instruct)
        if speaker is not None:
            raise VoiceError(
                f"Both ref_audio and voice={voice!r} were given: ref_audio clones a voice (Base models), "
                "voice= picks a preset speaker (CustomVoice models). Pass the one your model takes."
            )
        path = Path(ref_audio).expanduser().resolve()
        reference_sha256(path)  # fails early, naming the file
        return cls(ref_audio=path, ref_text=_transcript(path, ref_text), instruct=instruct)

    @property
    def kind(self) -> VoiceKind:
        if self.ref_audio is not None:
            return "clone"
        return "preset" if self.speaker is not None else "design"

    def identity(self) -> dict[str, str | None]:
        """What makes this voice sound as it does; the clip by its bytes, not its path."""
        return {
            "kind": self.kind,
            "ref_audio_sha256": reference_sha256(self.ref_audio) if self.ref_audio else None,
            "ref_text": self.ref_text,
            "speaker": self.speaker,
            "instruct": self.instruct,
        }


def _transcript(path: Path, ref_text: str | None) -> str:
    if ref_text is not None:
        text = " ".join(ref_text.split())
        if not text:
            raise TranscriptError(f"ref_text for {path} is empty: pass the exact words spoken in the clip.")
        return text
    sidecar = path.with_suffix(SIDECAR_TRANSCRIPT_SUFFIX)
    try:
        text = " ".join(sidecar.read_text(encoding="utf-8").split())
    except FileNotFoundError:
        raise MissingTranscriptError(
            f"No transcript for {path}: pass ref_text='...' with the exact words spoken in the clip, "
            f"or write them to {sidecar}."
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TranscriptError(f"Cannot read the transcript {sidecar}: {exc}") from exc
    if not text:
        raise TranscriptError(f"The transcript {sidecar} is empty: write the exact words spoken in {path.name}.")
    return text


def reference_sha256(path: Path) -> str:
    """sha256 of the clip's bytes, remembered while the file's size and mtime stay the same."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise ReferenceAudioError(
            f"Reference audio {path} does not exist: record a 5-15 s WAV of your voice there, "
            "or pass ref_audio= with the right path."
        ) from None
    except OSError as exc:
        raise ReferenceAudioError(f"Cannot read reference audio {path}: {exc}") from exc
    if path.is_dir():
        raise ReferenceAudioError(f"Reference audio {path} is a directory: pass the audio file inside it.")
    if stat.st_size == 0:
        raise ReferenceAudioError(f"Reference audio {path} is empty (0 bytes): record the clip again.")
    return _sha256(str(path), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=64)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise ReferenceAudioError(f"Cannot read reference audio {path}: {exc}") from exc
    return digest.hexdigest()
