"""`style_transfer.datasets`: the settings, the inputs, each copy's draws and the output names."""

import json
import os

import numpy as np
import pytest

from style_transfer.base.errors import BadInput
from style_transfer.datasets import jobs
from style_transfer.datasets.config import DatasetConfig
from tests.style_transfer.builders import (
    ADOBE_RGB_COLORANTS,
    ADOBE_RGB_GAMMA,
    NAMES,
    cmyk_icc_profile,
    icc_profile,
    photo_array,
    srgb_from_adobe_rgb,
    srgb_from_press_cmyk,
    write_photo,
)


def draws(config, path="cats/tom.jpg", copy=0):
    return jobs.draw_style(config, NAMES, path, copy)


def test_a_copys_draw_depends_on_the_seed_its_path_and_its_index_only():
    config = DatasetConfig(concentration=1.0, strength=(0.2, 0.9), seed=3)
    weights, strength = draws(config)
    again_weights, again_strength = draws(DatasetConfig(concentration=1.0, strength=(0.2, 0.9),
                                                        seed=3, copies=5))
    np.testing.assert_array_equal(weights, again_weights)
    assert strength == again_strength
    others = [draws(config, copy=1), draws(config, path="cats/felix.jpg"),
              draws(DatasetConfig(concentration=1.0, strength=(0.2, 0.9), seed=4))]
    for other_weights, other_strength in others:
        assert other_strength != strength and not np.array_equal(other_weights, weights)


def test_concentration_zero_draws_one_of_the_chosen_styles_per_copy():
    config = DatasetConfig(style=("wave", "2"))
    chosen = {int(np.argmax(draws(config, f"photo{index}.jpg")[0])) for index in range(40)}
    assert chosen == {0, 2}
    for index in range(10):
        weights = draws(config, f"photo{index}.jpg")[0]
        assert sorted(weights) == [0.0, 0.0, 1.0]


def test_dirichlet_draws_are_convex_blends_of_the_chosen_styles():
    config = DatasetConfig(style=("wave", "udnie"), concentration=0.7)
    for index in range(20):
        weights = draws(config, f"photo{index}.jpg")[0]
        assert weights[1] == 0.0 and np.all(weights >= 0)
        assert abs(weights.sum() - 1) < 1e-6 and 0 < weights[0] < 1


def test_a_blend_is_every_copys_style_and_a_fixed_strength_every_copys_strength():
    config = DatasetConfig(blend="wave=0.25,scream=0.75", strength=0.6)
    for index in range(5):
        weights, strength = draws(config, f"photo{index}.jpg", copy=index)
        np.testing.assert_allclose(weights, [0.25, 0.75, 0.0])
        assert strength == 0.6


def test_strengths_are_drawn_uniformly_in_their_range():
    strengths = [draws(DatasetConfig(strength="0.3,0.5"), f"p{index}.jpg")[1]
                 for index in range(200)]
    assert 0.3 <= min(strengths) < 0.32 and 0.48 < max(strengths) <= 0.5


def test_copy_zero_keeps_the_name_and_later_copies_are_numbered():
    assert jobs.output_name("cats/tom.jpg", 0, "png") == "cats/tom.png"
    assert jobs.output_name("cats/tom.jpg", 2, "jpg") == "cats/tom__2.jpg"


def test_a_folder_lists_its_images_by_relative_path(tmp_path):
    write_photo(tmp_path / "b.png")
    (tmp_path / "sub").mkdir()
    write_photo(tmp_path / "sub" / "a.jpg")
    (tmp_path / "notes.txt").write_text("not an image")
    root, paths = jobs.list_inputs(tmp_path)
    assert root == tmp_path and paths == ["b.png", "sub/a.jpg"]


def test_a_list_file_names_images_relative_to_its_folder(tmp_path):
    (tmp_path / "sub").mkdir()
    write_photo(tmp_path / "sub" / "a.jpg")
    write_photo(tmp_path / "b.jpg")
    listing = tmp_path / "files.txt"
    listing.write_text(f"# training images\nsub/a.jpg\n\n{tmp_path / 'b.jpg'}\n")
    assert jobs.list_inputs(listing) == (tmp_path, ["b.jpg", "sub/a.jpg"])


def test_a_missing_input_is_refused(tmp_path):
    with pytest.raises(BadInput, match="does not exist"):
        jobs.list_inputs(tmp_path / "missing")


