"""`style-transfer stylize-dataset` on Beam's DirectRunner: the tree, the manifest, bad images,
the `stylize` command's pictures bit for bit, resuming after a kill."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from style_transfer.base.files import file_sha256
from style_transfer.cli.main import main
from style_transfer.datasets import jobs
from style_transfer.models.saving import save_model
from tests.style_transfer.builders import untrained_model_with_distinct_styles, write_photo
from tests.style_transfer.painting.test_painted_nan import with_one_nan_weight

pytest.importorskip("apache_beam")

PHOTOS = ["cats/tom.jpg", "cats/kittens/felix.png", "dog.png"]


def make_dataset(folder, names=PHOTOS, size=(28, 20)):
    for seed, name in enumerate(names):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        write_photo(folder / name, width=size[0], height=size[1], seed=seed)
    return folder


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    folder = make_dataset(tmp_path_factory.mktemp("photos"))
    (folder / "cats" / "broken.jpg").write_bytes(b"not a picture")
    return folder


def stylize_dataset(capsys, model_file, source, out, *options):
    code = main(["stylize-dataset", str(source), "--out", str(out), "--model", model_file,
                 "--json", *options])
    captured = capsys.readouterr()
    return code, json.loads(captured.out.strip().splitlines()[-1]), captured.err


def tree(folder):
    """{relative path: bytes} of every file under `folder`."""
    return {path.relative_to(folder).as_posix(): path.read_bytes()
            for path in sorted(Path(folder).rglob("*")) if path.is_file()}


@pytest.fixture(scope="module")
def finished(model_file, dataset, tmp_path_factory):
    """One run: two copies of each photo, drawn blends and strengths; and the pipelines it
    handed to Beam's PrismRunner (none are expected)."""
    from apache_beam.runners.portability.prism_runner import PrismRunner

    out = tmp_path_factory.mktemp("run") / "stylized"
    prism_runs = []
    with pytest.MonkeyPatch.context() as patch:
        # Offline, Beam's DirectRunner falls back from Prism to the FnApiRunner; online it
        # would download Prism and run there: recorded, then failed as offline.
        def run_pipeline(self, pipeline, options):
            prism_runs.append(pipeline)
            raise RuntimeError("Unable to fetch remote prism binary (this test is offline)")

        patch.setattr(PrismRunner, "run_pipeline", run_pipeline)
        code = main(["stylize-dataset", str(dataset), "--out", str(out), "--model", model_file,
                     "--copies", "2", "--concentration", "0", "--strength", "0.5,1",
                     "--quiet"])
    return code, out, prism_runs


@pytest.mark.slow
def test_the_tree_is_kept_with_a_manifest_of_every_output(finished):
    code, out, _ = finished
    assert code == 1  # the broken image
    records = jobs.read_jsonl(out / "manifest.jsonl")
    assert [(record["input"], record["copy"]) for record in records] == [
        (name, copy) for name in sorted(PHOTOS) for copy in (0, 1)]
    for record in records:
        assert file_sha256(out / record["output"]) == record["sha256"]
        assert Image.open(out / record["output"]).size == (28, 20)
        assert 0.5 <= record["strength"] <= 1.0 and len(record["style_weights"]) == 1
    assert {record["output"] for record in records} == {
        "cats/tom.png", "cats/tom__1.png", "cats/kittens/felix.png", "cats/kittens/felix__1.png",
        "dog.png", "dog__1.png"}
    assert not (out / jobs.JOURNAL_FOLDER).exists()


@pytest.mark.slow
def test_the_default_runner_is_beams_fn_api_runner_never_a_downloaded_prism(finished):
    code, out, prism_runs = finished
    assert prism_runs == []
    assert code == 1 and (out / "manifest.jsonl").is_file()


def test_a_bad_image_is_listed_and_skipped(finished):
    _, out, _ = finished
    failed = jobs.read_jsonl(out / "failed.jsonl")
    assert [record["input"] for record in failed] == ["cats/broken.jpg"]
    assert not list(out.rglob("broken*"))


