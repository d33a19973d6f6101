"""The built wheel, installed into a fresh virtual environment: with no SoX installed, `manim render` of a
VoiceoverScene prints nothing about SoX, and neither does a bare `import sox` in any Python process of
that environment (the .pth installs the hook at start-up, whatever order manim loads plugins in)."""

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from conftest import REPO

PTH = "manim_qwen_mlx_quiet_sox.pth"
NOT_SOURCE = (".venv", ".parity-venv", ".git", "media", "build", "*.egg-info", "test-artifacts", "tiny-qwen3-tts",
              "__pycache__", ".*_cache", ".hypothesis")
SCENE = """
from manim_voiceover import VoiceoverScene  # its import probes for SoX
from manim import Square, Create

class Plain(VoiceoverScene):
    def construct(self):
        self.play(Create(Square()), run_time=0.2)
"""


@pytest.mark.skipif(shutil.which("sox") is not None, reason="SoX is installed here: there is no warning to silence")
def test_the_wheel_silences_the_sox_probe_from_python_start(tmp_path: Path) -> None:
    # Built from a copy: setuptools writes build/ and egg-info into the tree it builds.
    source = shutil.copytree(REPO, tmp_path / "source", ignore=shutil.ignore_patterns(*NOT_SOURCE))
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"), str(source)],
        capture_output=True, text=True, timeout=600,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = (tmp_path / "dist").glob("manim_qwen_mlx-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(subprocess.check_output([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                        text=True).strip())
    # Only the wheel is new: the dependencies come from the test's environment (appended, so ours wins).
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
                   check=True, capture_output=True)
    assert (site / PTH).is_file()
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    scene = tmp_path / "plain.py"
    scene.write_text(SCENE)

    def render() -> str:
        out = subprocess.run(
            [python, "-m", "manim", "render", "-ql", "--dry_run", "--progress_bar", "none", str(scene)],
            cwd=tmp_path, capture_output=True, text=True, timeout=600,
        )
        assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
        where = subprocess.check_output([python, "-c", "import manim_qwen_mlx; print(manim_qwen_mlx.__file__)"],
                                        text=True)
        assert where.startswith(str(site)), where  # the wheel's copy, not the checkout
        return out.stdout + out.stderr

    def import_sox() -> str:
        out = subprocess.run([python, "-c", "import sox"], capture_output=True, text=True, timeout=120)
        return out.stdout + out.stderr

    rendered = render()
    assert "SoX could not be found" not in rendered and "sox: not found" not in rendered, rendered[-3000:]
    assert import_sox() == ""  # silenced from Python's start, before anything imports our package
    ours = "import sys; print(sorted(m for m in sys.modules if 'qwen' in m))"
    started = subprocess.check_output([python, "-c", ours], text=True)
    assert started.strip() == "['manim_qwen_mlx_quiet_sox']"  # the .pth imports one small module, not the package
    (site / PTH).unlink()  # the control: without the .pth nothing watches that import
    loud = import_sox()
    assert "SoX could not be found" in loud and "sox: not found" in loud, loud
