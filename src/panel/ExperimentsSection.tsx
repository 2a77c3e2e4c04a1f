import React, { useEffect, useRef, useState } from 'react';

import { Time } from '@jupyterlab/coreutils';

import { IExperiment, IMlflowUi, IRegisteredModel, IRun, MLOpsApi } from '../api';
import { MlflowUiLauncher, MlflowUiState } from '../mlflow';
import { EmptyState, Section } from './Section';
import { usePoll } from './usePoll';
import { message, count } from '../format';

export interface IExperimentsSectionProps {
  api: MLOpsApi;
  pollInterval: number;
  /** Starts the MLflow UI and opens its tab (shared with the palette's command). */
  mlflowUi: MlflowUiLauncher;
}

/** %review records its reviews in an experiment of this name; the section shows a training experiment first. */
const REVIEW_EXPERIMENT = 'reviews';
/** How many metric columns the runs table has room for in the sidebar. */
const METRIC_COLUMNS = 4;
/** How many versions of a model are listed before "older versions". */
const VERSIONS_SHOWN = 3;
/** Metrics that are better large; the others (errors, losses, spreads) are better small. */
const HIGHER_IS_BETTER = new Set([
  'accuracy',
  'balanced_accuracy',
  'f1',
  'roc_auc',
  'auc',
  'precision',
  'recall',
  'r2',
  'mean_cv_score',
  'score'
]);
/** The usual metrics first, in this order; any other after them, by name. */
const METRIC_ORDER = ['accuracy', 'f1', 'roc_auc', 'rmse', 'mae', 'r2', 'precision', 'recall', 'balanced_accuracy'];

/** The metric's name without its split prefix (eval_, train_, champion_, challenger_). */
function baseMetric(name: string): string {
  return name.replace(/^(eval|train|test|val|valid|champion|challenger)_/, '');
}

export function higherIsBetter(name: string): boolean {
  return HIGHER_IS_BETTER.has(baseMetric(name)) || HIGHER_IS_BETTER.has(name);
}

/** A short column heading: eval_accuracy -> accuracy (evaluation is what one compares), train_f1 -> train f1. */
function metricLabel(name: string): string {
  if (name.startsWith('eval_')) {
    return name.slice(5);
  }
  if (name === 'mean_cv_score') {
    return 'cv score';
  }
  return name.replace(/_/g, ' ');
}

/**
 * The metric columns: those the runs have, evaluation metrics first (in the usual order), then the search's
 * cross-validation score, then training metrics, then the rest; at most `limit`.
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

const sameKey = (a: SortKey, b: SortKey): boolean =>
  a.kind === b.kind && (a.kind !== 'metric' || (b.kind === 'metric' && a.name === b.name));

/** A first click sorts best first (newest, A to Z, the better metric values); another click reverses. */
function nextSort(current: ISort, key: SortKey): ISort {
  if (sameKey(current.key, key)) {
    return { key, descending: !current.descending };
  }
  const descending = key.kind === 'started' || (key.kind === 'metric' && higherIsBetter(key.name));
  return { key, descending };
}

