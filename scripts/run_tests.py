"""Run the whole test suite against the best services this machine offers.

DATABASE_URL and REDIS_URL are used when set. Otherwise PostgreSQL at 127.0.0.1:5432 and
Redis at 127.0.0.1:6379 are used when they answer, and SQLite with in-process tasks when they
don't. One line says which.
"""

import os
import socket
import sys
import uuid


def answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def main() -> int:
    env = os.environ
    if "DATABASE_URL" not in env and answers("127.0.0.1", 5432):
        env["DATABASE_URL"] = "postgres://postgres@127.0.0.1:5432/leadladder"
    if "REDIS_URL" not in env and answers("127.0.0.1", 6379):
        env["REDIS_URL"] = "redis://127.0.0.1:6379/0"
    # A queue of its own, so a developer's running `make worker` cannot take the tests' tasks.
    run_id = uuid.uuid4().hex[:8]
    env.setdefault("CELERY_QUEUE", f"leadladder-test-{run_id}")
    # A database of its own too, so two runs on one machine never drop each other's.
    env.setdefault("TEST_DATABASE_NAME", f"test_leadladder_{run_id}")
    database = env.get("DATABASE_URL", "sqlite (embedded)").split("@")[-1]
    broker = env.get("REDIS_URL") or "none: tasks run in-process, worker tests skipped"
    print(f"Testing with database {database}; broker {broker}", flush=True)

    import pytest

    return pytest.main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