@pytest.mark.parametrize("listed, message", [
    ("../outside.jpg", "not inside"),
    ("a.jpg\na.jpg", "more than once"),
    ("# nothing", "no image"),
])
def test_a_list_file_is_checked(tmp_path, listed, message):
    listing = tmp_path / "files.txt"
    listing.write_text(listed + "\n")
    with pytest.raises(BadInput, match=message):
        jobs.list_inputs(listing)


def test_an_image_is_not_an_input_list(tmp_path):
    with pytest.raises(BadInput, match="is an image"):
        jobs.list_inputs(write_photo(tmp_path / "photo.png"))


@pytest.mark.parametrize("settings, message", [
    ({"copies": 0}, "copies must be"),
    ({"copies": 10**6}, "`copies`"),
    ({"seed": -1}, "seed"),
    ({"seed": 2**63}, r"`seed` must be an integer from 0 to 2147483647; received 92233"),
    ({"strength": "1.5"}, "`strength`"),
    ({"strength": "0.9,0.1"}, "`strength`"),
    ({"strength": "a"}, "strength"),
    ({"concentration": -0.5}, "`concentration`"),
    ({"style": ("wave",), "blend": "wave=1"}, "`style` and `blend`"),
    ({"format": "gif"}, "`format`"),
    ({"max_size": 4}, "max_size"),
])
def test_bad_settings_are_refused(settings, message):
    with pytest.raises(BadInput, match=message):
        DatasetConfig(**settings)


def test_unknown_styles_are_refused_with_the_models_names():
    with pytest.raises(BadInput, match="wave, scream, udnie"):
        DatasetConfig(style=("monet",)).style_indices(NAMES)


def test_the_local_runner_gets_a_worker_thread_per_core_unless_options_say_otherwise():
    from style_transfer.datasets.run import local_options
    from style_transfer.models.runtimes import usable_cores

    cores = usable_cores()
    assert local_options(["--job_name=x"]) == [
        "--job_name=x", f"--direct_num_workers={cores}", "--direct_running_mode=multi_threading"]
    for given in (["--runner=FlinkRunner", "--flink_master=host:8081"],
                  ["--direct_num_workers=1"], ["--direct_running_mode=in_memory"]):
        assert local_options(given) == given


@pytest.mark.slow  # importing Beam
def test_only_a_local_runners_multi_processing_mode_starts_worker_processes_here():
    pytest.importorskip("apache_beam")
    from style_transfer.datasets.run import local_worker_processes

    for given in (["--direct_running_mode=multi_processing", "--direct_num_workers=2"],
                  ["--runner=DirectRunner", "--direct_running_mode=multi_processing"],
                  ["--runner=FnApiRunner", "--direct_running_mode=multi_processing"]):
        assert local_worker_processes(given)
    for given in ([], ["--direct_running_mode=multi_threading"],
                  ["--runner=FlinkRunner", "--direct_running_mode=multi_processing"],
                  ["--direct_running_mode=multi_processing", "--direct_num_workers=abc"]):
        assert not local_worker_processes(given)


@pytest.mark.parametrize("paths, copies", [
    (["cats/tom.jpg", "cats/tom.png"], 1),
    (["tom.jpg", "tom__1.jpg"], 2),
])
def test_two_images_with_one_output_are_refused_before_anything_is_written(tmp_path, paths,
                                                                          copies):
    (tmp_path / "in").mkdir()
    model = tmp_path / "model.keras"
    model.write_bytes(b"model")
    with pytest.raises(BadInput, match="would both be written as"):
        jobs.prepare_output(tmp_path / "out", tmp_path / "in", paths,
                            DatasetConfig(copies=copies), model)
    assert not (tmp_path / "out" / jobs.SETTINGS_FILE).exists()


def test_names_like_a_copys_are_outputs_of_their_own_when_no_copy_has_them():
    jobs.check_output_names(["tom.jpg", "tom__2.jpg", "tom__01.jpg", "sub/tom__1.jpg"], 2, "png")
    with pytest.raises(BadInput, match="tom.jpg and tom__1.jpg would both be written as "
                                       "tom__1.png"):
        jobs.check_output_names(["tom.jpg", "tom__1.jpg"], 2, "png")


