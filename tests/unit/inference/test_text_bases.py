"""How the fused model groups its text inputs and which reading of a post's texts a task answers from."""
from __future__ import annotations

import numpy as np

from mmstream.inference.fused import _chosen_reading, text_bases


def test_text_inputs_group_by_base_with_the_posts_own_text_first():
    inputs = ["text", "image_text", "text_sentiment", "image_text_sentiment", "audio_text", "video_audio_text",
              "video_audio_text_sentiment", "text_multilingual"]
    assert text_bases(inputs) == {
        "text": {"": "text", "_sentiment": "text_sentiment", "_multilingual": "text_multilingual"},
        "image_text": {"": "image_text", "_sentiment": "image_text_sentiment"},
        "audio_text": {"": "audio_text"},
        "video_audio_text": {"": "video_audio_text", "_sentiment": "video_audio_text_sentiment"}}
    assert text_bases([]) == {}


def test_a_binary_task_answers_from_its_most_probable_reading_an_emotion_from_its_most_confident_expressed_one():
    complaint = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]], np.float32)
    sentiment = np.array([[0.1, 0.8, 0.1], [0.8, 0.1, 0.1], [0.1, 0.2, 0.7]], np.float32)
    assert _chosen_reading(complaint, sentiment, [0, 1, 2], {"threshold": 0.5}) == 1
    assert _chosen_reading(complaint, sentiment, [0], {"threshold": 0.5}) == 0
    rule = {"neutral_at": 0.4, "max_below": 0.5, "polar_below": 0.8}
    emotion = np.array([[0.3, 0.3, 0.2, 0.2], [0.1, 0.2, 0.1, 0.6], [0.05, 0.9, 0.03, 0.02]], np.float32)
    # row 0 is neutral (none); rows 1 and 2 express one: 2 is the more confident
    assert _chosen_reading(emotion, sentiment, [0, 1, 2], {"labels": [], "none": rule}) == 2
    assert _chosen_reading(emotion, sentiment, [0, 1], {"labels": [], "none": rule}) == 1
    # no reading expresses an emotion: the graph's (the first)
    flat = np.full((3, 4), 0.25, np.float32)
    assert _chosen_reading(flat, np.tile(sentiment[:1], (3, 1)), [0, 1, 2], {"labels": [], "none": rule}) == 0
    # a model without a none rule: the graph's
    assert _chosen_reading(emotion, sentiment, [0, 1, 2], {"labels": []}) == 0
