"""The Python data stack on job outputs: xarray on a NetCDF output, pandas on a CSV output,
dask on a file; values equal to what the mount gives."""

import os
import pickle
import subprocess
import sys

import fsspec
import numpy as np
import pandas
import xarray

from conftest import FILES, LITERALS


def test_xarray_opens_a_netcdf_output(fs, sample_mount):
    path = f"{FILES}/output_netcdf.nc"
    with xarray.open_dataset(fs.open(path)) as ds, \
            xarray.open_dataset(os.path.join(sample_mount, path)) as mounted:
        assert list(ds.data_vars) and set(ds.data_vars) == set(mounted.data_vars)
        for name in ds.variables:
            np.testing.assert_array_equal(ds[name].values, mounted[name].values)
        assert ds.attrs == mounted.attrs


def test_pandas_reads_a_csv_output(fs, sample_mount):
    path = f"{LITERALS}/table.csv"
    got = pandas.read_csv(fs.open(path))
    want = pandas.read_csv(os.path.join(sample_mount, path))
    assert list(got.columns) == ["a", "b"] and len(got) == 1
    pandas.testing.assert_frame_equal(got, want)
    # The same by URL, the server given as a storage option.
    by_url = pandas.read_csv(f"weaver://{path}", storage_options={"url": fs.core.url})
    pandas.testing.assert_frame_equal(by_url, want)


def test_dask_read_bytes(sample, sample_mount):
    from dask.bytes import read_bytes

    path = f"{FILES}/output_bin.bin"
    _, blocks = read_bytes(f"weaver://{path}", blocksize=30000, url=sample.url)
    got = b"".join(b.compute() for b in blocks[0])
    with open(os.path.join(sample_mount, path), "rb") as f:
        assert got == f.read()
    assert len(blocks[0]) > 1


def test_a_pickled_filesystem_works_in_another_process(fs, sample_mount):
    path = f"{FILES}/output_text.txt"
    child = ("import pickle, sys; fs = pickle.loads(sys.stdin.buffer.read()); "
             f"sys.stdout.buffer.write(fs.cat_file({path!r}))")
    out = subprocess.run([sys.executable, "-c", child], input=pickle.dumps(fs),
                         capture_output=True, timeout=120)
    assert out.returncode == 0, out.stderr.decode()
    with open(os.path.join(sample_mount, path), "rb") as f:
        assert out.stdout == f.read()


def test_a_forked_child_makes_its_own_core(fs):
    import multiprocessing

    path = f"{FILES}/output_text.txt"
    want = fs.cat_file(path)
    with multiprocessing.get_context("fork").Pool(1) as pool:
        assert pool.apply(fs.cat_file, (path,)) == want
