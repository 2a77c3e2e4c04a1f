/**
 * The Monitoring section's reading of a check, apart from React: the check's `details` (as %monitor's to_dict) read
 * into typed parts, the words and tones of verdicts, a metric's values over the check history, and the geometry of
 * the small SVG charts (a feature's reference-vs-current histogram, a line over time). Pure functions, unit-tested.
 */
import type { IIncident, IMonitor, IMonitorCheck, IWatching, LoopStepName } from './api';

/** A feature's shares of rows per bar: between `edges` (numbers) or one bar per `labels` entry (categories). */
export interface IHistogram {
  reference: number[];
  current: number[];
  edges: number[] | null;
  labels: string[] | null;
}

/** One feature's drift (mlops_magics/monitor/drift.py FeatureDrift). */
export interface IFeatureDrift {
  feature: string;
  kind: string;
  /** drift, no drift, not comparable, schema change, no data */
  verdict: string;
  reason: string;
  method: string | null;
  /** The statistic the verdict rests on (wasserstein, psi, jensen_shannon). */
  effect: string | null;
  effect_size: number | null;
  threshold: number | null;
  p_value: number | null;
  reference_rows: number;
  current_rows: number;
  histogram: IHistogram | null;
}

/** One metric on the window's feedback labels beside the model's own value (mlops_magics/monitor/performance.py). */
export interface IMetricResult {
  metric: string;
  value: number | null;
  /** The served version's run value: its eval metric, else its train metric. */
  reference: number | null;
  limit: { bound: 'min' | 'max'; value: number } | null;
  note: string;
}

export interface IPerformance {
  /** decay, no decay, not enough feedback */
  verdict: string;
  reason: string;
  labelled: number;
  /** Which of the run's metrics stand beside: eval or train. */
  reference: string | null;
  metrics: IMetricResult[];
  decayed: string[];
}

/** A check's details, read: what the panel shows of it. A check that failed has `error` and nothing else. */
export interface ICheckDetails {
  model: string | null;
  version: string | null;
  window: string | null;
  rows: number | null;
  requests: number | null;
  errorRate: number | null;
  latencyP50: number | null;
  latencyP95: number | null;
  features: IFeatureDrift[];
  predictionDrift: IFeatureDrift | null;
  performance: IPerformance | null;
  notes: string[];
  error: string | null;
}

type Loose = Record<string, unknown>;

const isObject = (value: unknown): value is Loose =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const num = (value: unknown): number | null => (typeof value === 'number' && Number.isFinite(value) ? value : null);
const str = (value: unknown): string | null => (typeof value === 'string' ? value : null);
const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
const numbers = (value: unknown): number[] => list(value).map(v => num(v) ?? 0);

function histogram(value: unknown): IHistogram | null {
  if (!isObject(value)) {
    return null;
  }
  const reference = numbers(value.reference);
  const current = numbers(value.current);
  if (!reference.length || reference.length !== current.length) {
    return null;
  }
  const edges = Array.isArray(value.edges) ? numbers(value.edges) : null;
  const labels = Array.isArray(value.labels) ? list(value.labels).map(String) : null;
  return { reference, current, edges, labels };
}

export function featureDrift(value: unknown): IFeatureDrift | null {
  if (!isObject(value) || typeof value.feature !== 'string') {
    return null;
  }
  return {
    feature: value.feature,
    kind: str(value.kind) ?? 'unknown',
    verdict: str(value.verdict) ?? 'unknown',
    reason: str(value.reason) ?? '',
    method: str(value.method),
    effect: str(value.effect),
    effect_size: num(value.effect_size),
    threshold: num(value.threshold),
    p_value: num(value.p_value),
    reference_rows: num(value.reference_rows) ?? 0,
    current_rows: num(value.current_rows) ?? 0,
    histogram: histogram(value.histogram)
  };
}

