"""The subcommands of `style-transfer`: each name, the module that implements it, its summary.

The command line imports a command's module only when that command is given
(`style_transfer.cli.main.build_parser`), and `style-transfer --help` shows the
summaries below without importing any. A command module therefore imports
nothing heavy at module level (no TensorFlow, Keras, matplotlib, nor a module
of this package that imports them) and provides:

- `register(subparsers)`: adds its command's parser (several, for a module that
  implements several commands) with every option, its help and its default,
  and sets `run=<function(args) -> exit code>` as the parser's default;
- the `run` function, which imports what it needs.
"""

COMMANDS = {
    "demo": ("style_transfer.cli.commands.demo",
             "paint photos in pretrained styles and blends in seconds, or (--train) train a "
             "small model first"),
    "stylize": ("style_transfer.cli.commands.stylize",
                "paint photos in a trained model's styles, blends or spatial blends"),
    "stylize-dataset": ("style_transfer.cli.commands.stylize_dataset",
                        "paint a whole dataset, N copies per image in drawn styles, on Apache "
                        "Beam (resumable, with a manifest)"),
    "video": ("style_transfer.cli.commands.video",
              "paint a video file or a camera in a style, with flicker stabilization"),
    "serve": ("style_transfer.cli.commands.serve",
              "a local web page to paint photos: blend styles with sliders, paint regions"),
    "pretrained": ("style_transfer.cli.commands.pretrained",
                   "list the pretrained style networks, or write one to a .keras file"),
    "train": ("style_transfer.cli.commands.train",
              "train a multi-style network on a folder of photos and a few style images"),
    "train-arbitrary": ("style_transfer.cli.commands.train_arbitrary",
                        "train a model that stylizes with any style image (style encoder + "
                        "embedding)"),
    "export": ("style_transfer.cli.commands.export",
               "export a style model as a SavedModel, an ONNX or a TFLite file"),
    "add-style": ("style_transfer.cli.commands.add_style",
                  "add styles to a trained model, training only their gamma/beta"),
    "remove-style": ("style_transfer.cli.commands.edit_styles",
                     "drop a style from a trained model (the others stay bit-identical)"),
    "rename-style": ("style_transfer.cli.commands.edit_styles", "rename a style of a trained model"),
}
