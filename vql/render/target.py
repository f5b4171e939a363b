"""Where RENDER may write: checked before the query runs, so that a picture never replaces
data and a bad name is one clear error.

* the name must not be empty, and its kind must fit: a timeline is an image (``.png``,
  ``.svg``, ``.pdf``, ``.jpg``), a clip a video (``.mp4``, ``.gif``, ``.avi``) or a folder of
  PNG images (no suffix);
* never over a video a video table reads, nor over the database file (or its WAL);
* not over an existing file (or into a non-empty folder) unless the statement says OVERWRITE;
* the folder it goes into must exist (a folder of images is created, its parent must exist).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from vql.errors import OperationalError, ProgrammingError
from vql.render.writers import CLIP_SUFFIXES

TIMELINE_SUFFIXES = (".png", ".svg", ".pdf", ".jpg", ".jpeg")


def check_target(target: str, timeline: bool, overwrite: bool,
                 protected: Iterable[str | Path]) -> Path:
    """The path RENDER writes to, or a VQL error saying why it may not."""
    if not target.strip():
        raise ProgrammingError("RENDER needs a file name: RENDER 'clip.mp4' AS <query>")
    path = Path(target).expanduser()
    resolved = path.resolve()
    guarded = {Path(p).resolve() for p in protected}
    if resolved in guarded:
        raise ProgrammingError(f"RENDER would overwrite {str(resolved)!r}, which the database "
                               "holds or a video table reads; choose another name")
    suffix = path.suffix.lower()
    if timeline and suffix not in TIMELINE_SUFFIXES:
        raise ProgrammingError(f"a timeline is an image: name it {', '.join(TIMELINE_SUFFIXES)}"
                               f", not {target!r}")
    if not timeline and suffix and suffix not in CLIP_SUFFIXES:
        raise ProgrammingError(f"cannot render to {target!r}: write a clip "
                               f"({', '.join(CLIP_SUFFIXES)}) or a folder of images (no suffix)")
    folder = not timeline and not suffix
    if path.exists():
        if folder and not path.is_dir():
            raise ProgrammingError(f"{target!r} exists and is not a folder: a clip needs a "
                                   ".mp4, .gif or .avi name, images a folder")
        if not folder and path.is_dir():
            raise ProgrammingError(f"{target!r} is a folder, not a file")
        if not overwrite and (not folder or any(path.iterdir())):
            raise ProgrammingError(f"{target!r} exists; say RENDER '{target}' OVERWRITE AS ... "
                                   "to replace it")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.exists():
        raise OperationalError(f"cannot write {target!r}: the folder {str(parent)!r} does "
                               "not exist")
    return path