function metricResult(value: unknown): IMetricResult | null {
  if (!isObject(value) || typeof value.metric !== 'string') {
    return null;
  }
  const limit = isObject(value.limit) ? value.limit : null;
  const bound = limit?.bound === 'min' || limit?.bound === 'max' ? limit.bound : null;
  const limitValue = limit ? num(limit.value) : null;
  return {
    metric: value.metric,
    value: num(value.value),
    reference: num(value.reference),
    limit: bound && limitValue !== null ? { bound, value: limitValue } : null,
    note: str(value.note) ?? ''
  };
}

function performance(value: unknown): IPerformance | null {
  if (!isObject(value) || typeof value.verdict !== 'string') {
    return null;
  }
  return {
    verdict: value.verdict,
    reason: str(value.reason) ?? '',
    labelled: num(value.labelled) ?? 0,
    reference: str(value.reference),
    metrics: list(value.metrics)
      .map(metricResult)
      .filter((m): m is IMetricResult => m !== null),
    decayed: list(value.decayed).map(String)
  };
}

/** What the check said beside its verdict: rows of other versions left out, log segments skipped. */
function notes(details: Loose): string[] {
  const said: string[] = [];
  const others = num(details.other_versions);
  if (others) {
    said.push(`${others.toLocaleString()} row(s) of the window served by another model version were left out`);
  }
  const skipped = list(details.skipped).length;
  if (skipped) {
    said.push(`${skipped} log segment(s) could not be read and were skipped`);
  }
  return said;
}

/** A check's `details` read defensively: a field missing or of another type reads as absent, never as a crash. */
export function checkDetails(details: unknown): ICheckDetails {
  const d = isObject(details) ? details : {};
  const drift = isObject(d.drift) ? d.drift : {};
  return {
    model: str(d.model),
    version: d.version === null || d.version === undefined ? null : String(d.version),
    window: str(d.window),
    rows: num(d.rows),
    requests: num(d.requests),
    errorRate: num(d.error_rate),
    latencyP50: num(d.latency_p50_ms),
    latencyP95: num(d.latency_p95_ms),
    features: list(drift.features)
      .map(featureDrift)
      .filter((f): f is IFeatureDrift => f !== null),
    predictionDrift: featureDrift(d.prediction_drift),
    performance: performance(d.performance),
    notes: notes(d),
    error: str(d.error)
  };
}

/** How a verdict reads at a glance: bad (drift, decay, error), warn (schema change), ok, or none (no data). */
export type Tone = 'bad' | 'warn' | 'ok' | 'none';

export function verdictTone(verdict: string | null | undefined): Tone {
  switch (verdict) {
    case 'drift':
    case 'decay':
    case 'error':
    case 'error rate':
    case 'no traffic':
      return 'bad';
    case 'schema change':
      return 'warn';
    case 'no drift':
    case 'no decay':
      return 'ok';
    default:
      return 'none';
  }
}

/** A monitor that calls for a look: its last verdict is bad or a schema change. */
export const needsLook = (monitor: Pick<IMonitor, 'last_verdict'>): boolean =>
  verdictTone(monitor.last_verdict) === 'bad' || verdictTone(monitor.last_verdict) === 'warn';

/** A number in a narrow column: 3 significant digits ("0.512", "12.3", "1,234"), '–' for none. */
export function formatValue(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) {
    return '–';
  }
  if (Math.abs(value) >= 1000) {
    return Math.round(value).toLocaleString('en-US');
  }
  if (value === 0) {
    return '0';
  }
  return String(Number(value.toPrecision(3)));
}

/** A p-value: "<0.001" when tiny, else two significant digits. */
export function formatPValue(p: number | null | undefined): string {
  if (p === null || p === undefined || !Number.isFinite(p)) {
    return '–';
  }
  return p < 0.001 ? '<0.001' : String(Number(p.toPrecision(2)));
}

/** A share as a percentage: "2.5%". */
export function formatShare(share: number | null | undefined): string {
  if (share === null || share === undefined || !Number.isFinite(share)) {
    return '–';
  }
  const percent = share * 100;
  return `${percent === 0 || percent >= 10 ? percent.toFixed(0) : percent.toFixed(1)}%`;
}

