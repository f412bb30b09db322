"""`style-transfer stylize-dataset`: a whole dataset in drawn styles, on Apache Beam, resumable.

    style-transfer stylize-dataset photos/ --out stylized/ --copies 2 --seed 0
    style-transfer stylize-dataset photos/ --out stylized/ --style 3 --style 19 --strength 0.5,1
    style-transfer stylize-dataset files.txt --out stylized/ --concentration 0.3
    style-transfer stylize-dataset /nfs/train --out /nfs/stylized -- --runner=FlinkRunner ...

A thin layer over `style_transfer.datasets`: the options are `DatasetConfig`'s
fields; the arguments after `--` are Apache Beam's pipeline options (default: the
DirectRunner on this machine). Started again on the same --out with the same
settings, it paints only what a killed run left unfinished. A bad image is listed in
OUT/failed.jsonl and the exit code is 1; any other problem stops the run (exit 2).
"""

import argparse
import sys

from style_transfer.base.errors import BadInput
from style_transfer.cli.options import add_config_options, config_from_args
from style_transfer.cli.progress import ProgressBar, watched
from style_transfer.datasets.config import DatasetConfig

EXIT_SOME_FILES_FAILED = 1
PROGRAM = "style-transfer stylize-dataset"
# Imported first by Beam's worker processes (`--beam_plugins`) of a run without --verbose.
QUIET_WORKER_MODULE = "style_transfer.cli.quiet_worker"


def register(subparsers):
    parser = subparsers.add_parser(
        "stylize-dataset", description=__doc__.split("\n\n")[0],
        epilog="Arguments after -- go to Apache Beam, e.g. -- --runner=FlinkRunner "
        "--flink_master=HOST:8081 (docs/augmentation.md).")
    parser.add_argument("input", metavar="INPUT",
                        help="a folder of images (its tree is kept under --out), or a text "
                        "file listing image files relative to its folder")
    parser.add_argument("--out", required=True, metavar="OUT_DIR",
                        help="the output folder: the same tree, manifest.jsonl, and failed.jsonl "
                        "when an image could not be read")
    parser.add_argument("--quiet", action="store_true",
                        help="print nothing but errors (no progress bar)")
    parser.add_argument("--json", action="store_true",
                        help="print the summary as one JSON record")
    parser.add_argument("pipeline_args", nargs="*", metavar="-- BEAM_OPTIONS",
                        help=argparse.SUPPRESS)
    add_config_options(parser, DatasetConfig)
    parser.set_defaults(run=run, needs_tensorflow=True)  # `cli.keras_backend`
    parser.pass_through = "pipeline_args"  # the arguments after --, wherever INPUT is


def run(args):
    import contextlib
    import json

    from style_transfer.datasets.run import local_worker_processes, stylize_dataset

    config = config_from_args(DatasetConfig, args)
    if any(not argument.startswith("--") for argument in args.pipeline_args):
        raise BadInput(f"one INPUT at a time; Apache Beam's options go after -- and start with "
                       f"-- (received {' '.join(args.pipeline_args)}).")
    pipeline_args = args.pipeline_args
    quiet_workers = contextlib.nullcontext()
    if not args.verbose and local_worker_processes(pipeline_args):
        # Beam's worker processes write to the terminal themselves: they quiet their
        # libraries as this process does, and what comes before is filtered.
        from style_transfer.cli import library_logs

        pipeline_args = [*pipeline_args, f"--beam_plugins={QUIET_WORKER_MODULE}"]
        quiet_workers = library_logs.worker_processes_quiet(PROGRAM)
    progress = None if args.quiet or args.json or not watched() else ProgressBar("copy")
    with quiet_workers:
        summary = stylize_dataset(args.input, args.out, config, pipeline_args=pipeline_args,
                                  progress=progress)
    if progress is not None:
        progress.close()
    for failure in summary["failed"]:
        print(f"style-transfer stylize-dataset: {failure['input']}: {failure['error']}",
              file=sys.stderr)
    if args.json:
        print(json.dumps({**summary, "failed": len(summary["failed"])}))
    elif not args.quiet:
        print(f"{args.out}: {summary['outputs']} outputs ({summary['painted']} painted now, "
              f"{summary['kept']} already finished), {len(summary['failed'])} images failed; "
              f"manifest.jsonl lists them.")
    return EXIT_SOME_FILES_FAILED if summary["failed"] else 0