@pytest.mark.slow
def test_each_output_is_the_stylize_commands_picture_bit_for_bit(capsys, finished, model_file,
                                                                 dataset, tmp_path):
    _, out, _ = finished
    for record in jobs.read_jsonl(out / "manifest.jsonl")[:2]:
        [style] = record["style_weights"]
        target = tmp_path / record["output"].replace("/", "_")
        code = main(["stylize", str(dataset / record["input"]), "--model", model_file,
                     "--style", style, "--strength", repr(record["strength"]),
                     "--out", str(target), "--quiet"])
        assert code == 0
        assert target.read_bytes() == (out / record["output"]).read_bytes()


@pytest.mark.slow
def test_a_second_run_paints_only_missing_or_damaged_outputs(capsys, model_file, tmp_path):
    source = make_dataset(tmp_path / "photos")
    out = tmp_path / "stylized"
    code, first, _ = stylize_dataset(capsys, model_file, source, out, "--copies", "2")
    assert code == 0 and first["painted"] == 6
    before = tree(out)
    (out / "dog__1.png").unlink()
    (out / "cats" / "tom.png").write_bytes(b"damaged")
    code, second, _ = stylize_dataset(capsys, model_file, source, out, "--copies", "2")
    assert code == 0 and (second["painted"], second["kept"], second["outputs"]) == (2, 4, 6)
    assert tree(out) == before


@pytest.mark.slow
def test_other_settings_on_the_same_output_folder_are_refused(capsys, model_file, tmp_path):
    source = make_dataset(tmp_path / "photos", PHOTOS[:1])
    out = tmp_path / "stylized"
    assert stylize_dataset(capsys, model_file, source, out)[0] == 0
    code = main(["stylize-dataset", str(source), "--out", str(out), "--model", model_file,
                 "--seed", "7", "--preserve-color"])
    error = capsys.readouterr().err
    # Named as the options that set them.
    assert code == 2 and "other settings (--preserve-color, --seed)" in error
    assert len(error.splitlines()) == 1


def test_an_output_folder_inside_the_input_is_refused(capsys, model_file, tmp_path):
    source = make_dataset(tmp_path / "photos", PHOTOS[:1])
    code = main(["stylize-dataset", str(source), "--out", str(source / "stylized"),
                 "--model", model_file])
    assert code == 2 and "inside the input" in capsys.readouterr().err


def test_neither_a_refused_nor_a_finished_run_leaves_a_temporary_folder(capsys, model_file,
                                                                       tmp_path, monkeypatch):
    """Beam makes a folder in the system's temporary folder with each pipeline: a run
    refused after its options were read left it there."""
    import tempfile

    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    source = make_dataset(tmp_path / "photos", PHOTOS[:1])
    out = tmp_path / "out"
    assert stylize_dataset(capsys, model_file, source, out)[0] == 0
    code = main(["stylize-dataset", str(source), "--out", str(out), "--model", model_file,
                 "--seed", "7"])
    assert code == 2 and "other settings" in capsys.readouterr().err
    # (TensorFlow's autograph leaves its generated files there; not Beam's.)
    assert list(temporary.glob("beam*")) == []


def test_words_after_the_input_must_be_beam_options(capsys, model_file, tmp_path):
    source = make_dataset(tmp_path / "photos", PHOTOS[:1])
    code = main(["stylize-dataset", str(source), "second/", "--out", str(tmp_path / "out"),
                 "--model", model_file])
    assert code == 2 and "one INPUT at a time" in capsys.readouterr().err