const EFFECT_NAMES: Record<string, string> = {
  wasserstein: 'Wasserstein',
  psi: 'PSI',
  jensen_shannon: 'Jensen-Shannon',
  ks: 'KS'
};

/** A statistic's name as people write it: "Jensen-Shannon", "PSI". */
export const effectName = (effect: string | null | undefined): string =>
  effect ? (EFFECT_NAMES[effect] ?? effect.replace(/_/g, ' ')) : '';

/** The name in a narrow column: "JS distance" for Jensen-Shannon, the others as `effectName` says them. */
export const effectShortName = (effect: string | null | undefined): string =>
  effect === 'jensen_shannon' ? 'JS distance' : effectName(effect);

/** The effect against its threshold: "0.512 > 0.1" when over, "0.03 ≤ 0.1" when within; '' when not measured. */
export function effectText(feature: Pick<IFeatureDrift, 'effect_size' | 'threshold'>): string {
  const { effect_size: size, threshold } = feature;
  if (size === null) {
    return '';
  }
  if (threshold === null) {
    return formatValue(size);
  }
  return `${formatValue(size)} ${size > threshold ? '>' : '≤'} ${formatValue(threshold)}`;
}

/** What the prediction drift rests on, beside its verdict: "PSI 0.02 ≤ 0.2", else why it was not measured. */
export function predictionDetail(drift: IFeatureDrift): string {
  const effect = effectText(drift);
  if (effect && (drift.verdict === 'drift' || drift.verdict === 'no drift')) {
    return `${effectName(drift.effect)} ${effect}`;
  }
  return drift.reason;
}

/** How far a feature is from its threshold: effect / threshold (1 is the threshold); null when not measured. */
export function driftScore(feature: Pick<IFeatureDrift, 'effect_size' | 'threshold'>): number | null {
  const { effect_size: size, threshold } = feature;
  return size !== null && threshold !== null && threshold > 0 ? size / threshold : null;
}

/** The check's largest drift score over its features; null when none was measured. */
export function maxDriftScore(features: IFeatureDrift[]): number | null {
  const scores = features.map(driftScore).filter((s): s is number => s !== null);
  return scores.length ? Math.max(...scores) : null;
}

/** Drifted features first (furthest over first), then the rest by score, then the unmeasured by name. */
export function sortFeatures(features: IFeatureDrift[]): IFeatureDrift[] {
  const rank = (f: IFeatureDrift): number => (f.verdict === 'drift' ? 0 : f.verdict === 'schema change' ? 1 : 2);
  return [...features].sort(
    (a, b) =>
      rank(a) - rank(b) ||
      (driftScore(b) ?? -1) - (driftScore(a) ?? -1) ||
      a.feature.localeCompare(b.feature)
  );
}

/** A monitor's window in words: "1h", or "the last 300 rows" for a count of rows. */
export const windowText = (window: string | null | undefined): string =>
  !window ? '1h' : /^\d+$/.test(window) ? `the last ${Number(window).toLocaleString('en-US')} rows` : window;

/** "watching v3 after swap (was v2)": a swap whose first window the monitor watches. */
export function watchingText(watching: IWatching | null | undefined): string {
  if (!watching) {
    return '';
  }
  const version = watching.version ? `v${watching.version}` : watching.model;
  const was = watching.previous_version ? ` (was v${watching.previous_version})` : '';
  return `watching ${version} after swap${was}`;
}

/** One value of a series at a check's time (epoch ms). */
export interface IPoint {
  t: number;
  v: number;
}

/** Something a check measures, over the history: a metric on feedback, the drift score, the error rate. */
export interface ISeries {
  key: string;
  label: string;
  points: IPoint[];
  /** A line to read the values against: the model's own value of the metric, or 1 (the drift threshold). */
  reference: number | null;
  referenceLabel: string;
  /** The monitor's limit on it (--min/--max). */
  limit: number | null;
  format: (value: number) => string;
}

