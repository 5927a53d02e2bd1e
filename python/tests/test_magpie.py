"""Magpie sign-in through the Python options (user=, password=, magpie_url=), against the sample
server's Magpie imitation (`magpie USER PASSWORD` on its control channel): the same core
constructor as `weaverfs mount --magpie-url`, signed in once, and again when the ticket expires."""

import pytest
import fsspec

from conftest import FILES, Sample


@pytest.fixture(scope="module")
def magpie(tmp_path_factory):
    server = Sample(str(tmp_path_factory.mktemp("jobs")))
    server.command("magpie alice pa55word")
    yield server
    server.stop()


def signed_in_fs(server, password):
    magpie_url = server.url.removesuffix("/weaver") + "/magpie"
    return fsspec.filesystem("weaver", url=server.url, user="alice", password=password,
                             magpie_url=magpie_url, retries=0, skip_instance_cache=True)


def test_magpie_signs_in_once_and_again_after_expiry(magpie):
    path = f"{FILES}/output_text.txt"
    before = int(magpie.command("signins"))
    fs = signed_in_fs(magpie, "pa55word")
    first = fs.cat_file(path)
    assert first
    assert int(magpie.command("signins")) == before + 1
    magpie.command("expire-tickets")
    # A file not read yet: its request is refused with the old ticket, and signs in again.
    assert fs.cat_file(f"{FILES}/output_bin.bin")
    assert int(magpie.command("signins")) == before + 2


def test_a_wrong_magpie_password_is_a_permission_error(magpie):
    fs = signed_in_fs(magpie, "wrong")
    with pytest.raises(PermissionError, match="Magpie sign-in as alice"):
        fs.ls("")


def test_without_magpie_the_server_refuses(magpie):
    fs = fsspec.filesystem("weaver", url=magpie.url, retries=0, skip_instance_cache=True)
    with pytest.raises(PermissionError):
        fs.ls("")
