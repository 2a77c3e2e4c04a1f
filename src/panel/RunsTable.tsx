import React, { useState } from 'react';

import { IExperiment, IRun } from '../api';
import { type HigherIsBetter, higherIsBetter } from '../direction';
import { count } from '../format';
import {
  bestValues,
  formatMetric,
  ISort,
  metricColumns,
  metricLabel,
  NEWEST_FIRST,
  nextSort,
  runRows,
  sameKey,
  shortRunName,
  SortKey
} from '../runs';
import { fullTime, when } from '../time';

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

/** A run's name cell: the toggle of its trials (a search), its status dot, and its short name. */
function RunName(props: {
  run: IRun;
  depth: number;
  /** How many trial runs it holds. */
  trials: number;
  expanded: boolean;
  toggle: () => void;
}): JSX.Element {
  const { run, depth, trials, expanded } = props;
  const label = shortRunName(run);
  return (
    <td className="mlops-Runs-name">
      <span className="mlops-Runs-nameLine" style={{ paddingLeft: depth ? `${depth * 14}px` : undefined }}>
        {trials ? (
          <button
            className="mlops-Runs-toggle"
            aria-expanded={expanded}
            onClick={props.toggle}
            title={`${expanded ? 'Hide' : 'Show'} the ${count(trials, 'trial run')} of this search`}
          >
            {expanded ? '▾' : '▸'}
            <span className="mlops-Runs-trials">{trials}</span>
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
  );
}

/**
 * The runs of an experiment: a checkbox to pick runs to compare, the name, up to four metric columns (the best
 * value of each in bold) and when it started; sortable by any column, a search's trials nested under it.
 */
export function RunsTable(props: {
  experiment: IExperiment;
  runs: IRun[];
  higher: HigherIsBetter;
  picked: string[];
  onPick: (run: IRun, on: boolean) => void;
}): JSX.Element {
  const { runs, higher } = props;
  const [sort, setSort] = useState<ISort>(NEWEST_FIRST);
  const [expanded, setExpanded] = useState<ReadonlySet<string>>(new Set());
  const columns = metricColumns(runs);
  const rows = runRows(runs, sort, expanded);
  const best = bestValues(rows, columns, higher);
  const toggle = (id: string): void => {
    const next = new Set(expanded);
    if (!next.delete(id)) {
      next.add(id);
    }
    setExpanded(next);
  };
  const onSort = (key: SortKey): void => setSort(nextSort(sort, key, higher));

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
                title={`${name} (${higherIsBetter(name, higher) ? 'higher' : 'lower'} is better)`}
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
                    aria-label={`Compare run ${shortRunName(run)}`}
                  />
                </td>
                <RunName
                  run={run}
                  depth={depth}
                  trials={children}
                  expanded={expanded.has(run.id)}
                  toggle={() => toggle(run.id)}
                />
                {columns.map(name => {
                  const value = run.metrics[name];
                  const isBest = depth === 0 && value !== undefined && best.get(name) === value;
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
