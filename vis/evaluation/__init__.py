from .boundary_eval import (BOUNDARY_PER_CLASS_STAT_NAMES,
                            BOUNDARY_STAT_NAMES, BoundaryAPEvaluator,
                            evaluate_boundary_ap)
from .frame_eval import (FRAME_PER_CLASS_STAT_NAMES, FRAME_STAT_NAMES,
                         evaluate_frames)
from .metrics import (METRICS, EvaluationReport, check_metric_names,
                      evaluate_report, evaluate_results, format_metrics_table,
                      format_per_class_table)
from .ytvis_eval import STAT_NAMES, evaluate_ytvis, format_stats_table
from .ytvis_metric import YouTubeVISVideoMetric

__all__ = [
    'STAT_NAMES', 'evaluate_ytvis', 'format_stats_table',
    'YouTubeVISVideoMetric', 'METRICS', 'EvaluationReport',
    'check_metric_names', 'evaluate_report', 'evaluate_results',
    'format_metrics_table', 'format_per_class_table', 'FRAME_STAT_NAMES',
    'FRAME_PER_CLASS_STAT_NAMES', 'evaluate_frames', 'BOUNDARY_STAT_NAMES',
    'BOUNDARY_PER_CLASS_STAT_NAMES', 'BoundaryAPEvaluator',
    'evaluate_boundary_ap'
]
