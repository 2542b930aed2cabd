from .channels_last_roi_extractor import ChannelsLastRoIExtractor
from .cosine_embed_head import CosineRoIEmbedHead
from .embedding_memory_tracker import (EmbeddingMemory,
                                       EmbeddingMemoryTracker, greedy_assign)
from .fast_mask_head import RLEFCNMaskHead
from .online_masktrack_rcnn import OnlineMaskTrackRCNN
from .temporal_masktrack_rcnn import FeatureMemory, TemporalMaskTrackRCNN
from .temporal_roi_extractor import (TemporalRoIExtractor,
                                     temporal_extractors, temporal_support)

__all__ = [
    'ChannelsLastRoIExtractor', 'CosineRoIEmbedHead', 'EmbeddingMemory',
    'EmbeddingMemoryTracker',
    'FeatureMemory', 'OnlineMaskTrackRCNN', 'RLEFCNMaskHead',
    'TemporalMaskTrackRCNN', 'TemporalRoIExtractor',
    'greedy_assign', 'temporal_extractors', 'temporal_support'
]
