"""detect(frame [, model]): object detection with FastestDet (ONNX) or an ultralytics YOLO model.

Models are found by file name on the model path (``VQL_MODEL_PATH``, plus the ``models/*``
folders of ``VQL_SHARED``) and loaded once per process. ``model`` is ``'fastestdet'`` (the
default) or a YOLO weights name such as ``'yolov8n.pt'``: when the file is not on the model path
and the machine is online, ultralytics downloads it into the first folder of the model path.

Each detection is ``{label, score, x1, y1, x2, y2}`` in pixels of the frame as decoded.
"""

from __future__ import annotations

import functools
import socket
import typing as t
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from vql.errors import BindError, MissingDependencyError, ModelError, suggestion
from vql.functions.spec import udf
from vql.kernels import kernel
from vql.kernels.device import to_device, to_host
from vql.models import MODELS
from vql.models.coalesce import Coalescer
from vql.settings import Settings

DETECTION = pa.struct([
    ("label", pa.string()), ("score", pa.float32()),
    ("x1", pa.float32()), ("y1", pa.float32()), ("x2", pa.float32()), ("y2", pa.float32()),
])
DETECTIONS = pa.list_(DETECTION)

Detection = dict[str, t.Any]


class Detector(t.Protocol):
    """A loaded model: detections per frame, keeping those scored ``conf`` or more (None: the
    model's own threshold)."""

    @property
    def names(self) -> list[str]:
        """The model's class labels, by class index."""

    def __call__(self, frames: np.ndarray, conf: float | None = None
                 ) -> list[list[Detection]]: ...

# --- FastestDet ------------------------------------------------------------------------------

FASTESTDET_FILE = "FastestDet.onnx"
FASTESTDET_NAMES = "coco.names"


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> list[int]:
    """Indices kept by greedy non-maximum suppression (highest score first)."""
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    areas = (boxes[:, 2] - boxes[:, 0]).clip(0) * (boxes[:, 3] - boxes[:, 1]).clip(0)
    while order.size:
        best, rest = order[0], order[1:]
        keep.append(int(best))
        xx1 = np.maximum(boxes[best, 0], boxes[rest, 0])
        yy1 = np.maximum(boxes[best, 1], boxes[rest, 1])
        xx2 = np.minimum(boxes[best, 2], boxes[rest, 2])
        yy2 = np.minimum(boxes[best, 3], boxes[rest, 3])
        inter = (xx2 - xx1).clip(0) * (yy2 - yy1).clip(0)
        overlap = inter / np.maximum(areas[best] + areas[rest] - inter, 1e-9)
        order = rest[overlap <= iou]
    return keep


def batched_graph(path: Path) -> bytes | None:
    """FastestDet's graph with a dynamic batch dimension, or None when it cannot be made so.

    The published graph is exported for a batch of 1: its channel shuffles reshape to
    (batch * channels / 2, 2, height * width) with the product written out for batch 1. The
    shuffle is batch-agnostic, so writing -1 for that first dimension (and naming the input's
    and output's batch dimension) gives the same computation for any batch; tests check that
    batched detections equal frame-by-frame ones. Needs the ``onnx`` package."""
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        return None
    model = onnx.load(str(path))
    graph = model.graph
    initializers = {i.name: i for i in graph.initializer}
    shapes = [initializers.get(n.input[1]) for n in graph.node if n.op_type == "Reshape"]
    if not shapes or any(s is None for s in shapes):
        return None
    for init in t.cast(list[t.Any], shapes):
        shape = numpy_helper.to_array(init)
        if len(shape) == 3 and shape[1] == 2 and shape[0] > 0:  # (b * c / 2, 2, h * w)
            shape = shape.copy()
            shape[0] = -1
            init.CopyFrom(numpy_helper.from_array(shape, init.name))
        elif not (len(shape) == 5 and shape[0] == 2 and shape[1] == -1):  # (2, -1, c/2, h, w)
            return None  # a reshape this rewrite does not know: keep the fixed batch
    for value in (graph.input[0], graph.output[0]):
        value.type.tensor_type.shape.dim[0].dim_param = "batch"
    del graph.value_info[:]  # shapes inferred for batch 1 no longer hold
    return t.cast(bytes, model.SerializeToString())