def test_an_output_name_too_long_for_a_file_is_refused_before_anything_is_written():
    name = "x" * 250 + ".jpeg"  # 255 bytes: its copy 0 fits, its copy 1 does not
    jobs.check_output_names([f"sub/{name}"], 1, "webp")
    with pytest.raises(BadInput, match=r"sub/x+\.jpeg's output x+__1\.webp would have a name "
                                       r"longer than 255 bytes"):
        jobs.check_output_names([f"sub/{name}"], 2, "webp")


def test_damaged_manifest_lines_are_painted_again_not_fatal(tmp_path):
    good = {"input": "a.jpg", "copy": 0, "output": "a.png", "sha256": "0" * 64}
    damaged = [{"sha256": "x"}, {"input": "a.jpg", "sha256": "x"},
               {"input": 3, "copy": 0, "sha256": "x"}, {"input": "a.jpg", "copy": "0",
                                                         "sha256": "x"},
               {"input": "a.jpg", "copy": 0}, {"error": "unreadable"}]
    (tmp_path / jobs.MANIFEST_FILE).write_text(
        "".join(json.dumps(record) + "\n" for record in [*damaged, good]))
    assert [jobs.is_output_record(record) for record in [*damaged, good]] == [
        False] * len(damaged) + [True]
    assert jobs.finish(tmp_path, ["a.jpg"], 1) == (1, [])
    assert jobs.read_jsonl(tmp_path / jobs.MANIFEST_FILE) == [good]


def test_an_image_that_fails_now_keeps_only_the_outputs_still_on_disk(tmp_path):
    """A resumed run could not read a.jpg, whose copy 0 a previous run painted and someone
    deleted since: the manifest must not list it, and a.jpg is a failure."""
    (tmp_path / "a__1.png").write_bytes(b"copy 1")
    (tmp_path / "b.png").write_bytes(b"b")
    records = [{"input": "a.jpg", "copy": 0, "output": "a.png", "seed": 1, "sha256": "0" * 64},
               {"input": "a.jpg", "copy": 1, "output": "a__1.png", "seed": 2,
                "sha256": jobs.file_sha256(tmp_path / "a__1.png")},
               {"input": "b.jpg", "copy": 0, "output": "b.png", "seed": 3,
                "sha256": "0" * 64}]
    (tmp_path / jobs.MANIFEST_FILE).write_text(
        "".join(json.dumps(record) + "\n" for record in records))
    failure = {"input": "a.jpg", "error": "cannot read a.jpg"}
    jobs.write_journal(tmp_path, [failure], "run")
    assert jobs.finish(tmp_path, ["a.jpg", "b.jpg"], 2) == (2, [failure])
    assert jobs.read_jsonl(tmp_path / jobs.MANIFEST_FILE) == records[1:]
    assert jobs.read_jsonl(tmp_path / jobs.FAILED_FILE) == [failure]


def test_progress_counts_the_copies_the_journal_records_since_the_start(tmp_path):
    from style_transfer.datasets.run import JournalProgress

    record = {"input": "a.jpg", "copy": 0, "output": "a.png", "sha256": "0" * 64}
    jobs.write_journal(tmp_path, [record], "killed_run")  # journaled again by this run
    reports = []
    watcher = JournalProgress(tmp_path, 6, 3, lambda *report: reports.append(report),
                              interval=3600)
    watcher.poll()
    jobs.write_journal(tmp_path, [record, {**record, "copy": 1}], "painted")
    jobs.write_journal(tmp_path, [{"input": "b.jpg", "error": "unreadable"}], "failed")
    watcher.stop()
    assert reports == [(0, 6), (5, 6)]


def prepare(tmp_path, root="in", paths=("a.jpg",)):
    (tmp_path / root).mkdir(exist_ok=True)
    model = tmp_path / "model.keras"
    model.write_bytes(b"model")
    return jobs.prepare_output(tmp_path / "out", tmp_path / root, list(paths), DatasetConfig(),
                               model)


def finish_one_output(out, name="a.jpg"):
    """A journal record of a finished output of `name`, as a worker writes it."""
    jobs.write_journal(out, [{"input": name, "copy": 0, "output": "a.png", "seed": 0,
                              "sha256": "0" * 64}], "worker")


def test_another_input_folder_with_the_same_names_is_refused(tmp_path):
    """train/ then val/ into one --out, both 0001.jpg: val's would be 'already finished'."""
    prepare(tmp_path, "train")
    prepare(tmp_path, "train")
    finish_one_output(tmp_path / "out")
    with pytest.raises(BadInput, match="painted from another input folder"):
        prepare(tmp_path, "val")


