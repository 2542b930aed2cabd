from .assignment_tracker import AssignmentTracker
from .channels_last_roi_extractor import ChannelsLastRoIExtractor
from .cosine_embed_head import CosineRoIEmbedHead
from .detector_init import (DetectorCheckpointInit, LoadReport,
                            check_state_fits, is_plain_detector_state,
                            map_detector_state, match_source_classes,
                            split_detector_state, strip_module_prefix)
from .tracked_detector import (TrackedDetector, prefix_plain_detector_keys,
                               shared_fc_features)
from .embedding_memory_tracker import (EmbeddingMemory,
                                       EmbeddingMemoryTracker, greedy_assign)
from .fast_mask_head import RLEFCNMaskHead
from .online_masktrack_rcnn import OnlineMaskTrackRCNN
from .point_rend_roi_head import RLEPointRendRoIHead
from .region_refine_roi_head import (RLERegionRefineRoIHead,
                                     own_class_logits, refine_frames,
                                     region_refine_heads)
from .region_refiner import RegionRefineHead
from .rle_coarse_mask_head import RLECoarseMaskHead
from .temporal_masktrack_rcnn import FeatureMemory, TemporalMaskTrackRCNN
from .temporal_roi_extractor import (TemporalRoIExtractor,
                                     temporal_extractors, temporal_support)

__all__ = [
    'AssignmentTracker', 'ChannelsLastRoIExtractor', 'CosineRoIEmbedHead',
    'DetectorCheckpointInit', 'TrackedDetector', 'EmbeddingMemory',
    'LoadReport', 'check_state_fits', 'is_plain_detector_state',
    'map_detector_state', 'match_source_classes',
    'prefix_plain_detector_keys', 'split_detector_state',
    'strip_module_prefix',
    'EmbeddingMemoryTracker',
    'FeatureMemory', 'OnlineMaskTrackRCNN', 'RLECoarseMaskHead',
    'RLEFCNMaskHead', 'RLEPointRendRoIHead', 'RLERegionRefineRoIHead',
    'RegionRefineHead',
    'TemporalMaskTrackRCNN', 'TemporalRoIExtractor',
    'greedy_assign', 'own_class_logits', 'refine_frames',
    'region_refine_heads', 'shared_fc_features', 'temporal_extractors',
    'temporal_support'
]
