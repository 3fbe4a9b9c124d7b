import numpy as np
from conftest import specimen

from hkid_ocr.rectify import warp_quad


def test_probability_normalises_as_the_detector_was_trained(recognizer):
    """The map comes from the ImageNet-normalised, planar image: the same numbers as the
    plain recipe (convert, scale, normalise, transpose) handed to the model directly."""
    detector = recognizer._detector
    img = specimen("specimen_2003.jpg")
    h, w = img.shape[:2]
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    cards = [warp_quad(img, corners, 256, 160), warp_quad(img[::-1, ::-1], corners, 256, 160)]
    x = np.stack(cards).astype(np.float32) / np.float32(255.0)
    x = (x - np.array([0.485, 0.456, 0.406], np.float32)) / np.array([0.229, 0.224, 0.225], np.float32)
    want = detector._model.run(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    got = detector.probability(cards)
    assert len(got) == 2 and got[0].shape == (160, 256) and got[0].dtype == np.float32
    for k in range(2):
        np.testing.assert_allclose(got[k], want[k, 0], atol=1e-5)
    # Text is found: the card's print covers part of the map, not none or all of it.
    share = float((got[0] > 0.3).mean())
    assert 0.03 < share < 0.6
    # One map in a batch is the same as the map alone.
    assert np.array_equal(detector.probability(cards[:1])[0], got[0])
