"""`bench/device_kit.py --tiny` runs end to end on the CPU, so a lent GPU never finds it broken."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_device_kit_runs_every_section_on_the_tiny_models(tmp_path):
    results = tmp_path / "results.md"
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "device_kit.py"), "--tiny", "--budget", "1800",
                           "--results", str(results)], capture_output=True, text=True, timeout=1200, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    table = results.read_text()
    assert "## bench/device_kit.py" in table and "CPU (tiny models" in table
    for section in ("memory", "wan", "presets", "attention", "sizes", "caps", "extras"):
        assert f"| {section} |" in table, section
    assert "| wan | wan2.2-5b offload sequential |" in table  # on the tiny Wan
    assert "| wan | wan2.1-1.3b with a LoRA | adapters wan_lora;" in table
    assert "| memory | 1.5-5b-i2v offload sequential |" in table
    assert "| presets | 5b lean |" in table and "| caps | 12 GiB card, 5b fast |" in table
    assert "| attention | native through the dispatcher | same output" in table
    assert "| attention | sage 1.x, called directly | not run: needs an NVIDIA GPU |" in table
    assert "| extras | tiny with a LoRA | adapters random_lora;" in table
    assert "a tiny job succeeded on" in table  # through a real Ray worker
    assert "failed" not in table and "skipped" not in table


def test_a_short_budget_skips_with_a_row_that_says_so(tmp_path):
    results = tmp_path / "results.md"
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "device_kit.py"), "--tiny", "--budget", "0",
                           "--only", "sizes", "--results", str(results)], capture_output=True, text=True,
                          timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert results.read_text().count("skipped: not enough device time left") == 4
