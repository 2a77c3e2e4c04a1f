import React, { useEffect, useState } from 'react';

import { IJobRun, MLOpsApi } from '../api';
import { message } from '../format';
import { isActive, runLine, runProgress, runSeconds, formatDuration, triggerText } from '../jobs';
import { fullTime, when } from '../time';
import { LogTail, Logs } from './LogTail';
import { PollError } from './Polled';
import { usePolled } from './usePolled';

/** A running run is asked for every second: its cells done move that fast. */
export const LIVE_INTERVAL = 1000;
/** How many log lines the Logs button shows. */
const LOG_LINES = 60;

const epoch = (iso: string | null | undefined): number | null => {
  const ms = iso ? Date.parse(iso) : NaN;
  return Number.isNaN(ms) ? null : ms;
};

/** A run's state, coloured: green succeeded, blue running, red failed or timed out, grey cancelled or queued. */
export function RunState(props: { run: Pick<IJobRun, 'state' | 'reason'> }): JSX.Element {
  const { state, reason } = props.run;
  return (
    <span className={`mlops-Pill mlops-RunState mlops-RunState-${state}`} data-testid="job-run-state" title={reason ?? ''}>
      {state.replace('_', ' ')}
    </span>
  );
}

/** Cells done out of all, as a bar (indeterminate until the total is known). */
export function RunProgress(props: { run: IJobRun }): JSX.Element {
  const progress = runProgress(props.run);
  const percent = progress.fraction === null ? null : Math.round(progress.fraction * 100);
  return (
    <div className="mlops-Progress" data-testid="job-progress">
      <div
        className={`mlops-Progress-track${percent === null ? ' mlops-Progress-unknown' : ''}`}
        role="progressbar"
        aria-label={`Run #${props.run.number} progress`}
        aria-valuemin={0}
        aria-valuemax={progress.total ?? undefined}
        aria-valuenow={progress.total === null ? undefined : progress.done}
        aria-valuetext={progress.label}
      >
        <div className="mlops-Progress-bar" style={percent === null ? undefined : { width: `${percent}%` }} />
      </div>
      <span className="mlops-Progress-label">{progress.label}</span>
    </div>
  );
}

export interface IRunActionsProps {
  api: MLOpsApi;
  run: IJobRun;
  /** A few words before the actions (what started the run). */
  detail?: string;
  openNotebook: (path: string) => void;
  /** Told after a cancel, so the lists ask again. */
  changed: () => void;
}

/** Open output, Logs and Cancel for one run, with the log's tail under them. */
export function RunActions(props: IRunActionsProps): JSX.Element {
  const { api, run } = props;
  const [logs, setLogs] = useState<Logs>({ state: 'hidden' });
  const [cancelling, setCancelling] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const active = isActive(run.state);

  const showLogs = async (): Promise<void> => {
    setLogs({ state: 'loading', lines: logs.state === 'shown' ? logs.lines : null });
    try {
      const answer = await api.jobRunLogs(run.job, run.number, LOG_LINES);
      setLogs({ state: 'shown', lines: answer.lines, at: new Date() });
    } catch (e) {
      setLogs({ state: 'failed', message: `The log could not be read: ${message(e)}` });
    }
  };

  const cancel = async (): Promise<void> => {
    setCancelling(true);
    setError(null);
    try {
      await api.cancelJobRun(run.job, run.number);
    } catch (e) {
      setError(`Cancel failed: ${message(e)}`);
    } finally {
      setCancelling(false);
      props.changed();
    }
  };

  return (
    <>
      <span className="mlops-JobRun-actions">
        {props.detail ? <span className="mlops-JobRun-trigger">{props.detail}</span> : null}
        {run.output && !active ? (
          <button
            className="mlops-Link"
            onClick={() => props.openNotebook(run.output as string)}
            title={`Open the executed notebook, ${run.output}`}
          >
            Open output
          </button>
        ) : null}
        <button
          className="mlops-Link"
          onClick={showLogs}
          disabled={logs.state === 'loading'}
          title={`The last ${LOG_LINES} lines of the run's log (again to refresh)`}
        >
          Logs
        </button>
        {active ? (
          <button className="mlops-Link mlops-JobRun-cancel" onClick={cancel} disabled={cancelling} title="Stop this run">
            {cancelling ? 'Cancelling…' : 'Cancel'}
          </button>
        ) : null}
      </span>
      {error ? (
        <div className="mlops-Error" role="alert">
          {error}
        </div>
      ) : null}
      <LogTail logs={logs} close={() => setLogs({ state: 'hidden' })} testId="job-run-logs" />
    </>
  );
}

