"""The notebooks run top to bottom without errors (nbclient, a fresh kernel each, in a temporary
folder), each within its time limit, and are committed without outputs."""
import json
import shutil
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("matplotlib")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
LIMIT_S = 120          # each notebook under two minutes on a 2-core machine


def test_the_eight_notebooks_are_there():
    assert [p.name for p in NOTEBOOKS] == ["01_quickstart.ipynb", "02_ensemble_sweep.ipynb",
                                           "03_scaling.ipynb", "04_models.ipynb",
                                           "05_inputs.ipynb", "06_information.ipynb",
                                           "07_spike_timing.ipynb", "08_yinyang.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_stripped(path):
    book = json.loads(path.read_text())
    for cell in book["cells"]:
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [] and cell.get("execution_count") is None, (
                f"{path.name}: commit notebooks without outputs")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path):
    # run from a copy of the notebooks folder, so files it writes stay in tmp_path and
    # "../README.md" and "../examples" resolve as they do in the repository
    work = tmp_path / "notebooks"
    work.mkdir()
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    shutil.copytree(ROOT / "examples", tmp_path / "examples")     # the training showcases
    book = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(book, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(work)}})
    started = time.perf_counter()
    client.execute()
    took = time.perf_counter() - started
    print(f"{path.name}: {took:.1f} s")
    errors = [out for cell in book.cells if cell.cell_type == "code"
              for out in cell.get("outputs", []) if out.get("output_type") == "error"]
    assert not errors
    assert took < LIMIT_S, f"{path.name} took {took:.0f} s, more than {LIMIT_S} s"
