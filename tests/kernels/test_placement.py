"""The device knob: which device each function computes on."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

import vql
from vql.kernels.device import cuda_status
from vql.kernels.placement import choose_device
from vql.settings import Settings

BOTH = ("cpu", "cuda")


@pytest.mark.parametrize(("declared", "available", "policy", "measured", "expected"), [
    (BOTH, ("cpu",), "auto", {}, "cpu"),                           # no GPU here
    (BOTH, BOTH, "auto", {"cpu": 5.0}, "cuda"),                    # a GPU not measured yet
    (BOTH, BOTH, "auto", {"cpu": 5.0, "cuda": 9.0}, "cpu"),        # measured slower
    (BOTH, BOTH, "auto", {"cpu": 5.0, "cuda": 1.0}, "cuda"),       # measured faster
    (("cpu",), BOTH, "auto", {}, "cpu"),                           # a CPU-only function
    (BOTH, BOTH, "cpu", {"cuda": 1.0}, "cpu"),                     # the user says cpu
    (("cpu",), ("cpu",), "cuda", {}, "cpu"),                       # nothing to move
])
def test_the_device_is_chosen_by_policy_and_measured_cost(
        declared: tuple[str, ...], available: tuple[str, ...], policy: str,
        measured: dict[str, float], expected: str) -> None:
    assert choose_device(declared, available, policy, measured) == expected


def test_an_unknown_policy_is_refused() -> None:
    with pytest.raises(vql.DeviceError, match="use one of auto, cpu, cuda"):
        choose_device(BOTH, ("cpu",), "gpu", {})


def _connect(device: str) -> vql.Connection:
    return vql.connect(":memory:", autocommit=True,
                       settings=replace(Settings.from_env(), device=device))


def test_a_query_without_a_gpu_runs_on_the_cpu_and_says_so(road_video: Path) -> None:
    if cuda_status().available:
        pytest.skip("this machine has a CUDA device; the auto policy would use it")
    with _connect("auto") as con:
        con.execute("LOAD VIDEO ? INTO road", [str(road_video)])
        plan = "\n".join(r[0] for r in con.execute("EXPLAIN SELECT avg(motion) FROM road"))
        assert "UDF motion(frame) -> " in plan and "(cpu, batched, stateful" in plan


def test_asking_for_cuda_where_there_is_none_says_why(road_video: Path) -> None:
    if cuda_status().available:
        pytest.skip("this machine has a CUDA device")
    with _connect("cuda") as con:
        con.execute("LOAD VIDEO ? INTO road", [str(road_video)])
        with pytest.raises(vql.DeviceError, match="'cuda' is not available: "):
            con.execute("SELECT avg(brightness) FROM road")
        # A function that runs only on the CPU is not affected.
        assert con.execute("SELECT count(moving_objects) FROM road WHERE frame_id < 3"
                           ).fetchone() == (3,)


@pytest.mark.gpu
def test_on_a_gpu_functions_run_there_with_the_same_results(road_video: Path) -> None:
    if not cuda_status().available:
        pytest.skip(f"needs a CUDA device: {cuda_status().reason}")
    query = "SELECT frame_id, brightness, motion FROM road WHERE frame_id < 40 ORDER BY 1"
    results = {}
    for device in ("cpu", "cuda"):
        with _connect(device) as con:
            con.execute("LOAD VIDEO ? INTO road", [str(road_video)])
            plan = "\n".join(r[0] for r in con.execute("EXPLAIN " + query))
            assert f"({device}, batched" in plan
            results[device] = con.execute(query).fetchall()
    for cpu, gpu in zip(results["cpu"], results["cuda"], strict=True):
        assert cpu[0] == gpu[0] and cpu[2] == gpu[2]  # motion's kernels agree exactly
        assert abs(cpu[1] - gpu[1]) < 1e-9
