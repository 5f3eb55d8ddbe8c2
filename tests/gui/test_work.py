"""The work layer: the device scheduler (one model job at a time, the current image first,
adoption, cancel, errors as objects, training through it, quitting without waiting) and the
work pool (delivery on the GUI thread, stale answers dropped)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from engine.store import ReviewStore
from engine.types import Progress
from gui.scheduler import DeviceScheduler
from gui.work import Generation, Worker, WorkPool
from tests.gui.conftest import factory_for


@pytest.fixture
def jobs_store(sightline_home, request):
    store = ReviewStore(sightline_home / "jobs.sqlite3")
    jobs = DeviceScheduler(store, detector_factory=factory_for(request))
    yield jobs, store
    jobs.shutdown()
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
    assert by_path[paths[3]].job.generation == 7 and by_path[paths[0]].job.generation == -1
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
    qtbot.waitUntil(lambda: len(results) == 1 and not jobs.busy, timeout=30_000)
    assert len(results) == 1 and results[0].job.generation == 2 and jobs.jobs_run == 1


def test_left_images_go_back_to_the_batch(qtbot, jobs_store, scenes, fake_model):
    fake_model.delay = 0.3
    jobs, store = jobs_store
    paths = [str(p) for p in scenes]
    jobs.analyse_all(paths[:1], "demo-shapes", "cpu")  # keeps the device busy
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


def test_a_model_that_cannot_load_reports_and_cancels(qtbot, sightline_home, scenes, tmp_path):
    from engine.weights import WeightsMissing

    def missing(model, device):
        raise WeightsMissing(model, tmp_path / "hub" / "checkpoints" / "weights.pth")

    store = ReviewStore(sightline_home / "jobs.sqlite3")
    jobs = DeviceScheduler(store, detector_factory=missing)
    states, results = [], []
    jobs.model_state.connect(lambda *a: states.append(a))
    jobs.result.connect(results.append)
    jobs.analyse_all([str(p) for p in scenes], "maskrcnn_resnet50_fpn_v2", "cpu")
    qtbot.waitUntil(lambda: bool(results), timeout=30_000)
    error = results[0].model_error
    assert isinstance(error, WeightsMissing) and "weights.pth" in str(error) and "checkpoints" in str(error)
    assert ("failed", "maskrcnn_resnet50_fpn_v2") == states[-1][:2]
    assert not jobs.batch_active and jobs.jobs_run == 1
    jobs.shutdown()
    store.close()


def test_training_waits_for_the_device_and_the_batch_waits_for_training(qtbot, jobs_store, scenes, fake_model):
    """A wizard training run goes through the scheduler: never two model jobs at once."""
    fake_model.delay = 0.3
    jobs, store = jobs_store
    spans, lock = [], threading.Lock()

    def train(job):
        began = time.perf_counter()
        time.sleep(0.4)
        with lock:
            spans.append(("train", began, time.perf_counter()))
        return "trained"

    original = fake_model.predict

    def timed(images):
        began = time.perf_counter()
        out = original(images)
        with lock:
            spans.append(("detect", began, time.perf_counter()))
        return out

    fake_model.predict = timed
    paths = [str(p) for p in scenes]
    jobs.analyse_all(paths[:1], "demo-shapes", "cpu")
    worker = Worker(train, name="train", pass_worker=True)
    jobs.run_worker(worker)
    jobs.analyse_all(paths[1:], "demo-shapes", "cpu")
    with qtbot.waitSignal(worker.succeeded, timeout=30_000) as done:
        pass
    qtbot.waitUntil(lambda: not jobs.batch_active, timeout=30_000)
    assert done.args == ["trained"]
    spans.sort(key=lambda s: s[1])
    assert [s[0] for s in spans] == ["detect", "train", "detect", "detect", "detect"]
    assert all(a[2] <= b[1] for a, b in zip(spans, spans[1:]))  # never overlapping


def test_shutdown_never_waits_for_a_model_call(qtbot, jobs_store, scenes, fake_model):
    fake_model.delay = 3.0
    jobs, store = jobs_store
    jobs.request(str(scenes[0]), "demo-shapes", "cpu", generation=1)
    qtbot.waitUntil(lambda: fake_model.calls == 1, timeout=10_000)
    began = time.perf_counter()
    jobs.shutdown()
    assert time.perf_counter() - began < 0.2
    assert jobs.abandoned  # still in the model call: left to the end of the process


def test_pool_delivers_on_the_main_thread_with_exception_objects(qtbot):
    pool = WorkPool(threads=2)
    main = threading.get_ident()
    seen = {}

    def work(x, cancel, progress):
        seen["worker"] = threading.get_ident()
        progress(Progress(1, 1))
        return np.arange(x).sum()

    pool.submit(work, 4, with_cancel=True,
                on_progress=lambda p: seen.setdefault("progress_thread", threading.get_ident()),
                on_done=lambda r: seen.update(result=r, done_thread=threading.get_ident()))
    pool.submit(lambda: 1 / 0, on_error=lambda exc: seen.update(error=exc))
    qtbot.waitUntil(lambda: "result" in seen and "error" in seen, timeout=10_000)
    assert seen["result"] == 6 and seen["worker"] != main
    assert seen["done_thread"] == main and seen["progress_thread"] == main
    assert isinstance(seen["error"], ZeroDivisionError)
    pool.shutdown()


def test_a_cancelled_worker_delivers_nothing(qtbot):
    pool = WorkPool(threads=1)
    gate = threading.Event()
    seen = {}
    pool.submit(gate.wait, 5)  # occupies the only thread
    late = pool.submit(lambda: seen.update(ran=True), on_done=lambda r: seen.update(late=True))
    late.cancel.cancel()
    with qtbot.waitSignal(late.finished, timeout=10_000):
        gate.set()
    assert seen == {}
    pool.shutdown()


@pytest.mark.parametrize("moved_on", [False, True])
def test_stale_answers_are_dropped_by_the_generation(qtbot, moved_on):
    """The one stale guard of the work layer: with the view moved on, nothing is delivered
    (and the same work is delivered when it has not, so the guard is what drops it)."""
    pool = WorkPool(threads=1)
    generation = Generation()
    generation.next()
    gate = threading.Event()
    seen = []
    worker = pool.submit(gate.wait, 5, stale=generation.stamp(), on_done=seen.append,
                         on_error=seen.append)
    if moved_on:
        generation.next()
    with qtbot.waitSignal(worker.finished, timeout=10_000):
        gate.set()
    assert seen == ([] if moved_on else [True])
    pool.shutdown()


def test_a_worker_cancelled_while_it_waits_for_the_device_says_so(qtbot, jobs_store, scenes, fake_model):
    """Cancel pressed before training reached the device: the page still hears it ended."""
    fake_model.delay = 0.5
    jobs, store = jobs_store
    jobs.analyse_all([str(scenes[0])], "demo-shapes", "cpu")  # holds the device
    worker = Worker(lambda job: "trained", name="train", pass_worker=True)
    jobs.run_worker(worker)
    worker.request_cancel()
    with qtbot.waitSignal(worker.cancelled, timeout=30_000):
        pass
    assert not worker.running


def test_a_shut_down_pool_ends_its_threads_and_work_started_later_still_ends(qtbot):
    """A closed window leaves no threads behind; work handed to it afterwards is answered."""
    pool = WorkPool(threads=2, name="sightline-ending")
    seen = []
    pool.shutdown()
    qtbot.waitUntil(lambda: not any(t.name.startswith("sightline-ending") for t in threading.enumerate()),
                    timeout=10_000)
    pool.submit(lambda: seen.append("ran"), on_cancelled=lambda: seen.append("cancelled"))
    qtbot.waitUntil(lambda: seen == ["cancelled"], timeout=10_000)
