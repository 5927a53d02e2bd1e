"""The Celery app of the tests' fastprocesses worker."""

from fastprocesses.common import celery_app  # noqa: F401
import fastprocesses.worker.celery_app  # noqa: F401  (the tasks)
import fp_procs  # noqa: F401
