"""`files.atomic_path` / `atomic_write`: whole files or nothing, usual permissions, one-line errors."""

import errno
import os
import stat

import pytest

from style_transfer.base import files
from style_transfer.base.errors import BadInput


@pytest.fixture
def umask():
    def set_umask(mask):
        os.umask(mask)

    previous = os.umask(0o022)
    yield set_umask
    os.umask(previous)


def _entries(folder):
    return sorted(entry.name for entry in folder.iterdir())


def _mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def test_a_written_file_replaces_the_old_one_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("old")
    with files.atomic_write(path, "w") as file:
        file.write("new")
    assert path.read_text() == "new"
    assert _entries(tmp_path) == ["notes.txt"]


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_files_and_folders_get_the_permissions_the_umask_asks_for(tmp_path, umask, mask):
    umask(mask)
    with files.atomic_write(tmp_path / "picture.png") as file:
        file.write(b"x")
    with files.atomic_path(tmp_path / "exported", folder=True) as folder:
        (folder / "saved_model.pb").write_bytes(b"x")
    assert _mode(tmp_path / "picture.png") == 0o666 & ~mask
    assert _mode(tmp_path / "exported") == 0o777 & ~mask


def test_an_error_while_writing_keeps_the_old_file_and_removes_the_temporary(tmp_path):
    path = tmp_path / "model.keras"
    path.write_bytes(b"trained")
    with pytest.raises(RuntimeError, match="crashed"):
        with files.atomic_path(path) as temporary:
            assert temporary.parent == tmp_path and temporary.suffix == ".keras"
            temporary.write_bytes(b"half")
            raise RuntimeError("crashed")
    assert path.read_bytes() == b"trained"
    assert _entries(tmp_path) == ["model.keras"]


def test_an_existing_file_is_kept_without_overwrite_even_if_it_appears_while_writing(tmp_path):
    path = tmp_path / "out.png"
    path.write_bytes(b"mine")
    with pytest.raises(BadInput, match="already exists; replacing it takes `overwrite`"):
        with files.atomic_write(path, overwrite=False) as file:
            file.write(b"theirs")
    path.unlink()
    with pytest.raises(BadInput, match="already exists"):
        with files.atomic_write(path, overwrite=False) as file:
            file.write(b"theirs")
            path.write_bytes(b"appeared")
    assert path.read_bytes() == b"appeared"
    assert _entries(tmp_path) == ["out.png"]


def test_a_folder_output_replaces_the_old_folder_whole(tmp_path):
    path = tmp_path / "exported"
    path.mkdir()
    (path / "old_file").write_text("old")
    with files.atomic_path(path, folder=True) as temporary:
        (temporary / "new_file").write_text("new")
    assert _entries(path) == ["new_file"]
    assert _entries(tmp_path) == ["exported"]


@pytest.mark.parametrize("case, message", [
    ("folder where a file goes", "it is a folder"),
    ("file where a folder goes", "a file of that name exists"),
    ("file as the parent folder", "is a file, not a folder"),
])
def test_a_file_or_folder_in_the_way_is_one_line_naming_the_path(tmp_path, case, message):
    if case == "folder where a file goes":
        path, folder = tmp_path / "out.png", False
        path.mkdir()
    elif case == "file where a folder goes":
        path, folder = tmp_path / "exported", True
        path.write_text("a file")
    else:
        (tmp_path / "parent").write_text("a file")
        path, folder = tmp_path / "parent" / "out.png", False
    with pytest.raises(BadInput, match=message) as raised:
        with files.atomic_path(path, folder=folder):
            pass
    assert str(path) in str(raised.value) and "\n" not in str(raised.value)


def test_an_unwritable_folder_is_reported_with_the_users_path():
    path = "/sys/style_transfer_output.png"
    try:
        with files.atomic_write(path) as file:
            file.write(b"x")
    except BadInput as error:
        assert str(error) == f"cannot write {path}: Permission denied."
    else:
        os.unlink(path)
        pytest.skip("this host lets the test write into /sys")


