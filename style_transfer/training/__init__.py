"""Training: the settings, the data, the loss, and the run that owns a folder.

    config        TrainConfig, AddStyleConfig, ArbitraryConfig, LossConfig
    data          the content photos: an endless, seeded, resumable stream of crops
    losses        the perceptual loss (VGG; Gatys et al., Johnson et al.)
    step          one training step
    run           a run folder: lock, checkpoints, exact resume, signals
    logs          history.csv, TensorBoard, the progress bar
    distribution  tf.distribute strategies and mixed precision
    multi_style   `train`: one network, many styles
    arbitrary     `train-arbitrary`: a style encoder and the network together
    add_style     `add-style`: new styles by training only their gamma/beta
"""
