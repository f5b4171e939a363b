"""detect, count_objects and has_object on real images and frames."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from vql.udfs.detect import DETECTIONS, FastestDet, load_detector

import vql
from vql.models import MODELS
from vql.video.synthetic import bundled_image


def rgb(path: Path) -> np.ndarray:
    return cv2.imread(str(path))[:, :, ::-1].copy()


def test_fastestdet_sees_the_bus_and_people_in_bus_jpg(fastestdet_dir: Path) -> None:
    image = rgb(bundled_image("bus.jpg"))
    (detections,) = load_detector("fastestdet")(image[None])
    labels = [d["label"] for d in detections]
    assert "bus" in labels and labels.count("person") >= 2
    bus = next(d for d in detections if d["label"] == "bus")
    height, width = image.shape[:2]
    assert 0 <= bus["x1"] < bus["x2"] <= width and 0 <= bus["y1"] < bus["y2"] <= height
    assert (bus["x2"] - bus["x1"]) > width / 2  # the bus fills most of the picture
    assert all(0.65 < d["score"] <= 1 for d in detections)


def test_detector_loads_once_per_process(fastestdet_dir: Path) -> None:
    first = load_detector("fastestdet")
    loads = MODELS.loads
    assert load_detector("FastestDet") is first and MODELS.loads == loads


def test_batched_detections_equal_frame_by_frame_ones(fastestdet_dir: Path,
                                                      room_video: Path) -> None:
    import decord

    batched = FastestDet.load(fastestdet_dir / "FastestDet.onnx", 1)
    single = FastestDet.load(fastestdet_dir / "FastestDet.onnx", 1, batched=False)
    assert batched.batched and not single.batched  # the graph's batch was made dynamic
    reader = decord.VideoReader(str(room_video))
    frames = reader.get_batch(list(range(600, 1400, 50))).asnumpy()  # people come and go
    bus = cv2.resize(rgb(bundled_image("bus.jpg")), (frames.shape[2], frames.shape[1]))
    frames = np.concatenate([frames, bus[None]])
    one_by_one = [single(frame[None])[0] for frame in frames]
    together = batched(frames)
    assert sum(map(len, one_by_one)) >= 10
    for a, b in zip(together, one_by_one, strict=True):
        assert [d["label"] for d in a] == [d["label"] for d in b]
        for da, db in zip(a, b):
            for key in ("score", "x1", "y1", "x2", "y2"):
                assert da[key] == pytest.approx(db[key], abs=1e-3)


def test_the_preprocessing_is_the_authors(fastestdet_dir: Path) -> None:
    """Resize RGB then reverse the channels == the authors' BGR-first order, exactly."""
    image = rgb(bundled_image("zidane.jpg"))
    detector = FastestDet.load(fastestdet_dir / "FastestDet.onnx", 1)
    bgr = np.ascontiguousarray(image[..., ::-1])
    theirs = cv2.resize(bgr, (352, 352), interpolation=cv2.INTER_AREA)
    expected = (theirs.astype(np.float32) / 255.0).transpose(2, 0, 1)
    assert np.allclose(detector.preprocess(image[None])[0], expected, atol=1e-6)


def test_detect_in_sql_returns_typed_boxes(room: vql.Connection) -> None:
    cur = room.execute("SELECT frame_id, detect(frame) AS d FROM room "
                       "WHERE frame_id IN (0, 100) ORDER BY frame_id")
    table = cur.fetch_arrow_table()
    assert table.schema.field("d").type == DETECTIONS
    empty, busy = table.column("d").to_pylist()
    assert not [d for d in empty if d["label"] == "person"]  # nobody in the empty room
    people = [d for d in busy if d["label"] == "person"]
    assert len(people) == 1 and people[0]["score"] > 0.8  # FastestDet also reports a few
    # low-confidence objects of other classes on this frame (a 'dog' at the person's legs)


def test_count_objects_and_has_object_share_one_detection_per_frame(room: vql.Connection) -> None:
    cur = room.execute("SELECT frame_id, count_objects(frame, 'person'), "
                       "has_object(frame, 'person'), has_object(frame, 'giraffe') FROM room "
                       "WHERE frame_id IN (0, 100) ORDER BY frame_id")
    assert cur.fetchall() == [(0, 0, False, False), (100, 1, True, False)]
    assert cur.stats is not None and cur.stats.udf_frames["detect"] == 2


def test_missing_yolo_weights_offline_is_a_clear_error(room: vql.Connection) -> None:
    with pytest.raises(vql.ModelError, match="yolov8n.pt' is not on the model path"):
        room.execute("SELECT detect(frame, 'yolov8n.pt') FROM room LIMIT 1").fetchall()


