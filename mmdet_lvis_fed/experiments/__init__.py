"""The experiment machinery behind tools/ablate.py, tools/calibrate.py and tools/report_study.py:
runs and their keys (`runs`), running them in child processes with locks (`scheduler`,
`child`), the ablation report (`ablation_report`), the calibration sweep and its choice rule
(`calibration`) and what it writes (`calibrated_config`), the seed report (`study_report`), and
what a run leaves in its work dir, read back (`logs`). Nothing here is imported by the runtime
plugin."""
