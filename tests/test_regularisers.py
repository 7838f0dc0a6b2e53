"""The regularisers of an optimised image: Lucid's diversity measure, written out as Lucent has it."""

import torch

from explorer import regularisers


def _lucents_diversity(features: torch.Tensor) -> torch.Tensor:
    """Lucent 0.1.8's ``objectives.diversity``, written out: its negative (Lucent minimises), so the likeness."""
    batch, channels = features.shape[:2]
    flattened = features.view(batch, channels, -1)
    grams = torch.nn.functional.normalize(torch.matmul(flattened, flattened.transpose(1, 2)), p=2, dim=(1, 2))
    return sum(sum((grams[i] * grams[j]).sum() for j in range(batch) if j != i) for i in range(batch)) / batch


def test_likeness_is_lucids_diversity_measure():
    features = torch.randn(4, 6, 5, 5, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(regularisers.likeness(features), _lucents_diversity(features))
    assert abs(float(regularisers.likeness(features[:1].expand(3, -1, -1, -1))) - 2.0) < 1e-5  # identical: N - 1
