"""Range reads of a large output fetch only the blocks asked, counted at the sample server."""

import fsspec

from conftest import BIG_SIZE, FILES

BLOCK = 1 << 20
PATH = f"{FILES}/output_big.dat"


def file_gets(sample):
    return [r for r in sample.requests()
            if r["method"] == "GET" and r["path"].endswith("/output_big/big.dat")]


def span(range_header):
    start, end = range_header.removeprefix("bytes=").split("-")
    return int(start), int(end)


def fetched_blocks(sample):
    """The blocks the server was asked for, and how many bytes in all."""
    blocks, total = set(), 0
    for r in file_gets(sample):
        start, end = span(r["range"])
        blocks.update(range(start // BLOCK, end // BLOCK + 1))
        total += end - start + 1
    return blocks, total


def fresh_fs(sample):
    # No read-ahead: what is fetched is what was asked.
    return fsspec.filesystem("weaver", url=sample.url, read_ahead_blocks=0,
                             skip_instance_cache=True)


def test_range_reads_fetch_only_their_blocks(sample):
    fs = fresh_fs(sample)
    with fs.open(PATH) as f:
        assert f.size == BIG_SIZE
        sample.command("clear-requests")
        f.seek(10 * BLOCK + 5)
        assert len(f.read(100)) == 100
        f.seek(40 * BLOCK - 50)
        assert len(f.read(100)) == 100  # across the end of block 39
        blocks, total = fetched_blocks(sample)
        assert blocks == {10, 39, 40}
        assert total <= 3 * BLOCK
        # A whole block read is kept: reading in it again asks the server nothing.
        f.seek(20 * BLOCK)
        assert len(f.read(BLOCK)) == BLOCK
        sample.command("clear-requests")
        f.seek(20 * BLOCK + 777)
        assert len(f.read(4096)) == 4096
        assert file_gets(sample) == []


def test_cat_file_range_fetches_one_block(sample):
    fs = fresh_fs(sample)
    # Its size comes with the job (statistics): opening it once makes the probe.
    fs.open(PATH).close()
    sample.command("clear-requests")
    assert len(fs.cat_file(PATH, 20 * BLOCK + 1, 20 * BLOCK + 4097)) == 4096
    blocks, total = fetched_blocks(sample)
    assert blocks == {20} and total <= BLOCK
