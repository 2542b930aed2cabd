from .ytvis_eval import STAT_NAMES, evaluate_ytvis, format_stats_table
from .ytvis_metric import YouTubeVISVideoMetric

__all__ = [
    'STAT_NAMES', 'evaluate_ytvis', 'format_stats_table',
    'YouTubeVISVideoMetric'
]
