import type { IExperiment, IRun } from '../api';
import { higherIsBetter, higherIsBetterFrom } from '../direction';
import {
  bestValues,
  betterOf,
  chooseExperiment,
  differences,
  formatMetric,
  ISort,
  metricColumns,
  metricLabel,
  NEWEST_FIRST,
  nextSort,
  runRows,
  shortRunName
} from '../runs';

/** What GET /mlops/api/status sends (mlops_magics/train/direction.py). */
const HIGHER = new Set(
  ['accuracy', 'auc', 'balanced_accuracy', 'f1', 'mean_cv_score', 'precision', 'r2', 'recall', 'roc_auc', 'score']
);

let started = 1_700_000_000_000;

function run(id: string, metrics: Record<string, number | null> = {}, extra: Partial<IRun> = {}): IRun {
  started += 1000;
  return {
    id,
    name: id,
    status: 'FINISHED',
    start_time: started,
    end_time: started + 500,
    // The wire sends NaN as null: the helpers must take it.
    metrics,
    params: {},
    model_class: '',
    parent: null,
    notebook: null,
    ...extra
  };
}

const ids = (rows: { run: IRun }[]): string[] => rows.map(row => row.run.id);
const byMetric = (name: string, descending: boolean): ISort => ({ key: { kind: 'metric', name }, descending });

describe('metric direction', () => {
  it('reads a split-prefixed metric the way its base name points', () => {
    expect(higherIsBetter('eval_accuracy', HIGHER)).toBe(true);
    expect(higherIsBetter('challenger_roc_auc', HIGHER)).toBe(true);
    expect(higherIsBetter('mean_cv_score', HIGHER)).toBe(true);
    expect(higherIsBetter('eval_rmse', HIGHER)).toBe(false);
    expect(higherIsBetter('train_log_loss', HIGHER)).toBe(false);
  });

  it('takes the list from the server status, and says what to do when it is missing', () => {
    const status = { version: '0.1.0', workspace: '/w', controller: null };
    const sent = { ...status, higher_is_better: ['accuracy', 'r2'] };
    expect(higherIsBetterFrom(sent)).toEqual(new Set(['accuracy', 'r2']));
    expect(() => higherIsBetterFrom(status)).toThrow(/restart JupyterLab/);
    expect(() => higherIsBetterFrom({ ...status, higher_is_better: [1] })).toThrow(/higher_is_better/);
  });
});

describe('metricColumns', () => {
  it('puts evaluation metrics first in the usual order, then the cv score, then training, then the rest', () => {
    const runs = [
      run('a', { zeta: 1, train_accuracy: 1, eval_rmse: 1, eval_accuracy: 1, mean_cv_score: 1 }),
      run('b', { eval_f1: 1, alpha: 1 })
    ];
    expect(metricColumns(runs, 10)).toEqual([
      'eval_accuracy',
      'eval_f1',
      'eval_rmse',
      'mean_cv_score',
      'train_accuracy',
      'alpha',
      'zeta'
    ]);
  });

  it('keeps at most the limit, preferring metrics more runs have among the unusual ones', () => {
    const runs = [run('a', { rare: 1, common: 1 }), run('b', { common: 2 }), run('c', { eval_accuracy: 0.5 })];
    expect(metricColumns(runs, 2)).toEqual(['eval_accuracy', 'common']);
    expect(metricColumns(runs)).toHaveLength(3);
    expect(metricColumns([])).toEqual([]);
  });

  it('labels a column short', () => {
    expect(metricLabel('eval_accuracy')).toBe('accuracy');
    expect(metricLabel('mean_cv_score')).toBe('cv score');
    expect(metricLabel('train_roc_auc')).toBe('train roc auc');
  });
});

