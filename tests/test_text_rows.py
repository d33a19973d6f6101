"""The text embedding read from the checkpoint file gives exactly the rows the loaded tensor would."""

from pathlib import Path
from typing import Any

import mlx.core as mx
import numpy as np
import pytest
from mlx.utils import tree_flatten

from manim_qwen_mlx import backends
from manim_qwen_mlx.backends import device
from manim_qwen_mlx.backends.numpy_cpu import text_rows
from manim_qwen_mlx.model import loader

IDS = mx.array([[0, 5, 17, 3, 5]])


def _stored(folder: Path) -> Any:
    (file,) = [f for f in folder.glob("*.safetensors") if text_rows.NAME in mx.load(str(f))]
    return mx.load(str(file))[text_rows.NAME]


@pytest.mark.parametrize("which", ["tiny_model", "tiny_model_8bit"])
@pytest.mark.usefixtures("numpy_cpu")
def test_rows_equal_the_stored_tensor_widened(which: str, request: pytest.FixtureRequest) -> None:
    folder = request.getfixturevalue(which)
    model = loader.load(folder)
    embedding = model.talker.get_text_embeddings()
    assert isinstance(embedding, text_rows.FileEmbedding) == device.is_cpu()
    want = _stored(folder).astype(mx.float32)[IDS]  # float32 as stored, or bfloat16 (8-bit models) widened
    got = embedding(IDS)
    assert got.dtype == mx.float32
    np.testing.assert_array_equal(np.array(got), np.array(want))
    names = dict(tree_flatten(model.module.parameters()))
    assert ("talker.model.text_embedding.weight" in names) != device.is_cpu()  # no copy held in memory


def test_kept_in_memory_on_a_gpu(tiny_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlx_audio.tts.utils import load_model

    model = load_model(tiny_model)
    monkeypatch.setattr(device, "is_cpu", lambda: False)
    model = backends.choose().before_eval(model, tiny_model)
    assert not isinstance(model.talker.model.text_embedding, text_rows.FileEmbedding)
    assert "text_embedding" in model.talker.model


def test_kept_in_memory_with_the_fast_path_off(
    tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MANIM_QWEN_MLX_FAST_CPU=0 keeps mlx-audio's layers, the text embedding included."""
    import shutil

    monkeypatch.setenv("MANIM_QWEN_MLX_FAST_CPU", "0")
    model = loader.load(Path(shutil.copytree(tiny_model, tmp_path / "stock")))
    assert model.backend.name == "mlx"
    assert not isinstance(model.talker.get_text_embeddings(), text_rows.FileEmbedding)
    assert "talker.model.text_embedding.weight" in dict(tree_flatten(model.module.parameters()))


def test_a_checkpoint_it_cannot_read_keeps_the_loaded_tensor(tiny_model: Path, tmp_path: Path) -> None:
    from mlx_audio.tts.utils import load_model

    model = load_model(tiny_model)
    (tmp_path / "model.safetensors").write_bytes(b"\xff" * 64)  # no header to read
    assert text_rows.locate(tmp_path, text_rows.NAME) is None
    assert not text_rows.map_text_embedding(model, tmp_path)
    assert "text_embedding" in model.talker.model
