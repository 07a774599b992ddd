"""Reading mmstream's output topics from downstream services.

``Reader`` reads one or more output topics in a consumer group and yields
``Message`` objects whose ``record`` is one of the typed records below; see
README "Downstream"."""
from mmstream.client.reader import Message, Reader
from mmstream.client.records import (Alert, BrandStats, Campaign, Complaint, DeadLetter, Emotion, LatePost, Result, Sentiment,
                                     Span, Subject, Topic, TopicRecord, Window, parse)

__all__ = ["Alert", "BrandStats", "Campaign", "Complaint", "DeadLetter", "Emotion", "LatePost", "Message", "Reader", "Result",
           "Sentiment", "Span", "Subject", "Topic", "TopicRecord", "Window", "parse"]
