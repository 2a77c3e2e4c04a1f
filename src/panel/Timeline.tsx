import React, { useState } from 'react';

import { IIncident, MLOpsApi } from '../api';
import { loopIncidents, stepName } from '../monitors';
import { fullTime, when } from '../time';
import { PollError } from './Polled';
import { usePolled } from './usePolled';

/** The latest turns of the loop shown. */
const SHOWN = 5;
/** Where the server keeps no timeline (404), it is asked again this seldom: an upgraded server may have one. */
const ABSENT_INTERVAL = 60 * 1000;

const epoch = (iso: string | null | undefined): number | null => {
  const ms = iso ? Date.parse(iso) : NaN;
  return Number.isNaN(ms) ? null : ms;
};

/** One turn of the loop as a vertical timeline: each step's dot coloured by its state, its message and time. */
function IncidentItem(props: { incident: IIncident }): JSX.Element {
  const { alert, steps } = props.incident;
  const at = epoch(alert?.at ?? steps[0]?.at);
  return (
    <li className="mlops-Incident" data-alert={alert?.id ?? ''}>
      <div className="mlops-Incident-head">
        <span className="mlops-Incident-title">{alert ? `Alert #${alert.id}: ${alert.kind}` : 'Swap'}</span>
        <span className="mlops-Incident-when" title={fullTime(at)}>
          {when(at)}
        </span>
      </div>
      <ol className="mlops-Timeline" aria-label={alert ? `What alert #${alert.id} started` : 'A swap'}>
        {steps.map((step, i) => {
          const stepAt = epoch(step.at);
          return (
            <li
              key={i}
              className={`mlops-TimelineStep mlops-TimelineStep-${step.state}`}
              data-step={step.step}
              data-state={step.state}
            >
              <span className="mlops-TimelineStep-dot" aria-hidden="true" />
              <div className="mlops-TimelineStep-body">
                <div className="mlops-TimelineStep-head">
                  <span className="mlops-TimelineStep-name">{stepName(step.step)}</span>
                  <span className="mlops-TimelineStep-state">{step.state}</span>
                  {stepAt ? (
                    <span className="mlops-TimelineStep-when" title={fullTime(stepAt)}>
                      {when(stepAt)}
                    </span>
                  ) : null}
                </div>
                {step.message ? <div className="mlops-TimelineStep-message">{step.message}</div> : null}
              </div>
            </li>
          );
        })}
      </ol>
    </li>
  );
}

/**
 * The monitor's loop, newest turn first: alert → retrain run → new version → review → swap → watch
 * (→ rollback).
 * Nothing at all where the server keeps no timeline, or where no alert has started anything yet.
 */
export function Timeline(props: {
  api: MLOpsApi;
  monitor: string;
  /** The monitor's last check as the list says it: a change asks again at once. */
  changed: string;
  pollInterval: number;
}): JSX.Element | null {
  const { api, monitor } = props;
  const [absent, setAbsent] = useState(false);
  const timeline = usePolled(
    `mlops:monitor-timeline:${monitor}`,
    absent ? ABSENT_INTERVAL : props.pollInterval,
    async () => {
      const found = await api.monitorTimeline(monitor);
      setAbsent(found === null);
      return found;
    },
    [api, monitor, props.changed],
    'The loop could not be read'
  );
  const incidents = loopIncidents(timeline.data);
  if (!incidents.length && !timeline.error) {
    return null;
  }
  return (
    <div className="mlops-Monitor-block" data-testid="monitor-timeline">
      <div className="mlops-Subheading">Loop</div>
      <PollError polled={timeline} />
      {incidents.length ? (
        <ul className="mlops-Incidents">
          {incidents.slice(0, SHOWN).map((incident, i) => (
            <IncidentItem key={incident.alert?.id ?? `swap-${i}`} incident={incident} />
          ))}
        </ul>
      ) : null}
    </div>
  );
}
