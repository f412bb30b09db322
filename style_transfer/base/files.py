"""Writing files: every file or folder the project writes goes through `atomic_path`.

    with atomic_write("out/photo.png") as file:        # a file object
        image.save(file, format="PNG")
    with atomic_path("runs/model.keras") as temporary:  # a path, for libraries that want one
        model.save(temporary)
    with atomic_path("exported/", folder=True) as temporary:
        tf.saved_model.save(module, str(temporary))

The output is written under a hidden temporary name beside its destination
(`.NAME.RANDOM.partial` + the destination's suffix, so that libraries which
read the format from the suffix still do), flushed to disk, given the
permissions the user's umask asks for, and only then renamed onto the
destination. A crash, even SIGKILL, leaves the old file or the new one, never
half of one; an error removes the temporary. `remove_stale_partials` clears the
temporaries a killed process left behind.

Operating-system errors (permission denied, read-only or full file system, a
file where a folder should be) become one-line `BadInput` errors that name the
destination the user asked for, never the temporary.
"""

import contextlib
import fcntl
import glob
import hashlib
import os
import shutil
import stat
import tempfile
from pathlib import Path

from style_transfer.base.errors import BadInput

PARTIAL_MARKER = ".partial"
# The longest file name (in bytes) that the usual file systems take.
MAX_NAME_BYTES = 255


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path, *, overwrite=True, folder=False):
    """Yields a temporary path beside `path`; on success it takes `path`'s place.

    Args:
        path: The destination file (or folder, with `folder=True`).
        overwrite: Whether an existing destination may be replaced; if not, an
            existing one is refused before and after writing (no clobbering a
            file that appeared meanwhile).
        folder: The output is a folder (the temporary is an empty folder).

    Raises:
        BadInput: the destination exists and `overwrite` is False, is a folder
            where a file is written (or the reverse), or cannot be written (the
            message names `path` and the operating system's reason).
    """
    path = Path(path)
    check_destination(path, overwrite, folder)
    created = [parent for parent in path.parents if not parent.exists()]
    temporary, written = None, False
    try:
        with _reported_as(path):
            path.parent.mkdir(parents=True, exist_ok=True)
            prefix, suffix = _temporary_affixes(path.name)
            if folder:
                temporary = Path(tempfile.mkdtemp(dir=path.parent, prefix=prefix, suffix=suffix))
            else:
                handle, name = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=suffix)
                os.close(handle)
                temporary = Path(name)
            yield temporary
            _sync(temporary)
            # mkstemp/mkdtemp create owner-only entries; give the usual permissions.
            os.chmod(temporary, (0o777 if folder else 0o666) & ~_umask())
            check_destination(path, overwrite, folder)
            if folder:
                _replace_folder(temporary, path)
            elif overwrite:
                os.replace(temporary, path)
            else:
                _link_unless_exists(temporary, path)
            _sync_folder(path.parent)
            written = True
    finally:
        if temporary is not None:
            _remove(temporary)
        if not written:  # Nothing of a failed write stays, not even the folders made for it.
            for folder_made in created:
                with contextlib.suppress(OSError):
                    folder_made.rmdir()


@contextlib.contextmanager
def atomic_write(path, mode="wb", *, overwrite=True, newline=None, encoding=None):
    """Yields a file object whose contents replace `path` atomically on success.

    `mode` is "wb" or "w" (text: `newline` and `encoding` as for `open`). Other
    arguments and errors as for `atomic_path`.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write writes whole files: mode 'w' or 'wb'; received {mode!r}.")
    with atomic_path(path, overwrite=overwrite) as temporary:
        text = {} if mode == "wb" else {"newline": newline, "encoding": encoding or "utf-8"}
        with open(temporary, mode, **text) as file:
            yield file


def remove_stale_partials(folder, name=None):
    """Removes the temporaries that a killed writer left in `folder`; returns their names.

    With `name`, only the temporaries of that destination (e.g. "model.keras").
    Call it only where no other process is writing them (e.g. in a run folder
    its owner has locked).
    """
    removed = []
    prefix = glob.escape(_temporary_affixes(name)[0]) if name else ".*."
    for entry in Path(folder).glob(f"{prefix}*{PARTIAL_MARKER}*"):
        _remove(entry)
        removed.append(entry.name)
    return sorted(removed)


def _temporary_affixes(name):
    """The prefix and suffix of the temporaries of a file called `name`: `.NAME.` (NAME
    shortened so that the temporary's name, 8 random characters included, fits in
    `MAX_NAME_BYTES`) and `.partial` + its suffix."""
    suffix = f"{PARTIAL_MARKER}{Path(name).suffix}"
    room = MAX_NAME_BYTES - len(os.fsencode(suffix)) - len("..") - 8
    while len(os.fsencode(name)) > room:
        name = name[:-1]
    return f".{name}.", suffix


@contextlib.contextmanager
def held_lock(lock_file, busy):
    """Holds an exclusive flock on `lock_file` (created if missing) while inside: one
    process at a time. The file stays (removing it would let two processes lock two files
    of the same name); the kernel drops the lock when its holder ends, even by SIGKILL.

    Args:
        lock_file: The lock's path; its folder must exist.
        busy: The `BadInput` raised when another process holds the lock.

    Raises:
        BadInput: `busy`, or the lock file cannot be created.
    """
    try:
        descriptor = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as error:
        raise BadInput(f"cannot write {Path(lock_file).parent}: "
                       f"{error.strerror or error}.") from None
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise busy from None
        yield
    finally:
        os.close(descriptor)


def describe_os_error(error):
    """The operating system's reason for `error` in a few words ("Permission denied")."""
    reason = error.strerror or str(error) or type(error).__name__
    return " ".join(reason.split()).rstrip(".")


