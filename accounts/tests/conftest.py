import pytest

from config.celery import app as celery_app


@pytest.fixture
def eager_tasks():
    """Run Celery tasks in this process, as `make run` does without Redis.

    With Redis configured the tests' tasks would otherwise go to the broker and nobody would
    run them; the real worker is exercised by the service tests in `tests/test_worker.py`.
    """
    before = {key: celery_app.conf[key] for key in ("task_always_eager", "task_eager_propagates")}
    celery_app.conf.update(task_always_eager=True, task_eager_propagates=True)
    yield
    celery_app.conf.update(before)
