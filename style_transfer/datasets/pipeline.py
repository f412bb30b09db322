"""The Beam pipeline that stylizes a dataset: RunInference with the style network, exactly once.

Needs the [datasets] extra (Apache Beam); `style_transfer.datasets.run` checks for it first.

The pipeline (`build_pipeline`):

    OUT/inputs.txt -> one element per image, with every copy's draws (jobs.draw_style)
        joined, by image, with the records of outputs already finished (manifest, journal)
      -> outputs whose file has the recorded SHA-256: kept, not painted again
      -> the others: the photo read (a bad image: a failure record, never fatal)
      -> RunInference(StyleModelHandler): the network loaded once per worker,
         each copy painted as `style-transfer stylize` paints it
      -> each picture written atomically, its SHA-256 taken
      -> every record into the journal (small files written atomically)
    then the journal is merged into OUT/manifest.jsonl (`jobs.finish`, called by
    `style_transfer.datasets.run.stylize_dataset`).

Beam is the engine, not something made here: its DirectRunner runs the pipeline
on this machine, and Dataflow, Flink or Spark run the same pipeline on a cluster
whose workers see INPUT and OUT at the same paths (a shared file system).

A `BadInput` raised on a worker (a model whose weights are damaged, an output that
cannot be written) reaches the runner as the text of its traceback: the transforms
raise it as a `worker_errors.WorkerBadInput`, which carries its one line there.
"""

import hashlib
import json
import time
from pathlib import Path

import apache_beam as beam
import numpy as np
from apache_beam.metrics import Metrics
from apache_beam.ml.inference.base import ModelHandler, RunInference

from style_transfer.base.errors import BadInput
from style_transfer.datasets import jobs
from style_transfer.datasets.worker_errors import user_errors
from style_transfer.painting.config import MIN_PHOTO_PX

# Records journaled per file, and the longest a finished output waits for its record: a
# run killed at any time repaints at most this many outputs of each worker.
JOURNAL_RECORDS = 32
JOURNAL_SECONDS = 10.0
# Images per RunInference batch: every copy is painted alone (a picture must not depend
# on what shares its batch), so a batch only bounds the pictures held in memory.
MAX_BATCH_IMAGES = 8
METRICS_NAMESPACE = "stylize_dataset"


def build_pipeline(pipeline, root, out, config, model_file, style_names, previous, run=None):
    """Adds the transforms above to `pipeline` (arguments as in `stylize_dataset`;
    `previous`: the manifest and journal files a previous run left; `run`: the run's name,
    `worker_errors.new_run`)."""
    images = (pipeline
              | "Inputs" >> beam.io.ReadFromText(str(Path(out) / jobs.INPUTS_FILE))
              | "Draws" >> beam.Map(_image_job, config, style_names, run)
              | "ByImage" >> beam.Map(lambda job: (job["input"], job)))
    finished = (pipeline
                | "Previous" >> beam.Create(previous)
                | "ReadPrevious" >> beam.io.ReadAllFromText()
                | "Records" >> beam.FlatMap(_finished_record)
                | "RecordsByImage" >> beam.Map(lambda record: (record["input"], record)))
    checked = ({"job": images, "finished": finished}
               | "Join" >> beam.CoGroupByKey()
               | "Check" >> beam.ParDo(_CheckFinished(str(out), run)).with_outputs(
                   "kept", main="todo"))
    loaded = checked.todo | "Read" >> beam.ParDo(_ReadPhoto(str(root), config.max_size, run)
                                                 ).with_outputs("failed", main="photos")
    written = (loaded.photos
               | "Paint" >> RunInference(StyleModelHandler(model_file, run))
               | "Write" >> beam.ParDo(_WriteOutputs(str(out), style_names, run)))
    _ = ((checked.kept, loaded.failed, written)
         | "AllRecords" >> beam.Flatten()
         | "Journal" >> beam.ParDo(_Journal(str(out), run)))


def _image_job(relative_path, config, style_names, run=None):
    """One image's job: its copies, each with its output, seed, weights and strength."""
    with user_errors(run):
        indices = config.style_indices(style_names)
        copies = []
        for copy in range(config.copies):
            weights, strength = jobs.draw_style(config, style_names, relative_path, copy,
                                                indices)
            copies.append({"input": relative_path, "copy": copy,
                           "seed": jobs.job_seed(config.seed, relative_path, copy),
                           "output": jobs.output_name(relative_path, copy, config.format),
                           "weights": weights, "strength": strength,
                           "preserve_color": config.preserve_color})
        return {"input": relative_path, "copies": copies}


def _finished_record(line):
    try:
        record = json.loads(line)
    except ValueError:
        return []
    return [record] if jobs.is_output_record(record) else []


def _counter(name):
    return Metrics.counter(METRICS_NAMESPACE, name)


def counters(result):
    """{name: value} of the pipeline's counters once it has run: painted, kept, failed."""
    from apache_beam.metrics.metric import MetricsFilter

    query = result.metrics().query(MetricsFilter().with_namespace(METRICS_NAMESPACE))
    return {counter.key.metric.name: counter.committed or counter.attempted or 0
            for counter in query["counters"]}


