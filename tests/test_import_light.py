"""manim imports every plugin at start-up, so importing ours must not pull in MLX or a model."""

import subprocess
import sys

HEAVY = ("mlx", "mlx_audio", "manim_voiceover", "transformers", "huggingface_hub")


def _imported_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_import_package_is_light() -> None:
    assert _imported_after("import manim_qwen_mlx") == set()


def test_manim_plugin_entry_point_is_light() -> None:
    code = (
        "from importlib.metadata import entry_points\n"
        "[ep.load() for ep in entry_points(group='manim.plugins') if ep.name == 'manim_qwen_mlx']"
    )
    assert _imported_after(code) == set()


def test_service_attribute_loads_lazily() -> None:
    assert "manim_voiceover" in _imported_after("import manim_qwen_mlx; manim_qwen_mlx.QwenMLXService")


def test_the_no_sox_probe_is_silenced_and_nothing_else() -> None:
    code = (
        "import logging, manim_qwen_mlx\n"
        "import manim_voiceover\n"
        "logging.getLogger('sox').warning('another sox warning')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    said = out.stdout + out.stderr
    assert "SoX could not be found" not in said and "sox: not found" not in said
    assert "another sox warning" in said
