import React, { useState } from 'react';

import { Dialog, showDialog } from '@jupyterlab/apputils';
import { caretDownIcon, caretRightIcon } from '@jupyterlab/ui-components';

import { IMonitor, MLOpsApi } from '../api';
import { message } from '../format';
import { untilText } from '../jobs';
import { needsLook, watchingText, windowText } from '../monitors';
import { fullTime, when } from '../time';
import { AlertsList } from './AlertsList';
import { MonitorDetail } from './MonitorDetail';
import { listBadge, Polled } from './Polled';
import { PauseToggle } from './PauseToggle';
import { Section } from './Section';
import { usePolled } from './usePolled';
import { VerdictPill } from './VerdictPill';

export interface IMonitorsSectionProps {
  api: MLOpsApi;
  pollInterval: number;
  /** Open the Jobs section on a job (one an alert started). */
  showJob: (job: string) => void;
}

type Busy = 'checking' | 'pausing' | 'resuming' | 'deleting' | null;

const epoch = (iso: string | null | undefined): number | null => {
  const ms = iso ? Date.parse(iso) : NaN;
  return Number.isNaN(ms) ? null : ms;
};

/** What its alerts start, in a few words: "on drift: retrain loans-retrain". */
function actions(monitor: IMonitor): string {
  const { on_drift, on_decay } = monitor.spec;
  const said = [
    on_drift ? `on drift: retrain ${on_drift.retrain}` : '',
    on_decay ? `on decay: retrain ${on_decay.retrain}` : ''
  ].filter(Boolean);
  return said.join(' · ');
}

function MonitorItem(props: {
  monitor: IMonitor;
  api: MLOpsApi;
  pollInterval: number;
  open: boolean;
  setOpen: (open: boolean) => void;
  refresh: () => void;
}): JSX.Element {
  const { monitor, api, open } = props;
  const [busy, setBusy] = useState<Busy>(null);
  const [error, setError] = useState<string | null>(null);
  const Caret = open ? caretDownIcon : caretRightIcon;
  const detailId = `mlops-monitor-${monitor.name}`;
  const last = epoch(monitor.last_check_at);
  const next = epoch(monitor.next_check_at);
  const watching = watchingText(monitor.watching);
  const starts = actions(monitor);

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

  const checkNow = (): void => {
    props.setOpen(true);
    void act('checking', 'The check failed', () => api.checkMonitor(monitor.name));
  };

  const remove = async (): Promise<void> => {
    const choice = await showDialog({
      title: `Delete monitor ${monitor.name}?`,
      body: `Its scheduled checks stop and its check history is deleted; its alerts stay in the list.`,
      buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Delete' })]
    });
    if (choice.button.accept) {
      await act('deleting', 'Delete failed', () => api.deleteMonitor(monitor.name));
    }
  };

  return (
    <li
      className="mlops-Monitor"
      data-monitor={monitor.name}
      data-paused={monitor.paused}
      data-verdict={monitor.last_verdict ?? ''}
    >
      <div className="mlops-Monitor-head">
        <button
          className="mlops-ItemToggle mlops-Monitor-toggle"
          aria-expanded={open}
          aria-controls={detailId}
          onClick={() => props.setOpen(!open)}
          title={open ? 'Hide the details' : 'The latest check: drift per feature, performance, history'}
        >
          <Caret.react tag="span" className="mlops-Monitor-caret" />
          <span className="mlops-Monitor-name">{monitor.name}</span>
        </button>
        {monitor.paused ? (
          <span className="mlops-JobPaused" data-testid="monitor-paused">
            paused
          </span>
        ) : null}
        <VerdictPill verdict={monitor.last_verdict} testId="monitor-verdict" title={monitor.last_reason ?? ''} />
      </div>
      <div className="mlops-Monitor-meta">
        <span className="mlops-Monitor-deployment" title={`deployment ${monitor.spec.deployment}`}>
          {monitor.spec.deployment}
        </span>
        <span>
          every {monitor.spec.every} over {windowText(monitor.spec.window)}
        </span>
        {last ? (
          <span data-testid="monitor-last" title={`last check ${fullTime(last)}`}>
            checked {when(last)}
          </span>
        ) : (
          <span data-testid="monitor-last">not checked yet</span>
        )}
        {next && !monitor.paused ? (
          <span data-testid="monitor-next" title={`next check ${fullTime(next)}`}>
            next {untilText(next, Date.now())}
          </span>
        ) : null}
        {starts ? <span>{starts}</span> : null}
      </div>
      {watching ? (
        <div className="mlops-Monitor-watching" data-testid="monitor-watching" title={monitor.watching?.message ?? ''}>
          {watching}
        </div>
      ) : null}
      {monitor.last_reason && !open ? (
        <div className="mlops-Monitor-reason" title={monitor.last_reason}>
          {monitor.last_reason}
        </div>
      ) : null}
      <div className="mlops-Actions mlops-Monitor-actions">
        <button
          className="mlops-Button mlops-Button-primary"
          onClick={checkNow}
          disabled={busy !== null}
          title="Check the deployment's window now (an alert is raised as a scheduled check would)"
        >
          {busy === 'checking' ? 'Checking…' : 'Check now'}
        </button>
        <PauseToggle
          paused={monitor.paused}
          busy={busy}
          onPause={() => act('pausing', 'Pause failed', () => api.pauseMonitor(monitor.name))}
          onResume={() => act('resuming', 'Resume failed', () => api.resumeMonitor(monitor.name))}
          pauseTitle="Stop its scheduled checks (Check now still works)"
          resumeTitle="Start its scheduled checks again"
        />
      </div>
      {error ? (
        <div className="mlops-Error" role="alert">
          {error}
        </div>
      ) : null}
      {open ? (
        <div id={detailId}>
          <MonitorDetail
            api={api}
            monitor={monitor.name}
            lastCheck={monitor.last_check_at}
            pollInterval={props.pollInterval}
          />
          <div className="mlops-Actions mlops-Monitor-delete">
            <button
              className="mlops-Button mlops-Button-danger"
              onClick={remove}
              disabled={busy !== null}
              title="Delete the monitor and its checks (asks first)"
            >
              {busy === 'deleting' ? 'Deleting…' : 'Delete monitor'}
            </button>
          </div>
        </div>
      ) : null}
    </li>
  );
}

