"""The pruned-vs-full comparison (pure, no Ray): report.json, report.md, plots, terminal tables."""

from raytp.report.comparison import compare, pair_truth, plot_report, report_markdown, selected_f1
from raytp.report.run import compare_run, pruned_side_trials

__all__ = ["compare", "compare_run", "pair_truth", "plot_report", "pruned_side_trials", "report_markdown",
           "selected_f1"]
