import logging
import multiprocessing
import os
import shutil
import threading
import time

from classifier.model import TextClassifier
from classifier.registry import ModelRegistry

TEXT = "我家楼下的路灯不亮了，晚上走路很危险"


def _warnings(caplog):
    return [r for r in caplog.records if r.levelno == logging.WARNING and r.name.startswith("classifier")]


def test_suggests_and_reloads_a_new_model_without_restart(demo_model_file, tmp_path):
    path = tmp_path / "model.pkl"
    shutil.copy(demo_model_file, path)
    reg = ModelRegistry(path, check_interval=0)
    first = reg.suggest(TEXT)
    assert first.top == "市政工程处"
    v1 = reg.status()["version"]

    # a new model (different labels) is written over it, atomically
    TextClassifier().fit(["路灯不亮", "路灯坏了", "工资拖欠", "不发工资"], ["灯组", "灯组", "薪组", "薪组"], folds=0).save(path)
    second = reg.suggest(TEXT)
    assert second.top == "灯组"
    assert reg.status()["version"] != v1


def test_check_interval_limits_stat_calls(demo_model_file, tmp_path):
    path = tmp_path / "model.pkl"
    shutil.copy(demo_model_file, path)
    reg = ModelRegistry(path, check_interval=3600)
    assert reg.suggest(TEXT).top == "市政工程处"
    os.unlink(path)
    assert reg.suggest(TEXT) is not None  # not looked at again within the interval
    assert reg.reload() is None  # an explicit reload sees it gone


def test_missing_model_warns_once_and_returns_none(tmp_path, caplog, demo_model_file):
    path = tmp_path / "none.pkl"
    reg = ModelRegistry(path, check_interval=0)
    with caplog.at_level(logging.WARNING):
        for _ in range(5):
            assert reg.suggest(TEXT) is None
    warns = _warnings(caplog)
    assert len(warns) == 1 and "not found" in warns[0].getMessage()
    assert reg.status() == {"loaded": False, "path": str(path), "error": reg.status()["error"]}
    shutil.copy(demo_model_file, path)  # the model appears: suggestions come back
    assert reg.suggest(TEXT).top == "市政工程处"


def test_corrupt_model_warns_once_then_recovers(tmp_path, caplog, demo_model_file):
    path = tmp_path / "m.pkl"
    path.write_bytes(b"\x80\x04garbage")
    reg = ModelRegistry(path, check_interval=0)
    with caplog.at_level(logging.WARNING):
        assert reg.suggest(TEXT) is None
        assert reg.suggest("另一条") is None
    warns = _warnings(caplog)
    assert len(warns) == 1 and "corrupt" in warns[0].getMessage()
    tmp = tmp_path / "new.pkl"
    shutil.copy(demo_model_file, tmp)
    os.replace(tmp, path)
    assert reg.suggest(TEXT) is not None


def test_incompatible_model_warns_and_returns_none(tmp_path, caplog, demo_model):
    import copy

    old = copy.copy(demo_model)
    old.metadata = dict(demo_model.metadata, libraries=dict(demo_model.metadata["libraries"], sklearn="1.0.2"))
    path = old.save(tmp_path / "old.pkl")
    reg = ModelRegistry(path, check_interval=0)
    with caplog.at_level(logging.WARNING):
        assert reg.suggest(TEXT) is None
        assert reg.suggest(TEXT) is None
    warns = _warnings(caplog)
    assert len(warns) == 1 and "scikit-learn 1.0.2" in warns[0].getMessage()


def test_threads_share_a_registry_while_the_file_is_replaced(demo_model, tmp_path):
    path = demo_model.save(tmp_path / "m.pkl")
    reg = ModelRegistry(path, check_interval=0)
    errors, results = [], []
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            try:
                results.append(reg.suggest(TEXT))
            except Exception as e:  # pragma: no cover - the test fails on any
                errors.append(e)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    for _ in range(3):
        demo_model.save(path)
        time.sleep(0.05)
    stop.set()
    for t in threads:
        t.join()
    assert not errors and results and all(r is not None and r.top == "市政工程处" for r in results)


def _writer(src: str, dst: str, n: int):
    model = TextClassifier.load(src)
    for _ in range(n):
        model.save(dst)


def test_another_process_writing_the_model_never_shows_a_half_written_file(demo_model_file, tmp_path):
    path = tmp_path / "shared.pkl"
    shutil.copy(demo_model_file, path)
    reg = ModelRegistry(path, check_interval=0)
    ctx = multiprocessing.get_context("spawn")
    proc = ctx.Process(target=_writer, args=(str(demo_model_file), str(path), 8))
    proc.start()
    seen = 0
    while proc.is_alive() or seen < 5:
        assert reg.suggest(TEXT) is not None
        seen += 1
    proc.join()
    assert proc.exitcode == 0
    assert reg.suggest(TEXT).top == "市政工程处"
