"""A directory laid out and updated the way the kubelet writes a ConfigMap volume.

The kubelet's AtomicWriter puts the files in a fresh `..<timestamp>` directory, points a temporary
`..data_tmp` symlink at it, renames that over `..data` (one atomic rename), makes each visible name
a symlink `key -> ..data/key`, and removes the previous timestamped directory. The visible path of
a key therefore never changes inode itself; only what it resolves to does.
"""

from __future__ import annotations

import itertools
import os
import shutil
from pathlib import Path

_serial = itertools.count()


class ConfigMapVolume:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def publish(self, files: dict[str, str]) -> None:
        """Replace the volume's content with `files` (key -> text) in one atomic step."""
        data = self.root / "..data"
        previous = os.readlink(data) if data.is_symlink() else None
        stamp = self.root / f"..2026_11_21_20_00_00.{next(_serial):09d}"
        stamp.mkdir()
        for key, text in files.items():
            (stamp / key).write_text(text)
        tmp = self.root / "..data_tmp"
        os.symlink(stamp.name, tmp)
        os.rename(tmp, data)
        for key in files:
            visible = self.root / key
            if not visible.is_symlink():
                os.symlink(f"..data/{key}", visible)
        for stale in self.root.iterdir():
            if stale.name not in (*files, "..data", stamp.name) and stale.is_symlink():
                stale.unlink()  # a key removed from the ConfigMap
        if previous is not None:
            shutil.rmtree(self.root / previous)
