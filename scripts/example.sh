#!/usr/bin/env bash
# Installs accperf into ./.venv, lowers ResNet-50 onto the default 32x32 weight-stationary
# systolic array and prints the per-layer report.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e .
trace=$(.venv/bin/accperf-trace lower --accelerator systolic --model resnet50 -o traces/)
.venv/bin/accperf-trace analyze "$trace"