def test_other_settings_are_refused_once_an_output_is_finished(tmp_path):
    prepare(tmp_path)
    finish_one_output(tmp_path / "out")
    (tmp_path / "model.keras").write_bytes(b"another model")
    with pytest.raises(BadInput, match="other settings"):
        jobs.prepare_output(tmp_path / "out", tmp_path / "in", ["a.jpg"], DatasetConfig(),
                            tmp_path / "model.keras")


def test_a_folder_whose_run_finished_nothing_starts_afresh_with_other_settings(tmp_path):
    """A run stopped at its start (a model the workers could not load): no output to keep
    or to take for finished, so any settings and inputs take its place."""
    out = tmp_path / "out"
    prepare(tmp_path, "train")
    jobs.write_journal(out, [{"input": "a.jpg", "error": "cannot read"}], "worker")
    settings = prepare(tmp_path, "val", paths=("b.jpg",))
    assert json.loads((out / jobs.SETTINGS_FILE).read_text()) == settings
    assert settings["input_folder"] == str((tmp_path / "val").resolve())
    assert (out / jobs.INPUTS_FILE).read_text() == "b.jpg\n"
    assert not list((out / jobs.JOURNAL_FOLDER).glob("*.jsonl"))  # the old run's failures


def test_settings_that_are_not_an_object_are_refused(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / jobs.SETTINGS_FILE).write_text("[]")
    with pytest.raises(BadInput, match="not a run's settings"):
        prepare(tmp_path)


@pytest.mark.parametrize("name, message", [("b\nc.png", "line break"),
                                           (os.fsdecode(b"caf\xe9.png"), "not UTF-8")])
def test_a_name_that_cannot_be_listed_is_refused(tmp_path, name, message):
    write_photo(tmp_path / "a.png")
    write_photo(tmp_path / name)
    with pytest.raises(BadInput, match=message):
        jobs.list_inputs(tmp_path)


@pytest.mark.parametrize("argument, message", [
    ("--direct_num_workers=abc", r"after --: argument --direct_num_workers: invalid int value"),
    ("--runner=NoSuchRunner", "after --: Unexpected pipeline runner: NoSuchRunner"),
])
@pytest.mark.slow  # importing Beam
def test_bad_beam_options_are_refused_with_one_line(capsys, argument, message):
    pytest.importorskip("apache_beam")
    from style_transfer.datasets.run import pipeline_options

    with pytest.raises(BadInput, match=message):
        pipeline_options([argument])
    assert capsys.readouterr().err == ""  # not Beam's whole usage


@pytest.mark.slow  # importing Beam
def test_a_photo_with_a_colour_profile_is_read_in_srgb(tmp_path):
    pytest.importorskip("apache_beam")
    from PIL import Image

    from style_transfer.datasets.pipeline import _ReadPhoto

    pixels = photo_array(height=20, width=28)
    Image.fromarray(pixels).save(tmp_path / "phone.png", icc_profile=icc_profile(
        "Adobe RGB (1998)", ADOBE_RGB_GAMMA, ADOBE_RGB_COLORANTS))
    [job] = _ReadPhoto(tmp_path, max_size=None).process({"input": "phone.png"})
    np.testing.assert_allclose(job["photo"], srgb_from_adobe_rgb(pixels), atol=1 / 255)


@pytest.mark.slow  # importing Beam
def test_a_cmyk_photo_is_read_in_srgb_through_its_profile(tmp_path):
    pytest.importorskip("apache_beam")
    from PIL import Image

    from style_transfer.datasets.pipeline import _ReadPhoto

    cmyk = np.random.default_rng(0).integers(0, 256, (20, 28, 4), dtype=np.uint8)
    Image.fromarray(cmyk, "CMYK").save(tmp_path / "press.jpg", quality=95,
                                       icc_profile=cmyk_icc_profile())
    with Image.open(tmp_path / "press.jpg") as stored:
        cmyk = np.asarray(stored)  # as decoded
    [job] = _ReadPhoto(tmp_path, max_size=None).process({"input": "press.jpg"})
    np.testing.assert_allclose(job["photo"], srgb_from_press_cmyk(cmyk), atol=2 / 255)
    assert job["alpha"] is None


