"""What a dataset run paints, and what it has painted: jobs, draws, outputs, the manifest.

A job is one copy of one image: (the image's path relative to the input, the copy's
index). Its style weights and strength come from a generator seeded with
(seed, relative path, copy) alone, so that they do not depend on the order of the
work, on which worker does it, or on how often the run was restarted.

The output folder holds:

    OUT/dataset.json        the settings of the run (a restart must give the same ones)
    OUT/inputs.txt          the images, one relative path a line (what the workers read)
    OUT/SUB/NAME.png        copy 0 of INPUT/SUB/NAME.jpg (copy k > 0: NAME__k.png)
    OUT/manifest.jsonl      one record per output, sorted: input, copy, output, style
                            weights, strength, seed, the output's SHA-256 and size
    OUT/failed.jsonl        the images that could not be read, with the reason
    OUT/.lock               held by the run (a second one on OUT is refused)
    OUT/.journal/           while running: the records of finished outputs, in small
                            files written atomically; merged into the manifest at the end

Every file is written atomically (`style_transfer.base.files`). A run killed at any
moment and started again skips the outputs whose journal or manifest record has the
same job and whose file has the recorded SHA-256, and paints the others again; since
each output is a function of its job alone, the finished folder is the same, bit for
bit, as an uninterrupted run's.
"""

import collections
import hashlib
import json
import os
from pathlib import Path, PurePosixPath

import numpy as np

from style_transfer.base import images
from style_transfer.base.errors import BadInput
from style_transfer.base.files import (
    MAX_NAME_BYTES,
    atomic_write,
    check_not_an_input,
    file_sha256,
    held_lock,
)

SETTINGS_FILE = "dataset.json"
INPUTS_FILE = "inputs.txt"
MANIFEST_FILE = "manifest.jsonl"
FAILED_FILE = "failed.jsonl"
JOURNAL_FOLDER = ".journal"
LOCK_FILE = ".lock"
OUTPUT_EXTENSIONS = {"png": ".png", "jpg": ".jpg", "webp": ".webp"}


def list_inputs(source):
    """The images of INPUT and the folder their relative paths start from.

    Args:
        source: A folder (searched recursively), or a text file listing image
            files, one per line, relative to the list's folder (blank lines and
            lines starting with # are skipped).

    Returns:
        (root folder, sorted relative POSIX paths).

    Raises:
        BadInput: a missing input, an empty one, or a listed path outside the
            list's folder (the output tree mirrors paths below it).
    """
    source = Path(source)
    if source.is_dir():
        found = [path.relative_to(source).as_posix() for path in images.find_images(source)]
        root = source
    elif source.is_file():
        if source.suffix.lower() in images.IMAGE_EXTENSIONS:
            raise BadInput(f"{source} is an image; INPUT is a folder of images or a text file "
                           f"listing them.")
        root = source.parent
        found = [_listed_path(line, root, source) for line in _lines(source)]
    else:
        raise BadInput(f"INPUT {source} does not exist.")
    if not found:
        raise BadInput(f"no image found in {source}.")
    for path in found:  # the run lists its images as UTF-8 text, one a line
        if "\n" in path or "\r" in path:
            raise BadInput(f"{source} holds {path!r}, whose name has a line break (the run "
                           f"lists its images one a line): rename it.")
        try:
            path.encode("utf-8")
        except UnicodeEncodeError:
            raise BadInput(f"{source} holds {path!r}, whose name is not UTF-8 (the run lists "
                           f"its images as UTF-8 text): rename it.") from None
    found = sorted(found)
    repeated = next((first for first, second in zip(found, found[1:]) if first == second), None)
    if repeated is not None:
        raise BadInput(f"{source} lists {repeated} more than once.")
    return root, found


def _lines(list_file):
    try:
        text = list_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise BadInput(f"cannot read the list {list_file}: {error}.") from None
    return [line.strip() for line in text.splitlines()
            if line.strip() and not line.strip().startswith("#")]


def _listed_path(line, root, list_file):
    path = Path(line)
    resolved = (path if path.is_absolute() else root / path).resolve()
    try:
        return resolved.relative_to(root.resolve()).as_posix()
    except ValueError:
        raise BadInput(f"{list_file} lists {line}, which is not inside {root} (the outputs "
                       f"mirror the paths below the list's folder).") from None


def output_name(relative_path, copy, image_format):
    """The output's path relative to OUT: SUB/NAME.EXT for copy 0, SUB/NAME__K.EXT after."""
    path = PurePosixPath(relative_path)
    stem = path.stem if copy == 0 else f"{path.stem}__{copy}"
    return str(path.with_name(stem + OUTPUT_EXTENSIONS[image_format]))


