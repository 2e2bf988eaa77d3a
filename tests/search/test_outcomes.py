"""Search outcome totals (pure)."""
import pandas as pd


def test_a_shared_sequential_source_phase_is_counted_once_per_table():
    from raytp.search.outcomes import total_example_epochs
    rows = pd.DataFrame({
        "source": ["a", "a", "a", "b"], "target": ["x", "y", "y", "x"],
        "hp_mode": ["sequential", "sequential", "sequential", "multitask"], "hp_lr": [0.01, 0.01, 0.003, 0.01],
        "hp_epochs": [8, 8, 8, 8], "hp_hidden": [None, None, None, None],
        "example_epochs": [1000 + 90, 1000 + 80, 700 + 60, 500], "source_example_epochs": [1000, 1000, 700, 0]})
    # a>x and a>y share one phase (same source, lr, epochs, hidden); lr 0.003 is another phase
    assert total_example_epochs(rows) == 1000 + 700 + 90 + 80 + 60 + 500
    assert total_example_epochs(rows.drop(columns="source_example_epochs")) == int(rows["example_epochs"].sum())
    assert total_example_epochs(rows.drop(columns="example_epochs")) is None
