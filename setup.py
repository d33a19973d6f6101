"""Everything is in pyproject.toml but one file: the .pth, which silences manim-voiceover's SoX probe from
the moment Python starts (manim_qwen_mlx_quiet_sox.py says why), in the wheel and in an editable install."""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

PTH_NAME = "manim_qwen_mlx_quiet_sox.pth"
PTH_LINE = "import manim_qwen_mlx_quiet_sox\n"  # installs the hook; one small module, not our package


class BuildPyWithPth(build_py):
    """build_py that also puts the .pth at the top of the wheel (site-packages, where Python reads it)."""

    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / PTH_NAME
        target.write_text(PTH_LINE, encoding="utf-8")

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        return [*super().get_outputs(include_bytecode), str(Path(self.build_lib) / PTH_NAME)]


setup(cmdclass={"build_py": BuildPyWithPth})
