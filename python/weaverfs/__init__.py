"""weaverfs for Python: the jobs of an OGC API - Processes server as an fsspec filesystem.

    import fsspec, xarray
    fs = fsspec.filesystem("weaver", url="https://host/weaver", token_file="~/.weaver-token")
    ds = xarray.open_dataset(fs.open("JOB/output_netcdf.nc"))

The tree is the one `weaverfs mount` shows; reads go through the Rust core's block cache and
read-ahead (no whole-file download). See docs/python.md.
"""

from .file import WeaverFile
from .results import results
from .spec import WeaverFileSystem

__all__ = ["WeaverFileSystem", "WeaverFile", "results"]