describe('runRows and sorting', () => {
  it('sorts newest first by default', () => {
    const runs = [run('old'), run('mid'), run('new')];
    expect(ids(runRows(runs, NEWEST_FIRST, new Set()))).toEqual(['new', 'mid', 'old']);
  });

  it('sorts by a metric with missing and NaN values last in both directions', () => {
    const runs = [
      run('low', { eval_accuracy: 0.5 }),
      run('nan', { eval_accuracy: Number.NaN }),
      run('high', { eval_accuracy: 0.9 }),
      run('null', { eval_accuracy: null }),
      run('none', {}),
      run('mid', { eval_accuracy: 0.7 })
    ];
    const missing = ['none', 'null', 'nan']; // newest first among them
    expect(ids(runRows(runs, byMetric('eval_accuracy', true), new Set()))).toEqual(['high', 'mid', 'low', ...missing]);
    expect(ids(runRows(runs, byMetric('eval_accuracy', false), new Set()))).toEqual(['low', 'mid', 'high', ...missing]);
  });

  it('breaks ties newest first', () => {
    const runs = [run('first', { r2: 0.5 }), run('second', { r2: 0.5 })];
    expect(ids(runRows(runs, byMetric('r2', true), new Set()))).toEqual(['second', 'first']);
    expect(ids(runRows(runs, byMetric('r2', false), new Set()))).toEqual(['second', 'first']);
  });

  it('sorts by name A to Z or back', () => {
    const runs = [run('b'), run('a'), run('c')];
    const sort: ISort = { key: { kind: 'name' }, descending: false };
    expect(ids(runRows(runs, sort, new Set()))).toEqual(['a', 'b', 'c']);
    expect(ids(runRows(runs, { ...sort, descending: true }, new Set()))).toEqual(['c', 'b', 'a']);
  });

  it('a first click sorts the better values first, the next click reverses', () => {
    const byAccuracy = nextSort(NEWEST_FIRST, { kind: 'metric', name: 'eval_accuracy' }, HIGHER);
    expect(byAccuracy).toEqual(byMetric('eval_accuracy', true));
    expect(nextSort(byAccuracy, { kind: 'metric', name: 'eval_accuracy' }, HIGHER).descending).toBe(false);
    expect(nextSort(byAccuracy, { kind: 'metric', name: 'eval_rmse' }, HIGHER)).toEqual(byMetric('eval_rmse', false));
    expect(nextSort(byAccuracy, { kind: 'name' }, HIGHER).descending).toBe(false);
    expect(nextSort(byAccuracy, { kind: 'started' }, HIGHER).descending).toBe(true);
  });

  it('nests the trials of a search under it, sorted the same way, only when expanded', () => {
    const search = run('search', { mean_cv_score: 0.8 });
    const single = run('single', { mean_cv_score: 0.7 });
    const trials = [
      run('t1', { mean_cv_score: 0.6 }, { parent: 'search' }),
      run('t2', { mean_cv_score: 0.9 }, { parent: 'search' }),
      run('t3', {}, { parent: 'search' })
    ];
    // A trial whose parent is not listed (beyond the 200 runs listed) stands at the top level.
    const orphan = run('orphan', { mean_cv_score: 0.75 }, { parent: 'gone' });
    const runs = [...trials, single, orphan, search];
    const sort = byMetric('mean_cv_score', true);

    const closed = runRows(runs, sort, new Set());
    expect(ids(closed)).toEqual(['search', 'orphan', 'single']);
    expect(closed.map(row => [row.depth, row.children])).toEqual([
      [0, 3],
      [0, 0],
      [0, 0]
    ]);

    const open = runRows(runs, sort, new Set(['search']));
    expect(ids(open)).toEqual(['search', 't2', 't1', 't3', 'orphan', 'single']);
    expect(open.map(row => row.depth)).toEqual([0, 1, 1, 1, 0, 0]);
  });
});

describe('bestValues', () => {
  it('marks the best top-level value in the metric direction, ignoring trials and missing values', () => {
    const runs = [
      run('a', { eval_accuracy: 0.8, eval_rmse: 2.0 }),
      run('b', { eval_accuracy: 0.9, eval_rmse: null }),
      run('c', { eval_accuracy: Number.NaN, eval_rmse: 3.0 }),
      run('trial', { eval_accuracy: 0.99, eval_rmse: 0.1 }, { parent: 'a' })
    ];
    const rows = runRows(runs, NEWEST_FIRST, new Set(['a']));
    const best = bestValues(rows, ['eval_accuracy', 'eval_rmse'], HIGHER);
    expect(best.get('eval_accuracy')).toBe(0.9);
    // A null (NaN on the wire) is not a zero error.
    expect(best.get('eval_rmse')).toBe(2.0);
  });

  it('has no best for a column with a single value', () => {
    const rows = runRows([run('a', { r2: 0.5 }), run('b', {})], NEWEST_FIRST, new Set());
    expect(bestValues(rows, ['r2'], HIGHER).has('r2')).toBe(false);
  });
});

