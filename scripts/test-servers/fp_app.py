"""The fastprocesses API app of the tests, with references published under /files."""

import os

from fastapi.staticfiles import StaticFiles
from fastprocesses.api.server import OGCProcessesAPI
from fastprocesses.core.output_reference_publisher import LocalFileReferencePublisher

import fp_procs  # noqa: F401  (registers the processes)

FILES = os.environ["WEAVERFS_FP_FILES"]
api = OGCProcessesAPI()
api.process_manager.output_reference_publisher = LocalFileReferencePublisher(FILES, "/files")
app = api.get_app()
app.mount("/files", StaticFiles(directory=FILES), name="files")
