"""`style-transfer`: the command line, a thin layer over the Python API.

    main          the parser, the command registry's lazy loading, exit codes
    commands/     one module per command
    options       options generated from the settings dataclasses; strict numbers
    photo_files   the photos a command reads and the pictures it writes
    library_logs  keeping TensorFlow's log lines off the terminal
    quiet_worker  the same in Apache Beam's worker processes (imported there first)
"""
