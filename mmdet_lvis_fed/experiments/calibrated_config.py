"""What a calibration sweep writes (experiments/calibration.py chooses the gamma): the calibrated
config and the JSON record of the sweep, as a pair, never over one of the run's inputs and over
an existing output only when asked.

A config is Python and runs when it is loaded, so nothing from outside (the command line, a file
name, a config's or a checkpoint's content) is written into it except as a Python literal made by
repr(); its comments are fixed text.
"""
import os
import os.path as osp

from ..errors import CommandError


def rel_base(target, out_path):
    rel = osp.relpath(osp.abspath(target), osp.dirname(osp.abspath(out_path)))
    return rel if rel.startswith('.') else './' + rel


def config_text(config, metric, max_apf_drop, cfg, out_path, json_path, override, gamma,
                freq_source, trained_on_val):
    """The calibrated config: its base, the chosen calibration and the record of the sweep.

    A config is Python and runs when it is loaded, so nothing that comes from outside (the command
    line, a file name, a config's or a checkpoint's content) is written except as a Python literal
    made by repr(); the comments are fixed text. The sweep's command and numbers stay in the JSON
    record that `calibration_record` names."""
    source = cfg.get('retest_of')
    retest = (osp.normpath(osp.join(osp.dirname(osp.abspath(config)), source)) if source
              else config)
    rule = ('box AP' if metric == 'AP' else
            f'box APr, with box APf at most {float(max_apf_drop)!r} below gamma = 0\'s')
    comment = [
        'Test-time calibration (NorCal) of the base config, no training: the K foreground logits',
        'minus gamma * log f(c) before the head\'s activation, f from the checkpoint\'s training',
        f'data. gamma was chosen by tools/calibrate.py on the validation split by {rule}'
        + (' (the training dataset reads the whole file: those images were trained on).'
           if trained_on_val else '.'),
        'calibration_record: the sweep (its command and the numbers for every gamma); re-run that',
        'command to choose again. tools/ablate.py tests this config with the checkpoint of',
        'retest_of\'s run (same seed).']
    head = ''.join([f'type={override["type"]!r},\n    '] if 'type' in override else []) + \
        f'calibration=dict(gamma={float(gamma)!r}, freq_source={str(freq_source)!r})'
    return '\n'.join(['# ' + line for line in comment] + [
        f'_base_ = {rel_base(config, out_path)!r}',
        f'retest_of = {rel_base(retest, out_path)!r}',
        f'calibration_record = {rel_base(json_path, out_path)!r}',
        '',
        f'model = dict(roi_head=dict(bbox_head=dict(\n    {head})))',
        ''])


def config_files(path):
    """The config at `path` and every local file it inherits (mmdet:: bases are not ours)."""
    from mmengine.config import Config
    todo, seen = [osp.abspath(path)], []
    while todo:
        current = todo.pop()
        if current in seen or not osp.isfile(current):
            continue
        seen.append(current)
        try:
            bases = Config._get_base_files(current)
        except Exception:       # unreadable: Config.fromfile reports it
            continue
        todo += [osp.normpath(osp.join(osp.dirname(current), b)) for b in bases if '::' not in b]
    return seen


def refuse_overwriting(outputs, inputs, force):
    """Fail (before the sweep) when an output is one of the inputs, or exists without --force."""
    for out in outputs:
        for given in inputs:
            if osp.exists(out) and osp.exists(given) and osp.samefile(out, given) or \
                    osp.abspath(out) == osp.abspath(given):
                raise CommandError(f'{out}: is an input of this run ({given}): choose another '
                                   '--out-config or --work-dir')
    existing = [out for out in outputs if osp.exists(out)]
    if existing and not force:
        raise CommandError(f'{existing[0]}: exists; give --force to replace '
                           + ('both outputs' if len(existing) > 1 else 'it'))
    return existing


def check_writable(path):
    """Fail unless `path` can be created: its nearest existing folder is a writable folder."""
    if osp.isdir(path):
        raise CommandError(f'{path}: is a folder')
    folder = osp.dirname(osp.abspath(path))
    while not osp.exists(folder):
        folder = osp.dirname(folder)
    if not osp.isdir(folder) or not os.access(folder, os.W_OK | os.X_OK):
        raise CommandError(f'{path}: cannot write ({folder} is not a writable folder)')


def write_outputs(files):
    """Write {path: text or None (remove)} as one change (io.write_together), after removing the
    temporaries a run killed while writing left beside them; prints what it removed."""
    from ..io import remove_stale_temporaries, write_together
    try:
        for path in files:
            for stale in remove_stale_temporaries(path):
                print(f'removed {stale} (left by a killed run)')
        write_together(files)
    except OSError as e:
        raise CommandError(f'{e.filename or list(files)[-1]}: cannot write '
                           f'({e.strerror or e})') from None