@dataclass
class FastestDet:
    """The FastestDet ONNX model with its authors' pre- and post-processing.

    Input Nx3x352x352 BGR/255 (INTER_AREA resize); output Nx85x22x22: objectness, box centre
    offsets (tanh, + cell, / 22), box size (sigmoid, fraction of the image), 80 class scores.
    score = obj^0.6 * cls^0.4; cells above ``threshold`` are kept, then class-agnostic NMS.
    ``batched``: the graph takes a whole batch at once (``batched_graph``); otherwise frames
    run one at a time. ``device``: where pre-processing runs (the ``to_tensor`` kernel); on
    ``cuda`` the graph runs on onnxruntime's CUDA provider when the installed onnxruntime has
    it (the ``onnxruntime-gpu`` build), else on the CPU (ANALYZE measures which is cheaper).
    """

    session: t.Any
    names: list[str]
    batched: bool = False
    threshold: float = 0.65
    iou: float = 0.45
    size: int = 352
    device: str = "cpu"
    coalesce: bool = True  # join concurrent callers' frames into one call (vql.models.coalesce)

    def __post_init__(self) -> None:
        name = self.session.get_inputs()[0].name
        self._joined = Coalescer(lambda blob: self.session.run(None, {name: blob})[0])

    @classmethod
    def load(cls, path: Path, threads: int, batched: bool = True,
             device: str = "cpu") -> FastestDet:
        """Load the ONNX model at ``path``, with ``coco.names`` beside it; batched when its
        graph can be made so."""
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        graph = batched_graph(path) if batched else None
        providers = ["CPUExecutionProvider"]
        if device == "cuda" and "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        session = ort.InferenceSession(graph if graph is not None else str(path), options,
                                       providers=providers)
        names_file = path.with_name(FASTESTDET_NAMES)
        if not names_file.is_file():
            raise ModelError(f"{FASTESTDET_NAMES} is missing beside {path}")
        names = [n.strip() for n in names_file.read_text().splitlines() if n.strip()]
        return cls(session, names, batched=graph is not None, device=device)

    def preprocess(self, frames_rgb: np.ndarray) -> np.ndarray:
        """N x 3 x size x size float32, BGR / 255, resized with area averaging."""
        to_tensor = kernel("to_tensor").on(self.device)
        return to_host(to_tensor(to_device(frames_rgb, self.device), self.size))

    def decode(self, feature: np.ndarray, width: int, height: int,
               threshold: float | None = None) -> list[Detection]:
        """One frame's detections from its 85 x H x W output (above the threshold, after
        NMS), in pixels of a ``width`` x ``height`` frame."""
        grid_h, grid_w = feature.shape[1:]
        classes = feature[5:]
        cls_index = classes.argmax(axis=0)
        cls_score = classes.max(axis=0).clip(0, None)
        score = feature[0].clip(0, None) ** 0.6 * cls_score ** 0.4
        hs, ws = np.nonzero(score > (self.threshold if threshold is None else threshold))
        if hs.size == 0:
            return []
        cx = (ws + np.tanh(feature[1, hs, ws])) / grid_w
        cy = (hs + np.tanh(feature[2, hs, ws])) / grid_h
        bw, bh = _sigmoid(feature[3, hs, ws]), _sigmoid(feature[4, hs, ws])
        boxes = np.stack([(cx - bw / 2) * width, (cy - bh / 2) * height,
                          (cx + bw / 2) * width, (cy + bh / 2) * height], axis=1)
        boxes = boxes.clip(0, [width, height, width, height])
        scores = score[hs, ws]
        labels = cls_index[hs, ws]
        return [_detection(self.names[labels[i]], scores[i], boxes[i])
                for i in nms(boxes, scores, self.iou)]

    def __call__(self, frames: np.ndarray, conf: float | None = None
                 ) -> list[list[Detection]]:
        if len(frames) == 0:
            return []
        name = self.session.get_inputs()[0].name
        blob = self.preprocess(frames)
        if self.batched and self.coalesce:  # with the frames of other cameras calling now
            features = self._joined(blob)
        elif self.batched:
            features = self.session.run(None, {name: blob})[0]
        else:  # the published graph has a fixed batch of 1
            features = np.concatenate([self.session.run(None, {name: blob[i:i + 1]})[0]
                                       for i in range(len(blob))])
        height, width = frames.shape[1:3]
        return [self.decode(feature, width, height, conf) for feature in features]


