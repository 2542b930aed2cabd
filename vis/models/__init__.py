from .cosine_embed_head import CosineRoIEmbedHead
from .embedding_memory_tracker import (EmbeddingMemory,
                                       EmbeddingMemoryTracker, greedy_assign)

__all__ = [
    'CosineRoIEmbedHead', 'EmbeddingMemory', 'EmbeddingMemoryTracker',
    'greedy_assign'
]
