import React, { useState } from 'react';

import { IAlert } from '../api';
import { fullTime, when } from '../time';
import { PolledState, PollError } from './Polled';
import { VerdictPill } from './VerdictPill';

/** Alerts shown before "Show all". */
const FIRST = 5;

function AlertItem(props: { alert: IAlert; showJob: (job: string) => void }): JSX.Element {
  const { alert } = props;
  const at = Date.parse(alert.at);
  return (
    <li className="mlops-Alert" data-alert={alert.id} data-monitor={alert.monitor}>
      <div className="mlops-Alert-head">
        <VerdictPill verdict={alert.kind} testId="alert-kind" />
        <span className="mlops-Alert-monitor" title={`monitor ${alert.monitor} on deployment ${alert.deployment}`}>
          {alert.monitor}
        </span>
        <span className="mlops-Alert-when" title={fullTime(at)}>
          {when(at)}
        </span>
      </div>
      <div className="mlops-Alert-message">{alert.message}</div>
      {alert.job ? (
        <div className="mlops-Alert-job">
          started{' '}
          <button
            className="mlops-Link"
            onClick={() => props.showJob(alert.job as string)}
            title={`Show job ${alert.job} in the Jobs section`}
          >
            {alert.job}
            {alert.run !== null ? ` run #${alert.run}` : ''}
          </button>
        </div>
      ) : null}
    </li>
  );
}

/** The monitors' alerts, newest first: the latest few, all on request; a job an alert started opens in Jobs. */
export function AlertsList(props: { alerts: PolledState<IAlert[]>; showJob: (job: string) => void }): JSX.Element {
  const [all, setAll] = useState(false);
  const alerts = props.alerts.data;
  const shown = alerts ? (all ? alerts : alerts.slice(0, FIRST)) : [];
  return (
    <div className="mlops-Alerts" data-testid="monitor-alerts">
      <div className="mlops-Subheading">Alerts{alerts?.length ? ` (${alerts.length})` : ''}</div>
      <PollError polled={props.alerts} />
      {alerts === null ? null : alerts.length === 0 ? (
        <div className="mlops-Empty">No alerts.</div>
      ) : (
        <>
          <ul className="mlops-AlertList" aria-label="Alerts">
            {shown.map(alert => (
              <AlertItem key={alert.id} alert={alert} showJob={props.showJob} />
            ))}
          </ul>
          {alerts.length > FIRST ? (
            <button className="mlops-Link mlops-Alerts-more" onClick={() => setAll(!all)}>
              {all ? 'Show fewer' : `Show all ${alerts.length}`}
            </button>
          ) : null}
        </>
      )}
    </div>
  );
}