/**
 * The Monitoring section: the standing monitors with their verdict, last and next check, and Check now, Pause and
 * Resume; one opened shows its latest check in full, its history and its loop. Then the monitors' alerts.
 */
export function MonitorsSection(props: IMonitorsSectionProps): JSX.Element {
  const { api, pollInterval } = props;
  const monitors = usePolled(
    'mlops:monitors',
    pollInterval,
    () => api.monitors(),
    [api],
    'The monitors could not be listed'
  );
  const alerts = usePolled('mlops:alerts', pollInterval, () => api.alerts(), [api], 'The alerts could not be listed');
  // The monitor opened, by name: a poll's new list keeps it open.
  const [open, setOpen] = useState<string | null>(null);

  const flagged = monitors.data?.filter(needsLook).length;
  const badge = listBadge(monitors.data, 'monitor') + (flagged ? ` · ${flagged} flagged` : '');
  const refresh = (): void => {
    monitors.refresh();
    alerts.refresh();
  };

  return (
    <Section title="Monitoring" badge={badge} initiallyOpen={false}>
      <Polled
        polled={monitors}
        empty={
          <>
            No monitors: run <code>%monitor DEPLOYMENT --every 10m</code> in a notebook to check a deployment's
            traffic for drift and decay on a schedule.
          </>
        }
      >
        {list => (
          <ul className="mlops-MonitorList" aria-label="Monitors">
            {list.map(monitor => (
              <MonitorItem
                key={monitor.name}
                monitor={monitor}
                api={api}
                pollInterval={pollInterval}
                open={open === monitor.name}
                setOpen={isOpen => setOpen(isOpen ? monitor.name : null)}
                refresh={refresh}
              />
            ))}
          </ul>
        )}
      </Polled>
      {monitors.data?.length || alerts.data?.length ? <AlertsList alerts={alerts} showJob={props.showJob} /> : null}
    </Section>
  );
}
