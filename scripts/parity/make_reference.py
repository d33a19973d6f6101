"""Official qwen-tts outputs for the suite's tiny checkpoint, saved as test data (tests/test_parity.py).

Runs in the reference venv that scripts/parity/run.sh makes (PyTorch, transformers 4.57, qwen-tts);
never in CI. Usage: make_reference.py CHECKPOINT EAGER_CHECKPOINT CLIP OUT.npz (EAGER_CHECKPOINT: the
fixture built with --eager-eos, a model that says end-of-speech at once).

The official loader needs four things our fixture leaves out (mlx-audio ignores them), added to a copy:
empty spk_id / spk_is_dialect for a Base model, the Mimi encoder's upsample_groups and
vector_quantization_hidden_dimension for the tiny sizes, and the speech tokenizer's
preprocessor_config.json. No weight is touched.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf
import torch

TEXT = "This is a circle and this is a square."
FRAMES = 75  # generated frames; with the 75-frame reference the decoder sees 150 (> its 72-frame window)
PENALTIES = (1.0, 1.05, 1.5)


def official_copy(checkpoint: Path, folder: Path) -> Path:
    target = Path(shutil.copytree(checkpoint, folder / "model"))
    config = json.loads((target / "config.json").read_text())
    for key in ("spk_id", "spk_is_dialect"):
        config["talker_config"][key] = config["talker_config"].get(key) or {}
    (target / "config.json").write_text(json.dumps(config))
    tokenizer = json.loads((target / "speech_tokenizer" / "config.json").read_text())
    encoder = tokenizer["encoder_config"]
    encoder.setdefault("upsample_groups", encoder["hidden_size"])
    encoder.setdefault("vector_quantization_hidden_dimension", encoder["codebook_dim"])
    (target / "speech_tokenizer" / "config.json").write_text(json.dumps(tokenizer))
    (target / "speech_tokenizer" / "preprocessor_config.json").write_text(
        json.dumps(
            {
                "feature_extractor_type": "EncodecFeatureExtractor",
                "feature_size": 1,
                "sampling_rate": 24000,
                "padding_side": "right",
                "padding_value": 0.0,
                "return_attention_mask": True,
                "chunk_length_s": None,
                "overlap": None,
            }
        )
    )
    return target


def greedy_codes(tts: object, text: str, prompt: dict, ref_ids: list, streaming: bool, penalty: float) -> np.ndarray:
    codes, _ = tts.model.generate(  # type: ignore[attr-defined]
        input_ids=tts._tokenize_texts([tts._build_assistant_text(text)]),  # type: ignore[attr-defined]
        ref_ids=ref_ids, voice_clone_prompt=prompt, languages=["auto"], non_streaming_mode=not streaming,
        max_new_tokens=FRAMES + 1, do_sample=False, subtalker_dosample=False, repetition_penalty=penalty,
    )
    return codes[0].numpy().astype(np.int32)


def main(checkpoint: Path, eager: Path, clip: Path, out: Path) -> None:
    from qwen_tts import Qwen3TTSModel

    torch.manual_seed(0)
    ref_text = " ".join(clip.with_suffix(".txt").read_text().split())
    samples, rate = sf.read(clip, dtype="float32", always_2d=True)
    # Resampled here once and stored, so both implementations clone from the very same 24 kHz samples.
    samples = librosa.resample(samples.mean(axis=1), orig_sr=rate, target_sr=24000).astype(np.float32)
    rate = 24000
    with tempfile.TemporaryDirectory() as folder:
        tts = Qwen3TTSModel.from_pretrained(str(official_copy(checkpoint, Path(folder))), device_map="cpu",
                                            dtype=torch.float32)
        item = tts.create_voice_clone_prompt(ref_audio=(samples, rate), ref_text=ref_text)[0]
        prompt = tts._prompt_items_to_voice_clone_prompt([item])
        ref_ids = [tts._tokenize_texts([tts._build_ref_text(ref_text)])[0]]
        data: dict[str, np.ndarray] = {
            "clip_24k": samples,
            "ref_codes": item.ref_code.numpy().astype(np.int32),  # [T, 16]
            "x_vector": item.ref_spk_embedding.float().numpy(),
        }
        for streaming in (False, True):
            for penalty in PENALTIES:
                key = f"codes_{'streaming' if streaming else 'flat'}_{penalty}"
                data[key] = greedy_codes(tts, TEXT, prompt, ref_ids, streaming, penalty)
        full = np.concatenate([data["ref_codes"], data["codes_flat_1.05"]])
        wavs, _ = tts.model.speech_tokenizer.decode([{"audio_codes": torch.from_numpy(full).long()}])
        wav = wavs[0]
        cut = int(len(data["ref_codes"]) / len(full) * wav.shape[0])
        data["clone_wav"] = wav[cut:].astype(np.float32)
        # Code 0 in the first codebook is a code: every frame decodes (valid length).
        zeros = np.tile(np.array([[0] * 16, [7] * 16], dtype=np.int32), (20, 1))
        data["zeros_codes"] = zeros
        data["zeros_wav"] = tts.model.speech_tokenizer.decode([{"audio_codes": torch.from_numpy(zeros).long()}])[0][
            0
        ].astype(np.float32)
        eager_tts = Qwen3TTSModel.from_pretrained(str(official_copy(eager, Path(folder) / "eager")), device_map="cpu",
                                                  dtype=torch.float32)
        eager_item = eager_tts.create_voice_clone_prompt(ref_audio=(samples, rate), ref_text=ref_text)[0]
        eager_prompt = eager_tts._prompt_items_to_voice_clone_prompt([eager_item])
        data["eager_codes"] = greedy_codes(eager_tts, TEXT, eager_prompt, ref_ids, False, 1.05)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, text=np.array(TEXT), ref_text=np.array(ref_text), **data)
    print(f"wrote {out}: " + ", ".join(f"{k} {v.shape}" for k, v in data.items()))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]))
