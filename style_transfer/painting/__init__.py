"""Painting photos and video frames with a trained model.

    conditions     what a user asks for (styles, blends, masks) as network weights
    stylize        running the network on photos: batches, composite blends, painters
    tiling         large photos layer by layer in tiles, with the whole picture's statistics
    arbitrary_styles  painting in the style of any image (arbitrary-style models)
    photo_options  strength and colour preservation
    figures        interpolation grids, contact sheets
    video          video files and cameras: frames in, painted frames out, sound kept
    stabilize      optical-flow stabilization and the flicker metrics
    lookahead      still pixels held steady knowing the frames ahead (--stabilize lookahead)
"""
