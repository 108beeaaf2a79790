"""Media: pictures decoded in and MP4s encoded out (codec.py), uploaded clips, music, GIF, upscaling
and interpolation, colorizing old photos, and the files offered for download. It may use the
engine's weight loading; the engine never imports media."""
