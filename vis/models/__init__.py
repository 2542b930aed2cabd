from .cosine_embed_head import CosineRoIEmbedHead
from .embedding_memory_tracker import (EmbeddingMemory,
                                       EmbeddingMemoryTracker, greedy_assign)
from .temporal_masktrack_rcnn import FeatureMemory, TemporalMaskTrackRCNN
from .temporal_roi_extractor import (TemporalRoIExtractor,
                                     temporal_extractors, temporal_support)

__all__ = [
    'CosineRoIEmbedHead', 'EmbeddingMemory', 'EmbeddingMemoryTracker',
    'FeatureMemory', 'TemporalMaskTrackRCNN', 'TemporalRoIExtractor',
    'greedy_assign', 'temporal_extractors', 'temporal_support'
]
