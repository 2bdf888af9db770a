"""The ``stagekeeper`` command line: a thin layer over ``stagekeeper.service``."""
