"""The file store: a file per session, through cachelib's FileSystemCache.

Flask-Session's own filesystem interface is deprecated and wraps this same
cache, so the store goes through Flask-Session's cachelib interface instead.
"""

import os
import struct
import time
from pathlib import Path

from cachelib.file import FileSystemCache
from flask_session.cachelib import CacheLibSessionInterface

from .base import Entry, Store

# cachelib begins each file with the expiry as a native unsigned int (Unix
# seconds, 0 for never), then the pickled value (cachelib/file.py, set).
EXPIRY = struct.Struct("I")
FOLDER = "specimen_files"


class CheckedFileSystemCache(FileSystemCache):
    """cachelib's file cache, raising where it would answer False.

    cachelib logs a failed write or delete and answers False, which
    Flask-Session ignores; the lab must see the failure, so it is raised.
    """

    def set(self, key, value, timeout=None, mgmt_element=False):
        if not super().set(key, value, timeout, mgmt_element):
            raise OSError(f"could not write the file for {key} in {self._path}")
        return True

    def delete(self, key, mgmt_element=False):
        if not super().delete(key, mgmt_element):
            raise OSError(f"could not remove the file for {key} in {self._path}")
        return True


class FileSystemStore(Store):
    """Keep each session in a file named by the hash of its key.

    A file past its expiry stays on disk until cachelib prunes the folder
    (only once it holds more than the threshold), so peek shows it as
    expired, with a negative time to live, rather than hiding it.
    """

    name = "filesystem"
    title = "Files on disk"
    kind = "file"

    def __init__(self, folder: Path, threshold: int):
        self.folder = folder
        self.cache = CheckedFileSystemCache(
            str(folder), threshold=threshold, default_timeout=0, mode=0o600
        )
        super().__init__(CacheLibSessionInterface(client=self.cache, key_prefix=""))

    def path(self, key: str) -> Path:
        """Answer the file a session key is kept in."""
        return Path(self.cache._get_filename(key))

    def touch(self, key, data, ttl):
        # Only the expiry at the head of the file is rewritten, in place: the
        # pickled session after it is left byte for byte as it was.
        if not self.cache.has(key):
            return

        expires = self.cache._normalize_timeout(ttl)
        try:
            descriptor = os.open(self.path(key), os.O_WRONLY)
        except FileNotFoundError:
            return
        try:
            os.pwrite(descriptor, EXPIRY.pack(expires), 0)
        finally:
            os.close(descriptor)

    def peek(self, key):
        try:
            with open(self.path(key), "rb") as handle:
                (expires,) = EXPIRY.unpack(handle.read(EXPIRY.size))
                data = self.cache.serializer.load(handle)
        except FileNotFoundError:
            return None

        ttl = None if expires == 0 else expires - time.time()
        return Entry(data, ttl)

    def ping(self):
        if not self.folder.is_dir():
            raise FileNotFoundError(f"the folder {self.folder} is gone")
        if not os.access(self.folder, os.W_OK | os.X_OK):
            raise PermissionError(f"the folder {self.folder} is not writable")


def build(name, config, instance, timeout):
    """Make the file store in the instance folder."""
    return FileSystemStore(Path(instance) / FOLDER, config["FILE_STORE_THRESHOLD"])
