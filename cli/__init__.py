"""The command line, a face like ui/ and api/: `generate` and the model commands (`main.py`), and
the operator's commands on a data folder (`operator.py`: users, jobs, keys, workers).

`python -m cogvideo ...` is the command (cogvideo/__main__.py hands over to `main`).
"""
