"""gui.jobs: one model job at a time, the current image first, adoption, cancel, errors."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from engine.store import ReviewStore
from gui.jobs import ModelJobs, TaskPool


@pytest.fixture
def jobs_store(sightline_home):
    store = ReviewStore(sightline_home / "jobs.sqlite3")
    jobs = ModelJobs(store)
    yield jobs, store
    assert jobs.shutdown()
    store.close()


def test_current_image_goes_before_the_batch_and_results_are_stored(qtbot, jobs_store, scenes, fake_model):
    jobs, store = jobs_store
    order, results = [], []
    jobs.started.connect(lambda job: order.append(job.path))
    jobs.result.connect(results.append)
    paths = [str(p) for p in scenes]
    jobs.analyse_all(paths, "demo-shapes", "cpu")
    jobs.request(paths[3], "demo-shapes", "cpu", generation=7)
    with qtbot.waitSignal(jobs.batch_finished, timeout=60_000) as finished:
        pass
    assert finished.args == [False]
    assert order[0] == paths[0] and order[1] == paths[3]  # the first batch job was already running
    assert sorted(order) == sorted(paths) and len(order) == 4
    by_path = {r.job.path: r for r in results}
    assert by_path[paths[3]].job.generation == 7
    assert all(store.load_result(p, "demo-shapes") is not None for p in paths)


def test_running_job_is_adopted_not_repeated(qtbot, jobs_store, scenes, fake_model):
    fake_model.delay = 0.5
    jobs, store = jobs_store
    results = []
    jobs.result.connect(results.append)
    path = str(scenes[0])
    jobs.request(path, "demo-shapes", "cpu", generation=1)
    assert jobs.running.path == path
    jobs.request(path, "demo-shapes", "cpu", generation=2)
    qtbot.waitUntil(lambda: len(results) == 1, timeout=30_000)
    qtbot.wait(700)
    assert len(results) == 1 and results[0].job.generation == 2 and jobs.jobs_run == 1


def test_left_images_go_back_to_the_batch(qtbot, jobs_store, scenes, fake_model):
    fake_model.delay = 0.3
    jobs, store = jobs_store
    paths = [str(p) for p in scenes]
    jobs.analyse_all(paths[:1], "demo-shapes", "cpu")  # keeps the worker busy
    jobs.analyse_all(paths[1:], "demo-shapes", "cpu")
    jobs.request(paths[2], "demo-shapes", "cpu", generation=1)  # taken out of the batch...
    jobs.forget_pending()  # ...and the user moves on before it ran
    with qtbot.waitSignal(jobs.batch_finished, timeout=60_000):
        pass
    assert fake_model.calls == 4


def test_cancel_stops_the_batch(qtbot, jobs_store, scenes, fake_model):
    fake_model.delay = 0.5
    jobs, store = jobs_store
    jobs.analyse_all([str(p) for p in scenes], "demo-shapes", "cpu")
    with qtbot.waitSignal(jobs.batch_finished, timeout=10_000) as finished:
        jobs.cancel_batch()
    assert finished.args == [True]
    qtbot.waitUntil(lambda: not jobs.busy, timeout=10_000)
    assert fake_model.calls <= 1 and not jobs.batch_active


def test_a_model_that_cannot_load_reports_and_cancels(qtbot, jobs_store, scenes, monkeypatch, tmp_path):
    from engine.weights import WeightsMissing
    from gui import jobs as jobs_module

    def missing(self, model, device):
        raise WeightsMissing(model, tmp_path / "hub" / "checkpoints" / "weights.pth")

    monkeypatch.setattr(jobs_module._ModelWorker, "_detector_for", missing)
    jobs, store = jobs_store
    states, results = [], []
    jobs.model_state.connect(lambda *a: states.append(a))
    jobs.result.connect(results.append)
    jobs.analyse_all([str(p) for p in scenes], "maskrcnn_resnet50_fpn_v2", "cpu")
    qtbot.waitUntil(lambda: bool(results), timeout=30_000)
    assert "weights.pth" in results[0].model_error and "checkpoints" in results[0].model_error
    assert ("failed", "maskrcnn_resnet50_fpn_v2") == states[-1][:2]
    assert not jobs.batch_active and jobs.jobs_run == 1


def test_task_pool_delivers_on_the_main_thread(qtbot):
    pool = TaskPool(threads=2)
    main = threading.get_ident()
    seen = {}

    def work(x, cancel, progress):
        seen["worker"] = threading.get_ident()
        progress(x)
        return np.arange(x).sum()

    pool.submit(work, 4, with_cancel=True,
                on_progress=lambda p: seen.setdefault("progress_thread", threading.get_ident()),
                on_done=lambda r: seen.update(result=r, done_thread=threading.get_ident()))
    pool.submit(lambda: 1 / 0, on_error=lambda m: seen.update(error=m))
    qtbot.waitUntil(lambda: "result" in seen and "error" in seen, timeout=10_000)
    assert seen["result"] == 6 and seen["worker"] != main
    assert seen["done_thread"] == main and seen["progress_thread"] == main
    assert "ZeroDivisionError" in seen["error"]
    cancelled = pool.submit(lambda: seen.update(ran=True), on_done=lambda r: seen.update(late=True))
    cancelled.cancel.cancel()
    qtbot.wait(200)
    assert "late" not in seen
    pool.shutdown()