def _detection(label: str, score: float, box: np.ndarray) -> Detection:
    x1, y1, x2, y2 = (float(v) for v in box)
    return {"label": label, "score": float(score), "x1": x1, "y1": y1, "x2": x2, "y2": y2}


def _load_fastestdet(name: str, settings: Settings, device: str) -> Detector:
    path = settings.find_model(name if name.endswith(".onnx") else FASTESTDET_FILE)
    if path is None:
        raise ModelError(
            f"model {name!r}: {FASTESTDET_FILE} is not on the model path "
            f"({', '.join(str(p) for p in settings.model_path)}); set VQL_MODEL_PATH or VQL_SHARED "
            "to a folder that holds it")
    detector = FastestDet.load(path, settings.inference_thread_count(), device=device)
    # bench/live.py on 2 CPU cores: joined calls served fewer cameras than separate ones (the
    # separate calls' threads overlap each other's pre- and post-processing); a GPU's launch
    # overhead is what joining saves
    detector.coalesce = settings.coalesce if settings.coalesce is not None else device == "cuda"
    return detector


# --- ultralytics YOLO ------------------------------------------------------------------------


def _online(host: str = "github.com", port: int = 443, timeout: float = 3.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


@dataclass
class YoloDetector:
    """An ultralytics model. On ``cuda`` it runs through torch on the first CUDA device, in
    half precision (ultralytics' ``half``: float16 weights and inputs, the usual inference
    setting on GPUs; boxes move by about a pixel, scores by about 0.01)."""

    model: t.Any
    confidence: float = 0.25
    device: str = "cpu"

    @property
    def names(self) -> list[str]:
        """The model's class labels, by class index."""
        return [str(n) for n in dict(self.model.names).values()]

    def __call__(self, frames: np.ndarray, conf: float | None = None
                 ) -> list[list[Detection]]:
        bgr = [np.ascontiguousarray(frame[..., ::-1]) for frame in frames]
        on_gpu = self.device == "cuda"
        results = self.model.predict(bgr, verbose=False,
                                     conf=self.confidence if conf is None else conf,
                                     device=0 if on_gpu else "cpu", half=on_gpu,
                                     batch=max(len(bgr), 1))
        names = self.model.names
        out = []
        for result in results:
            boxes = result.boxes
            xyxy = boxes.xyxy.cpu().numpy()
            scores = boxes.conf.cpu().numpy()
            labels = boxes.cls.cpu().numpy().astype(int)
            out.append([_detection(names[int(c)], s, b) for b, s, c in zip(xyxy, scores, labels)])
        return out


def _load_yolo(name: str, settings: Settings, device: str) -> Detector:
    try:
        from ultralytics import YOLO
    except ImportError as error:  # the yolo extra is not installed
        raise MissingDependencyError(
            f"model {name!r}: YOLO models need the yolo extra (ultralytics and torch; "
            "ultralytics is AGPL-3.0): pip install 'vql[yolo]'; the default detector, "
            "'fastestdet', needs neither") from error
    path = settings.find_model(name)
    if path is None:
        target = settings.model_path[0] / Path(name).name
        if not _online():
            raise ModelError(
                f"model {name!r} is not on the model path "
                f"({', '.join(str(p) for p in settings.model_path)}) and cannot be downloaded "
                "(offline); copy the weights file into one of those folders")
        target.parent.mkdir(parents=True, exist_ok=True)
        path = target  # ultralytics downloads known asset names to this path
    if device == "cpu":
        import torch

        torch.set_num_threads(settings.inference_thread_count())  # process-wide in torch
    try:
        return YoloDetector(YOLO(str(path)), device=device)
    except Exception as error:
        raise ModelError(f"cannot load YOLO model {name!r} from {path}: {error}") from error


Loader = Callable[[str, Settings, str], Detector]

# Model name -> loader: the first rule whose test matches the (lower-cased) name wins.
DETECTOR_LOADERS: tuple[tuple[Callable[[str], bool], Loader], ...] = (
    (lambda n: n in {"fastestdet", "fastestdet.onnx"} or n.endswith(".onnx"), _load_fastestdet),
    (lambda n: n.endswith((".pt", ".yaml")) or n.startswith(("yolo", "rtdetr")), _load_yolo),
)


def load_detector(name: str, settings: Settings | None = None,
                  device: str = "cpu") -> Detector:
    """The detector called ``name`` on ``device``, loaded once per process."""
    settings = settings or Settings.from_env()
    key = name.lower()
    for matches, loader in DETECTOR_LOADERS:
        if matches(key):
            threads = settings.inference_thread_count()
            return MODELS.get(("detector", key, settings.model_path, device, threads,
                               settings.coalesce),
                              functools.partial(loader, name, settings, device))
    raise ModelError(f"unknown detection model {name!r}: use 'fastestdet' or a YOLO weights file "
                     "such as 'yolov8n.pt'")


def model_labels(model: str, settings: Settings | None = None) -> list[str] | None:
    """The class names ``model`` reports (loading it once per process), or None when its
    weights are not on the model path (loading it will say so)."""
    settings = settings or Settings.from_env()
    key = model.lower()
    if key in {"fastestdet", "fastestdet.onnx"}:
        path = settings.find_model(FASTESTDET_FILE)
        names = path.with_name(FASTESTDET_NAMES) if path is not None else None
        if names is None or not names.is_file():
            return None
        return [n.strip() for n in names.read_text().splitlines() if n.strip()]
    if settings.find_model(model) is None:
        return None
    return list(load_detector(model, settings).names)


def check_labels(model: str, labels: t.Iterable[str], function: str = "detect") -> None:
    """A label the model does not know is an error naming the closest one it knows (a query
    for 'persn' would otherwise decode the whole video to find nothing)."""
    known = model_labels(model)
    if known is None:
        return
    for label in labels:
        if label not in known:
            raise BindError(f"{function}: model {model!r} has no class {label!r}"
                            f"{suggestion(label, known)}; its classes are those of "
                            f"{'COCO' if len(known) == 80 else model} ({len(known)} in all)")


def _check(model: str, conf: float | None = None,
           classes: tuple[str, ...] | None = None) -> None:
    if conf is not None and not 0 <= conf <= 1:
        raise BindError(f"detect: conf must be between 0 and 1, not {conf!r}")
    check_labels(model, classes or ())


@udf(inputs=["frame", "model:str='fastestdet'", "conf:float=None", "classes:strs=None"],
     returns=DETECTIONS, cost_ms=15.0, devices=("cpu", "cuda"), check=_check)
def detect(frames: np.ndarray, model: str, conf: float | None = None,
           classes: tuple[str, ...] | None = None, device: str = "cpu"
           ) -> list[list[Detection]]:
    """Objects in the frame: a list of {label, score, x1, y1, x2, y2} (pixels). ``conf``: the
    lowest score kept (ultralytics' name; NULL: the model's own, 0.65 for FastestDet as its
    authors set it, 0.25 for YOLO); ``classes``: the labels kept (a list or one label; NULL:
    all), as in ``detect(frame, 'fastestdet', 0.5, ['person', 'dog'])``."""
    found = load_detector(model, device=device)(frames, conf=conf)
    if classes:
        wanted = set(classes)
        found = [[d for d in frame if d["label"] in wanted] for frame in found]
    return found
