"""scripts/gpu_report.py at toy sizes on the CPU, so the GPU report never rots: every
measurement runs, and every device-vs-CPU check passes (here the CPU against itself)."""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "scripts"))


@pytest.mark.slow  # compiles the flux, temperature, transmittance and Langevin programs
def test_gpu_report_runs_at_toy_sizes(tmp_path):
    import gpu_report

    rows = gpu_report.main(["--toy", "--budget", "10", "--json", str(tmp_path / "r.json")])
    names = [r["measurement"] for r in rows]
    assert names[0] == "T(omega)" and "Langevin" in names and "Langevin vs CPU" in names
    assert any(n.startswith("T_n") for n in names) and any(n.startswith("J ensemble") for n in names)
    checks = [r["check"] for r in rows if "check" in r]
    assert "FPUT mean field" in names and "FPUT power law" in names and "FPUT vs CPU" in names
    assert len(checks) == 5 and all(c == "PASS" for c in checks), rows
    assert all(r.get("converged", True) for r in rows)
    assert (tmp_path / "r.json").stat().st_size > 0
