"""Hooks: start-up checks, class frequencies, validation loss with early stopping, weight
transfer (imported by `mmdet_lvis_fed.plugin`)."""
