import React, { useMemo, useState } from 'react';

import { IJob, IJobRun, MLOpsApi } from '../api';
import { message } from '../format';
import { changedParameters, parameterFields } from '../jobs';

/**
 * Run now with parameters: a field per parameter the notebook declares, starting from the job's value or the
 * notebook's default; the fields changed are sent as text (typed by the notebook's defaults, so a string needs no
 * quotes).
 */
export function RunNowForm(props: {
  api: MLOpsApi;
  job: IJob;
  started: (run: IJobRun) => void;
  close: () => void;
}): JSX.Element {
  const { api, job } = props;
  const fields = useMemo(
    () => parameterFields(job.parameters_declared, job.spec.parameters),
    [job.parameters_declared, job.spec.parameters]
  );
  const [values, setValues] = useState<Record<string, string>>(() =>
    Object.fromEntries(fields.map(field => [field.name, field.initial]))
  );
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const run = async (event: React.FormEvent): Promise<void> => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const changed = changedParameters(fields, values);
      props.started(await api.runJob(job.name, Object.keys(changed).length ? { parameters_text: changed } : {}));
      props.close();
    } catch (e) {
      setError(`The run did not start: ${message(e)}`);
    } finally {
      setBusy(false);
    }
  };

  const id = (name: string): string => `mlops-job-${job.name}-param-${name}`;
  return (
    <form className="mlops-JobPanelForm" onSubmit={run} aria-label={`Run ${job.name} now`}>
      <div className="mlops-Subheading">Parameters</div>
      <div className="mlops-Form">
        {fields.map(field => (
          <React.Fragment key={field.name}>
            <label htmlFor={id(field.name)} title={`${field.kind}, default ${field.written}`}>
              {field.name}
            </label>
            <input
              id={id(field.name)}
              value={values[field.name] ?? ''}
              placeholder={field.kind === 'none' ? 'None' : field.written}
              spellCheck={false}
              title={`${field.kind}; the notebook's default: ${field.written}`}
              onChange={e => setValues({ ...values, [field.name]: e.target.value })}
            />
          </React.Fragment>
        ))}
      </div>
      <div className="mlops-Actions">
        <button type="submit" className="mlops-Button mlops-Button-primary" disabled={busy}>
          {busy ? 'Starting…' : 'Run'}
        </button>
        <button type="button" className="mlops-Button" onClick={props.close}>
          Cancel
        </button>
      </div>
      {error ? (
        <div className="mlops-Error" role="alert">
          {error}
        </div>
      ) : null}
    </form>
  );
}

/** Edit the schedule: a cron expression (empty: on demand) and its time zone; the job is saved again (PUT). */
export function ScheduleForm(props: {
  api: MLOpsApi;
  job: IJob;
  saved: (job: IJob) => void;
  close: () => void;
}): JSX.Element {
  const { api, job } = props;
  const [cron, setCron] = useState(job.spec.cron ?? '');
  const [tz, setTz] = useState(job.spec.tz ?? 'UTC');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const save = async (event: React.FormEvent): Promise<void> => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      props.saved(await api.putJob(job.name, { ...job.spec, cron: cron.trim() || null, tz: tz.trim() || 'UTC' }));
      props.close();
    } catch (e) {
      setError(`The schedule was not saved: ${message(e)}`);
    } finally {
      setBusy(false);
    }
  };

  const id = `mlops-job-${job.name}-schedule`;
  return (
    <form className="mlops-JobPanelForm" onSubmit={save} aria-label={`Schedule of ${job.name}`}>
      <div className="mlops-Subheading">Schedule</div>
      <div className="mlops-Form">
        <label htmlFor={`${id}-cron`}>Cron</label>
        <input
          id={`${id}-cron`}
          value={cron}
          placeholder="none: on demand"
          spellCheck={false}
          title="MINUTE HOUR DAY MONTH WEEKDAY, e.g. 0 6 * * 1-5 (6:00 on weekdays); empty: it runs on demand"
          onChange={e => setCron(e.target.value)}
        />
        <label htmlFor={`${id}-tz`}>Time zone</label>
        <input
          id={`${id}-tz`}
          value={tz}
          placeholder="UTC"
          spellCheck={false}
          title="An IANA name such as UTC or Europe/Paris"
          onChange={e => setTz(e.target.value)}
        />
      </div>
      {job.spec.snapshot !== false ? (
        <div className="mlops-JobPanelForm-note">Saving takes a new copy of {job.spec.notebook}.</div>
      ) : null}
      <div className="mlops-Actions">
        <button type="submit" className="mlops-Button mlops-Button-primary" disabled={busy}>
          {busy ? 'Saving…' : 'Save'}
        </button>
        <button type="button" className="mlops-Button" onClick={props.close}>
          Cancel
        </button>
      </div>
      {error ? (
        <div className="mlops-Error" role="alert">
          {error}
        </div>
      ) : null}
    </form>
  );
}
