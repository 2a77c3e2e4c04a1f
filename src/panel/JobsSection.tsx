import React, { useEffect, useState } from 'react';

import { Dialog, showDialog } from '@jupyterlab/apputils';
import { caretDownIcon, caretRightIcon } from '@jupyterlab/ui-components';

import { IJob, IJobRun, MLOpsApi } from '../api';
import { count, message } from '../format';
import { isActive, untilText } from '../jobs';
import { fullTime, when } from '../time';
import { RunNowForm, ScheduleForm } from './JobForms';
import { LiveRun, RunHistory, RunState } from './JobRuns';
import { listBadge, Polled } from './Polled';
import { PauseToggle } from './PauseToggle';
import { Section } from './Section';
import { usePolled } from './usePolled';

export interface IJobsSectionProps {
  api: MLOpsApi;
  pollInterval: number;
  /** Make a job of the active notebook (the New job dialog); resolves once it is made or the dialog is closed. */
  newJob: () => Promise<void>;
  /** Open a notebook (a run's executed notebook) in a main-area tab. */
  openNotebook: (path: string) => void;
  /** Each new (non-zero) value opens the section, asks for the jobs again and opens the job `revealJob` names. */
  revealRequest: number;
  revealJob: string | null;
}

const epoch = (iso: string | null | undefined): number | null => {
  const ms = iso ? Date.parse(iso) : NaN;
  return Number.isNaN(ms) ? null : ms;
};

type Form = 'none' | 'run' | 'schedule';
type Busy = 'pausing' | 'resuming' | 'deleting' | 'starting' | null;

/** The newer of two runs of one job (the list's last run, or the one Run now just started). */
function newer(a: IJobRun | null, b: IJobRun | null): IJobRun | null {
  if (!a || !b) {
    return a ?? b;
  }
  return b.number > a.number ? b : a;
}

function JobItem(props: {
  job: IJob;
  api: MLOpsApi;
  pollInterval: number;
  openNotebook: (path: string) => void;
  open: boolean;
  setOpen: (open: boolean) => void;
  refresh: () => void;
}): JSX.Element {
  const { job, api, open } = props;
  const [form, setForm] = useState<Form>('none');
  const [busy, setBusy] = useState<Busy>(null);
  const [error, setError] = useState<string | null>(null);
  // The run Run now started, shown live before the job list lists it.
  const [started, setStarted] = useState<IJobRun | null>(null);
  const Caret = open ? caretDownIcon : caretRightIcon;
  const detailId = `mlops-job-${job.name}`;
  const last = newer(job.last_run, started);
  const live = last && isActive(last.state) ? last : null;
  const next = epoch(job.next_run_at);
  const declares = Object.keys(job.parameters_declared).length > 0;

  const act = async (what: Exclude<Busy, null>, failed: string, work: () => Promise<unknown>): Promise<void> => {
    setBusy(what);
    setError(null);
    try {
      await work();
    } catch (e) {
      setError(`${failed}: ${message(e)}`);
    } finally {
      setBusy(null);
      props.refresh();
    }
  };

  const runNow = (): void => {
    if (declares) {
      setForm(form === 'run' ? 'none' : 'run');
      return;
    }
    void act('starting', 'The run did not start', async () => setStarted(await api.runJob(job.name)));
  };

  const remove = async (): Promise<void> => {
    const active = job.active_runs ? ` Its ${count(job.active_runs, 'active run')} will be stopped.` : '';
    const choice = await showDialog({
      title: `Delete job ${job.name}?`,
      body: `Its schedule and triggers stop and its run history is deleted.${active}`,
      buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Delete' })]
    });
    if (choice.button.accept) {
      await act('deleting', 'Delete failed', () => api.deleteJob(job.name));
    }
  };

  return (
    <li className="mlops-Job" data-job={job.name} data-paused={job.paused}>
      <div className="mlops-Job-head">
        <button
          className="mlops-ItemToggle mlops-Job-toggle"
          aria-expanded={open}
          aria-controls={detailId}
          onClick={() => props.setOpen(!open)}
          title={open ? 'Hide the details' : 'Run now, history, schedule, pause and delete'}
        >
          <Caret.react tag="span" className="mlops-Job-caret" />
          <span className="mlops-Job-name">{job.name}</span>
        </button>
        {job.paused ? (
          <span className="mlops-JobPaused" data-testid="job-paused">
            paused
          </span>
        ) : null}
        {last ? <RunState run={last} /> : <span className="mlops-Job-norun">no runs</span>}
      </div>
      <div className="mlops-Job-meta">
        <span className="mlops-Job-notebook" title={job.spec.notebook}>
          {job.spec.notebook}
        </span>
        <span className="mlops-Job-triggers" data-testid="job-triggers" title={job.triggers}>
          {job.triggers}
        </span>
        {next ? (
          <span className="mlops-Job-next" data-testid="job-next" title={`next run ${fullTime(next)}`}>
            next run {untilText(next, Date.now())}
          </span>
        ) : null}
        {last && !live ? (
          <span className="mlops-Job-last" title={fullTime(epoch(last.finished_at ?? last.queued_at))}>
            #{last.number} {when(epoch(last.finished_at ?? last.queued_at))}
          </span>
        ) : null}
      </div>
      {live ? (
        <LiveRun
          key={live.number}
          api={api}
          run={live}
          openNotebook={props.openNotebook}
          finished={() => {
            setStarted(null);
            props.refresh();
          }}
        />
      ) : null}
      {open ? (
        <div className="mlops-Job-detail" id={detailId}>
          <div className="mlops-Actions">
            <button
              className="mlops-Button mlops-Button-primary"
              onClick={runNow}
              disabled={busy !== null}
              aria-expanded={declares ? form === 'run' : undefined}
              title={declares ? 'Run it now, with parameters for this run' : 'Run it now'}
            >
              {busy === 'starting' ? 'Starting…' : 'Run now'}
            </button>
            <PauseToggle
              paused={job.paused}
              busy={busy}
              onPause={() => act('pausing', 'Pause failed', () => api.pauseJob(job.name))}
              onResume={() => act('resuming', 'Resume failed', () => api.resumeJob(job.name))}
              pauseTitle="Stop its schedule and triggers (Run now still works)"
              resumeTitle="Start its schedule and triggers again"
            />
            <button
              className="mlops-Button"
              onClick={() => setForm(form === 'schedule' ? 'none' : 'schedule')}
              aria-expanded={form === 'schedule'}
              disabled={busy !== null}
              title="Change its cron schedule and time zone"
            >
              Schedule
            </button>
            <button
              className="mlops-Button mlops-Button-danger"
              onClick={remove}
              disabled={busy !== null}
              title="Delete the job and its history (asks first)"
            >
              {busy === 'deleting' ? 'Deleting…' : 'Delete'}
            </button>
          </div>
          {error ? (
            <div className="mlops-Error" role="alert">
              {error}
            </div>
          ) : null}
          {form === 'run' ? (
            <RunNowForm
              api={api}
              job={job}
              started={run => {
                setStarted(run);
                props.refresh();
              }}
              close={() => setForm('none')}
            />
          ) : null}
          {form === 'schedule' ? (
            <ScheduleForm api={api} job={job} saved={props.refresh} close={() => setForm('none')} />
          ) : null}
          <RunHistory
            api={api}
            job={job.name}
            lastRun={last ? `${last.number}:${last.state}` : ''}
            pollInterval={props.pollInterval}
            openNotebook={props.openNotebook}
          />
        </div>
      ) : null}
    </li>
  );
}