@pytest.mark.slow  # importing Beam
def test_a_transparent_photos_alpha_is_put_back_on_its_pictures(tmp_path):
    pytest.importorskip("apache_beam")
    from PIL import Image

    from style_transfer.datasets.pipeline import _ReadPhoto, _WriteOutputs

    rgba = np.dstack([photo_array(height=20, width=28), np.zeros((20, 28), np.uint8)])
    rgba[5:15, 5:20, 3] = 255
    Image.fromarray(rgba, "RGBA").save(tmp_path / "cut.png")
    [job] = _ReadPhoto(tmp_path, max_size=None).process({"input": "cut.png"})
    np.testing.assert_array_equal(job["alpha"], rgba[..., 3])
    copies = [{"input": "cut.png", "copy": copy, "output": output, "seed": 0, "strength": 1.0,
               "weights": np.array([1.0, 0, 0]), "preserve_color": False}
              for copy, output in enumerate(["cut.png", "cut__1.jpg"])]
    pictures = [job["photo"][::-1], job["photo"]]  # what the network paints, for this test
    records = list(_WriteOutputs(tmp_path / "out", NAMES).process(
        {**job, "copies": copies, "pictures": pictures}))
    assert len(records) == 2
    with Image.open(tmp_path / "out" / "cut.png") as written:
        assert written.mode == "RGBA"
        np.testing.assert_array_equal(np.asarray(written)[..., 3], rgba[..., 3])
    with Image.open(tmp_path / "out" / "cut__1.jpg") as written:
        assert written.mode == "RGB"


def test_a_second_run_on_the_same_output_folder_is_refused_while_the_first_runs(tmp_path):
    with jobs.output_lock(tmp_path):
        with pytest.raises(BadInput, match="in use by another stylize-dataset run"):
            with jobs.output_lock(tmp_path):
                pass
    with jobs.output_lock(tmp_path):  # free again once the first has ended
        pass


def test_a_workers_one_line_is_found_in_the_text_of_the_error_its_run_raised():
    from style_transfer.datasets import worker_errors

    message = "cannot write out/cats/tom.png: out/cats is a file, not a folder (\u00e9, \"q\")."
    with pytest.raises(worker_errors.WorkerBadInput) as raised:
        with worker_errors.user_errors():
            raise BadInput(message)
    traceback_text = (f"Traceback (most recent call last):\n  ...\nstyle_transfer.datasets."
                      f"worker_errors.WorkerBadInput: {raised.value} [while running 'Write']\n")
    # As the DirectRunner raises it, and as a runner that quotes the text as JSON would.
    for text in (traceback_text, json.dumps(traceback_text)):
        found = worker_errors.worker_bad_input(RuntimeError(text))
        assert isinstance(found, BadInput) and str(found) == message
    try:
        raise RuntimeError("Beam's error") from raised.value
    except RuntimeError as chained:
        assert str(worker_errors.worker_bad_input(chained)) == message
    assert worker_errors.worker_bad_input(RuntimeError("ZeroDivisionError: a bug")) is None


def test_operating_system_errors_on_a_worker_are_one_line_and_bugs_go_through():
    from style_transfer.datasets import worker_errors

    with pytest.raises(worker_errors.WorkerBadInput) as raised:
        with worker_errors.user_errors():
            raise PermissionError(13, "Permission denied", "out/cats")
    assert str(worker_errors.worker_bad_input(raised.value)) == "out/cats: Permission denied."
    with pytest.raises(ZeroDivisionError):
        with worker_errors.user_errors():
            raise ZeroDivisionError


def test_after_a_failed_run_the_work_in_flight_ends_first_and_no_more_starts():
    import threading
    import time

    from style_transfer.datasets import worker_errors

    run = worker_errors.new_run()
    entered, ended = threading.Event(), threading.Event()

    def worker():  # a DirectRunner thread still painting when the run fails
        with worker_errors.user_errors(run):
            entered.set()
            while run not in worker_errors._stopped:
                time.sleep(0.001)
            time.sleep(0.05)
            ended.set()

    thread = threading.Thread(target=worker)
    with pytest.raises(KeyError):
        with worker_errors.settled_on_failure(run):
            thread.start()
            entered.wait()
            raise KeyError("the run failed")
    assert ended.is_set()  # the error went on only once the work in flight had ended
    thread.join()
    with pytest.raises(worker_errors.RunStopped):
        with worker_errors.user_errors(run):
            pass
    # Another run, and work of no run (a transform called by itself), go on.
    another = worker_errors.new_run()
    with worker_errors.settled_on_failure(another):
        with worker_errors.user_errors(another):
            pass
    with worker_errors.user_errors():
        pass
