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