export function JobsSection(props: IJobsSectionProps): JSX.Element {
  const { api, pollInterval } = props;
  const jobs = usePolled('mlops:jobs', pollInterval, () => api.jobs(), [api], 'The jobs could not be listed');
  // Which jobs are open: kept by name, so a poll's new list keeps them open.
  const [open, setOpen] = useState<ReadonlySet<string>>(new Set());
  const [creating, setCreating] = useState(false);

  useEffect(() => {
    if (props.revealRequest) {
      jobs.refresh();
      if (props.revealJob) {
        setOpen(previous => new Set(previous).add(props.revealJob as string));
      }
    }
  }, [props.revealRequest]);

  const toggle = (name: string, isOpen: boolean): void =>
    setOpen(previous => {
      const next = new Set(previous);
      if (isOpen) {
        next.add(name);
      } else {
        next.delete(name);
      }
      return next;
    });

  const newJob = async (): Promise<void> => {
    setCreating(true);
    try {
      await props.newJob();
    } finally {
      setCreating(false);
    }
  };

  const running = jobs.data?.filter(job => job.active_runs > 0).length;
  const badge = listBadge(jobs.data, 'job') + (running ? ` · ${running} running` : '');

  return (
    <Section title="Jobs" badge={badge} initiallyOpen={false} revealRequest={props.revealRequest}>
      <div className="mlops-Actions mlops-Actions-top">
        <button
          className="mlops-Button"
          onClick={newJob}
          disabled={creating}
          title="Make a job of the active notebook: run now, on a schedule, or by a call"
        >
          New job
        </button>
      </div>
      <Polled
        polled={jobs}
        empty={
          <>
            No jobs: use <strong>New job</strong> on the active notebook, <strong>Create Job from Notebook</strong>{' '}
            in the file browser, or <code>%job create NAME</code> in a notebook.
          </>
        }
      >
        {list => (
          <ul className="mlops-JobList" aria-label="Jobs">
            {list.map(job => (
              <JobItem
                key={job.name}
                job={job}
                api={api}
                pollInterval={pollInterval}
                openNotebook={props.openNotebook}
                open={open.has(job.name)}
                setOpen={isOpen => toggle(job.name, isOpen)}
                refresh={jobs.refresh}
              />
            ))}
          </ul>
        )}
      </Polled>
    </Section>
  );
}
