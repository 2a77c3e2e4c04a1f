/**
 * The runs table's arithmetic, apart from React: which metric columns, which rows (trials under their search), in
 * which order, which value is best, and what differs between two runs. Pure functions, unit-tested.
 */
import type { IExperiment, IRun } from './api';
import { baseMetric, type HigherIsBetter, higherIsBetter } from './direction';

/** %review records its reviews in an experiment of this name; the section shows a training experiment first. */
export const REVIEW_EXPERIMENT = 'reviews';
/** How many metric columns the runs table has room for in the sidebar. */
export const METRIC_COLUMNS = 4;
/** The usual metrics first, in this order; any other after them, by name. */
const METRIC_ORDER = ['accuracy', 'f1', 'roc_auc', 'rmse', 'mae', 'r2', 'precision', 'recall', 'balanced_accuracy'];

/** A short column heading: eval_accuracy -> accuracy (evaluation is what one compares), train_f1 -> train f1. */
export function metricLabel(name: string): string {
  if (name.startsWith('eval_')) {
    return name.slice(5);
  }
  if (name === 'mean_cv_score') {
    return 'cv score';
  }
  return name.replace(/_/g, ' ');
}

/** A run's value of a metric: undefined when it has none, null when it logged NaN or an infinity. */
type Metric = number | null | undefined;

/** A metric value that can be compared: missing, null (NaN on the wire) and NaN cannot. */
/** When a run started (epoch ms); a run MLflow has no start time for sorts as the oldest. */
function started(run: IRun): number {
  return run.start_time ?? 0;
}

function present(value: Metric): value is number {
  return value !== undefined && value !== null && !Number.isNaN(value);
}

/**
 * The metric columns: those the runs have, evaluation metrics first (in the usual order), then the search's
 * cross-validation score, then training metrics, then the rest (the more runs have one, the earlier); at most
 * `limit`.
 */
export function metricColumns(runs: IRun[], limit = METRIC_COLUMNS): string[] {
  const seen = new Map<string, number>();
  for (const run of runs) {
    for (const name of Object.keys(run.metrics)) {
      seen.set(name, (seen.get(name) ?? 0) + 1);
    }
  }
  const group = (name: string): number => {
    if (name.startsWith('eval_')) {
      return 0;
    }
    if (name === 'mean_cv_score') {
      return 1;
    }
    return name.startsWith('train_') ? 2 : 3;
  };
  const rank = (name: string): number => {
    const at = METRIC_ORDER.indexOf(baseMetric(name));
    return at < 0 ? METRIC_ORDER.length : at;
  };
  return Array.from(seen.keys())
    .sort(
      (a, b) =>
        group(a) - group(b) ||
        rank(a) - rank(b) ||
        (seen.get(b) ?? 0) - (seen.get(a) ?? 0) ||
        a.localeCompare(b)
    )
    .slice(0, limit);
}

export type SortKey = { kind: 'started' } | { kind: 'name' } | { kind: 'metric'; name: string };
export interface ISort {
  key: SortKey;
  descending: boolean;
}

/** Newest first: how the table opens. */
export const NEWEST_FIRST: ISort = { key: { kind: 'started' }, descending: true };

export const sameKey = (a: SortKey, b: SortKey): boolean =>
  a.kind === b.kind && (a.kind !== 'metric' || (b.kind === 'metric' && a.name === b.name));

/** A first click sorts best first (newest, A to Z, the better metric values); another click reverses. */
export function nextSort(current: ISort, key: SortKey, higher: HigherIsBetter): ISort {
  if (sameKey(current.key, key)) {
    return { key, descending: !current.descending };
  }
  const descending = key.kind === 'started' || (key.kind === 'metric' && higherIsBetter(key.name, higher));
  return { key, descending };
}

/** The order of `sort`; ties (and runs without the metric, always last) newest first. */
export function compareRuns(sort: ISort): (a: IRun, b: IRun) => number {
  const { key, descending } = sort;
  const sign = descending ? -1 : 1;
  return (a, b) => {
    if (key.kind === 'metric') {
      const x = a.metrics[key.name];
      const y = b.metrics[key.name];
      // Runs without the metric go last, whichever the direction.
      if (!present(x) || !present(y)) {
        return Number(!present(x)) - Number(!present(y)) || started(b) - started(a);
      }
      return sign * (x - y) || started(b) - started(a);
    }
    if (key.kind === 'name') {
      return sign * (a.name ?? '').localeCompare(b.name ?? '') || started(b) - started(a);
    }
    return sign * (started(a) - started(b));
  };
}

/** One row of the runs table: a run, how deep it is nested, and how many trials it holds. */
export interface IRunRow {
  run: IRun;
  depth: number;
  children: number;
}

