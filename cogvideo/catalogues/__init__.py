"""Catalogues read from presets/: styles, I2V templates, and the shared reader of those JSON lists."""
