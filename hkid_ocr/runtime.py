"""The only module that imports onnxruntime: sessions, options and model metadata.

An :class:`OnnxModel` is created once per recognizer and is safe to call from several
threads at once (onnxruntime's ``InferenceSession.run`` is thread-safe).

Example:
    >>> from hkid_ocr.models import resolve_models
    >>> m = OnnxModel(resolve_models().rec, threads=1)  # doctest: +SKIP
    >>> m.metadata["character"][:1]  # doctest: +SKIP
    '!'
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

from .errors import AlgorithmError, ModelError

__all__ = ["OnnxModel"]


class OnnxModel:
    """One ONNX model loaded on the CPU, with a single float32 input."""

    def __init__(self, path: Path, threads: int = 0) -> None:
        opts = ort.SessionOptions()
        # 0 lets onnxruntime use every core; a fixed number keeps several workers from
        # oversubscribing the machine.
        opts.intra_op_num_threads = max(0, int(threads))
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3  # errors only: never log inputs
        try:
            self._session = ort.InferenceSession(
                str(path), sess_options=opts, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ModelError(f"cannot load model {path.name}: {exc}") from exc
        self._input = self._session.get_inputs()[0].name
        self.metadata: dict[str, str] = dict(self._session.get_modelmeta().custom_metadata_map)
        self.name = path.name

    def run(self, x: np.ndarray) -> np.ndarray:
        """Run the model on one float32 batch and return its first output."""
        try:
            return self._session.run(None, {self._input: x})[0]
        except Exception as exc:
            raise AlgorithmError(f"{self.name} inference failed: {type(exc).__name__}") from exc
