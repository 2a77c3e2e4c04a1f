import type { IMonitorCheck } from '../api';
import {
  checkDetails,
  driftScore,
  effectName,
  effectShortName,
  effectText,
  formatPValue,
  formatShare,
  formatValue,
  histogramCaption,
  histogramLayout,
  historySeries,
  IFeatureDrift,
  lineLayout,
  loopIncidents,
  maxDriftScore,
  needsLook,
  predictionDetail,
  shareChanges,
  sortFeatures,
  stepName,
  verdictTone,
  watchingText,
  windowText
} from '../monitors';

/** A FeatureDrift as mlops_magics/monitor/drift.py's to_dict writes it (asdict: every field, statistics nested). */
function feature(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    feature: name,
    kind: 'numeric',
    verdict: 'no drift',
    reason: 'wasserstein 0.02 within 0.1',
    method: 'quantiles',
    effect: 'wasserstein',
    effect_size: 0.02,
    threshold: 0.1,
    p_value: 0.4,
    statistics: { wasserstein: 0.02, ks: 0.03, ks_p_value: 0.4, psi: 0.01 },
    reference_rows: 2000,
    current_rows: 300,
    missing_share: [0, 0],
    histogram: { reference: [0.2, 0.5, 0.3], current: [0.1, 0.4, 0.5], edges: [-3, -1, 1, 3], labels: null },
    ...extra
  };
}

/** A check's details as MonitorCheck.to_dict writes them. */
function details(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    deployment: 'loans',
    model: 'loans',
    version: '2',
    window: 'last 300 rows',
    verdict: 'drift',
    reason: '1 of 2 features drifted: income',
    drifted: ['income'],
    rows: 300,
    requests: 12,
    error_rate: 0,
    client_error_rate: 0,
    latency_p50_ms: 3.14159,
    latency_p95_ms: 8,
    reference_run: 'abc',
    checked_at: '2026-05-01T10:00:00+00:00',
    segments_read: 2,
    skipped: [],
    other_versions: 0,
    drift: {
      verdict: 'drift',
      reason: '1 of 2 features drifted: income',
      features: [
        feature('age'),
        feature('income', { verdict: 'drift', effect_size: 0.52, p_value: 1e-9, reason: 'wasserstein 0.52 over 0.1' })
      ]
    },
    findings: ['drift'],
    prediction_drift: feature('prediction', { kind: 'categorical', method: 'counts', effect: 'psi', effect_size: 0.05, threshold: 0.2 }),
    performance: {
      verdict: 'no decay',
      reason: 'accuracy 0.95 on 300 labelled rows',
      labelled: 300,
      task: 'classification',
      reference: 'eval',
      metrics: [
        { metric: 'accuracy', value: 0.95, reference: 0.97, limit: { metric: 'accuracy', bound: 'min', value: 0.8 }, note: '' },
        { metric: 'roc_auc', value: null, reference: 0.99, limit: null, note: 'needs the model probabilities' }
      ],
      limits: [],
      feedback_segments: 1,
      skipped: [],
      decayed: []
    },
    ...extra
  };
}

function check(at: string, extra: Record<string, unknown> = {}): IMonitorCheck {
  return { monitor: 'loans', at, verdict: 'drift', reason: '', alert: null, details: details(extra) };
}

describe('checkDetails', () => {
  it('reads the features, prediction drift, performance and traffic of a check', () => {
    const d = checkDetails(details());
    expect(d.features.map(f => f.feature)).toEqual(['age', 'income']);
    expect(d.features[1]).toMatchObject({ verdict: 'drift', effect_size: 0.52, threshold: 0.1, p_value: 1e-9 });
    expect(d.features[0].histogram).toEqual({
      reference: [0.2, 0.5, 0.3],
      current: [0.1, 0.4, 0.5],
      edges: [-3, -1, 1, 3],
      labels: null
    });
    expect(d.predictionDrift?.effect).toBe('psi');
    expect(d.performance?.metrics[0]).toEqual({
      metric: 'accuracy',
      value: 0.95,
      reference: 0.97,
      limit: { bound: 'min', value: 0.8 },
      note: ''
    });
    expect(d.performance?.metrics[1].value).toBeNull();
    expect(d).toMatchObject({ rows: 300, requests: 12, errorRate: 0, version: '2', error: null, notes: [] });
  });

  it('reads a failed check (its error only) and junk without throwing', () => {
    expect(checkDetails({ error: 'no deployment named loans' })).toMatchObject({
      error: 'no deployment named loans',
      features: [],
      predictionDrift: null,
      performance: null,
      rows: null
    });
    for (const junk of [null, undefined, 3, 'x', [], { drift: { features: [1, null, { feature: 2 }] } }]) {
      expect(checkDetails(junk).features).toEqual([]);
    }
    // A histogram whose sides differ in length is not drawn.
    const bad = checkDetails(details({ drift: { features: [feature('x', { histogram: { reference: [1], current: [] } })] } }));
    expect(bad.features[0].histogram).toBeNull();
  });

  it('says what the check left out', () => {
    const d = checkDetails(details({ other_versions: 1200, skipped: [{ segment: 'a', reason: 'corrupt' }] }));
    expect(d.notes).toEqual([
      '1,200 row(s) of the window served by another model version were left out',
      '1 log segment(s) could not be read and were skipped'
    ]);
  });
});

