import os
from pathlib import Path

from sketch2face.data.walk import Skipped, printable, walk_folder


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_links_to_folders_are_followed_and_their_files_listed_under_the_link(tmp_path):
    elsewhere = tmp_path / "other_disk"
    _touch(elsewhere / "photos/a.jpg")
    _touch(elsewhere / "photos/deeper/b.jpg")
    root = tmp_path / "raw"
    _touch(root / "c.jpg")
    (root / "photos").symlink_to(elsewhere / "photos")
    (root / "d.jpg").symlink_to(root / "c.jpg")

    walk = walk_folder(root)

    assert walk.files == [root / "c.jpg", root / "d.jpg", root / "photos/a.jpg", root / "photos/deeper/b.jpg"]
    assert walk.skipped == []


def test_every_entry_that_is_not_read_is_listed_with_its_reason(tmp_path):
    root = tmp_path / "raw"
    _touch(root / "a.jpg")
    _touch(root / ".DS_Store")
    _touch(root / ".git/config")
    (root / "sub").mkdir()
    (root / "sub/up").symlink_to(root)
    (root / "sub/self").symlink_to(root / "sub/self")
    (root / "gone.jpg").symlink_to(tmp_path / "missing.jpg")
    os.mkfifo(root / "pipe.jpg")

    walk = walk_folder(root)

    assert walk.files == [root / "a.jpg"]
    assert walk.skipped == [
        Skipped(root / ".DS_Store", "hidden file, not read"),
        Skipped(root / ".git", "hidden folder, not read"),
        Skipped(root / "gone.jpg", f"broken symbolic link (its target {tmp_path / 'missing.jpg'} does not exist)"),
        Skipped(root / "pipe.jpg", "not a regular file (a FIFO), not read"),
        Skipped(root / "sub/self", "symbolic link loop (its links lead in a circle), not followed"),
        Skipped(root / "sub/up", f"symbolic link loop (back to {root}), not followed"),
    ]


def test_a_folder_linked_twice_side_by_side_is_no_loop(tmp_path):
    _touch(tmp_path / "shared/a.jpg")
    root = tmp_path / "raw"
    root.mkdir()
    (root / "one").symlink_to(tmp_path / "shared")
    (root / "two").symlink_to(tmp_path / "shared")

    walk = walk_folder(root)

    assert walk.files == [root / "one/a.jpg", root / "two/a.jpg"] and walk.skipped == []


def test_a_folder_that_cannot_be_listed_is_skipped_with_its_reason(shared_tmp, unprivileged):
    _touch(shared_tmp / "open/a.jpg")
    _touch(shared_tmp / "locked/b.jpg")
    (shared_tmp / "locked").chmod(0o000)
    for folder in (shared_tmp, shared_tmp / "open"):
        folder.chmod(0o777)
    try:
        walk = unprivileged(lambda: walk_folder(shared_tmp))
    finally:
        (shared_tmp / "locked").chmod(0o755)
    assert walk.files == [shared_tmp / "open/a.jpg"]
    assert walk.skipped == [Skipped(shared_tmp / "locked", "cannot list this folder (permission denied)")]


def test_names_that_are_not_utf8_are_walked_and_printed_with_their_bytes_escaped(tmp_path):
    root = tmp_path / "raw"
    latin1_file = Path(os.fsdecode(bytes(root) + b"/caf\xe9.jpg"))  # as a Latin-1 system names it
    latin1_folder = Path(os.fsdecode(bytes(root) + b"/r\xe9sum\xe9"))
    _touch(latin1_file)
    _touch(latin1_folder / "b.jpg")
    (root / "gone.jpg").symlink_to(Path(os.fsdecode(bytes(tmp_path) + b"/\xe9t\xe9.jpg")))

    walk = walk_folder(root)

    assert walk.files == [latin1_file, latin1_folder / "b.jpg"]
    assert [printable(path) for path in walk.files] == [f"{root}/caf\\xe9.jpg", f"{root}/r\\xe9sum\\xe9/b.jpg"]
    assert printable(root / "café.jpg") == f"{root}/café.jpg", "UTF-8 names are shown as they are"
    [broken] = walk.skipped
    assert broken.reason == f"broken symbolic link (its target {tmp_path}/\\xe9t\\xe9.jpg does not exist)"
