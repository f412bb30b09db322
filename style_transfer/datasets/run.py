"""Stylizing a dataset: `stylize_dataset`, what `style-transfer stylize-dataset` runs.

    from style_transfer.datasets.config import DatasetConfig
    from style_transfer.datasets.run import stylize_dataset

    stylize_dataset("imagenet/train", "stylized/", DatasetConfig(copies=1, seed=0))
    stylize_dataset(..., pipeline_args=["--runner=FlinkRunner", ...])   # on a cluster

It checks the settings, the model and the output folder, lists the images, runs the
Beam pipeline (`style_transfer.datasets.pipeline`) and merges its journal into the
manifest (`style_transfer.datasets.jobs`). Needs the [datasets] extra (Apache Beam).
"""

import os
import shutil
import threading
from pathlib import Path

from style_transfer.base.errors import BadInput
from style_transfer.base.extras import import_extra
from style_transfer.datasets import jobs
from style_transfer.datasets.worker_errors import (
    new_run,
    settled_on_failure,
    worker_bad_input,
)


def import_beam():
    """Apache Beam, or a one-line error naming the [datasets] extra."""
    return import_extra("apache_beam", "datasets", "stylize-dataset")


def stylize_dataset(source, out, config, pipeline_args=None, progress=None):
    """Paints every image of `source` in `config.copies` drawn styles, under `out`.

    Args:
        source: A folder of images (searched recursively) or a text file listing
            image files (`jobs.list_inputs`).
        out: The output folder (the same tree as `source`; see `jobs`).
        config: A `DatasetConfig`.
        pipeline_args: Beam pipeline options, e.g. ["--runner=FlinkRunner",
            "--flink_master=host:8081"] (default: the DirectRunner on this machine,
            one worker thread per core: see `local_options`).
        progress: Called as `progress(done, total)` about every second while the
            pipeline runs (from another thread), with the copies settled (painted,
            found finished, or of an image that failed) out of all of them, e.g. for
            a progress bar; counted from the journal, so on any runner whose
            workers write OUT where this machine reads it.

    Returns:
        {"outputs": outputs recorded in the manifest, "painted": painted by this
        run, "kept": found finished, "failed": [{"input", "error"}]}.

    Raises:
        BadInput: a bad setting, a model that is not a table of styles, an
            output folder that holds another run (see `jobs.prepare_output`), or
            what stopped a worker: a model that cannot be loaded or paints NaN, an
            output that cannot be written (the same one line, whatever the runner;
            the outputs finished so far are kept for a restart).
    """
    beam = import_beam()
    from style_transfer.base.files import remove_stale_partials
    from style_transfer.datasets import pipeline as pipeline_module
    from style_transfer.models.loading import TABLE, model_kind, model_path
    from style_transfer.models.saving import read_model_config

    path = model_path(config.model)
    if model_kind(path) != TABLE:
        raise BadInput(f"stylize-dataset paints with a model of trained styles; {path} is an "
                       f"arbitrary-style model.")
    model_config = read_model_config(path)["config"]
    style_names = model_config.get("style_names") or [
        f"style_{index}" for index in range(model_config["num_styles"])]
    config.style_indices(style_names)
    if config.blend is not None:
        from style_transfer.painting.conditions import parse_blend

        parse_blend(config.blend, style_names)
    root, relative_paths = jobs.list_inputs(source)
    options = pipeline_options(pipeline_args or [])
    out = Path(out)
    jobs.check_output(out, root, relative_paths, config)
    out.mkdir(parents=True, exist_ok=True)
    with jobs.output_lock(out):
        # Under the lock: a run in progress keeps its settings (`prepare_output` may
        # replace those of a run that finished nothing).
        jobs.prepare_output(out, root, relative_paths, config, path)
        for folder, _, _ in os.walk(out):
            remove_stale_partials(folder)  # What a killed run was writing: never half a file.
        previous = [str(file) for file in [out / jobs.MANIFEST_FILE,
                                           *sorted((out / jobs.JOURNAL_FOLDER).glob("*.jsonl"))]
                    if file.is_file()]
        run = new_run()
        # Beam makes a temporary folder with the pipeline and removes it when `run` ends;
        # made here, after every check, and removed whatever stops the run.
        pipeline = beam.Pipeline(runner=local_runner(options), options=options)
        watcher = None
        try:
            pipeline_module.build_pipeline(pipeline, root, out, config, str(path), style_names,
                                           previous, run)
            watcher = None if progress is None else JournalProgress(
                out, len(relative_paths) * config.copies, config.copies, progress)
            with settled_on_failure(run):
                result = pipeline.run()
                result.wait_until_finish()
        except Exception as error:
            # A worker's BadInput arrives as Beam's error holding its traceback's text.
            bad_input = worker_bad_input(error)
            if bad_input is None:
                raise
            raise bad_input from None
        finally:
            if watcher is not None:
                watcher.stop()
            local_tempdir = getattr(pipeline, "local_tempdir", None)
            if local_tempdir:
                shutil.rmtree(local_tempdir, ignore_errors=True)
        counters = pipeline_module.counters(result)
        outputs, failed = jobs.finish(out, relative_paths, config.copies)
        return {"outputs": outputs, "painted": counters.get("painted", 0),
                "kept": counters.get("kept", 0), "failed": failed}