/** Why a run did not succeed: its reason, and the failing cell with its error. */
function RunReason(props: { run: IJobRun }): JSX.Element | null {
  const { run } = props;
  if (!run.reason && !run.failed_cell) {
    return null;
  }
  const cell = run.failed_cell;
  // The reason names the cell (counting the cells that run, as the log does; `index` is a position among all the
  // output notebook's cells, so it is not shown) and usually its error: say the error only when it does not.
  const said = !cell?.ename || Boolean(run.reason?.includes(cell.ename));
  return (
    <div className="mlops-JobRun-reason" data-testid="job-run-reason">
      {run.reason}
      {cell && !said ? (
        <div className="mlops-JobRun-cell">
          {cell.ename}
          {cell.evalue ? `: ${cell.evalue}` : ''}
        </div>
      ) : null}
      {cell ? <pre className="mlops-JobRun-source">{cell.source}</pre> : null}
    </div>
  );
}

/**
 * The run in progress, asked for every second: its progress bar, and Cancel. `finished` is told once it ends, so
 * the job's line shows how it ended.
 */
export function LiveRun(props: {
  api: MLOpsApi;
  run: IJobRun;
  openNotebook: (path: string) => void;
  finished: () => void;
}): JSX.Element {
  const { api } = props;
  const { job, number } = props.run;
  const polled = usePolled(
    `mlops:job-run:${job}:${number}`,
    LIVE_INTERVAL,
    () => api.jobRun(job, number),
    [api, job, number],
    `Run #${number} could not be read`
  );
  const run = polled.data && polled.data.number === number ? polled.data : props.run;
  const ended = !isActive(run.state);
  useEffect(() => {
    if (ended) {
      props.finished();
    }
  }, [ended]);
  const seconds = runSeconds(run, Date.now());
  return (
    <div className="mlops-LiveRun" data-testid="job-live-run" data-state={run.state}>
      <div className="mlops-JobRun-head">
        <span className="mlops-JobRun-line">
          #{run.number} {run.state === 'running' ? '' : `${run.state.replace('_', ' ')} `}· {triggerText(run)}
          {seconds === null ? '' : ` · ${formatDuration(seconds)}`}
        </span>
      </div>
      <RunProgress run={run} />
      <RunActions api={api} run={run} openNotebook={props.openNotebook} changed={polled.refresh} />
      <PollError polled={polled} />
    </div>
  );
}

/**
 * One run of the history: its state, number, duration (and cells done while it runs: its bar is the live run's,
 * above) and when; why it failed; what started it, and its actions.
 */
function RunRow(props: IRunActionsProps & { now: number }): JSX.Element {
  const { run, now } = props;
  const queued = epoch(run.queued_at);
  const seconds = runSeconds(run, now);
  return (
    <li className="mlops-JobRun" data-run={run.number} data-state={run.state}>
      <div className="mlops-JobRun-head">
        <RunState run={run} />
        <span className="mlops-JobRun-line" title={runLine(run, now)}>
          #{run.number}
          {seconds === null ? '' : ` · ${formatDuration(seconds)}`}
          {run.state === 'running' ? ` · ${runProgress(run).label}` : ''}
        </span>
        <span className="mlops-JobRun-when" title={fullTime(queued)}>
          {when(queued)}
        </span>
      </div>
      <RunReason run={run} />
      <RunActions {...props} detail={triggerText(run)} />
    </li>
  );
}

/**
 * The job's runs, newest first: asked for at the section's pace, every second while one of them is active, and
 * again whenever the job's last run changes.
 */
export function RunHistory(props: {
  api: MLOpsApi;
  job: string;
  /** The job's last run as the job list says it ("3:running"): a change asks again at once. */
  lastRun: string;
  pollInterval: number;
  openNotebook: (path: string) => void;
}): JSX.Element {
  const { api, job } = props;
  const [live, setLive] = useState(false);
  const runs = usePolled(
    `mlops:job-runs:${job}`,
    live ? LIVE_INTERVAL : props.pollInterval,
    () => api.jobRuns(job),
    [api, job, props.lastRun],
    'The runs could not be listed'
  );
  useEffect(() => setLive(Boolean(runs.data?.some(run => isActive(run.state)))), [runs.data]);
  const now = Date.now();
  return (
    <div className="mlops-JobRuns">
      <div className="mlops-Subheading">History</div>
      <PollError polled={runs} />
      {runs.data === null ? null : runs.data.length === 0 ? (
        <div className="mlops-Empty">No runs yet.</div>
      ) : (
        <ul className="mlops-RunList" aria-label={`Runs of ${job}`}>
          {runs.data.map(run => (
            <RunRow
              key={run.number}
              api={api}
              run={run}
              now={now}
              openNotebook={props.openNotebook}
              changed={runs.refresh}
            />
          ))}
        </ul>
      )}
    </div>
  );
}
