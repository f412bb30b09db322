"""The models: the style network, the arbitrary-style model, and how they are loaded,
saved, converted from other implementations and exported.

    network     StyleTransferNetwork (Dumoulin et al. 2017) and its blocks
    arbitrary   ArbitraryStyleModel (Ghiasi et al. 2017): style encoder -> embedding
    hub         HubModule: a TF Hub model inside a Keras 3 model
    loading     load_model: the one loader (a pretrained name or a .keras file)
    saving      .keras files: atomic saving, untrusted reading within bounds
    limits      the bounds of every size a model file can set
    style_names the rules of a style's name; choosing a style by name or index
    editing     removing, renaming and copying rows of a table of styles
    pretrained  the registry of pretrained networks and their cache
    importers   Magenta's checkpoints and ONNX files, mapped by name
    export      SavedModel, ONNX and TFLite exports, each verified in its runtime
    portable    the network as plain TensorFlow ops, for the converters
    runtimes    painting on onnxruntime or LiteRT: conversion, cache, runners
    magenta_hub Magenta's published arbitrary-style TF Hub model, for comparison
"""