class _CheckFinished(beam.DoFn):
    """Splits an image's copies: finished ones (file with the recorded hash) are kept as
    they are; an image with any copy left goes on to be painted, with those copies."""

    def __init__(self, out, run=None):
        self.out = out
        self.run = run

    def process(self, element):
        _, grouped = element
        if not grouped["job"]:
            return
        job = grouped["job"][0]
        records = {record["copy"]: record for record in grouped["finished"]}
        left = []
        for copy in job["copies"]:
            record = records.get(copy["copy"])
            with user_errors(self.run):
                finished = jobs.is_finished(self.out, record, copy)
            if finished:
                _counter("kept").inc()
                yield beam.pvalue.TaggedOutput("kept", record)
            else:
                left.append(copy)
        if left:
            yield {**job, "copies": left}


class _ReadPhoto(beam.DoFn):
    """Reads an image's photo as `stylize` does, and its alpha channel (or None) to put back
    on its pictures; one that cannot be read is a failure."""

    def __init__(self, root, max_size, run=None):
        self.root = root
        self.max_size = max_size
        self.run = run

    def process(self, job):
        from style_transfer.base import images

        path = Path(self.root) / job["input"]
        failure = None
        with user_errors(self.run):
            try:
                photo, alpha = images.load_image_alpha(path, max_size=self.max_size)
                if min(photo.shape[:2]) < MIN_PHOTO_PX:
                    raise images.ImageReadError(
                        f"{path} is {photo.shape[1]}x{photo.shape[0]} pixels; the network "
                        f"needs at least {MIN_PHOTO_PX}x{MIN_PHOTO_PX}.")
            except images.ImageReadError as error:
                failure = str(error)
        if failure is not None:
            _counter("failed").inc()
            yield beam.pvalue.TaggedOutput("failed", {"input": job["input"], "error": failure})
            return
        yield {**job, "photo": photo, "alpha": alpha}


class StyleModelHandler(ModelHandler):
    """Beam's RunInference handler of the style network: loaded once per worker; each
    copy of each image painted alone, as `style-transfer stylize` paints it.

    Args:
        model_file: The model's `.keras` file.
        run: The run's name (`worker_errors.new_run`).
    """

    def __init__(self, model_file, run=None):
        super().__init__(min_batch_size=1, max_batch_size=MAX_BATCH_IMAGES)
        self.model_file = model_file
        self.run = run

    def load_model(self):
        from style_transfer.models.loading import load_style_model

        with user_errors(self.run):
            return load_style_model(self.model_file)

    def run_inference(self, batch, model, inference_args=None):
        from style_transfer.painting.stylize import stylize_many

        results = []
        for job in batch:
            pictures = []
            for copy in job["copies"]:
                with user_errors(self.run):
                    pictures.append(stylize_many(model, job["photo"], [copy["weights"]],
                                                 strength=copy["strength"],
                                                 preserve_color=copy["preserve_color"])[0])
                _counter("painted").inc()
            results.append({**job, "pictures": pictures})
        return results

    def get_num_bytes(self, batch):
        return sum(job["photo"].nbytes for job in batch)

    def get_metrics_namespace(self):
        return METRICS_NAMESPACE


class _WriteOutputs(beam.DoFn):
    """Writes each picture atomically and returns its manifest record."""

    def __init__(self, out, style_names, run=None):
        self.out = out
        self.style_names = style_names
        self.run = run

    def process(self, job):
        from style_transfer.base import images
        from style_transfer.base.files import file_sha256

        for copy, picture in zip(job["copies"], job["pictures"]):
            with user_errors(self.run):
                if not np.all(np.isfinite(picture)):
                    raise BadInput("the model painted NaN or infinite pixels: its weights "
                                   "overflow; use an earlier checkpoint or train again.")
                target = Path(self.out) / copy["output"]
                images.save_image(picture, target, overwrite=True, alpha=job.get("alpha"))
                sha256 = file_sha256(target)
            height, width = picture.shape[:2]
            yield {"input": copy["input"], "copy": copy["copy"], "output": copy["output"],
                   "seed": copy["seed"], "strength": copy["strength"],
                   "style_weights": jobs.weights_record(copy["weights"], self.style_names),
                   "preserve_color": copy["preserve_color"], "size": [width, height],
                   "sha256": sha256}


class _Journal(beam.DoFn):
    """Writes records to the journal in small files, every `JOURNAL_RECORDS` records or
    `JOURNAL_SECONDS`, and at the end of each bundle. A file is named by the hash of its
    records, so that a retried bundle writes the same file again, not a second one."""

    def __init__(self, out, run=None):
        self.out = out
        self.run = run

    def start_bundle(self):
        self.records = []
        self.since = time.monotonic()

    def process(self, record):
        self.records.append(record)
        if (len(self.records) >= JOURNAL_RECORDS
                or time.monotonic() - self.since >= JOURNAL_SECONDS):
            self._flush()

    def finish_bundle(self):
        self._flush()

    def _flush(self):
        if self.records:
            text = "".join(json.dumps(record, sort_keys=True) for record in self.records)
            with user_errors(self.run):
                jobs.write_journal(self.out, self.records,
                                   hashlib.sha256(text.encode()).hexdigest()[:24])
        self.records = []
        self.since = time.monotonic()
