"""Runs: the workflows both front ends call (``workflow``), executing a run verdict by verdict
(``execute``) and what identifies a judgment's work so it is never done twice (``work``)."""
