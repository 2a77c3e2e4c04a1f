import React, { useState } from 'react';

import { IRun, MLOpsApi } from '../api';
import { type HigherIsBetter } from '../direction';
import { count, message } from '../format';
import { betterOf, differences, formatMetric, IDifferences, shortRunName } from '../runs';
import { when } from '../time';

/** The comparison of the two picked runs, as it stands. */
export type Comparison =
  | { state: 'closed' }
  | { state: 'loading' }
  | { state: 'shown'; a: IRun; b: IRun }
  | { state: 'failed'; message: string };

/** The runs picked to compare (two at most: a third pick replaces the older pick), and their comparison. */
export interface IRunComparison {
  picked: IRun[];
  pick: (run: IRun, on: boolean) => void;
  clear: () => void;
  comparison: Comparison;
  /** Load the two picked runs in full and show what differs. */
  compare: () => Promise<void>;
  close: () => void;
}

export function useRunComparison(api: MLOpsApi): IRunComparison {
  const [picked, setPicked] = useState<IRun[]>([]);
  const [comparison, setComparison] = useState<Comparison>({ state: 'closed' });
  const pick = (run: IRun, on: boolean): void => {
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
  return {
    picked,
    pick,
    clear: () => setPicked([]),
    comparison,
    compare,
    close: () => setComparison({ state: 'closed' })
  };
}

/** The Compare button under the runs table, with how many more runs to check. */
export function CompareActions(props: { runs: IRunComparison }): JSX.Element {
  const { picked, comparison } = props.runs;
  return (
    <div className="mlops-Actions mlops-Compare-actions">
      <button
        className="mlops-Button"
        onClick={props.runs.compare}
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
        <button className="mlops-Link" onClick={props.runs.clear}>
          clear
        </button>
      ) : null}
    </div>
  );
}

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

/** The heading row above the metrics, or the params, that differ. */
function GroupHeading(props: { label: string }): JSX.Element {
  return (
    <tr className="mlops-Compare-group">
      <th colSpan={3} scope="rowgroup">
        {props.label}
      </th>
    </tr>
  );
}

/** The metrics and params that differ between two runs, side by side; the better value of each metric in bold. */
function Differences(props: { a: IRun; b: IRun; diff: IDifferences; higher: HigherIsBetter }): JSX.Element {
  const { a, b, diff, higher } = props;
  return (
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
          {diff.metrics.length ? <GroupHeading label="Metrics" /> : null}
          {diff.metrics.map(([name, x, y]) => {
            const better = betterOf(name, x, y, higher);
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
          {diff.params.length ? <GroupHeading label="Params" /> : null}
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
  );
}

/** The comparison box: loading, its failure, or what differs (and how much is the same). */
export function CompareView(props: {
  comparison: Comparison;
  higher: HigherIsBetter;
  close: () => void;
}): JSX.Element | null {
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
        {nothing ? null : <Differences a={a} b={b} diff={diff} higher={props.higher} />}
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
