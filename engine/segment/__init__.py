"""Semantic segmentation: a small U-Net that gives every pixel a class (issue 15).

    unet.py         the network (GroupNorm, optional stride-2 stem)
    data.py         class maps from a COCO instances file; the train/val split
    review_source.py  class maps from the masks accepted in the review store
    augment.py      random crops and whole-image tensors
    train.py        the training run (one epoch = engine.train.loop.train_one_epoch)
    metrics.py      IoU from a confusion matrix
    model_file.py   the one-file model format (weights_only loading)
    predict.py      Segmenter: image -> class map at the original size; the overlay
    timing.py       figures for `sightline bench`
"""
