"""`WeaverFile`: an open output, seekable, whose reads are the core's reads on one handle
(block cache, read-ahead, and an error once the file changes on the server)."""

import io
import os

_PIECE = 1 << 20


class WeaverFile(io.RawIOBase):
    def __init__(self, fs, path):
        super().__init__()
        self.fs = fs
        self.path = path
        self.mode = "rb"
        self._core = fs.core
        self._fh, self.size = self._core.open(path)
        self.loc = 0

    def readable(self):
        return True

    def seekable(self):
        return True

    def tell(self):
        return self.loc

    def seek(self, offset, whence=os.SEEK_SET):
        if self.closed:
            raise ValueError("I/O operation on a closed file")
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self.loc, os.SEEK_END: self.size}.get(whence)
        if base is None:
            raise ValueError(f"invalid whence {whence}")
        if base + offset < 0:
            raise ValueError("negative seek position")
        self.loc = base + offset
        return self.loc

    def _read(self, size):
        if self.closed:
            raise ValueError("I/O operation on a closed file")
        data = self._core.read(self._fh, self.loc, size, self.path)
        self.loc += len(data)
        return data

    def read(self, size=-1):
        if size is None or size < 0:
            return self.readall()
        return self._read(size)

    def readall(self):
        # To the end as now known; a log that grew meanwhile is read on to its new end.
        parts = []
        while True:
            want = max(self.size - self.loc, _PIECE)
            piece = self._read(want)
            parts.append(piece)
            if len(piece) < want:
                return b"".join(parts)

    def readinto(self, buffer):
        view = memoryview(buffer).cast("B")
        data = self._read(len(view))
        view[: len(data)] = data
        return len(data)

    def close(self):
        if not self.closed:
            self._core.release(self._fh)
        super().close()

    def __repr__(self):
        return f"<WeaverFile weaver://{self.path}>"
