"""What an executed solution notebook must show, wherever it was run (nbclient or nbgrader)."""

from autograder.notebook.manual import is_manual


def notebook_errors(nb):
    return [
        (cell.metadata.get("nbgrader", {}).get("grade_id", i), out)
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        for out in cell.outputs
        if out.output_type == "error"
    ]


def check_solution_outputs(nb):
    """No error; every autograded test cell printed "Public tests passed." and no stderr;
    the attention heatmaps rendered (a PNG output). Manual cells must only have run."""
    assert notebook_errors(nb) == []
    for cell in nb.cells:
        if is_manual(cell):  # a person grades it: it must run, and it prints no public tests
            continue
        if cell.metadata.get("nbgrader", {}).get("grade"):
            streams = [o for o in cell.outputs if o.output_type == "stream"]
            assert not [o for o in streams if o.name == "stderr"], cell.metadata.nbgrader.grade_id
            if not cell.metadata.nbgrader.grade_id.startswith("test_answer_"):
                assert any("Public tests passed." in o.text for o in streams)
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if "data" in o]
    assert any("image/png" in o.data for o in images), "the attention heatmaps must render"
