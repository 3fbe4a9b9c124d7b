import pytest

from hkid_ocr.workers import Workers


def test_workers_keep_the_jobs_order():
    assert Workers(3).map(lambda x: x * 10, list(range(7))) == [0, 10, 20, 30, 40, 50, 60]
    assert Workers(2).map(abs, [-4]) == [4] and Workers(2).map(abs, []) == []
    assert Workers(1).map(str, [1, 2]) == ["1", "2"]


def test_a_jobs_error_is_raised_to_the_caller():
    def job(x: int) -> int:
        if x == 3:
            raise ValueError("job 3 failed")
        return x

    with pytest.raises(ValueError, match="job 3 failed"):
        Workers(2).map(job, [0, 1, 2, 3])  # 3 runs on the pool's thread


def test_aside_runs_beside_the_caller_and_hands_back_its_value():
    import threading

    started, release = threading.Event(), threading.Event()

    def job() -> str:
        started.set()
        # Blocks until the caller, still running, lets it go: only a job on another
        # thread can be waited on like this.
        assert release.wait(5)
        return threading.current_thread().name

    future = Workers(2, "aside-test").aside(job)
    assert started.wait(5)
    assert not future.done()
    release.set()
    assert future.result(5).startswith("aside-test")


def test_aside_on_one_thread_runs_at_once_and_keeps_its_error():
    calls = []
    future = Workers(1).aside(lambda: calls.append(1) or 42)
    assert calls == [1] and future.result() == 42

    def fails() -> int:
        raise ValueError("judged badly")

    with pytest.raises(ValueError, match="judged badly"):
        Workers(1).aside(fails).result()
    with pytest.raises(ValueError, match="judged badly"):
        Workers(2).aside(fails).result(5)
