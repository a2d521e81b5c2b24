"""mmdet_lvis_fed.experiments.ablation_report: an undefined group is n/a, and a difference is
marked only beyond both rows' spreads (hand-computed rows)."""
import pytest


def fake_run(name, seeds_values, source=None):
    """Runs of one config whose every metric is the given value per seed."""
    from types import SimpleNamespace

    def one(seed, value):
        metrics = {f'{p}lvis_fed/{t}_{g}': value for p in ('', 'fixed/') for t in ('bbox', 'segm')
                   for g in ('AP', 'APr', 'APc', 'APf', 'AP50')}
        m = dict(metrics=metrics, seed=seed, train_s=60.0, test_s=30.0, fixed_ap_test_s=30.0)
        return SimpleNamespace(name=name, config=f'{name}.py', options=[], source=source,
                               finished=lambda: m)
    return [one(s, v) for s, v in enumerate(seeds_values)]


def test_an_undefined_group_is_na_not_a_bold_minus_one(tmp_path):
    from types import SimpleNamespace
    from mmdet_lvis_fed.experiments.ablation_report import markdown, plot, summarise

    def run(name, seed, apr):
        metrics = {f'lvis_fed/{t}_{g}': 0.1 * (seed + 1) for t in ('bbox', 'segm')
                   for g in ('AP', 'APr', 'APc', 'APf')}
        metrics['lvis_fed/bbox_APr'] = metrics['lvis_fed/segm_APr'] = apr
        m = dict(metrics=metrics, seed=seed, train_s=60.0, test_s=60.0)
        return SimpleNamespace(name=name, config=f'{name}.py', options=[], source=None,
                               finished=lambda: m)
    runs = {c: [run(c, s, -1.0) for s in (0, 1)] for c in ('base', 'other')}
    summary = summarise(['base', 'other'], runs)
    assert summary['base']['stats'][('bbox', 'APr')] is None
    md = markdown(summary, ['base', 'other'], runs, 'cmd')
    assert '-1.000' not in md and '**n/a' not in md
    row = next(line for line in md.splitlines() if line.startswith('| [other]'))
    cells = [c.strip() for c in row.split('|')[1:-1]]
    assert cells[3] == 'n/a' and cells[7] == 'n/a'               # box APr, mask APr
    assert cells[2] == '**0.150 ± 0.050** (+0.000)' or cells[2].startswith('**0.150')
    plot(summary, ['base', 'other'], runs, str(tmp_path / 'a.png'))
    assert (tmp_path / 'a.png').stat().st_size > 0


def test_a_difference_is_marked_only_beyond_both_spreads():
    """base 0.10 +- 0.01; 'far' 0.13 +- 0.01 (difference 0.03 > 0.01 + 0.01: marked); 'near'
    0.11 +- 0.005 (0.01 < 0.01 + 0.005: unmarked); a row of one seed is never marked."""
    from mmdet_lvis_fed.experiments.ablation_report import markdown, summarise
    runs = {'base': fake_run('base', [0.09, 0.11]), 'far': fake_run('far', [0.12, 0.14]),
            'near': fake_run('near', [0.105, 0.115]), 'one': fake_run('one', [0.5])}
    configs = list(runs)
    summary = summarise(configs, runs)
    assert summary['far']['stats'][('bbox', 'AP')] == pytest.approx((0.13, 0.01, 2))
    assert summary['base']['minutes'] == 2.0                   # train + test + Fixed AP test
    md = markdown(summary, configs, runs, 'cmd')
    rows = {line.split(']')[0][3:]: [c.strip() for c in line.split('|')[1:-1]]
            for line in md.splitlines() if line.startswith('| [')}
    head = next(line for line in md.splitlines() if line.startswith('| config'))
    assert [c.strip() for c in head.split('|')[1:-1]][2:8] == [
        'box AP', 'box APr', 'box APc', 'box APf', 'box AP50', 'box Fixed AP']
    assert rows['far'][2] == '0.130 ± 0.010 (+0.030 †)'
    assert rows['near'][2] == '0.110 ± 0.005 (+0.010)'
    assert '†' not in ''.join(rows['one'])
