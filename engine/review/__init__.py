"""The review itself, without Qt: a record per image (or video frame) holding a model's
result and the reviewer's decisions, decisions as undoable commands, the view filter, the
export selection, per-frame video results and the class vocabulary. Any front end (the
window, the command line, a cluster run) reviews through these."""

from engine.review.commands import DecisionChange, History, ReviewedChange, decide, mark_reviewed
from engine.review.frames import VideoResults
from engine.review.record import (ACCEPTED, DECISION_STATES, PENDING, REJECTED, RELABELLED, Decision,
                                  RecordSummary, ReviewRecord, boxes_fingerprint)
from engine.review.session import ReviewSession
from engine.review.view import INCLUDE_ACCEPTED, INCLUDE_ALL, INCLUDE_NOT_REJECTED, ExportSelection, ViewFilter
from engine.review.vocabulary import NON_CATEGORIES, Vocabulary, category_choices

__all__ = ["ACCEPTED", "DECISION_STATES", "PENDING", "REJECTED", "RELABELLED", "Decision", "DecisionChange",
           "ExportSelection", "History", "INCLUDE_ACCEPTED", "INCLUDE_ALL", "INCLUDE_NOT_REJECTED",
           "NON_CATEGORIES", "RecordSummary", "ReviewRecord", "ReviewSession", "ReviewedChange", "VideoResults",
           "ViewFilter", "Vocabulary", "boxes_fingerprint", "category_choices", "decide", "mark_reviewed"]
