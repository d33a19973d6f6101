"""The numpy-cpu backend: on the CPU with float32 weights, the hot loops leave mlx for numpy.

mlx's CPU backend runs a one-row product as a matrix-matrix one that repacks the weights, and has no
vectorised ``sin`` (benchmarks/cpu_kernels.py). So here the talker's and code predictor's prefill and
single-token steps (``steps`` over ``stack``, their products over the rows in ``rows_kernel``, the talker
rows' attention in ``attention_kernel``) and the speech decoder's waveform stages (``decoder``) run in numpy
on views of the loaded weights, the decoder's other convolutions run as matmuls (``conv``), and the text
embedding's rows are read from the checkpoint file (``text_rows``). Sampling and the decoder's transformer
stay in mlx.
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from manim_qwen_mlx.backends import tree
from manim_qwen_mlx.backends.base import MlxAudioTTS
from manim_qwen_mlx.backends.numpy_cpu import text_rows, threads
from manim_qwen_mlx.backends.numpy_cpu.steps import NumpySteps
from manim_qwen_mlx.core.defaults import LOGGER_NAME

log = logging.getLogger(LOGGER_NAME)


@dataclass(frozen=True)
class NumpyCpuBackend:
    reason: str
    float32: bool = True  # numpy views float32 weights only
    name: str = "numpy-cpu"

    def before_eval(self, model: MlxAudioTTS, folder: Path) -> MlxAudioTTS:
        text_rows.map_text_embedding(model, folder)  # before evaluation, so the 1.24 GB tensor is never read
        return model

    def after_fixes(self, model: MlxAudioTTS) -> MlxAudioTTS:
        return swap_decoder_layers(model)

    def steps(self, model: MlxAudioTTS) -> NumpySteps:
        return NumpySteps(model)

    def beside_steps(self) -> AbstractContextManager[None]:
        return threads.beside_steps()


def swap_decoder_layers(model: MlxAudioTTS) -> MlxAudioTTS:
    """The speech decoder's waveform stages as numpy blocks, its other convolutions as matmul layers."""
    import mlx.nn as nn

    from manim_qwen_mlx.backends.numpy_cpu.decoder import numpy_version

    decoder = model.speech_tokenizer.decoder  # mlx-audio compiles it; the wrapper reaches the module's items
    swapped = 0
    waveform = dict(decoder.items())["decoder"]  # the upsampling blocks and the output layers
    for index, layer in enumerate(waveform):
        stand_in = numpy_version(layer)
        if stand_in is not None:
            waveform[index] = stand_in
            swapped += 1
    if swapped:
        # Trick kept: numpy cannot run inside mx.compile's trace, and mlx-audio's own paths call the wrapper.
        model.speech_tokenizer.decoder = decoder = getattr(decoder.chunked_decode, "__self__", decoder)
    for container in tree.containers(decoder):
        for key, child in tree.children(container):
            fast = _matmul_version(child, nn)
            if fast is not None:
                tree.replace(container, key, fast)
                swapped += 1
    log.info("numpy-cpu: %d decoder layers swapped (waveform stages in numpy, convolutions as matmuls)", swapped)
    return model


def _matmul_version(layer: Any, nn: Any) -> Any:
    from manim_qwen_mlx.backends.numpy_cpu.conv import FastConv1d, FastConvTranspose1d

    if isinstance(layer, nn.Conv1d) and layer.stride == 1 and layer.padding == 0:
        depthwise = layer.groups == layer.weight.shape[0] and layer.weight.shape[-1] == 1
        return FastConv1d(layer) if layer.groups == 1 or depthwise else None
    if isinstance(layer, nn.ConvTranspose1d) and layer.padding == 0 and layer.dilation == 1:
        kernel = layer.weight.shape[1]
        if layer.output_padding == 0 and kernel % layer.stride == 0:
            return FastConvTranspose1d(layer)
    return None