/**
 * The table's rows: the runs without a listed parent, sorted; under each, when it is expanded, its nested trial
 * runs, sorted the same way. A trial whose parent is not listed is shown at the top level.
 */
export function runRows(runs: IRun[], sort: ISort, expanded: ReadonlySet<string>): IRunRow[] {
  const ids = new Set(runs.map(run => run.id));
  const children = new Map<string, IRun[]>();
  const top: IRun[] = [];
  for (const run of runs) {
    if (run.parent && ids.has(run.parent)) {
      const siblings = children.get(run.parent) ?? [];
      siblings.push(run);
      children.set(run.parent, siblings);
    } else {
      top.push(run);
    }
  }
  const order = compareRuns(sort);
  const rows: IRunRow[] = [];
  for (const run of top.sort(order)) {
    const trials = children.get(run.id) ?? [];
    rows.push({ run, depth: 0, children: trials.length });
    if (expanded.has(run.id)) {
      for (const trial of trials.sort(order)) {
        rows.push({ run: trial, depth: 1, children: 0 });
      }
    }
  }
  return rows;
}

/**
 * The best value of each column among the top-level rows (trials compete within their search, not with the
 * runs), in the metric's direction; a column with fewer than two values has no best.
 */
export function bestValues(rows: IRunRow[], columns: string[], higher: HigherIsBetter): Map<string, number> {
  const best = new Map<string, number>();
  for (const name of columns) {
    const values = rows
      .filter(row => row.depth === 0)
      .map(row => row.run.metrics[name])
      .filter(present);
    if (values.length > 1) {
      best.set(name, higherIsBetter(name, higher) ? Math.max(...values) : Math.min(...values));
    }
  }
  return best;
}

/** The params and metrics whose values differ between two runs, and how many are the same. */
export interface IDifferences {
  metrics: [string, Metric, Metric][];
  params: [string, string | undefined, string | undefined][];
  sameMetrics: number;
  sameParams: number;
}

export function differences(a: IRun, b: IRun): IDifferences {
  const names = <T>(x: Record<string, T>, y: Record<string, T>): string[] =>
    Array.from(new Set([...Object.keys(x), ...Object.keys(y)])).sort();
  const metricNames = names(a.metrics, b.metrics);
  const paramNames = names(a.params, b.params);
  // Two NaNs (null on the wire) are the same: neither run has a value.
  const same = (x: Metric, y: Metric): boolean => x === y || (!present(x) && !present(y));
  const metrics = metricNames
    .filter(name => !same(a.metrics[name], b.metrics[name]))
    .map(name => [name, a.metrics[name], b.metrics[name]] as [string, Metric, Metric]);
  const params = paramNames
    .filter(name => a.params[name] !== b.params[name])
    .map(name => [name, a.params[name], b.params[name]] as [string, string | undefined, string | undefined]);
  return {
    metrics,
    params,
    sameMetrics: metricNames.length - metrics.length,
    sameParams: paramNames.length - params.length
  };
}

/** Which of two values of a metric is better, in its direction: null when one is missing or they are equal. */
export function betterOf(
  name: string,
  x: Metric,
  y: Metric,
  higher: HigherIsBetter
): 'a' | 'b' | null {
  if (!present(x) || !present(y) || x === y) {
    return null;
  }
  return (higherIsBetter(name, higher) ? x > y : x < y) ? 'a' : 'b';
}

/** Enough digits to compare runs at a glance; the cell's title has the full value. */
export function formatMetric(value: Metric): string {
  if (!present(value)) {
    return '–';
  }
  const size = Math.abs(value);
  const digits = size >= 1000 ? 0 : size >= 100 ? 1 : size >= 1 ? 3 : 4;
  return value.toLocaleString(undefined, { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

/**
 * A run's name for a narrow column: %%train names runs VARIABLE-Class (model-LogisticRegression); the class is in
 * the title, so the variable alone is shown.
 */
export function shortRunName(run: IRun): string {
  const name = run.name || run.id.slice(0, 8);
  const className = run.model_class.split('.').pop();
  if (className && name.endsWith(`-${className}`) && name.length > className.length + 1) {
    return name.slice(0, -(className.length + 1));
  }
  return name;
}

/** The experiment to show: the one picked, while it exists; else the newest training experiment. */
export function chooseExperiment(experiments: IExperiment[], current: string | null, picked: boolean): string | null {
  if (current && picked && experiments.some(e => e.id === current)) {
    return current;
  }
  const training = experiments.find(e => e.name !== REVIEW_EXPERIMENT) ?? experiments[0];
  return training?.id ?? null;
}