/** A check's time in epoch ms; NaN when it cannot be read. */
const checkTime = (check: Pick<IMonitorCheck, 'at'>): number => Date.parse(check.at);

/**
 * What can be drawn over the history (checks newest first, as the server sends them): each metric on feedback
 * labels with a value in some check, then the drift score, then the 5xx share. Points oldest first.
 */
export function historySeries(checks: IMonitorCheck[]): ISeries[] {
  const ordered = checks
    .map(check => ({ t: checkTime(check), details: checkDetails(check.details) }))
    .filter(c => !Number.isNaN(c.t))
    .sort((a, b) => a.t - b.t);
  const series: ISeries[] = [];
  const metrics = new Map<string, ISeries>();
  for (const { t, details } of ordered) {
    const which = details.performance?.reference ?? 'model';
    for (const m of details.performance?.metrics ?? []) {
      if (m.value === null) {
        continue;
      }
      let found = metrics.get(m.metric);
      if (!found) {
        found = {
          key: `metric:${m.metric}`,
          label: `${m.metric} on feedback`,
          points: [],
          reference: null,
          referenceLabel: '',
          limit: null,
          format: formatValue
        };
        metrics.set(m.metric, found);
        series.push(found);
      }
      found.points.push({ t, v: m.value });
      // The latest check's model value and limit stand for the line (a swap changes the model's value).
      found.reference = m.reference;
      found.referenceLabel = m.reference === null ? '' : `${which} ${m.metric} ${formatValue(m.reference)}`;
      found.limit = m.limit?.value ?? null;
    }
  }
  const drift = ordered
    .map(({ t, details }) => ({ t, v: maxDriftScore(details.features) }))
    .filter((p): p is IPoint => p.v !== null);
  if (drift.length) {
    series.push({
      key: 'drift',
      label: 'drift score (largest effect / threshold)',
      points: drift,
      reference: 1,
      referenceLabel: 'threshold',
      limit: null,
      format: formatValue
    });
  }
  const errors = ordered
    .map(({ t, details }) => ({ t, v: details.errorRate }))
    .filter((p): p is IPoint => p.v !== null);
  if (errors.length) {
    series.push({
      key: 'errors',
      label: 'error rate (5xx)',
      points: errors,
      reference: null,
      referenceLabel: '',
      limit: null,
      format: formatShare
    });
  }
  return series;
}

/** A line chart laid out in a `width` x `height` box: the path, its dots, and where a value falls. */
export interface ILineLayout {
  path: string;
  dots: { x: number; y: number }[];
  /** The y of a value (for reference and limit lines); null when it falls outside the drawn range. */
  y: (value: number) => number | null;
  min: number;
  max: number;
}

const round = (x: number): number => Math.round(x * 10) / 10;

/**
 * Points by time left to right, values bottom to top, within `pad` of the edges. The range holds the points and
 * the `extras` (the reference and limit lines, drawn too); a flat range is widened so a flat line sits mid-box.
 */
export function lineLayout(
  points: IPoint[],
  extras: (number | null)[],
  width: number,
  height: number,
  pad = 3
): ILineLayout {
  const values = [...points.map(p => p.v), ...extras.filter((e): e is number => e !== null && Number.isFinite(e))];
  let min = values.length ? Math.min(...values) : 0;
  let max = values.length ? Math.max(...values) : 1;
  if (max - min < 1e-12) {
    const half = Math.abs(max) > 1e-12 ? Math.abs(max) * 0.1 : 0.5;
    min -= half;
    max += half;
  }
  const t0 = points.length ? Math.min(...points.map(p => p.t)) : 0;
  const t1 = points.length ? Math.max(...points.map(p => p.t)) : 1;
  const x = (t: number): number => (t1 > t0 ? pad + ((t - t0) / (t1 - t0)) * (width - 2 * pad) : width / 2);
  const yOf = (v: number): number => height - pad - ((v - min) / (max - min)) * (height - 2 * pad);
  const dots = points.map(p => ({ x: round(x(p.t)), y: round(yOf(p.v)) }));
  const path = dots.map((d, i) => `${i ? 'L' : 'M'}${d.x} ${d.y}`).join(' ');
  return {
    path,
    dots,
    y: (v: number) => (v >= min && v <= max ? round(yOf(v)) : null),
    min,
    max
  };
}

