"""The base every other part stands on; nothing here knows about style networks.

    errors     BadInput (one-line user errors), warnings
    files      atomic writes, inputs never overwritten, OS errors in words
    images     reading photos (any mode, EXIF, bounded), saving pictures, sample photos
    settings   dataclass fields that are also command-line options; value checks
    json_text  JSON from untrusted text: one-line errors, bounded nesting
    extras     the optional parts (extras) and how to install one
    downloads  downloading files with errors that say what went wrong
"""