function compareRuns(sort: ISort): (a: IRun, b: IRun) => number {
  const { key, descending } = sort;
  const sign = descending ? -1 : 1;
  return (a, b) => {
    if (key.kind === 'metric') {
      const x = a.metrics[key.name];
      const y = b.metrics[key.name];
      const missingX = x === undefined || x === null || Number.isNaN(x);
      const missingY = y === undefined || y === null || Number.isNaN(y);
      // Runs without the metric go last, whichever the direction.
      if (missingX || missingY) {
        return Number(missingX) - Number(missingY) || b.start_time - a.start_time;
      }
      return sign * (x - y) || b.start_time - a.start_time;
    }
    if (key.kind === 'name') {
      return sign * (a.name ?? '').localeCompare(b.name ?? '') || b.start_time - a.start_time;
    }
    return sign * (a.start_time - b.start_time);
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
 * runs, sorted the same way.
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

/** The params and metrics whose values differ between two runs, and how many are the same. */
export interface IDifferences {
  metrics: [string, number | undefined, number | undefined][];
  params: [string, string | undefined, string | undefined][];
  sameMetrics: number;
  sameParams: number;
}

export function differences(a: IRun, b: IRun): IDifferences {
  const names = <T,>(x: Record<string, T>, y: Record<string, T>): string[] =>
    Array.from(new Set([...Object.keys(x), ...Object.keys(y)])).sort();
  const metricNames = names(a.metrics, b.metrics);
  const paramNames = names(a.params, b.params);
  const metrics = metricNames
    .filter(name => a.metrics[name] !== b.metrics[name])
    .map(name => [name, a.metrics[name], b.metrics[name]] as [string, number | undefined, number | undefined]);
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

/** Enough digits to compare runs at a glance; the cell's title has the full value. */
export function formatMetric(value: number | undefined): string {
  if (value === undefined || value === null || Number.isNaN(value)) {
    return '–';
  }
  const size = Math.abs(value);
  const digits = size >= 1000 ? 0 : size >= 100 ? 1 : size >= 1 ? 3 : 4;
  return value.toLocaleString(undefined, { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

function when(epochMs: number | null | undefined): string {
  if (!epochMs) {
    return '';
  }
  return Time.formatHuman(new Date(epochMs), 'narrow');
}

function fullTime(epochMs: number | null | undefined): string {
  return epochMs ? Time.format(new Date(epochMs)) : '';
}

/** The experiment to show: the one picked, while it exists; else the newest training experiment. */
function chooseExperiment(experiments: IExperiment[], current: string | null, picked: boolean): string | null {
  if (current && picked && experiments.some(e => e.id === current)) {
    return current;
  }
  const training = experiments.find(e => e.name !== REVIEW_EXPERIMENT) ?? experiments[0];
  return training?.id ?? null;
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

function statusLabel(status: string): string {
  return status.toLowerCase();
}

function SortHeader(props: {
  label: string;
  sortKey: SortKey;
  sort: ISort;
  onSort: (key: SortKey) => void;
  title: string;
  className?: string;
  metric?: string;
}): JSX.Element {
  const active = sameKey(props.sort.key, props.sortKey);
  const direction = active ? (props.sort.descending ? 'descending' : 'ascending') : 'none';
  return (
    <th className={props.className} aria-sort={direction} data-metric={props.metric} scope="col">
      <button
        className="mlops-Runs-sort"
        onClick={() => props.onSort(props.sortKey)}
        title={`${props.title} — click to sort`}
      >
        {props.label}
        <span className="mlops-Runs-arrow" aria-hidden="true">
          {active ? (props.sort.descending ? '▼' : '▲') : ''}
        </span>
      </button>
    </th>
  );
}

function RunsTable(props: {
  experiment: IExperiment;
  runs: IRun[];
  picked: string[];
  onPick: (run: IRun, on: boolean) => void;
}): JSX.Element {
  const { runs } = props;
  const [sort, setSort] = useState<ISort>({ key: { kind: 'started' }, descending: true });
  const [expanded, setExpanded] = useState<ReadonlySet<string>>(new Set());
  const columns = metricColumns(runs);
  const rows = runRows(runs, sort, expanded);
  // The best value of each column among the top-level runs is shown in bold.
  const best = new Map<string, number>();
  for (const name of columns) {
    const values = rows
      .filter(row => row.depth === 0)
      .map(row => row.run.metrics[name])
      .filter(v => v !== undefined && !Number.isNaN(v));
    if (values.length > 1) {
      best.set(name, higherIsBetter(name) ? Math.max(...values) : Math.min(...values));
    }
  }
  const toggle = (id: string): void => {
    const next = new Set(expanded);
    if (!next.delete(id)) {
      next.add(id);
    }
    setExpanded(next);
  };
  const onSort = (key: SortKey): void => setSort(nextSort(sort, key));

  return (
    <div className="mlops-RunsScroll">
      <table className="mlops-Runs" aria-label={`Runs of ${props.experiment.name}`}>
        <thead>
          <tr>
            <th className="mlops-Runs-pick" scope="col">
              <span className="mlops-VisuallyHidden">Compare</span>
            </th>
            <SortHeader label="Run" sortKey={{ kind: 'name' }} sort={sort} onSort={onSort} title="Run name" />
            {columns.map(name => (
              <SortHeader
                key={name}
                label={metricLabel(name)}
                sortKey={{ kind: 'metric', name }}
                sort={sort}
                onSort={onSort}
                title={`${name} (${higherIsBetter(name) ? 'higher' : 'lower'} is better)`}
                className="mlops-Runs-metric"
                metric={name}
              />
            ))}
            <SortHeader
              label="Started"
              sortKey={{ kind: 'started' }}
              sort={sort}
              onSort={onSort}
              title="When the run started"
              className="mlops-Runs-time"
            />
          </tr>
        </thead>
        <tbody>
          {rows.map(({ run, depth, children }) => {
            const isPicked = props.picked.includes(run.id);
            const label = shortRunName(run);
            return (
              <tr
                key={run.id}
                data-run-id={run.id}
                data-depth={depth}
                className={`${depth ? 'mlops-Run-trial' : 'mlops-Run'}${isPicked ? ' mlops-Run-picked' : ''}`}
              >
                <td className="mlops-Runs-pick">
                  <input
                    type="checkbox"
                    checked={isPicked}
                    onChange={e => props.onPick(run, e.target.checked)}
                    aria-label={`Compare run ${label}`}
                  />
                </td>
                <td className="mlops-Runs-name">
                  <span className="mlops-Runs-nameLine" style={{ paddingLeft: depth ? `${depth * 14}px` : undefined }}>
                    {children ? (
                      <button
                        className="mlops-Runs-toggle"
                        aria-expanded={expanded.has(run.id)}
                        onClick={() => toggle(run.id)}
                        title={`${expanded.has(run.id) ? 'Hide' : 'Show'} the ${count(children, 'trial run')} of this search`}
                      >
                        {expanded.has(run.id) ? '▾' : '▸'}
                        <span className="mlops-Runs-trials">{children}</span>
                      </button>
                    ) : null}
                    <span
                      className={`mlops-RunStatus mlops-RunStatus-${run.status.toLowerCase()}`}
                      role="img"
                      aria-label={statusLabel(run.status)}
                      title={statusLabel(run.status)}
                    />
                    <span
                      className="mlops-Runs-label"
                      title={[
                        run.name || label,
                        run.model_class,
                        `run ${run.id}`,
                        run.notebook ? `from ${run.notebook}` : '',
                        statusLabel(run.status)
                      ]
                        .filter(Boolean)
                        .join('\n')}
                    >
                      {label}
                    </span>
                  </span>
                </td>
                {columns.map(name => {
                  const value = run.metrics[name];
                  const isBest = depth === 0 && best.get(name) === value && value !== undefined;
                  return (
                    <td
                      key={name}
                      className={`mlops-Runs-metric${isBest ? ' mlops-Runs-best' : ''}`}
                      data-metric={name}
                      data-value={value ?? ''}
                      title={value === undefined ? `no ${name}` : `${name} = ${value}${isBest ? ' (best)' : ''}`}
                    >
                      {formatMetric(value)}
                    </td>
                  );
                })}
                <td className="mlops-Runs-time" title={fullTime(run.start_time)}>
                  {when(run.start_time)}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

type Comparison =
  | { state: 'closed' }
  | { state: 'loading' }
  | { state: 'shown'; a: IRun; b: IRun }
  | { state: 'failed'; message: string };

function RunHeading(props: { run: IRun }): JSX.Element {
  const { run } = props;
  return (
    <th scope="col" title={`${run.name}\nrun ${run.id}${run.model_class ? `\n${run.model_class}` : ''}`}>
      <span className="mlops-Compare-run">{shortRunName(run)}</span>
      <span className="mlops-Compare-id">
        {run.id.slice(0, 8)} · {when(run.start_time)}
      </span>
    </th>
  );
}

function CompareView(props: { comparison: Comparison; close: () => void }): JSX.Element | null {
  const { comparison } = props;
  if (comparison.state === 'closed') {
    return null;
  }
  let caption = 'Compare two runs';
  let body: JSX.Element;
  if (comparison.state === 'loading') {
    body = <div className="mlops-Busy">Loading the two runs…</div>;
  } else if (comparison.state === 'failed') {
    body = (
      <div className="mlops-Error" role="alert">
        {comparison.message}
      </div>
    );
  } else {
    const { a, b } = comparison;
    const diff = differences(a, b);
    const same: string[] = [];
    if (diff.sameMetrics) {
      same.push(count(diff.sameMetrics, 'metric'));
    }
    if (diff.sameParams) {
      same.push(count(diff.sameParams, 'param'));
    }
    const nothing = diff.metrics.length === 0 && diff.params.length === 0;
    caption = nothing ? 'These two runs have the same metrics and params.' : 'What differs between the two runs';
    body = (
      <>
        {nothing ? null : (
          <div className="mlops-Compare-scroll">
            <table className="mlops-Compare-table" aria-label="Differences between the two runs">
              <colgroup>
                <col className="mlops-Compare-nameCol" />
                <col />
                <col />
              </colgroup>
              <thead>
                <tr>
                  <th scope="col" />
                  <RunHeading run={a} />
                  <RunHeading run={b} />
                </tr>
              </thead>
              <tbody>
                {diff.metrics.length ? (
                  <tr className="mlops-Compare-group">
                    <th colSpan={3} scope="rowgroup">
                      Metrics
                    </th>
                  </tr>
                ) : null}
                {diff.metrics.map(([name, x, y]) => {
                  const better =
                    x === undefined || y === undefined ? null : (higherIsBetter(name) ? x > y : x < y) ? 'a' : 'b';
                  return (
                    <tr key={`m-${name}`} data-metric={name}>
                      <th scope="row" title={name}>
                        {name}
                      </th>
                      <td className={better === 'a' ? 'mlops-Runs-best' : undefined} title={String(x ?? '')}>
                        {formatMetric(x)}
                      </td>
                      <td className={better === 'b' ? 'mlops-Runs-best' : undefined} title={String(y ?? '')}>
                        {formatMetric(y)}
                      </td>
                    </tr>
                  );
                })}
                {diff.params.length ? (
                  <tr className="mlops-Compare-group">
                    <th colSpan={3} scope="rowgroup">
                      Params
                    </th>
                  </tr>
                ) : null}
                {diff.params.map(([name, x, y]) => (
                  <tr key={`p-${name}`} data-param={name}>
                    <th scope="row" title={name}>
                      {name}
                    </th>
                    <td title={x ?? 'not set'}>{x ?? '–'}</td>
                    <td title={y ?? 'not set'}>{y ?? '–'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {same.length && !nothing ? (
          <div className="mlops-Compare-note">Same in both, not shown: {same.join(' and ')}.</div>
        ) : null}
      </>
    );
  }
  return (
    <div className="mlops-Compare" data-testid="run-compare">
      <div className="mlops-Compare-head">
        <span className="mlops-Compare-caption">{caption}</span>
        <button className="mlops-Compare-close" onClick={props.close} aria-label="Close the comparison">
          ×
        </button>
      </div>
      {body}
    </div>
  );
}

function AliasChip(props: { alias: string }): JSX.Element {
  const known = ['champion', 'challenger', 'previous'].includes(props.alias) ? props.alias : 'other';
  return (
    <span className={`mlops-Alias mlops-Alias-${known}`} data-alias={props.alias}>
      {props.alias}
    </span>
  );
}

function ModelItem(props: { model: IRegisteredModel }): JSX.Element {
  const { model } = props;
  const [all, setAll] = useState(false);
  // Versions with an alias are always listed; the others up to VERSIONS_SHOWN in all, unless asked.
  const shown = all
    ? model.versions
    : model.versions.filter((v, index) => v.aliases.length > 0 || index < VERSIONS_SHOWN);
  const hidden = model.versions.length - shown.length;
  return (
    <li className="mlops-Model" data-model={model.name}>
      <div className="mlops-Model-head">
        <span className="mlops-Model-name">{model.name}</span>
        <span className="mlops-Model-count">{count(model.versions.length, 'version')}</span>
      </div>
      <ul className="mlops-Model-versions" aria-label={`Versions of ${model.name}`}>
        {shown.map(version => (
          <li
            key={version.version}
            className="mlops-ModelVersion"
            data-version={version.version}
            title={`${model.name} v${version.version} · run ${version.run_id} · ${version.status.toLowerCase()}\nregistered ${fullTime(version.created)}`}
          >
            <span className="mlops-ModelVersion-number">v{version.version}</span>
            <span className="mlops-ModelVersion-aliases">
              {version.aliases.map(alias => (
                <AliasChip key={alias} alias={alias} />
              ))}
            </span>
            <span className="mlops-ModelVersion-time">{when(version.created)}</span>
          </li>
        ))}
      </ul>
      {hidden > 0 || all ? (
        <button className="mlops-Link" onClick={() => setAll(!all)}>
          {all ? 'fewer versions' : `${count(hidden, 'older version')}`}
        </button>
      ) : null}
    </li>
  );
}

export function ExperimentsSection(props: IExperimentsSectionProps): JSX.Element {
  const { api, pollInterval, mlflowUi } = props;
  const [experiments, setExperiments] = useState<IExperiment[]>([]);
  const [loaded, setLoaded] = useState(false);
  const [selected, setSelected] = useState<string | null>(null);
  const [runs, setRuns] = useState<{ experiment: string; runs: IRun[] } | null>(null);
  const [models, setModels] = useState<IRegisteredModel[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [picked, setPicked] = useState<IRun[]>([]);
  const [comparison, setComparison] = useState<Comparison>({ state: 'closed' });
  const [ui, setUi] = useState<MlflowUiState>(mlflowUi.state);
  const selectedRef = useRef<string | null>(null);
  const pickedByUser = useRef(false);
  const open = useRef(false);

  useEffect(() => mlflowUi.subscribe(setUi), [mlflowUi]);

  // A closed section only counts the experiments (for its badge); an open one also lists the runs, the
  // models and the MLflow UI.
  const poll = usePoll('mlops:experiments', pollInterval, async () => {
    try {
      const found = await api.experiments();
      setExperiments(found);
      setLoaded(true);
      const chosen = chooseExperiment(found, selectedRef.current, pickedByUser.current);
      if (chosen !== selectedRef.current) {
        selectedRef.current = chosen;
        setSelected(chosen);
      }
      if (open.current) {
        const [listed, registered, status] = await Promise.all([
          chosen ? api.experimentRuns(chosen) : Promise.resolve([]),
          api.models(),
          api.mlflowUi().catch((): IMlflowUi | null => null)
        ]);
        // The pick may have changed while the runs were asked for: keep them only for theirs.
        if (chosen && chosen === selectedRef.current) {
          setRuns({ experiment: chosen, runs: listed });
        }
        setModels(registered);
        if (status) {
          mlflowUi.observe(status);
        }
      }
      setError(null);
    } catch (e) {
      setError(`The experiments could not be listed: ${message(e)}`);
      throw e;
    }
  }, [api, mlflowUi]);

  const onToggle = (isOpen: boolean): void => {
    const opened = isOpen && !open.current;
    open.current = isOpen;
    if (opened) {
      void poll.current?.refresh();
    }
  };

  const pickExperiment = (id: string): void => {
    pickedByUser.current = true;
    selectedRef.current = id;
    setSelected(id);
    void poll.current?.refresh();
  };

  // Two runs at most: a third pick replaces the older pick.
  const pickRun = (run: IRun, on: boolean): void => {
    const others = picked.filter(p => p.id !== run.id);
    setPicked(on ? [...others, run].slice(-2) : others);
  };

  const compare = async (): Promise<void> => {
    if (picked.length !== 2) {
      return;
    }
    setComparison({ state: 'loading' });
    try {
      const [a, b] = await Promise.all(picked.map(run => api.run(run.id)));
      setComparison({ state: 'shown', a, b });
    } catch (e) {
      setComparison({ state: 'failed', message: `The runs could not be loaded: ${message(e)}` });
    }
  };

  const openUi = async (): Promise<void> => {
    try {
      await mlflowUi.open();
    } catch {
      // The launcher's state says why; the section shows it.
    }
  };

  const experiment = experiments.find(e => e.id === selected) ?? null;
  const shownRuns = runs && runs.experiment === selected ? runs.runs : null;
  const badge = loaded ? (experiments.length ? count(experiments.length, 'experiment') : 'none') : '…';
  const starting = ui.phase === 'starting';

  return (
    <Section title="Experiments" badge={badge} initiallyOpen={false} onToggle={onToggle}>
      <div className="mlops-Actions mlops-Actions-top">
        <button
          className="mlops-Button"
          onClick={openUi}
          disabled={starting}
          title="Start the MLflow UI over the workspace's runs (on 127.0.0.1) and open it in a tab"
        >
          {starting ? 'Starting MLflow UI…' : 'Open MLflow UI'}
        </button>
        {ui.phase === 'running' ? (
          <a
            className="mlops-ExternalLink"
            href={ui.url}
            target="_blank"
            rel="noopener noreferrer"
            title={`Open ${ui.url} in a new browser tab`}
          >
            new tab ↗
          </a>
        ) : null}
      </div>
      {starting ? (
        <div className="mlops-Busy">Starting the MLflow UI: this takes a few seconds…</div>
      ) : null}
      {ui.phase === 'failed' ? (
        <div className="mlops-Error" role="alert">
          {ui.message}
        </div>
      ) : null}
      {error ? (
        <div className="mlops-Error" role="alert">
          {error}
        </div>
      ) : null}
      {loaded && experiments.length === 0 ? (
        <EmptyState>
          No runs yet: run <code>%%train</code> in a notebook, on the first line of the cell that fits a model.
        </EmptyState>
      ) : null}
      {experiments.length ? (
        <div className="mlops-ExperimentPicker">
          <label htmlFor="mlops-experiment">Experiment</label>
          <select
            id="mlops-experiment"
            className="mlops-Select"
            value={selected ?? ''}
            onChange={e => pickExperiment(e.target.value)}
          >
            {experiments.map(e => (
              <option key={e.id} value={e.id}>
                {e.name} ({count(e.runs, 'run')})
              </option>
            ))}
          </select>
        </div>
      ) : null}
      {experiment && shownRuns === null ? <div className="mlops-Busy">Listing the runs…</div> : null}
      {experiment && shownRuns && shownRuns.length === 0 ? (
        <EmptyState>
          No runs in {experiment.name} yet: run <code>%%train</code> in its notebook.
        </EmptyState>
      ) : null}
      {experiment && shownRuns && shownRuns.length ? (
        <>
          <RunsTable experiment={experiment} runs={shownRuns} picked={picked.map(p => p.id)} onPick={pickRun} />
          <div className="mlops-Actions mlops-Compare-actions">
            <button
              className="mlops-Button"
              onClick={compare}
              disabled={picked.length !== 2 || comparison.state === 'loading'}
              title={
                picked.length === 2
                  ? 'Show the params and metrics that differ between the two checked runs'
                  : 'Check two runs to compare them'
              }
            >
              Compare
            </button>
            <span className="mlops-Compare-hint">
              {picked.length === 2 ? '2 runs checked' : `check ${2 - picked.length} more run${picked.length ? '' : 's'}`}
            </span>
            {picked.length ? (
              <button className="mlops-Link" onClick={() => setPicked([])}>
                clear
              </button>
            ) : null}
          </div>
        </>
      ) : null}
      <CompareView comparison={comparison} close={() => setComparison({ state: 'closed' })} />
      {/* Nothing tracked, nothing registered: the one empty state above says it. */}
      {loaded && models !== null && (experiments.length || models.length) ? (
        <div className="mlops-Models">
          <div className="mlops-Subheading">Registered models</div>
          {models.length === 0 ? (
            <EmptyState>
              No registered models yet: <code>%%train --model NAME</code> registers one as the challenger.
            </EmptyState>
          ) : (
            <ul className="mlops-ModelList" aria-label="Registered models">
              {models.map(model => (
                <ModelItem key={model.name} model={model} />
              ))}
            </ul>
          )}
        </div>
      ) : null}
    </Section>
  );
}