export interface IRect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** A histogram laid out in a `width` x `height` box: reference bars, and current as bars or as a step line. */
export interface IHistogramLayout {
  reference: IRect[];
  /** Categories: a bar beside each reference bar. */
  current: IRect[];
  /** Numbers: the current shares as a step line over the reference bars. */
  currentPath: string | null;
}

/**
 * Numbers (edges): the reference as bars and the current as a step line over them, so 20 bins stay readable in a
 * small box. Categories (labels): a reference bar and a current bar side by side per category. Both sides share
 * one scale: the largest share of either reaches the top.
 */
export function histogramLayout(h: IHistogram, width: number, height: number): IHistogramLayout {
  const n = h.reference.length;
  const top = Math.max(...h.reference, ...h.current, 1e-12);
  const barHeight = (share: number): number => round((Math.max(share, 0) / top) * (height - 1));
  const slot = width / n;
  if (h.labels) {
    const gap = slot > 6 ? 1 : 0;
    const bar = (slot - gap) / 2;
    const rect = (i: number, share: number, side: 0 | 1): IRect => {
      const barH = barHeight(share);
      return { x: round(i * slot + side * bar), y: round(height - barH), width: round(bar), height: barH };
    };
    return {
      reference: h.reference.map((s, i) => rect(i, s, 0)),
      current: h.current.map((s, i) => rect(i, s, 1)),
      currentPath: null
    };
  }
  const gap = slot > 3 ? 0.5 : 0;
  const reference = h.reference.map((s, i) => {
    const barH = barHeight(s);
    return { x: round(i * slot), y: round(height - barH), width: round(slot - gap), height: barH };
  });
  const steps = h.current.map((s, i) => {
    const y = round(height - barHeight(s));
    return `${i ? 'L' : 'M'}${round(i * slot)} ${y} L${round((i + 1) * slot)} ${y}`;
  });
  return { reference, current: [], currentPath: steps.join(' ') };
}

/** The range a numeric histogram spans, and what a category histogram lists, in a few words. */
export function histogramCaption(h: IHistogram): string {
  if (h.labels) {
    const shown = h.labels.slice(0, 4).join(', ');
    return h.labels.length > 4 ? `${shown}, … (${h.labels.length})` : shown;
  }
  if (h.edges && h.edges.length >= 2) {
    return `${formatValue(h.edges[0])} to ${formatValue(h.edges[h.edges.length - 1])}`;
  }
  return '';
}

/** Largest share differences first: "(other) 12% → 31%", for a category histogram's title. */
export function shareChanges(h: IHistogram, limit = 3): string[] {
  const names = h.labels ?? h.reference.map((_, i) => `bin ${i + 1}`);
  return names
    .map((name, i) => ({ name, ref: h.reference[i], cur: h.current[i] }))
    .sort((a, b) => Math.abs(b.cur - b.ref) - Math.abs(a.cur - a.ref))
    .slice(0, limit)
    .map(c => `${c.name} ${formatShare(c.ref)} → ${formatShare(c.cur)}`);
}

const STEP_NAMES: Record<LoopStepName, string> = {
  alert: 'Alert',
  retrain: 'Retrain',
  model: 'New version',
  review: 'Review',
  swap: 'Swap',
  watch: 'Watch',
  rollback: 'Rollback'
};

/**
 * The turns of the loop worth a timeline: those that went beyond their alert (a retrain, a swap). An alert that
 * started nothing is in the alerts list already.
 */
export const loopIncidents = (incidents: IIncident[] | null | undefined): IIncident[] =>
  (incidents ?? []).filter(incident => incident.steps.some(step => step.step !== 'alert'));

/** A loop step's name as the timeline shows it. */
export const stepName = (step: string): string => STEP_NAMES[step as LoopStepName] ?? step;
