#!/usr/bin/env bash
# The wheels a lent GPU machine may lack (it has no internet), downloaded here into bench/wheels/
# and carried with the device run (`carry: ["bench/wheels"]`, 64 MiB in all): bench/device_kit.py
# installs them offline. Pure-Python wheels only; torch is the machine's own.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p wheels
python -m pip download -q --no-deps -d wheels \
  "$(python -m pip freeze | grep -i '^diffusers==')" \
  "$(python -m pip freeze | grep -i '^peft==')" \
  "$(python -m pip freeze | grep -i '^torchao==' || echo torchao)" \
  sageattention==1.0.6
du -sh wheels