def test_a_full_disk_while_writing_names_the_destination_not_the_temporary(tmp_path):
    path = tmp_path / "photo.png"
    with pytest.raises(BadInput) as raised:
        with files.atomic_write(path):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert str(raised.value) == f"cannot write {path}: No space left on device."
    assert _entries(tmp_path) == []


def test_missing_folders_are_created(tmp_path):
    path = tmp_path / "a" / "b" / "out.txt"
    with files.atomic_write(path, "w") as file:
        file.write("x")
    assert path.read_text() == "x"


def test_stale_temporaries_of_a_killed_writer_are_removed(tmp_path):
    # What a writer killed inside `atomic_path` leaves: its temporary file or folder.
    unfinished = [files.atomic_path(tmp_path / name, folder=folder)
                  for name, folder in (("checkpoint.npz", False), ("exported", True))]
    for manager in unfinished:
        manager.__enter__()  # Entered and never exited, as after SIGKILL.
    (tmp_path / "keep.txt").write_text("x")
    removed = files.remove_stale_partials(tmp_path)
    assert len(removed) == 2 and all(name.startswith(".") for name in removed)
    assert _entries(tmp_path) == ["keep.txt"]


def test_a_failed_write_removes_the_folders_it_made(tmp_path):
    path = tmp_path / "new" / "deeper" / "photo.png"
    with pytest.raises(BadInput, match="No space left"):
        with files.atomic_write(path):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert _entries(tmp_path) == []


@pytest.mark.parametrize("kind", ["same path", "another spelling", "hard link", "symbolic link"])
def test_an_output_that_is_an_input_is_refused(tmp_path, kind):
    source = tmp_path / "photo.png"
    source.write_bytes(b"photo")
    output = {"same path": source, "another spelling": tmp_path / "." / "photo.png",
              "hard link": tmp_path / "hard.png", "symbolic link": tmp_path / "soft.png"}[kind]
    if kind == "hard link":
        os.link(source, output)
    if kind == "symbolic link":
        output.symlink_to(source)
    with pytest.raises(BadInput, match="inputs are never overwritten"):
        files.check_not_an_input(output, [tmp_path / "other.png", source])


def test_an_output_folder_that_holds_an_input_is_refused(tmp_path):
    source = tmp_path / "exported" / "model.keras"
    source.parent.mkdir()
    source.write_bytes(b"model")
    with pytest.raises(BadInput, match="would replace the input"):
        files.check_not_an_input(tmp_path / "exported", source, folder=True)
    files.check_not_an_input(tmp_path / "exported", source)  # A file: only a same path counts.
    files.check_not_an_input(tmp_path / "elsewhere", source, folder=True)


def test_stale_temporaries_of_one_destination_only(tmp_path):
    unfinished = [files.atomic_path(tmp_path / name) for name in ("model.keras", "other.keras")]
    for manager in unfinished:
        manager.__enter__()  # Entered and never exited, as after SIGKILL.
    removed = files.remove_stale_partials(tmp_path, name="model.keras")
    assert len(removed) == 1 and removed[0].startswith(".model.keras.")
    assert [entry.startswith(".other.keras.") for entry in _entries(tmp_path)] == [True]


def test_a_name_near_the_longest_is_written_and_its_stale_temporaries_found(tmp_path):
    # The temporary's name adds some 20 characters to the destination's.
    name = "é" * 100 + "a" * 40 + ".png"  # 244 bytes
    with files.atomic_write(tmp_path / name) as file:
        file.write(b"picture")
    assert _entries(tmp_path) == [name] and (tmp_path / name).read_bytes() == b"picture"
    unfinished = files.atomic_path(tmp_path / name)
    unfinished.__enter__()  # Never exited, as after SIGKILL.
    assert len(files.remove_stale_partials(tmp_path, name=name)) == 1
    assert _entries(tmp_path) == [name]


def test_a_name_too_long_for_a_file_system_is_refused_before_any_work(tmp_path):
    with pytest.raises(BadInput, match="longer than 255 bytes") as error:
        files.check_destination(tmp_path / ("a" * 252 + ".png"))
    assert len(str(error.value).splitlines()) == 1