describe('words and numbers', () => {
  it('gives each verdict its tone', () => {
    expect(['drift', 'decay', 'error', 'schema change', 'no drift', 'no decay', 'no data', null].map(verdictTone)).toEqual([
      'bad',
      'bad',
      'bad',
      'warn',
      'ok',
      'ok',
      'none',
      'none'
    ]);
    expect(needsLook({ last_verdict: 'decay' })).toBe(true);
    expect(needsLook({ last_verdict: 'no drift' })).toBe(false);
    expect(needsLook({ last_verdict: null })).toBe(false);
  });

  it('formats values, p-values and shares for a narrow column', () => {
    expect([0.51234, 12.345, 1234.5, 0, null, NaN, -0.000123].map(formatValue)).toEqual([
      '0.512',
      '12.3',
      '1,235',
      '0',
      '–',
      '–',
      '-0.000123'
    ]);
    expect([1e-9, 0.0123, 0.4, null].map(formatPValue)).toEqual(['<0.001', '0.012', '0.4', '–']);
    expect([0, 0.025, 0.5, null].map(formatShare)).toEqual(['0%', '2.5%', '50%', '–']);
  });

  it('says an effect against its threshold', () => {
    expect(effectText({ effect_size: 0.52, threshold: 0.1 })).toBe('0.52 > 0.1');
    expect(effectText({ effect_size: 0.1, threshold: 0.1 })).toBe('0.1 ≤ 0.1');
    expect(effectText({ effect_size: 0.3, threshold: null })).toBe('0.3');
    expect(effectText({ effect_size: null, threshold: 0.1 })).toBe('');
    expect(['jensen_shannon', 'psi', 'wasserstein', 'new_one', null].map(effectName)).toEqual([
      'Jensen-Shannon',
      'PSI',
      'Wasserstein',
      'new one',
      ''
    ]);
    expect(['jensen_shannon', 'psi'].map(effectShortName)).toEqual(['JS distance', 'PSI']);
  });

  it('says what the prediction drift rests on, or why it was not measured', () => {
    const d = checkDetails(details());
    expect(predictionDetail(d.predictionDrift as IFeatureDrift)).toBe('PSI 0.05 ≤ 0.2');
    const none = checkDetails(
      details({ prediction_drift: feature('prediction', { verdict: 'not comparable', reason: 'no reference predictions' }) })
    );
    expect(predictionDetail(none.predictionDrift as IFeatureDrift)).toBe('no reference predictions');
  });

  it('says a watched swap', () => {
    expect(watchingText({ model: 'loans', version: '3', previous_version: '2', swapped_at: '', message: '' })).toBe(
      'watching v3 after swap (was v2)'
    );
    expect(watchingText({ model: 'loans', version: null, previous_version: null, swapped_at: '', message: '' })).toBe(
      'watching loans after swap'
    );
    expect(watchingText(null)).toBe('');
    expect(['1h', '10000', undefined].map(windowText)).toEqual(['1h', 'the last 10,000 rows', '1h']);
    expect(['model', 'rollback', 'other'].map(stepName)).toEqual(['New version', 'Rollback', 'other']);
  });

  it('keeps the turns of the loop that went beyond their alert', () => {
    const alert = { id: 1, monitor: 'm', deployment: 'd', kind: 'drift' as const, message: '', at: '', job: null, run: null };
    const step = (name: 'alert' | 'retrain' | 'swap') => ({ step: name, at: null, state: 'done' as const, message: '' });
    const alone = { alert, steps: [step('alert')] };
    const retrained = { alert: { ...alert, id: 2 }, steps: [step('alert'), step('retrain')] };
    const swapped = { alert: null, steps: [step('swap')] };
    expect(loopIncidents([retrained, alone, swapped])).toEqual([retrained, swapped]);
    expect(loopIncidents(null)).toEqual([]);
  });
});

describe('features', () => {
  it('scores and sorts: drifted first, furthest over first, then by score, the unmeasured last', () => {
    const d = checkDetails({
      drift: {
        features: [
          feature('a', { effect_size: 0.05 }),
          feature('b', { verdict: 'drift', effect_size: 0.2 }),
          feature('c', { verdict: 'no data', effect_size: null }),
          feature('d', { verdict: 'drift', effect_size: 0.9 }),
          feature('e', { verdict: 'schema change', effect_size: null }),
          feature('f', { effect_size: 0.08 })
        ]
      }
    });
    expect(sortFeatures(d.features).map(f => f.feature)).toEqual(['d', 'b', 'e', 'f', 'a', 'c']);
    expect(driftScore(d.features[3])).toBeCloseTo(9);
    expect(driftScore(d.features[2])).toBeNull();
    expect(maxDriftScore(d.features)).toBeCloseTo(9);
    expect(maxDriftScore([])).toBeNull();
  });
});

