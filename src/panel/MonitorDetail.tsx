import React, { useMemo } from 'react';

import { IMonitorCheck, MLOpsApi } from '../api';
import { count } from '../format';
import {
  checkDetails,
  formatShare,
  formatValue,
  historySeries,
  ICheckDetails,
  IPerformance,
  predictionDetail,
  verdictTone
} from '../monitors';
import { fullTime, when } from '../time';
import { DriftTable } from './DriftTable';
import { PollError } from './Polled';
import { HistoryChart } from './Sparkline';
import { Timeline } from './Timeline';
import { usePolled } from './usePolled';
import { VerdictPill } from './VerdictPill';

/**
 * The checks (each with its histograms: large) are asked for again whenever the monitor's last check changes, which
 * the monitor list's poll sees; this slower poll only catches what that misses.
 */
const CHECKS_INTERVAL = 60 * 1000;

/** The window's traffic: "300 rows in 12 requests", "5xx 0%", "p50 3.1 ms, p95 8 ms". */
function trafficParts(d: ICheckDetails): string[] {
  if (d.rows === null) {
    return [];
  }
  const parts = [`${count(d.rows, 'row')} in ${count(d.requests ?? 0, 'request')}`];
  if (d.errorRate !== null) {
    parts.push(`5xx ${formatShare(d.errorRate)}`);
  }
  if (d.latencyP50 !== null) {
    parts.push(`p50 ${formatValue(d.latencyP50)} ms, p95 ${formatValue(d.latencyP95)} ms`);
  }
  return parts;
}

/** The metrics on the window's feedback labels beside the model's own (its eval metrics, else its train ones). */
function PerformanceTable(props: { performance: IPerformance }): JSX.Element {
  const { performance: p } = props;
  const beside = p.reference ?? 'model';
  return (
    <div className="mlops-Monitor-block" data-testid="monitor-performance">
      <div className="mlops-Subheading">Performance on feedback</div>
      <div className="mlops-Check-verdict">
        <VerdictPill verdict={p.verdict} testId="performance-verdict" /> {p.reason}
      </div>
      {p.metrics.length ? (
        <table className="mlops-MetricTable">
          <thead>
            <tr>
              <th scope="col">Metric</th>
              <th scope="col" title={`On ${count(p.labelled, 'labelled row')} of the window`}>
                live
              </th>
              <th scope="col" title={`The served version's ${beside} metric`}>
                {beside}
              </th>
              <th scope="col">limit</th>
            </tr>
          </thead>
          <tbody>
            {p.metrics.map(m => {
              const crossed = p.decayed.includes(m.metric);
              return (
                <tr
                  key={m.metric}
                  data-metric={m.metric}
                  className={crossed ? 'mlops-MetricTable-crossed' : ''}
                  title={m.note}
                >
                  <th scope="row">{m.metric}</th>
                  <td>{formatValue(m.value)}</td>
                  <td>{formatValue(m.reference)}</td>
                  <td>{m.limit ? `${m.limit.bound} ${formatValue(m.limit.value)}` : '–'}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      ) : null}
    </div>
  );
}

/** The latest check in full: its verdict, traffic, per-feature drift, prediction drift and performance. */
function LatestCheck(props: { check: IMonitorCheck }): JSX.Element {
  const { check } = props;
  const d = useMemo(() => checkDetails(check.details), [check]);
  const at = Date.parse(check.at);
  const served = d.model ? `${d.model}${d.version ? ` v${d.version}` : ''}` : null;
  return (
    <div className="mlops-Check" data-testid="monitor-check" data-verdict={check.verdict}>
      <div className={`mlops-Check-verdict mlops-Check-${verdictTone(check.verdict)}`}>
        <VerdictPill verdict={check.verdict} testId="check-verdict" /> {check.reason}
      </div>
      <div className="mlops-Monitor-meta">
        <span title={`checked ${fullTime(at)}`}>{served ?? `checked ${when(at)}`}</span>
        {d.window ? <span>window {d.window}</span> : null}
        {check.alert ? <span className="mlops-Check-alerted">raised a {check.alert} alert</span> : null}
      </div>
      {d.rows !== null ? (
        <div className="mlops-Monitor-meta mlops-Check-traffic" data-testid="check-traffic">
          {trafficParts(d).map(part => (
            <span key={part}>{part}</span>
          ))}
        </div>
      ) : null}
      {d.notes.map(note => (
        <div key={note} className="mlops-Check-note">
          {note}
        </div>
      ))}
      {d.features.length && d.rows ? (
        <div className="mlops-Monitor-block">
          <div className="mlops-Subheading">Features</div>
          <DriftTable features={d.features} />
        </div>
      ) : null}
      {d.predictionDrift ? (
        <div className="mlops-Monitor-line mlops-Check-predictions" data-testid="prediction-drift">
          <span className="mlops-Check-label">Predictions</span>
          <VerdictPill verdict={d.predictionDrift.verdict} />
          <span title={d.predictionDrift.reason}>{predictionDetail(d.predictionDrift)}</span>
        </div>
      ) : null}
      {d.performance ? <PerformanceTable performance={d.performance} /> : null}
    </div>
  );
}

/**
 * A monitor opened: its latest check in full, a metric or the drift score over its checks, and the loop's timeline.
 * The checks are asked for again whenever the monitor's last check changes.
 */
export function MonitorDetail(props: {
  api: MLOpsApi;
  monitor: string;
  /** The monitor's last check time as the list says it: a change asks for the checks again at once. */
  lastCheck: string | null;
  pollInterval: number;
}): JSX.Element {
  const { api, monitor } = props;
  const checks = usePolled(
    `mlops:monitor-checks:${monitor}`,
    Math.max(props.pollInterval, CHECKS_INTERVAL),
    () => api.monitorChecks(monitor),
    [api, monitor, props.lastCheck],
    'The checks could not be read'
  );
  const series = useMemo(() => historySeries(checks.data ?? []), [checks.data]);
  const latest = checks.data?.[0] ?? null;
  return (
    <div className="mlops-Monitor-detail" data-testid="monitor-detail">
      <PollError polled={checks} />
      {checks.data === null ? null : latest ? (
        <LatestCheck check={latest} />
      ) : (
        <div className="mlops-Empty">No checks yet: use Check now, or wait for its first scheduled check.</div>
      )}
      {series.length && (checks.data?.length ?? 0) > 1 ? (
        <div className="mlops-Monitor-block">
          <div className="mlops-Subheading">Over {count(checks.data?.length ?? 0, 'check')}</div>
          <HistoryChart series={series} />
        </div>
      ) : null}
      <Timeline api={api} monitor={monitor} changed={props.lastCheck ?? ''} pollInterval={props.pollInterval} />
    </div>
  );
}
