"""Whole datasets stylized on Apache Beam: `style-transfer stylize-dataset`.

    config     DatasetConfig: the settings, and the options of the command
    jobs       which images, which copies, each one's style drawn from (seed, path, copy);
               the manifest: its records, the journal a killed run leaves, resuming
    pipeline   the Beam pipeline (RunInference with the style network), run on the
               DirectRunner here and on Dataflow, Flink or Spark on a cluster
    worker_errors  a worker's one-line error (a BadInput), carried across Beam to the
                   command that started the run

Light at import: Beam and TensorFlow are imported by the functions that run.
"""
