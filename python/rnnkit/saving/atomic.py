"""Replace a file all at once: readers see the old file or the complete new one, never a partial write."""
import contextlib
import os
import tempfile


@contextlib.contextmanager
def atomic_write(path):
    """Yields a binary stream; on success the data replaces `path`, on any exception `path` is untouched."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, temp_path = tempfile.mkstemp(prefix=".rnnkit-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as stream:  # owns fd from here: closed on every path
            os.fchmod(fd, _mode_for(path))
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp_path, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temp_path)
        raise
    _fsync_directory(directory)


def _mode_for(path):
    # mkstemp creates 0600 files; a saved model keeps the mode of the file it replaces, else rw-r--r--.
    try:
        return os.stat(path).st_mode & 0o777
    except FileNotFoundError:
        return 0o644


def _fsync_directory(directory):
    # The rename itself is durable only once the directory entry reaches the disk (POSIX).
    if hasattr(os, "O_DIRECTORY"):
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
