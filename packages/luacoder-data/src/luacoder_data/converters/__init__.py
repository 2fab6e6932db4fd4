"""The built-in converters, one module each (registered by :mod:`luacoder_data.plugin`)."""