describe('historySeries', () => {
  it('draws each metric on feedback, the drift score and the error rate, oldest first', () => {
    const series = historySeries([
      check('2026-05-01T10:10:00+00:00', { error_rate: 0.02 }),
      check('2026-05-01T10:00:00+00:00'),
      check('not a time')
    ]);
    expect(series.map(s => s.key)).toEqual(['metric:accuracy', 'drift', 'errors']);
    const [accuracy, drift, errors] = series;
    const t0 = Date.parse('2026-05-01T10:00:00+00:00');
    expect(accuracy.points).toEqual([
      { t: t0, v: 0.95 },
      { t: t0 + 600_000, v: 0.95 }
    ]);
    expect(accuracy).toMatchObject({ reference: 0.97, referenceLabel: 'eval accuracy 0.97', limit: 0.8 });
    expect(drift.points.map(p => p.v)).toEqual([5.2, 5.2].map(v => expect.closeTo(v, 6)));
    expect(drift.reference).toBe(1);
    expect(errors.points.map(p => p.v)).toEqual([0, 0.02]);
    expect(errors.format(0.02)).toBe('2.0%');
  });

  it('has nothing to draw for checks that measured nothing', () => {
    expect(historySeries([])).toEqual([]);
    const failed: IMonitorCheck = { monitor: 'm', at: '2026-05-01T10:00:00Z', verdict: 'error', reason: 'x', alert: null, details: { error: 'x' } };
    expect(historySeries([failed])).toEqual([]);
  });
});

describe('chart geometry', () => {
  it('lays a line left to right in time and bottom to top in value, with room for the reference line', () => {
    const layout = lineLayout(
      [
        { t: 0, v: 0.5 },
        { t: 10, v: 1 },
        { t: 20, v: 0.75 }
      ],
      [0, null],
      100,
      50,
      0
    );
    expect(layout.dots).toEqual([
      { x: 0, y: 25 },
      { x: 50, y: 0 },
      { x: 100, y: 12.5 }
    ]);
    expect(layout.path).toBe('M0 25 L50 0 L100 12.5');
    expect(layout.y(0)).toBe(50);
    expect(layout.y(2)).toBeNull();
    expect([layout.min, layout.max]).toEqual([0, 1]);
  });

  it('puts one point, or a flat line, mid-box', () => {
    const one = lineLayout([{ t: 5, v: 3 }], [], 100, 50, 0);
    expect(one.dots).toEqual([{ x: 50, y: 25 }]);
    const flat = lineLayout(
      [
        { t: 0, v: 0 },
        { t: 1, v: 0 }
      ],
      [],
      100,
      40,
      0
    );
    expect(flat.dots.map(d => d.y)).toEqual([20, 20]);
  });

  it('lays numeric histograms as reference bars under a current step line, on one scale', () => {
    const layout = histogramLayout({ reference: [0.25, 0.5, 0.25], current: [0.1, 0.2, 0.7], edges: [0, 1, 2, 3], labels: null }, 30, 15);
    expect(layout.current).toEqual([]);
    expect(layout.reference.map(r => r.x)).toEqual([0, 10, 20]);
    expect(layout.reference[1].height).toBe(10); // 0.5 of the top share 0.7, in 14 px
    expect(layout.currentPath).toBe('M0 13 L10 13 L10 11 L20 11 L20 1 L30 1');
  });

  it('lays category histograms as a reference and a current bar side by side', () => {
    const layout = histogramLayout({ reference: [0.6, 0.4], current: [0.3, 0.7], edges: null, labels: ['a', 'b'] }, 40, 15);
    expect(layout.currentPath).toBeNull();
    expect(layout.reference.map(r => [r.x, r.width])).toEqual([
      [0, 9.5],
      [20, 9.5]
    ]);
    expect(layout.current.map(r => [r.x, r.height])).toEqual([
      [9.5, 6],
      [29.5, 14]
    ]);
  });

  it('captions a histogram and lists its largest changes', () => {
    expect(histogramCaption({ reference: [1], current: [1], edges: [-1.5, 2.25], labels: null })).toBe('-1.5 to 2.25');
    expect(histogramCaption({ reference: [], current: [], edges: null, labels: ['a', 'b', 'c', 'd', 'e'] })).toBe('a, b, c, d, … (5)');
    expect(
      shareChanges({ reference: [0.5, 0.3, 0.2], current: [0.55, 0.05, 0.4], edges: null, labels: ['x', 'y', 'z'] }, 2)
    ).toEqual(['y 30% → 5.0%', 'z 20% → 40%']);
  });
});