def job_seed(seed, relative_path, copy):
    """The 64-bit seed of one job: SHA-256 of (seed, relative path, copy)."""
    digest = hashlib.sha256(f"{seed}\0{relative_path}\0{copy}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def draw_style(config, style_names, relative_path, copy, style_indices=None):
    """The style weights (num_styles,) and strength of one job, from its seed alone.

    Args:
        config: The `DatasetConfig`.
        style_names: The model's style names.
        relative_path: The image's path relative to the input.
        copy: The copy's index.
        style_indices: `config.style_indices(style_names)`, if already known.

    Returns:
        (float32 weights (num_styles,), convex; strength, a float).
    """
    from style_transfer.painting.conditions import parse_blend

    rng = np.random.default_rng(job_seed(config.seed, relative_path, copy))
    weights = np.zeros(len(style_names), np.float64)
    if config.blend is not None:
        weights = parse_blend(config.blend, style_names).astype(np.float64)
    else:
        chosen = style_indices if style_indices is not None else config.style_indices(
            style_names)
        if config.concentration == 0.0:
            weights[chosen[rng.integers(len(chosen))]] = 1.0
        else:
            weights[chosen] = rng.dirichlet(np.full(len(chosen), config.concentration))
    low, high = config.strength
    strength = low if low == high else float(rng.uniform(low, high))
    return weights.astype(np.float32), strength


def weights_record(weights, style_names):
    """{style name: weight} of the non-zero weights (a manifest's record of a blend)."""
    return {name: float(weight) for name, weight in zip(style_names, weights) if weight > 0}


def check_output_names(relative_paths, copies, image_format):
    """Refuses two jobs with one output (NAME.jpg and NAME.png, or NAME.jpg's copy 1 and
    NAME__1.jpg's copy 0): one would overwrite the other; and names too long for a file.
    In time and memory of the images, not of the copies: a copy k > 0 can only be written
    as the copy 0 of an image NAME__k.

    Raises:
        BadInput: naming the two images and their output, or the image.
    """
    extension = OUTPUT_EXTENSIONS[image_format]
    last_copy = f"__{copies - 1}" if copies > 1 else ""
    firsts = {}
    for relative_path in relative_paths:
        output = output_name(relative_path, 0, image_format)
        other = firsts.setdefault(output, relative_path)
        if other != relative_path:
            _same_output(other, relative_path, output)
        longest = output.rpartition("/")[2][:-len(extension)] + last_copy + extension
        if len(os.fsencode(longest)) > MAX_NAME_BYTES:
            raise BadInput(f"{relative_path}'s output {longest} would have a name longer than "
                           f"{MAX_NAME_BYTES} bytes, which no file system takes: rename it (or "
                           f"choose fewer `copies`).")
    for output, relative_path in firsts.items():
        original, _, copy = output[:-len(extension)].rpartition("__")
        if (original and "/" not in copy and copy.isascii() and copy.isdigit()
                and str(int(copy)) == copy and int(copy) < copies
                and original + extension in firsts):
            _same_output(firsts[original + extension], relative_path, output)


def _same_output(first, second, output):
    raise BadInput(f"{first} and {second} would both be written as {output}; rename one of "
                   f"them, or list the images in a text file without it.")


def job_key(relative_path, copy):
    return f"{relative_path}\0{copy}"


# ------------------------------------------------------------------------ the folder


def check_output(out, root, relative_paths, config):
    """Checks OUT and the output names before anything is written.

    Raises:
        BadInput: OUT is a file or inside the input, or two inputs would have one output.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise BadInput(f"--out {out} is a file; give a folder.")
    check_not_an_input(out, [root], folder=True)
    if root.resolve() in out.resolve().parents or root.resolve() == out.resolve():
        raise BadInput(f"--out {out} is inside the input {root}; the outputs would become "
                       f"inputs of a later run: choose a folder outside it.")
    check_output_names(relative_paths, config.copies, config.format)


def prepare_output(out, root, relative_paths, config, model_path):
    """Checks OUT and writes its settings and input list (the same ones on a restart).

    A folder whose run finished no output (it stopped at its start: a model that could
    not be loaded, an output that could not be written) starts afresh with any settings.

    Raises:
        BadInput: OUT is a file or inside the input, or holds outputs of a run with
            other settings or inputs.
    """
    out = Path(out)
    check_output(out, root, relative_paths, config)
    settings = {**config.settings(), "model_file_sha256": file_sha256(model_path),
                "input_folder": str(root.resolve()), "inputs": len(relative_paths),
                "inputs_sha256": hashlib.sha256("\n".join(relative_paths).encode()).hexdigest()}
    recorded = out / SETTINGS_FILE
    if recorded.exists():
        previous = _read_json(recorded)
        # A folder made before the input folder was recorded resumes from any.
        changed = sorted(key for key in settings if previous.get(key) != settings[key]
                         and (key != "input_folder" or key in previous))
        if changed and not finished_records(out):
            # Nothing of that run to keep or to mistake for finished: its journal (what
            # failed under the old settings) goes, and these settings take its place.
            for journal in (out / JOURNAL_FOLDER).glob("*.jsonl"):
                journal.unlink()
            changed = []
            with atomic_write(recorded, "w", overwrite=True) as file:
                json.dump(settings, file, indent=2, sort_keys=True)
        if "input_folder" in changed:
            raise BadInput(f"{out} holds a dataset painted from another input folder "
                           f"({previous['input_folder']}); choose another --out.")
        if changed:
            raise BadInput(f"{out} holds a dataset made with other settings ("
                           f"{', '.join(f'`{key}`' for key in changed)}"
                           f"); resume it with the same ones, or choose another --out.")
    else:
        with atomic_write(recorded, "w") as file:
            json.dump(settings, file, indent=2, sort_keys=True)
    with atomic_write(out / INPUTS_FILE, "w") as file:
        file.write("".join(path + "\n" for path in relative_paths))
    return settings


def output_lock(out):
    """Holds an exclusive lock on OUT (OUT/.lock): a second run on the same folder is
    refused (it would remove the first's temporaries and merge its journal away).

    Raises:
        BadInput: another process holds OUT.
    """
    return held_lock(Path(out) / LOCK_FILE, BadInput(
        f"{out} is in use by another stylize-dataset run; wait for it to end or choose "
        f"another --out."))


def finished_records(out):
    """{job key: record} of every output a previous run recorded (manifest and journal)."""
    out = Path(out)
    files = [out / MANIFEST_FILE] + sorted((out / JOURNAL_FOLDER).glob("*.jsonl"))
    records = {}
    for path in files:
        if path.is_file():
            for record in read_jsonl(path):
                if is_output_record(record):
                    records[job_key(record["input"], record["copy"])] = record
    return records


def is_output_record(record):
    """Whether a manifest or journal line is an output's record: a hand-edited or damaged
    one (no input, copy or SHA-256) is not, and is painted again."""
    return (isinstance(record, dict) and isinstance(record.get("input"), str)
            and isinstance(record.get("copy"), int) and not isinstance(record["copy"], bool)
            and isinstance(record.get("sha256"), str))


def is_finished(out, record, job):
    """Whether `record` (a previous run's) is `job`'s and its output has the recorded hash."""
    if record is None or any(record.get(key) != job[key] for key in ("input", "copy", "seed",
                                                                     "output")):
        return False
    path = Path(out) / record["output"]
    try:
        return path.is_file() and file_sha256(path) == record["sha256"]
    except OSError:
        return False


def write_journal(out, records, name):
    """Writes records as one journal file `OUT/.journal/NAME.jsonl`, atomically."""
    if records:
        with atomic_write(Path(out) / JOURNAL_FOLDER / f"{name}.jsonl", "w") as file:
            file.write("".join(json.dumps(record, sort_keys=True) + "\n" for record in records))


def finish(out, relative_paths, copies):
    """Merges the journal into the manifest and the list of failures, atomically.

    Returns:
        (number of outputs recorded, list of failure records).
    """
    out = Path(out)
    outputs, failures = {}, {}
    for path in [out / MANIFEST_FILE] + sorted((out / JOURNAL_FOLDER).glob("*.jsonl")):
        if path.is_file():
            for record in read_jsonl(path):
                if is_output_record(record):
                    outputs[job_key(record["input"], record["copy"])] = record
                elif "error" in record and isinstance(record.get("input"), str):
                    failures[record["input"]] = record
    wanted = {job_key(path, copy) for path in relative_paths for copy in range(copies)}
    # An image that failed now may have records of a previous run whose files are gone:
    # only those whose file has the recorded SHA-256 are still outputs.
    done = [outputs[key] for key in sorted(outputs) if key in wanted and (
        outputs[key]["input"] not in failures or is_finished(out, outputs[key], outputs[key]))]
    copies_done = collections.Counter(record["input"] for record in done)
    failed = [failures[path] for path in sorted(failures) if copies_done[path] < copies]
    with atomic_write(out / MANIFEST_FILE, "w") as file:
        file.write("".join(json.dumps(record, sort_keys=True) + "\n" for record in done))
    if failed or (out / FAILED_FILE).exists():
        with atomic_write(out / FAILED_FILE, "w") as file:
            file.write("".join(json.dumps(record, sort_keys=True) + "\n" for record in failed))
    for part in (out / JOURNAL_FOLDER).glob("*"):
        part.unlink()
    if (out / JOURNAL_FOLDER).is_dir():
        os.rmdir(out / JOURNAL_FOLDER)
    return len(done), failed


def read_jsonl(path):
    """The records of a JSON Lines file (a line that is not a JSON object is skipped)."""
    records = []
    with open(path, encoding="utf-8") as file:
        for line in file:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                records.append(record)
    return records


def _read_json(path):
    try:
        settings = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise BadInput(f"cannot read {path}: {error}; remove it to start the dataset "
                       f"again.") from None
    if not isinstance(settings, dict):
        raise BadInput(f"{path} is not a run's settings (a JSON object); remove it to start "
                       f"the dataset again.")
    return settings
