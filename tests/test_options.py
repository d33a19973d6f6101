"""One definition of every option: the settings dataclass, the service, the CLI and the README agree."""

import re
from dataclasses import fields
from pathlib import Path

import click
import pytest
from conftest import REPO

from manim_qwen_mlx import QwenMLXService, SettingsError
from manim_qwen_mlx.cli.download_cmd import download
from manim_qwen_mlx.cli.say_cmd import say
from manim_qwen_mlx.core.model_ref import ModelRef
from manim_qwen_mlx.core.options import COMMON, OPTIONS, SETTING_OPTIONS, markdown_table
from manim_qwen_mlx.core.settings import SynthesisSettings
from manim_qwen_mlx.synthesis import takes
from manim_qwen_mlx.synthesis.quality import Thresholds

# Values unlike every default, of the right type, so that each one shows where it arrives.
GIVEN = {
    "revision": "v2",
    "lang_code": "german",
    "temperature": 0.5,
    "top_k": 7,
    "top_p": 0.8,
    "repetition_penalty": 1.2,
    "subtalker_temperature": 0.3,
    "subtalker_top_k": 9,
    "subtalker_top_p": 0.7,
    "streaming_prompt": True,
    "max_tokens": 33,
    "seed": 5,
    "sentence_pause": 0.5,
    "speed": 1.5,
    "trim_silence": False,
    "loudness": -20.0,
    "bookmarks": "estimate",
    "aligner": "org/aligner",
    "word_boundaries": True,
    "checks": False,
    "verify": True,
    "max_takes": 5,
    "pace_tolerance": 3.0,
    "min_voice_similarity": 0.6,
    "max_wer": 0.2,
    "asr": "org/asr",
    "allow_download": False,
    "pronunciations": {"Euler": "Oiler"},
    "math_speech": False,
    "draft": True,
}


def test_settings_dataclass_is_the_tables_setting_rows() -> None:
    assert [(f.name, f.default) for f in fields(SynthesisSettings)] == [(o.name, o.default) for o in SETTING_OPTIONS]


def test_service_takes_every_option_of_the_table_and_no_other(reference: Path, tmp_path: Path) -> None:
    names = {o.name for o in OPTIONS} - {"model", "ref_audio", "ref_text", "voice", "instruct", "cache_dir"}
    assert names == set(GIVEN)
    svc = QwenMLXService("org/model", reference, cache_dir=tmp_path / "c", **GIVEN)
    for option in SETTING_OPTIONS:
        assert getattr(svc.settings, option.name) == GIVEN[option.name], option.name
    assert (svc.model_ref.revision, svc.bookmarks, svc.aligner_ref.name) == ("v2", "estimate", "org/aligner")
    assert (svc.word_boundaries, svc.allow_download, Path(svc.cache_dir)) == (True, False, tmp_path / "c")
    expected = takes.Checking(Thresholds(3.0, 0.6, 0.2), 5, pace=False, verify=True, asr=ModelRef.resolve("org/asr"))
    assert svc.checking == expected
    assert (svc.pronunciations, svc.math_speech, svc.draft) == ({"Euler": "Oiler"}, False, True)
    with pytest.raises(Exception, match=r"Unknown QwenMLXService option\(s\) \['temprature'\]"):
        QwenMLXService("org/model", reference, temprature=0.5)


def test_environment_variables_of_the_table_reach_the_service(
    reference: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MANIM_QWEN_MLX_CACHE_DIR", str(tmp_path / "from-env"))
    monkeypatch.setenv("MANIM_QWEN_MLX_MAX_TOKENS", "40")
    monkeypatch.setenv("MANIM_QWEN_MLX_MODEL", "org/from-env")
    svc = QwenMLXService(ref_audio=reference)
    assert (Path(svc.cache_dir), svc.settings.max_tokens, svc.model_ref.name) == (
        tmp_path / "from-env",
        40,
        "org/from-env",
    )
    assert QwenMLXService(ref_audio=reference, max_tokens=9).settings.max_tokens == 9  # an argument wins
    monkeypatch.setenv("MANIM_QWEN_MLX_MAX_TOKENS", "lots")
    with pytest.raises(SettingsError, match="MANIM_QWEN_MLX_MAX_TOKENS='lots' is not a valid int"):
        QwenMLXService(ref_audio=reference)


def _click_params(command: click.Command) -> dict[str, click.Option]:
    return {p.name: p for p in command.params if isinstance(p, click.Option) and p.name}


def test_say_takes_the_services_synthesis_options_with_the_same_defaults() -> None:
    params = _click_params(say)
    for option in OPTIONS:
        if option.group not in ("model", "voice", "setting"):
            continue
        param = params[option.name]
        assert param.default == option.default, option.name
        assert param.envvar == option.env, option.name
        assert param.help == option.help, option.name
        assert param.opts[0] == option.flag, option.name
    assert {"speed", "trim_silence", "revision"} <= set(params)
    assert _click_params(download)["revision"].help == next(o.help for o in OPTIONS if o.name == "revision")


@pytest.mark.parametrize("path, name, names", [("docs/options.md", "options", None),
                                               ("README.md", "common-options", COMMON)])
def test_the_docs_tables_are_generated_from_the_table(path: str, name: str, names: tuple[str, ...] | None) -> None:
    text = (REPO / path).read_text(encoding="utf-8")
    block = re.search(rf"<!-- {name}:start -->\n(.*?)\n<!-- {name}:end -->", text, re.S)
    assert block is not None, f"{path} lost its {name} block"
    assert block.group(1) == markdown_table(names), "run: python scripts/update_readme_options.py"
    assert block.group(1).count("\n| `") == len(names or OPTIONS)  # a row each
