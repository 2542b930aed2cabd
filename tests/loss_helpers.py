"""Shared by the model tests (test_model.py, test_temporal_model.py):
losses of one training batch under relabelled ground truth."""
import torch
from mmengine.dataset import pseudo_collate


def relabelled(data, label):
    """``data`` (a preprocessed batch) with every ground-truth label of its
    key and reference frames set to ``label``; the labels it had."""
    before = []
    for track_sample in data['data_samples']:
        for frame in (track_sample.get_key_frames()[0],
                      track_sample.get_ref_frames()[0]):
            before.append(frame.gt_instances.labels.clone())
            frame.gt_instances.labels = torch.full_like(
                frame.gt_instances.labels, label)
    return before


def seeded_losses(model, data):
    torch.manual_seed(7)  # the same RPN and RoI samples every call
    return model.loss(**data)


def rpn_class_independence(model, dataset):
    """Losses of the same batch with its own labels and with every label 0
    (the RPN's one class); the labels it had."""
    batch = pseudo_collate([dataset[(0, 0)], dataset[(1, 1)]])
    model.train()
    data = model.data_preprocessor(batch, training=True)
    own = seeded_losses(model, data)
    labels = relabelled(data, 0)
    return own, seeded_losses(model, data), torch.cat(labels)