def os_error_line(error):
    """An operating-system error as the command line shows it: "PATH: REASON." (the path
    where the error names one)."""
    where = f"{error.filename}: " if error.filename else ""
    return f"{where}{describe_os_error(error)}."


def not_a_regular_file(path):
    """Why `path` cannot be read as a file, or None if it is a regular file (or a link to
    one): "it does not exist", "it is a folder", or "it is not a regular file (...)".

    Reading a named pipe waits for a writer, and a device such as /dev/zero has no
    end: every file a user names as input is checked first (without opening it).
    """
    try:
        status = os.stat(path)
    except FileNotFoundError:
        return "the file does not exist"
    except OSError as error:
        return describe_os_error(error)
    if stat.S_ISDIR(status.st_mode):
        return "it is a folder, not a file"
    if not stat.S_ISREG(status.st_mode):
        return "it is not a regular file (a device, pipe or socket)"
    return None


def check_not_an_input(output, inputs, folder=False):
    """Refuses to write `output` where it would replace or remove an input.

    An output is refused when it is one of `inputs` (the same path, or the
    same file under another name: a hard or symbolic link), or, for an output
    folder (`folder=True`: written whole, so an existing one is replaced), when
    an input lies inside it.

    Args:
        output: The path about to be written.
        inputs: A path or a list of paths the command reads.
        folder: Whether `output` is written as a folder.

    Raises:
        BadInput: naming the output and the input.
    """
    output = Path(output)
    target = output.resolve()
    for source in [inputs] if isinstance(inputs, (str, os.PathLike)) else inputs:
        source = Path(source)
        resolved = source.resolve()
        if resolved == target or _same_file(source, output):
            raise BadInput(f"{output} is an input ({source}); inputs are never overwritten: "
                           f"choose another output.")
        if folder and target in resolved.parents:
            raise BadInput(f"writing the folder {output} would replace the input {source} "
                           f"inside it; choose another output.")


def _same_file(first, second):
    try:
        return os.path.samefile(first, second)
    except OSError:  # One of them does not exist (yet): not the same file.
        return False


@contextlib.contextmanager
def _reported_as(path):
    try:
        yield
    except OSError as error:
        raise BadInput(f"cannot write {path}: {describe_os_error(error)}.") from None


def check_destination(path, overwrite=True, folder=False):
    """Refuses a destination `atomic_path` would refuse, before any costly work.

    Raises:
        BadInput: see `atomic_path`.
    """
    path = Path(path)
    if len(os.fsencode(path.name)) > MAX_NAME_BYTES:
        raise BadInput(f"cannot write {path}: its name is longer than {MAX_NAME_BYTES} bytes, "
                       f"the most file systems take; choose a shorter one.")
    if path.is_dir() and not folder:
        raise BadInput(f"cannot write {path}: it is a folder; give a file name.")
    if path.exists() and not path.is_dir() and folder:
        raise BadInput(f"cannot write the folder {path}: a file of that name exists.")
    if path.exists() and not overwrite:
        raise BadInput(f"{path} already exists; replacing it takes `overwrite`.")
    if path.parent.exists() and not path.parent.is_dir():
        raise BadInput(f"cannot write {path}: {path.parent} is a file, not a folder.")


def _link_unless_exists(temporary, path):
    """Gives `temporary` the name `path` unless `path` exists (even if it just appeared)."""
    try:
        os.link(temporary, path)
    except FileExistsError:
        raise BadInput(f"{path} already exists; replacing it takes `overwrite`.") from None
    except OSError:
        # File systems without hard links: a plain rename after the check above.
        os.replace(temporary, path)


def _replace_folder(temporary, path):
    """Renames the folder `temporary` onto `path`, replacing an existing folder."""
    if not path.exists():
        os.rename(temporary, path)
        return
    old = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=PARTIAL_MARKER))
    os.rename(path, old / path.name)
    os.rename(temporary, path)
    shutil.rmtree(old, ignore_errors=True)


def _sync(path):
    if path.is_dir():
        for file in path.rglob("*"):
            if file.is_file():
                _fsync(file, os.O_RDONLY)
        _sync_folder(path)
    else:
        _fsync(path, os.O_RDONLY)


def _sync_folder(folder):
    _fsync(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))


def _fsync(path, flags):
    descriptor = os.open(path, flags)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _remove(path):
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def file_sha256(path):
    """The SHA-256 of a file's content, in hex (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
