"""The photo options that `stylize` and `video` share: --strength and --preserve-color.

They map onto `style_transfer.painting.photo_options` (and, for arbitrary-style models,
the embedding interpolation of `arbitrary.conditioning_embedding`).
"""

from style_transfer.cli.options import number_between


def add_options(parser):
    group = parser.add_argument_group("photo options")
    group.add_argument("--strength", type=number_between(0.0, 1.0), default=1.0, metavar="S",
                       help="how much of the style, from the photo (0) to the full style (1): "
                       "a model with a table of styles mixes the painting with the photo; an "
                       "arbitrary-style model moves its style embedding toward the photo's own")
    group.add_argument("--preserve-color", action="store_true",
                       help="keep the photo's colours and take only the luminance from the "
                       "painting (Gatys et al. 2016)")