def test_a_negative_number_of_beam_workers_is_refused_before_anything_is_written(
        capsys, model_file, tmp_path):
    # Beam's DirectRunner failed with an IndexError deep in its run, after the output folder
    # had been set up.
    source = make_dataset(tmp_path / "photos", PHOTOS[:1])
    code = main(["stylize-dataset", str(source), "--out", str(tmp_path / "out"), "--model",
                 model_file, "--", "--direct_num_workers=-1"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "--direct_num_workers" in err and "-1" in err, err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("order", ["input first", "input last"])
def test_arguments_after_a_double_dash_go_to_beam_wherever_the_input_is(
        capsys, monkeypatch, model_file, tmp_path, order):
    from style_transfer.datasets import run

    received = {}

    def stylize_dataset(source, out, config, pipeline_args=None, progress=None):
        received.update(source=source, pipeline_args=pipeline_args)
        return {"outputs": 0, "painted": 0, "kept": 0, "failed": []}

    monkeypatch.setattr(run, "stylize_dataset", stylize_dataset)
    options = ["--out", str(tmp_path / "out"), "--model", model_file, "--quiet"]
    arguments = (["photos", *options] if order == "input first" else [*options, "photos"])
    beam_options = ["--runner=FlinkRunner", "--flink_master=host:8081", "--out=x"]
    assert main(["stylize-dataset", *arguments, "--", *beam_options]) == 0
    assert received == {"source": "photos", "pipeline_args": beam_options}
    with pytest.raises(SystemExit) as exit:
        main(["stylize-dataset", *arguments, "--bogus", "--", *beam_options])
    assert exit.value.code == 2
    assert "unrecognized arguments: --bogus (" in capsys.readouterr().err


@pytest.mark.slow
def test_a_run_killed_with_sigkill_then_started_again_gives_the_uninterrupted_files(
        capsys, model_file, tmp_path):
    source = make_dataset(tmp_path / "photos", [f"class{index % 3}/photo{index}.png"
                                                for index in range(40)], size=(64, 48))
    options = ["--copies", "2", "--concentration", "0.5", "--strength", "0.3,1"]
    uninterrupted = tmp_path / "uninterrupted"
    assert stylize_dataset(capsys, model_file, source, uninterrupted, *options)[0] == 0

    out = tmp_path / "killed"
    command = [sys.executable, "-m", "style_transfer", "stylize-dataset", str(source),
               "--out", str(out), "--model", model_file, "--quiet", *options]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    deadline = time.monotonic() + 300
    # Killed once its first output is written, the others unfinished (Beam may write its
    # journal only when a bundle ends, so the outputs are what shows progress).
    while (time.monotonic() < deadline and process.poll() is None
           and not list(out.rglob("photo*.png"))):
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (out / "manifest.jsonl").exists(), "the run ended before it was killed"
    for picture in out.rglob("photo*.png"):  # every output there is whole
        Image.open(picture).load()

    code, summary, _ = stylize_dataset(capsys, model_file, source, out, *options)
    assert code == 0 and summary["outputs"] == 80
    # Every output once, whatever the killed run had finished.
    assert summary["kept"] + summary["painted"] == 80
    assert tree(out) == tree(uninterrupted)


@pytest.fixture(scope="module")
def nan_model_file(tmp_path_factory):
    """A table of styles with a NaN weight: its config reads well; loading it (on the
    workers) refuses it."""
    path = tmp_path_factory.mktemp("nan_model") / "nan.keras"
    save_model(with_one_nan_weight(untrained_model_with_distinct_styles(seed=5)), path)
    return str(path)


# Beam's worker in a process of its own, which prints and logs by itself (one is enough for
# what these tests hold; each worker process starts Python and TensorFlow again).
WORKER_PROCESSES = ["--", "--direct_running_mode=multi_processing", "--direct_num_workers=1"]


def command_line(source, out, model_file, *arguments):
    """The real command in a process of its own, with TensorFlow's C++ log on as by default."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("TF_CPP")}
    return subprocess.run(
        [sys.executable, "-m", "style_transfer", "stylize-dataset", str(source),
         "--out", str(out), "--model", model_file, *arguments],
        capture_output=True, text=True, timeout=300, env=env)


@pytest.mark.slow
@pytest.mark.parametrize("beam_options", [[], WORKER_PROCESSES],
                         ids=["worker threads", "worker processes"])
def test_a_model_the_workers_refuse_is_one_line_and_exit_code_2(nan_model_file, tmp_path,
                                                                 beam_options):
    # The real command: Beam's workers log and print each failure's traceback themselves.
    source = make_dataset(tmp_path / "photos")
    completed = command_line(source, tmp_path / "out", nan_model_file, *beam_options)
    assert completed.returncode == 2, completed.stderr[-3000:]
    [line] = completed.stderr.splitlines() or [""]
    assert re.fullmatch(rf"style-transfer stylize-dataset: error: {re.escape(nan_model_file)} "
                        rf"has NaN or infinite weights \(\S+\): its training diverged; use an "
                        rf"earlier checkpoint or train again\.", line), completed.stderr[-3000:]


@pytest.mark.slow
def test_worker_processes_print_no_library_log_lines(model_file, tmp_path):
    # Each worker process starts Python, Beam's logging and TensorFlow's C++ libraries.
    source = make_dataset(tmp_path / "photos", PHOTOS[:2])
    out = tmp_path / "out"
    completed = command_line(source, out, model_file, *WORKER_PROCESSES)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert completed.stderr == ""
    assert completed.stdout == (f"{out}: 2 outputs (2 painted now, 0 already finished), "
                                f"0 images failed; manifest.jsonl lists them.\n")


@pytest.mark.slow
def test_ctrl_c_on_worker_processes_is_one_line_and_leaves_no_process(model_file, tmp_path):
    # A terminal's Ctrl-C reaches the whole process group: the command, the shells Beam
    # starts its workers with, and the workers.
    source = make_dataset(tmp_path / "photos", [f"photo{index}.png" for index in range(20)])
    out = tmp_path / "out"
    env = {key: value for key, value in os.environ.items() if not key.startswith("TF_CPP")}
    process = subprocess.Popen(
        [sys.executable, "-m", "style_transfer", "stylize-dataset", str(source), "--out",
         str(out), "--model", model_file, "--copies", "100", *WORKER_PROCESSES],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        start_new_session=True)
    deadline = time.monotonic() + 300
    while (time.monotonic() < deadline and process.poll() is None
           and not list(out.glob("photo*.png"))):
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGINT)
    stdout, stderr = process.communicate(timeout=300)
    assert (process.returncode, stderr) == (
        128 + signal.SIGINT, "style-transfer stylize-dataset: interrupted\n"), stderr[-3000:]
    assert not (out / "manifest.jsonl").exists(), "the run ended before it was interrupted"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the workers end with the command's connection
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail("worker processes still run a minute after the command ended")


@pytest.mark.slow
def test_a_folder_whose_run_stopped_on_its_model_takes_the_mended_model(
        capsys, model_file, nan_model_file, tmp_path):
    """The stopped run finished nothing: its settings (the other model's SHA-256) give way."""
    source = make_dataset(tmp_path / "photos", PHOTOS[:2])
    out = tmp_path / "stylized"
    assert main(["stylize-dataset", str(source), "--out", str(out), "--model", nan_model_file,
                 "--quiet"]) == 2
    assert (out / jobs.SETTINGS_FILE).is_file()
    capsys.readouterr()
    code, summary, error = stylize_dataset(capsys, model_file, source, out)
    assert code == 0, error
    assert (summary["painted"], summary["outputs"]) == (2, 2)
    assert json.loads((out / jobs.SETTINGS_FILE).read_text())["model_file_sha256"] == (
        jobs.file_sha256(model_file))


@pytest.mark.slow
def test_an_output_the_workers_cannot_write_stops_the_run_in_one_line_and_it_resumes(
        capsys, model_file, tmp_path):
    source = make_dataset(tmp_path / "photos", ["cats/tom.jpg", "dog.png"])
    out = tmp_path / "stylized"
    out.mkdir()
    (out / "cats").write_bytes(b"a file where the folder of cats/tom.png goes")
    command = ["stylize-dataset", str(source), "--out", str(out), "--model", model_file,
               "--quiet"]
    assert main(command) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"style-transfer stylize-dataset: error: cannot write {out}/cats/tom.png: {out}/cats "
        f"is a file, not a folder."]
    assert not list(out.rglob(".*.partial*"))  # no half-written picture
    (out / "cats").unlink()
    assert main(command) == 0
    assert len(jobs.read_jsonl(out / "manifest.jsonl")) == 2


@pytest.mark.slow
def test_a_bug_on_a_worker_keeps_its_traceback(capsys, monkeypatch, model_file, tmp_path):
    from style_transfer.painting import stylize

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(stylize, "stylize_many", broken)
    source = make_dataset(tmp_path / "photos", PHOTOS[:1])
    with pytest.raises(Exception, match="ZeroDivisionError: a bug"):
        main(["stylize-dataset", str(source), "--out", str(tmp_path / "out"), "--model",
              model_file, "--quiet"])