describe('differences', () => {
  it('lists what differs, sorted by name, and counts what is the same', () => {
    const a = run(
      'a',
      { eval_accuracy: 0.8, eval_rmse: 1, same: 2, gone: null },
      { params: { C: '1', penalty: 'l2' } }
    );
    const b = run(
      'b',
      { eval_accuracy: 0.9, eval_rmse: 1, same: 2, extra: 3 },
      { params: { C: '10', penalty: 'l2', solver: 'lbfgs' } }
    );
    const diff = differences(a, b);
    expect(diff.metrics).toEqual([
      ['eval_accuracy', 0.8, 0.9],
      ['extra', undefined, 3]
    ]);
    expect(diff.params).toEqual([
      ['C', '1', '10'],
      ['solver', undefined, 'lbfgs']
    ]);
    // eval_rmse, same, and gone (no value in either run).
    expect(diff.sameMetrics).toBe(3);
    expect(diff.sameParams).toBe(1);
  });

  it('says which value is better in the metric direction', () => {
    expect(betterOf('eval_accuracy', 0.8, 0.9, HIGHER)).toBe('b');
    expect(betterOf('eval_rmse', 0.8, 0.9, HIGHER)).toBe('a');
    expect(betterOf('challenger_r2', 0.8, 0.1, HIGHER)).toBe('a');
    expect(betterOf('eval_mae', 0.8, 0.1, HIGHER)).toBe('b');
    expect(betterOf('eval_accuracy', undefined, 0.9, HIGHER)).toBeNull();
    expect(betterOf('eval_accuracy', null, 0.9, HIGHER)).toBeNull();
    expect(betterOf('eval_accuracy', 0.9, 0.9, HIGHER)).toBeNull();
  });
});

describe('formatting', () => {
  it('shows enough digits to compare at a glance, and a dash for no value', () => {
    expect(formatMetric(0.123456)).toBe('0.1235');
    expect(formatMetric(12.34567)).toBe('12.346');
    expect(formatMetric(123.456)).toBe('123.5');
    expect(formatMetric(1234.5)).toMatch(/^1,?235$/);
    expect(formatMetric(undefined)).toBe('–');
    expect(formatMetric(null)).toBe('–');
    expect(formatMetric(Number.NaN)).toBe('–');
  });

  it('shortens a %%train run name by its model class', () => {
    const model = { model_class: 'sklearn.linear_model.LogisticRegression' };
    expect(shortRunName(run('r1', {}, { ...model, name: 'clf-LogisticRegression' }))).toBe('clf');
    expect(shortRunName(run('r2', {}, { ...model, name: 'LogisticRegression' }))).toBe('LogisticRegression');
    expect(shortRunName(run('0123456789abcdef', {}, { name: '' }))).toBe('01234567');
  });
});

describe('chooseExperiment', () => {
  const experiments: IExperiment[] = [
    { id: '3', name: 'reviews', runs: 1, last_update: 3 },
    { id: '2', name: 'cancer', runs: 4, last_update: 2 },
    { id: '1', name: 'iris', runs: 2, last_update: 1 }
  ];

  it('shows the newest training experiment, not the reviews', () => {
    expect(chooseExperiment(experiments, null, false)).toBe('2');
    expect(chooseExperiment([experiments[0]], null, false)).toBe('3');
    expect(chooseExperiment([], null, false)).toBeNull();
  });

  it('keeps the one picked while it exists', () => {
    expect(chooseExperiment(experiments, '1', true)).toBe('1');
    expect(chooseExperiment(experiments, '1', false)).toBe('2');
    expect(chooseExperiment(experiments, '9', true)).toBe('2');
  });
});