def test_yolo_without_the_yolo_extra_names_the_extra(room: vql.Connection,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """ultralytics and torch are the ``yolo`` extra, not the core (issue 14): a YOLO model
    asked for without them says which extra to install; FastestDet needs neither."""
    import sys

    monkeypatch.setitem(sys.modules, "ultralytics", None)  # as if not installed
    with pytest.raises(vql.MissingDependencyError, match=r"pip install 'vql\[yolo\]'"):
        room.execute("SELECT detect(frame, 'yolov8n.pt') FROM room LIMIT 1").fetchall()


def test_vehicle_count_with_weights_but_without_the_extra_counts_motion_and_says_why(
        road: vql.Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    (tmp_path / "yolov8n.pt").write_bytes(b"weights a user copied")
    monkeypatch.setenv("VQL_MODEL_PATH", str(tmp_path))
    monkeypatch.setitem(sys.modules, "ultralytics", None)
    with pytest.warns(vql.FallbackWarning, match=r"the yolo extra is not installed"):
        rows = road.execute("SELECT vehicle_count FROM intersection WHERE frame_id < 3"
                            ).fetchall()
    assert len(rows) == 3


@pytest.mark.slow
def test_yolo_weights_in_the_model_directory_are_used(room: vql.Connection,
                                                      tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Offline there are no trained YOLO weights, so this builds yolov8n from its bundled
    architecture file (random weights) and saves it where a user would put a download: the
    real ultralytics loading and inference path runs; the boxes are meaningless."""
    from ultralytics import YOLO

    YOLO("yolov8n.yaml").save(str(tmp_path / "yolo-test.pt"))
    monkeypatch.setenv("VQL_MODEL_PATH", str(tmp_path))
    rows = room.execute("SELECT detect(frame, 'yolo-test.pt') FROM room WHERE frame_id < 2"
                        ).fetchall()
    assert len(rows) == 2 and all(isinstance(r[0], list) for r in rows)


# --- conf and classes, as ultralytics users expect; labels checked before decoding ---------

def test_detect_takes_conf_and_classes(room: vql.Connection, fastestdet_dir: Path) -> None:
    rows = room.execute("""SELECT detect(frame) AS everything,
                                  detect(frame, 'fastestdet', 0.3) AS lower,
                                  detect(frame, 'fastestdet', NULL, ['person']) AS people,
                                  detect(frame, 'fastestdet', 0.3, 'person') AS one_label
                           FROM room WHERE frame_id IN (100, 1000)""").fetchall()
    for everything, lower, people, one_label in rows:
        assert {d["label"] for d in everything} > {"person"}  # FastestDet sees more here
        assert len(lower) > len(everything) and min(d["score"] for d in lower) >= 0.3
        assert people == [d for d in everything if d["label"] == "person"] != []
        assert one_label == [d for d in lower if d["label"] == "person"]


@pytest.mark.parametrize(("sql", "message"), [
    ("SELECT frame_id FROM room WHERE has_object(frame, 'persn')",
     "has_object: model 'fastestdet' has no class 'persn' (did you mean 'person'?)"),
    ("SELECT count_objects(frame, 'Person') FROM room", "did you mean 'person'?"),
    ("SELECT detect(frame, 'fastestdet', 0.5, ['person', 'dgo']) FROM room",
     "has no class 'dgo' (did you mean 'dog'?)"),
    ("SELECT detect(frame, 'fastestdet', 1.5) FROM room", "conf must be between 0 and 1"),
    ("SELECT detect(frame, 'fastestdet', 0.5, 3) FROM room",
     "argument 'classes' must be a list of strings"),
])
def test_a_label_the_model_does_not_know_is_an_error_before_decoding(
        room: vql.Connection, fastestdet_dir: Path, sql: str, message: str) -> None:
    with pytest.raises(vql.BindError, match=message.replace("(", r"\(").replace(")", r"\)")
                       .replace("?", r"\?")) as error:
        room.execute(sql)
    assert error.value.position is not None  # the caret points at the call
    assert room.execute("SELECT count(*) FROM room").fetchall() == [(1394,)]


def test_vehicle_count_says_once_that_it_counts_motion(road: vql.Connection) -> None:
    """The tests' model path has no YOLO weights: vehicle_count falls back to motion."""
    with pytest.warns(vql.FallbackWarning, match="counts moving objects") as caught:
        cur = road.execute("SELECT vehicle_count, congested, vehicle_count + 1 FROM intersection "
                           "WHERE frame_id < 3")
    assert len([w for w in caught if w.category is vql.FallbackWarning]) == 1
    assert [c for c, _ in cur.messages] == [vql.FallbackWarning]
    assert road.execute("SELECT count(*) FROM intersection").messages == []
