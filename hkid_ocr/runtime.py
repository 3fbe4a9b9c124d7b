"""The only module that imports onnxruntime: sessions, options, model metadata, and the
int8 build of the recogniser.

An :class:`OnnxModel` is created once per recognizer and is safe to call from several
threads at once (onnxruntime's ``InferenceSession.run`` is thread-safe).

Example:
    >>> from hkid_ocr.models import resolve_models
    >>> m = OnnxModel(resolve_models().rec, threads=1)  # doctest: +SKIP
    >>> m.metadata["character"][:1]  # doctest: +SKIP
    '!'
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from .errors import AlgorithmError, ModelError

__all__ = ["OnnxModel", "dictionary", "narrow_recognizer", "quantize_recognizer", "without_denormals"]


_ALLOCATOR_LOCK = threading.Lock()
_allocator_registered = False


def _shared_allocator() -> None:
    """Register one CPU arena that every session of this module allocates from.

    Each session otherwise grows an arena of its own to its largest run: with the
    detector and three recogniser sessions that kept ~30 MB more resident (measured over
    the benchmark's latency cards; no slower). Sessions of other code in the process are
    not affected: they use the shared arena only if they ask for it.
    """
    global _allocator_registered
    with _ALLOCATOR_LOCK:
        if not _allocator_registered:
            info = ort.OrtMemoryInfo("Cpu", ort.OrtAllocatorType.ORT_ARENA_ALLOCATOR, 0, ort.OrtMemType.DEFAULT)
            ort.create_and_register_allocator(info, None)
            _allocator_registered = True


class OnnxModel:
    """One ONNX model loaded on the CPU, with a single float32 input.

    ``source``, when given, is the model itself (serialised ONNX, e.g. from
    :func:`narrow_recognizer`) and ``path`` only names it.
    """

    def __init__(self, path: Path, threads: int = 0, *, source: bytes | None = None) -> None:
        opts = ort.SessionOptions()
        # 0 lets onnxruntime use every core; a fixed number keeps several workers from
        # oversubscribing the machine.
        opts.intra_op_num_threads = max(0, int(threads))
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3  # errors only: never log inputs
        # Input sizes vary from call to call (line widths, image shapes); a memory plan
        # cached per shape kept ~130 MB more resident over a benchmark run (measured).
        opts.enable_mem_pattern = False
        # Worker threads spin between a run's parallel steps (a 256x160 detector run
        # 8.7 -> 7.2 ms on two threads, measured) but stop when the run ends: left
        # spinning after it they took the cores the recogniser's lanes need next
        # (measured: clean-scan p95 241 -> 180 ms once spinning was off altogether).
        opts.add_session_config_entry("session.intra_op.allow_spinning", "1")
        opts.add_session_config_entry("session.force_spinning_stop", "1")
        _shared_allocator()
        opts.add_session_config_entry("session.use_env_allocators", "1")
        try:
            self._session = ort.InferenceSession(
                source if source is not None else str(path), sess_options=opts, providers=["CPUExecutionProvider"]
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


def dictionary(character: str) -> list[str]:
    """The characters listed in a PP-OCR recogniser's ``character`` metadata, in class
    order (the CTC blank before them and the space after are not listed)."""
    # rstrip only line ends: some entries are themselves whitespace (U+3000).
    return [c.rstrip("\r\n") for c in character.split("\n")]


# --- narrowed recogniser ---------------------------------------------------------------
#
# The recogniser's last layer scores all 18,710 classes for every frame (~13% of a run in
# int8), but most card fields are digits and Latin letters. A copy whose last layer keeps
# only those classes reads them faster; its per-class scores (logits) are the very same
# numbers, so the best class among the kept ones is the same as from the full model.
# Only the softmax normalisation differs: it runs over the kept classes.

_HEAD_OPS = frozenset({"Softmax", "Identity", "Add", "QuantizeLinear", "DequantizeLinear", "MatMul"})

# TensorProto data types a recogniser's head holds, and the typed field each is stored in
# when not as raw bytes (as the ONNX specification lays them out).
_TENSOR_TYPES: dict[int, tuple[np.dtype, str]] = {
    1: (np.dtype("<f4"), "float_data"),  # FLOAT
    2: (np.dtype("u1"), "int32_data"),  # UINT8
    3: (np.dtype("i1"), "int32_data"),  # INT8
    6: (np.dtype("<i4"), "int32_data"),  # INT32
    7: (np.dtype("<i8"), "int64_data"),  # INT64
}

_PROTO_LOCK = threading.Lock()
_proto_module: Any = None


def _onnx_proto() -> Any:
    """The ONNX protobuf classes (``onnx.onnx_ml_pb2``), without importing the ``onnx``
    package unless it is imported already.

    Importing ``onnx`` imports ``ml_dtypes``, ~0.6 s here: half of a cold start, for a
    graph edit that needs only the protobuf schema. The schema module stands alone; the
    ``onnx`` package, imported later in the same process, registers the same schema
    without complaint (checked).
    """
    global _proto_module
    with _PROTO_LOCK:
        if _proto_module is None:
            if "onnx" in sys.modules:
                import onnx

                _proto_module = onnx.onnx_ml_pb2
            else:
                found = importlib.util.find_spec("onnx")
                if found is None or not found.submodule_search_locations:
                    raise ModelError("editing the models at load needs the onnx package (pip install onnx)")
                schema = Path(list(found.submodule_search_locations)[0]) / "onnx_ml_pb2.py"
                spec = importlib.util.spec_from_file_location("hkid_ocr._onnx_ml_pb2", schema)
                if spec is None or spec.loader is None:
                    raise ModelError(f"cannot load the ONNX schema from {schema}")
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
                _proto_module = module
        return _proto_module


def _read_model(path: Path) -> Any:
    """The ModelProto in the file at ``path`` (see _onnx_proto); ModelError when it cannot be read."""
    model = _onnx_proto().ModelProto()
    try:
        model.ParseFromString(path.read_bytes())
    except Exception as exc:  # protobuf's DecodeError, or the file unreadable
        raise ModelError(f"cannot read model {path.name}: {exc}") from exc
    return model


def _tensor_array(t: Any) -> np.ndarray:
    """A TensorProto's values (as ``onnx.numpy_helper.to_array`` gives them, for the types a head
    holds; read-only when they are the proto's raw bytes)."""
    if t.data_type not in _TENSOR_TYPES:
        raise ModelError(f"tensor {t.name}: data type {t.data_type} not expected in a recogniser's head")
    dtype, field = _TENSOR_TYPES[t.data_type]
    shape = tuple(t.dims)
    if t.raw_data:
        return np.frombuffer(t.raw_data, dtype).reshape(shape)
    stored = np.asarray(getattr(t, field), dtype=np.float32 if field == "float_data" else np.int64)
    return stored.astype(dtype).reshape(shape)


def _set_tensor(t: Any, a: np.ndarray) -> None:
    """Make TensorProto ``t`` hold ``a`` as ``onnx.numpy_helper.from_array(a, t.name)`` would (raw bytes)."""
    name, data_type = t.name, t.data_type
    t.Clear()
    t.name = name
    t.data_type = data_type
    t.dims.extend(a.shape)
    t.raw_data = np.ascontiguousarray(a, _TENSOR_TYPES[data_type][0]).tobytes()


def narrow_recognizer(path: Path, alphabet: str, character: str | None = None) -> bytes:
    """A copy of the PP-OCR recogniser at ``path`` that scores only the CTC blank, the
    characters of ``alphabet`` found in its dictionary, and the space; serialised ONNX.

    ``character`` is the dictionary (LF-joined, as the ``character`` metadata holds it)
    for a model that does not carry its own. The copy's ``character`` metadata lists
    the kept characters (in dictionary order), so it reads like any PP-OCR recogniser.
    Needs the ``onnx`` package's protobuf schema (see _onnx_proto). Raises ModelError when
    the model's last layer is not the expected MatMul -> Add -> Softmax over its classes,
    or when there is no dictionary.

    Example:
        >>> from hkid_ocr.models import resolve_models
        >>> m = OnnxModel(Path("digits"), source=narrow_recognizer(resolve_models().rec, "0123456789"))  # doctest: +SKIP
        >>> len(m.metadata["character"].split("\\n"))  # doctest: +SKIP
        10
    """
    model = _read_model(path)
    g = model.graph
    meta = {p.key: p.value for p in model.metadata_props}
    if character is None and "character" not in meta:
        raise ModelError(f"{path.name} has no 'character' metadata and no dictionary was given")
    chars = dictionary(character if character is not None else meta["character"])
    n_classes = len(chars) + 2  # blank, the dictionary, the space
    wanted = set(alphabet)
    keep = [0] + [i + 1 for i, c in enumerate(chars) if c in wanted] + [n_classes - 1]
    # The head: the nodes from the graph's output back to the last MatMul, and what
    # makes that MatMul's weight (a DequantizeLinear in the int8 model).
    producer = {o: n for n in g.node for o in n.output}
    head: list[Any] = []
    todo = [g.output[0].name]
    matmul = None
    while todo and matmul is None:
        node = producer.get(todo.pop())
        if node is None or node.op_type not in _HEAD_OPS:
            break
        head.append(node)
        if node.op_type == "MatMul":
            matmul = node
            if (w := producer.get(node.input[1])) is not None and w.op_type == "DequantizeLinear":
                head.append(w)
        else:
            todo.append(node.input[0])
    inits = {i.name: i for i in g.initializer}
    sliced = 0
    for node in head:
        for name in node.input:
            init = inits.get(name)
            if init is None or not init.dims or init.dims[-1] != n_classes:
                continue
            _set_tensor(init, _tensor_array(init)[..., keep])
            sliced += 1
    if matmul is None or sliced < 2:  # at least the weight and the bias
        raise ModelError(f"{path.name}: unexpected last layer, cannot narrow it")
    # The output's shape, and the head's shapes where the model records them (onnxruntime
    # warns about every stale one when it loads the copy).
    for info in [g.output[0], *g.value_info]:
        dims = info.type.tensor_type.shape.dim
        if dims and dims[-1].HasField("dim_value") and dims[-1].dim_value == n_classes:
            dims[-1].dim_value = len(keep)
    kept = "\n".join(chars[i - 1] for i in keep[1:-1])
    for p in model.metadata_props:
        if p.key == "character":
            p.value = kept
            break
    else:
        prop = model.metadata_props.add()
        prop.key, prop.value = "character", kept
    return model.SerializeToString()  # type: ignore[no-any-return]


# --- denormal weights -------------------------------------------------------------------
#
# A float32 below 2**-126 in magnitude (a denormal) is slow to multiply on many x86 cores:
# each one takes a microcode assist, dozens of cycles instead of one. A tenth of the
# detector's weights are denormal (255,958 of 2.45 million, nearly all in two 1x1 convs
# of its last stage), which made one 256x160 run ~3.7x slower on the Intel Xeon VM of
# 2026-12-07 (39.4 -> 10.8 ms on one thread, 21.7 -> 6.7 ms on two; the same run on the VM
# of the earlier benchmarks, whose cores take no such penalty, 6.7 ms on two). Set to zero
# they add nothing a float32 sum of the other terms can hold (a product below 2**-126
# against terms near 1), and the maps are the same, bit for bit (checked on the
# benchmark's cards). onnxruntime's own switch (session.set_denormal_as_zero) sets the
# flags of the thread pools it creates, and those of the calling thread only as the
# process's first session says, whichever code's that is (measured: no faster once another
# session came first); it would also change the arithmetic of the caller's own code on
# that thread. Editing the weights touches nothing else.

_FLOAT_TINY = np.finfo(np.float32).tiny


def without_denormals(path: Path) -> bytes | None:
    """The model at ``path`` with its denormal float32 weights set to zero (serialised ONNX),
    or None when it has none, or keeps its weights in external files (such a model is loaded
    from its path, where onnxruntime finds them). Needs the ``onnx`` package's protobuf
    schema (see _onnx_proto).

    Example:
        >>> from hkid_ocr.models import resolve_models
        >>> det = resolve_models().det
        >>> m = OnnxModel(det, source=without_denormals(det))  # doctest: +SKIP
    """
    model = _read_model(path)
    if any(init.data_location == 1 for init in model.graph.initializer):  # EXTERNAL
        return None
    changed = False
    for init in model.graph.initializer:
        if init.data_type != 1:  # FLOAT
            continue
        a = _tensor_array(init)
        tiny = (a != 0) & (np.abs(a) < _FLOAT_TINY)
        if tiny.any():
            changed = True
            _set_tensor(init, np.where(tiny, np.float32(0), a))
    return model.SerializeToString() if changed else None  # type: ignore[no-any-return]


# --- int8 recogniser -------------------------------------------------------------------
#
# The int8 recogniser is built on the user's machine from the verified fp32 weights and
# a small table of activation ranges shipped in the package (data/rec_int8_ranges.json,
# found once by calibrating on synthetic card lines): no calibration data and no download
# at build time, and the result depends only on the two inputs and the tool versions.
#
# Recipe: opset 11 -> 17; onnxruntime's quantisation pre-processing; the erf-form GELU
# fused into one contrib op (a QDQ graph keeps onnxruntime from fusing it, and the
# unfused form costs ~20% of a run): com.microsoft.FastGelu, its tanh form (recipe
# "gelu": "tanh"; within 5e-4 of the erf form, far below an int8 step, and ~35% cheaper:
# a run ~3.5% faster), or com.microsoft.Gelu ("erf"); QDQ with uint8 activations, int8
# per-channel weights, Conv and MatMul quantised except the depthwise and squeeze-excite
# convs (cheap in fp32, sensitive in int8).


#: The contrib op each GELU form of the int8 recipe is fused into.
GELU_OPS = {"erf": "Gelu", "tanh": "FastGelu"}


def _gelu_op(form: str) -> str:
    """The contrib op a recipe's GELU ``form`` is fused into; ModelError for an unknown form."""
    if form not in GELU_OPS:
        raise ModelError(f"unknown GELU form {form!r} in the int8 recipe (known: {', '.join(GELU_OPS)})")
    return GELU_OPS[form]


def _fuse_gelu(model: "onnx.ModelProto", form: str = "erf") -> int:  # type: ignore[name-defined]  # noqa: F821
    """In place: x/sqrt2 -> Erf -> +1 -> *x -> *0.5 becomes one com.microsoft op:
    Gelu (``form`` "erf", the same function) or FastGelu ("tanh", its tanh
    approximation). Returns how many were fused."""
    op = _gelu_op(form)
    from onnx import helper, numpy_helper

    g = model.graph
    init = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    users: dict[str, list] = {}
    for n in g.node:
        for i in n.input:
            users.setdefault(i, []).append(n)

    def has_const(n: object, v: float) -> bool:
        return any(i in init and init[i].size == 1 and abs(float(init[i]) - v) < 1e-3 for i in n.input)  # type: ignore[attr-defined]

    drop: set[int] = set()
    repl: dict[int, object] = {}
    for div in g.node:
        if div.op_type != "Div" or not has_const(div, 1.41421356):
            continue
        x = div.input[0]
        try:
            (erf,) = users[div.output[0]]
            (add,) = users[erf.output[0]]
            (mul,) = users[add.output[0]]
            (half,) = users[mul.output[0]]
        except (KeyError, ValueError):
            continue
        if (erf.op_type != "Erf" or add.op_type != "Add" or not has_const(add, 1.0) or mul.op_type != "Mul"
                or x not in mul.input or half.op_type != "Mul" or not has_const(half, 0.5)):
            continue
        drop.update(id(n) for n in (div, erf, add, mul, half))
        repl[id(div)] = helper.make_node(op, [x], [half.output[0]], name=f"{op}_{half.output[0]}",
                                         domain="com.microsoft")
    nodes = [repl.get(id(n), n) for n in g.node if id(n) in repl or id(n) not in drop]
    del g.node[:]
    g.node.extend(nodes)  # type: ignore[arg-type]
    if repl and not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    return len(repl)


def _prepared_for_int8(fp32: "onnx.ModelProto", recipe: dict, tmp: Path) -> "onnx.ModelProto":  # type: ignore[name-defined]  # noqa: F821
    """The graph a recipe quantises: ``fp32`` converted to the recipe's opset, through
    onnxruntime's quantisation pre-processing, its GELUs fused unless the recipe says
    not to. Its ranges are found on this graph (``scripts/calibrate_int8.py``) and it is
    quantised (quantize_recognizer); ``tmp`` is a folder for the steps' files."""
    import onnx
    from onnx import version_converter
    from onnxruntime.quantization.shape_inference import quant_pre_process

    converted, pre = tmp / "converted.onnx", tmp / "pre.onnx"
    onnx.save(version_converter.convert_version(fp32, recipe["opset"]), str(converted))
    quant_pre_process(str(converted), str(pre), skip_symbolic_shape=True)
    prepared = onnx.load(str(pre))
    if recipe.get("fuse_gelu", True):
        _fuse_gelu(prepared, recipe.get("gelu", "erf"))
    return prepared


def _int8_tensors(graph: "onnx.ModelProto", op_types: Sequence[str]) -> set[str]:  # type: ignore[name-defined]  # noqa: F821
    """The tensors a ranges table must cover: the activation input and the outputs of
    every node of ``op_types`` (those the recipe keeps in fp32 too)."""
    return {t for n in graph.graph.node if n.op_type in op_types for t in [*n.input[:1], *n.output]}


def quantize_recognizer(src: Path, dst: Path, ranges_json: Path) -> None:
    """Build the int8 recogniser at ``dst`` from the fp32 model ``src`` and a ranges table.

    Needs the ``onnx`` package (build time only). Raises ModelError when the table does
    not fit the prepared graph (other onnx/onnxruntime versions may name tensors
    differently) or the tools fail.
    """
    import json
    import tempfile

    doc = json.loads(Path(ranges_json).read_text(encoding="utf-8"))
    recipe = doc["recipe"]
    gelu = recipe.get("gelu", "erf")
    if recipe.get("fuse_gelu", True):
        _gelu_op(gelu)  # an unknown form is refused before ~1 s of imports and graph preparation
    try:
        import onnx
        from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
        from onnxruntime.quantization.calibrate import TensorData, TensorsData, save_tensors_data
    except ImportError as exc:
        raise ModelError(f"building the int8 recogniser needs the onnx package: {exc}") from exc
    method = CalibrationMethod[doc["calibration_method"]]
    tensors = TensorsData(method, {k: TensorData(lowest=np.float32(lo), highest=np.float32(hi))
                                   for k, (lo, hi) in doc["ranges"].items()})
    try:
        fp32 = onnx.load(str(src))
        with tempfile.TemporaryDirectory(prefix="hkid_ocr_int8_") as tmp:
            prepared = _prepared_for_int8(fp32, recipe, Path(tmp))
            pre = Path(tmp) / "pre.onnx"
            onnx.save(prepared, str(pre))
            names = {t for n in prepared.graph.node for t in [*n.input, *n.output]}
            need = _int8_tensors(prepared, recipe["op_types_to_quantize"])
            unknown, missing = set(doc["ranges"]) - names, need - set(doc["ranges"])
            if unknown or missing:
                raise ModelError(
                    f"the int8 ranges table does not fit the prepared graph ({len(unknown)} unknown, "
                    f"{len(missing)} missing tensors): onnx {onnx.__version__} / onnxruntime "
                    f"{ort.__version__} prepare it differently from the versions it was made with"
                )
            cache = Path(tmp) / "ranges_cache.json"
            save_tensors_data(tensors, str(cache))  # onnxruntime's own calibration-cache format
            out = Path(tmp) / "int8.onnx"
            quantize_static(
                str(pre), str(out), None,
                quant_format=QuantFormat.QDQ,
                op_types_to_quantize=recipe["op_types_to_quantize"],
                per_channel=recipe["per_channel"],
                activation_type=QuantType[recipe["activation_type"]],
                weight_type=QuantType[recipe["weight_type"]],
                nodes_to_exclude=recipe["nodes_to_exclude"],
                calibrate_method=method,
                extra_options=dict(recipe.get("extra_options") or {}),
                calibration_cache_path=str(cache),
            )
            model = onnx.load(str(out))
            have = {p.key for p in model.metadata_props}
            model.metadata_props.extend(p for p in fp32.metadata_props if p.key not in have)
            onnx.save(model, str(dst))
    except ModelError:
        raise
    except Exception as exc:  # the quantisation tools raise assorted errors
        raise ModelError(f"building the int8 recogniser failed: {type(exc).__name__}: {exc}") from exc
