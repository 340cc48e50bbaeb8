"""Judging backends behind one small interface (see ``base.JudgeEngine``)."""
