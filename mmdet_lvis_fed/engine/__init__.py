"""Hooks: start-up checks, class frequencies, validation loss with early stopping, weight
transfer, frozen modules; the two-pass test loop for Fixed AP (imported by `mmdet_lvis_fed.plugin`)."""
