"""luacoder data stage: converters from API docs, dialogues and Lua code to training sets.

The converters register through ``luacoder_data.plugin`` and run as
``luacoder data convert NAME INPUT... -o OUTPUT``. Importing this package is cheap: datasets,
pandas and datasketch are imported inside the functions that need them.
"""

__version__ = "0.1.0"
