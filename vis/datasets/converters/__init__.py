"""Format readers that turn other annotation formats into YouTube-VIS.

Each reader returns a *conversion* of plain dicts (see
:mod:`vis.datasets.converters.writer`); :func:`write_conversion` writes it
as a YouTube-VIS 2019 data root. The command lines are
``tools/dataset_converters/{labelme,png,coco}2ytvis.py``.
"""
from .writer import (ConversionError, assign_categories, build_split,
                     format_summary, mask_to_rle, natural_key,
                     parse_category_names, split_videos, write_conversion)

__all__ = [
    'ConversionError', 'assign_categories', 'build_split', 'format_summary',
    'mask_to_rle', 'natural_key', 'parse_category_names', 'split_videos',
    'write_conversion'
]
