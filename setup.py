"""Everything is in pyproject.toml but one file: the wheel's .pth, which silences manim-voiceover's SoX
probe from the moment Python starts (manim_qwen_mlx/quiet_sox.py says why)."""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

PTH_NAME = "manim_qwen_mlx_quiet_sox.pth"
PTH_LINE = "import manim_qwen_mlx\n"  # installs the hook; the import costs a few milliseconds


class BuildPyWithPth(build_py):
    """build_py that also puts the .pth at the top of the wheel (site-packages, where Python reads it)."""

    def run(self) -> None:
        super().run()
        if not self.editable_mode:
            target = Path(self.build_lib) / PTH_NAME
            target.write_text(PTH_LINE, encoding="utf-8")

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = list(super().get_outputs(include_bytecode))
        return outputs if self.editable_mode else [*outputs, str(Path(self.build_lib) / PTH_NAME)]


setup(cmdclass={"build_py": BuildPyWithPth})
