"""fsspec's own tests of the families that apply to a read-only filesystem: `get` (copying
out of it). Their scenarios are jobs of the sample server's jobs directory (conftest.py), not
files the tests write. (fsspec's `open` family writes, and `copy`, `put`, `pipe` and `mv`
all change the filesystem.)"""

import posixpath

import pytest
from fsspec.tests.abstract import AbstractFixtures, AbstractGetTests

from conftest import SCENARIO_JOBS


class WeaverFixtures(AbstractFixtures):
    @pytest.fixture
    def fs(self, sample):
        import fsspec

        return fsspec.filesystem("weaver", url=sample.url, skip_instance_cache=True)

    @pytest.fixture
    def fs_join(self):
        return posixpath.join

    @pytest.fixture
    def fs_path(self):
        return SCENARIO_JOBS["bulk"]

    @pytest.fixture
    def supports_empty_directories(self):
        return False

    # The scenarios exist already: one job's `source/` each; nothing to remove after.
    @pytest.fixture
    def fs_bulk_operations_scenario_0(self):
        return f"{SCENARIO_JOBS['bulk']}/source"

    @pytest.fixture
    def fs_glob_edge_cases_files(self):
        return f"{SCENARIO_JOBS['glob']}/source"

    @pytest.fixture
    def fs_dir_and_file_with_same_name_prefix(self):
        return f"{SCENARIO_JOBS['prefix']}/source"

    @pytest.fixture
    def fs_10_files_with_hashed_names(self):
        return f"{SCENARIO_JOBS['hashed']}/source"


class TestWeaverGet(AbstractGetTests, WeaverFixtures):
    # The one test of the family that writes its own source into the filesystem (mkdir, pipe).
    test_get_directory_recursive = None