def pipeline_options(pipeline_args):
    """Beam's `PipelineOptions` of `pipeline_args` (with `local_options`), checked before
    anything is written: a bad value or an unknown runner is one line (Beam printed its
    whole usage, or a traceback).

    Raises:
        BadInput: naming the option.
    """
    import contextlib
    import io

    from apache_beam.options.pipeline_options import (
        DirectOptions,
        PipelineOptions,
        StandardOptions,
    )
    from apache_beam.runners.runner import create_runner

    options = PipelineOptions(local_options(pipeline_args))
    usage = io.StringIO()
    try:
        with contextlib.redirect_stderr(usage):
            options.get_all_options()
    except SystemExit:
        message = (usage.getvalue().strip().splitlines() or ["invalid"])[-1]
        raise BadInput(f"Apache Beam's options after --: {message.split('error: ', 1)[-1]}."
                       ) from None
    workers = options.view_as(DirectOptions).direct_num_workers
    if workers is not None and workers < 0:  # Beam's DirectRunner fails late (an IndexError)
        raise BadInput(f"Apache Beam's options after --: --direct_num_workers must be 0 (one per "
                       f"core) or more; received {workers}.")
    runner = options.view_as(StandardOptions).runner
    if runner is not None:
        try:
            create_runner(runner)
        except ValueError as error:
            raise BadInput(f"Apache Beam's options after --: {error}") from None
    return options


def local_runner(options):
    """The runner of a pipeline whose `options` name none: Beam's FnApiRunner, built as
    Beam's DirectRunner builds it for a batch pipeline (its worker threads or processes as
    the `--direct_*` options say, the options handed to worker processes); None (the
    runner the options name) otherwise.

    Beam's DirectRunner (2.6x and later) first tries its PrismRunner, a Go program it
    downloads from GitHub on first use, which ignores the `--direct_*` options; offline
    it falls back to the FnApiRunner. Naming the FnApiRunner runs the same engine online
    and offline, downloads nothing, and keeps the threads `local_options` asks for.
    `--runner=DirectRunner` still gets Beam's choice.
    """
    from apache_beam.options.pipeline_options import StandardOptions
    from apache_beam.portability.api import beam_provision_api_pb2
    from apache_beam.runners.portability.fn_api_runner import fn_runner
    from apache_beam.runners.portability.portable_runner import JobServiceHandle

    if options.view_as(StandardOptions).runner is not None:
        return None
    encoded = JobServiceHandle.encode_pipeline_options(options.get_all_options())
    return fn_runner.FnApiRunner(provision_info=fn_runner.ExtendedProvisionInfo(
        beam_provision_api_pb2.ProvisionInfo(pipeline_options=encoded)))


def local_options(pipeline_args):
    """`pipeline_args`, with the DirectRunner on one worker thread per usable core when they
    name no runner and no `--direct_*` option: a thread encodes and writes one picture while
    another paints (TensorFlow and PIL release Python's lock), where Beam's single worker
    would do one after the other. Any runner or `--direct_*` option given is used as given."""
    from style_transfer.models.runtimes import usable_cores

    if any(argument.startswith(("--runner", "--direct_")) for argument in pipeline_args):
        return list(pipeline_args)
    return [*pipeline_args, f"--direct_num_workers={usable_cores()}",
            "--direct_running_mode=multi_threading"]


def local_worker_processes(pipeline_args):
    """Whether Beam runs the pipeline of `pipeline_args` in worker processes that it starts on
    this machine, which write to this process's standard error themselves: the local runner
    (the default, `local_runner`), the FnApiRunner or the DirectRunner in
    `--direct_running_mode=multi_processing`. False for options that `pipeline_options`
    refuses (`stylize_dataset` says why)."""
    import_beam()
    from apache_beam.options.pipeline_options import DirectOptions, StandardOptions
    from apache_beam.runners import DirectRunner
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner
    from apache_beam.runners.runner import create_runner

    try:
        options = pipeline_options(pipeline_args)
    except BadInput:
        return False
    runner = options.view_as(StandardOptions).runner
    return ((runner is None or isinstance(create_runner(runner), (DirectRunner, FnApiRunner)))
            and options.view_as(DirectOptions).direct_running_mode == "multi_processing")


class JournalProgress:
    """Calls `progress(done, total)` every `interval` seconds from a thread of its own, when
    it has changed, with the copies the journal records: an output painted or found
    finished is one, an image that failed is its `copies`. The journal files already there
    when it starts are a killed run's, whose records the run journals again: not counted."""

    def __init__(self, out, total, copies, progress, interval=1.0):
        self.folder = Path(out) / jobs.JOURNAL_FOLDER
        self.total, self.copies, self.progress = total, copies, progress
        self.seen = {path.name for path in self.folder.glob("*.jsonl")}
        self.done = 0
        self.reported = None
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(interval,), daemon=True)
        self.thread.start()

    def _run(self, interval):
        while not self.stopped.wait(interval):
            self.poll()

    def poll(self):
        """Counts the journal files written since the last poll and reports."""
        for path in sorted(self.folder.glob("*.jsonl")):
            if path.name not in self.seen:
                self.seen.add(path.name)
                try:
                    records = jobs.read_jsonl(path)
                except OSError:
                    continue
                self.done += sum(self.copies if "error" in record else 1 for record in records)
        if self.done != self.reported:
            self.reported = self.done
            self.progress(min(self.done, self.total), self.total)

    def stop(self):
        """Stops the thread after a last report."""
        self.stopped.set()
        self.thread.join()
        self.poll()
