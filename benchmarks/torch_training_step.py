"""The reference for training speed: pytorch/examples' fast_neural_style training step.

Written as in
https://github.com/pytorch/examples/blob/main/fast_neural_style/neural_style/neural_style.py
(`train`) and `vgg.py`: the `TransformerNet` of `benchmarks/torch_transformer_net.py`,
VGG-16 features up to relu4_3 (max pooling) with frozen weights, inputs in 0..255
normalized with the ImageNet mean and std, content = 1e5 x MSE at relu2_2, style =
1e10 x sum of MSE between Gram matrices / (C H W) at relu1_2, relu2_2, relu3_3 and
relu4_3, Adam 1e-3. The VGG weights are random (seeded): torchvision and its ImageNet
weights are not needed, and speed does not depend on the values. Only used by
`benchmarks/bench_training.py`.
"""

import torch

from benchmarks.torch_transformer_net import TransformerNet

# torchvision's vgg16().features up to relu4_3: channels per conv, "M" for max pooling.
VGG16_TO_RELU4_3 = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512)
# The index in that Sequential after which pytorch/examples' Vgg16 returns each relu.
SLICE_ENDS = (4, 9, 16, 23)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class Vgg16(torch.nn.Module):
    """VGG-16 features: relu1_2, relu2_2, relu3_3 and relu4_3 (pytorch/examples vgg.py)."""

    def __init__(self):
        super().__init__()
        layers, in_channels = [], 3
        for item in VGG16_TO_RELU4_3:
            if item == "M":
                layers.append(torch.nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                conv = torch.nn.Conv2d(in_channels, item, kernel_size=3, padding=1)
                # torchvision's initialization of VGG convolutions.
                torch.nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
                torch.nn.init.zeros_(conv.bias)
                layers += [conv, torch.nn.ReLU(inplace=True)]
                in_channels = item
        starts = (0,) + SLICE_ENDS[:-1]
        self.slices = torch.nn.ModuleList(
            torch.nn.Sequential(*layers[start:end]) for start, end in zip(starts, SLICE_ENDS)
        )
        for parameter in self.parameters():
            parameter.requires_grad = False

    def forward(self, x):
        outputs = []
        for block in self.slices:
            x = block(x)
            outputs.append(x)
        return outputs


def gram_matrix(y):
    """Gram matrices (B, C, C) divided by C H W, as in pytorch/examples utils.py."""
    batch, channels, height, width = y.size()
    features = y.view(batch, channels, width * height)
    return features.bmm(features.transpose(1, 2)) / (channels * height * width)


def normalize_batch(batch):
    """0..255 images -> ImageNet-normalized, as in pytorch/examples utils.py."""
    mean = batch.new_tensor(IMAGENET_MEAN).view(-1, 1, 1)
    std = batch.new_tensor(IMAGENET_STD).view(-1, 1, 1)
    return (batch / 255.0 - mean) / std


class TorchTrainingStep:
    """One pytorch/examples training step; `step(content)` returns the total loss (a float).

    Args:
        style_image: The style, a float array (H, W, 3) in [0, 1].
        batch_size: Samples per step.
        seed: Fixes the transformer's and VGG's random weights.

    Call arguments:
        content: A float tensor (batch, 3, H, W) in 0..255.
    """

    def __init__(self, style_image, batch_size, seed=0, content_weight=1e5, style_weight=1e10,
                 learning_rate=1e-3):
        torch.manual_seed(seed)
        self.transformer = TransformerNet()
        self.optimizer = torch.optim.Adam(self.transformer.parameters(), learning_rate)
        self.vgg = Vgg16()
        self.content_weight = content_weight
        self.style_weight = style_weight
        style = torch.from_numpy(style_image).permute(2, 0, 1)[None].float() * 255.0
        style = style.repeat(batch_size, 1, 1, 1)
        with torch.no_grad():
            self.gram_style = [gram_matrix(y) for y in self.vgg(normalize_batch(style))]

    def __call__(self, content):
        n_batch = len(content)
        self.optimizer.zero_grad()
        y = self.transformer(content)
        y = normalize_batch(y)
        x = normalize_batch(content)
        features_y = self.vgg(y)
        features_x = self.vgg(x)
        content_loss = self.content_weight * torch.nn.functional.mse_loss(
            features_y[1], features_x[1])
        style_loss = 0.0
        for ft_y, gm_s in zip(features_y, self.gram_style):
            style_loss += torch.nn.functional.mse_loss(gram_matrix(ft_y), gm_s[:n_batch])
        total_loss = content_loss + self.style_weight * style_loss
        total_loss.backward()
        self.optimizer.step()
        return float(total_loss.item())
