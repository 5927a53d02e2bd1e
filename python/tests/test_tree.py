"""The tree through fsspec is the mount's, path for path; errors are Python's."""

import errno
import os

import pytest

import weaverfs
from conftest import FAILED, FILES, LITERALS


def names(entries):
    return sorted(e["name"].rsplit("/", 1)[-1] for e in entries)


def test_the_tree_is_the_mounts(fs, sample_mount):
    """Every directory and file of the sample server's jobs, as fsspec and the mount list them:
    same names, types and sizes, same bytes."""
    for job in (LITERALS, FILES, FAILED):
        for dirpath, dirs, files in os.walk(os.path.join(sample_mount, job)):
            rel = os.path.relpath(dirpath, sample_mount)
            listed = {e["name"].rsplit("/", 1)[-1]: e for e in fs.ls(rel)}
            assert sorted(listed) == sorted(dirs + files), rel
            for d in dirs:
                assert listed[d]["type"] == "directory", f"{rel}/{d}"
            for f in files:
                path = os.path.join(dirpath, f)
                assert listed[f]["type"] == "file", f"{rel}/{f}"
                with open(path, "rb") as mine:
                    want = mine.read()
                assert fs.cat_file(f"{rel}/{f}") == want, f"{rel}/{f}"
                if not f.startswith("@") and ".job" not in rel:
                    assert listed[f]["size"] == len(want), f"{rel}/{f}"


def test_root_lists_jobs_and_views(fs):
    top = names(fs.ls(""))
    assert {LITERALS, FILES, FAILED, "@process", "@status"} <= set(top)
    assert fs.isdir(FILES) and not fs.isfile(FILES)


def test_job_dir_documents_and_state_notes(fs):
    assert fs.cat_file(f"{FILES}/.job/state") == b"successful\n"
    assert f"{FAILED}/@failed" in fs.ls(FAILED, detail=False)
    assert b"MissingParameterValue" in fs.cat_file(f"{FAILED}/.job/exceptions.json")
    info = fs.info(f"{FILES}/output_netcdf.nc")
    assert (info["type"], info["size"], info["content"]) == ("file", 820, "href")
    assert fs.info(f"{LITERALS}/message")["content"] == "literal"


def test_views_are_links_to_jobs(fs):
    entries = fs.ls("@status/successful")
    mine = [e for e in entries if e["name"].endswith(FILES)]
    assert mine and mine[0]["islink"] and mine[0]["type"] == "directory"
    assert fs.readlink(mine[0]["name"]).endswith(FILES)
    # Paths through a view's link are the job's.
    via_view = fs.cat_file(f"@status/successful/{FILES}/output_text.txt")
    assert via_view == fs.cat_file(f"{FILES}/output_text.txt")


def test_cat_file_ranges(fs):
    path = f"{FILES}/output_bin.bin"
    whole = fs.cat_file(path)
    assert len(whole) == 100 * 1024
    for start, end in [(0, 10), (5000, 70000), (-100, None), (None, 3), (102390, 200000),
                       (10, -10)]:
        assert fs.cat_file(path, start, end) == whole[start:end], (start, end)


def test_open_is_seekable(fs):
    path = f"{FILES}/output_bin.bin"
    whole = fs.cat_file(path)
    with fs.open(path) as f:
        assert f.seekable() and f.size == len(whole)
        f.seek(-10, os.SEEK_END)
        assert f.read() == whole[-10:]
        f.seek(1000)
        assert f.read(24) == whole[1000:1024]
        assert f.tell() == 1024
        buf = bytearray(16)
        assert f.readinto(buf) == 16 and bytes(buf) == whole[1024:1040]


def test_urls(sample):
    import fsspec

    with fsspec.open(f"weaver://{FILES}/output_text.txt", url=sample.url) as f:
        assert f.read().startswith(b"Weaver demo output")


def test_results_mirror_the_client(sample):
    got = weaverfs.results(sample.url, LITERALS)
    assert got["message"] == "hello world"
    assert got["count"] == 42
    assert got["flag"] is True
    assert got["config.json"] == {"threshold": 0.5, "bands": [1, 2]}
    assert got["table.csv"] == b"a,b\n1,2\n"
    files = weaverfs.results(sample.url, FILES)
    with files["output_text.txt"] as f:
        assert f.read().startswith(b"Weaver demo output")
    assert [f.read() for f in files["output_dir"]] == [b"x marks the spot\n", b"why not\n"]
    assert got["ints"] == [1, 2, 3]
    assert files["summary"] == "2 files"


def test_missing_is_file_not_found(fs):
    with pytest.raises(FileNotFoundError) as e:
        fs.info(f"{FILES}/no-such-output")
    assert e.value.errno == errno.ENOENT
    with pytest.raises(FileNotFoundError):
        fs.open("00000000-0000-4000-8000-00000000dead/x")
    assert not fs.exists(f"{FILES}/nope")


def test_read_only(fs):
    with pytest.raises(OSError) as e:
        fs.open(f"{FILES}/new.txt", "wb")
    assert e.value.errno == errno.EROFS
    with pytest.raises(OSError):
        fs.rm(f"{FILES}/output_text.txt")
    with pytest.raises(IsADirectoryError):
        fs.open(FILES)


def test_bad_options_are_clear():
    import fsspec

    with pytest.raises(ValueError, match="unknown option"):
        fsspec.filesystem("weaver", url="http://127.0.0.1:9/weaver", tokn="x",
                          skip_instance_cache=True)
    with pytest.raises(ValueError, match="not an http"):
        fsspec.filesystem("weaver", url="ftp://host/x", skip_instance_cache=True)
