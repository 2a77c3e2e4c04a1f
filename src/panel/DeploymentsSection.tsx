import React, { useEffect, useRef, useState } from 'react';

import { Clipboard, Dialog, showDialog } from '@jupyterlab/apputils';
import { Time } from '@jupyterlab/coreutils';
import { caretDownIcon, caretRightIcon } from '@jupyterlab/ui-components';

import { IDeployment, MLOpsApi } from '../api';
import {
  curlCommand,
  describe,
  exampleRequest,
  IInputColumn,
  IScoringAnswer,
  ProxyUnavailableError,
  ScoringClient
} from '../scoring';
import { LogTail, Logs } from './LogTail';
import { listBadge, Polled } from './Polled';
import { Section } from './Section';
import { usePolled } from './usePolled';
import { message, count } from '../format';

export interface IDeploymentsSectionProps {
  api: MLOpsApi;
  pollInterval: number;
}

/** How many log lines the Logs button shows. */
const LOG_LINES = 40;
/** An answer up to this long is shown on one line; a longer one is indented. */
const ONE_LINE = 80;

/** What a deployment serves: the model as asked for (cancer@challenger), or the command or app. */
function served(deployment: IDeployment): string {
  const { spec } = deployment;
  return spec?.model ?? spec?.app ?? spec?.command ?? deployment.model_uri ?? '?';
}

/** What a rollback serves again: the exact version, since the alias it was deployed as may have moved. */
function previousModel(deployment: IDeployment): string {
  const { previous_model, previous_version } = deployment;
  return previous_version ? `${previous_model} (version ${previous_version})` : (previous_model ?? '?');
}

/** The input columns of the served model, asked for when the detail opens. */
type Columns =
  | { state: 'loading' }
  | { state: 'ready'; columns: IInputColumn[] | null }
  | { state: 'no-proxy'; message: string }
  | { state: 'failed'; message: string };

type Answer =
  | { state: 'none' }
  | { state: 'sending' }
  | { state: 'answered'; answer: IScoringAnswer }
  | { state: 'failed'; message: string };

/** The JSON answer as text: on one line when short, indented when not. */
function formatAnswer(answer: IScoringAnswer): string {
  if (answer.body === null) {
    return answer.text || '(empty answer)';
  }
  const compact = JSON.stringify(answer.body);
  return compact.length <= ONE_LINE ? compact : JSON.stringify(answer.body, null, 2);
}

function StatusPill(props: { status: string }): JSX.Element {
  return (
    <span className={`mlops-Pill mlops-Pill-${props.status}`} data-testid="deployment-status">
      {props.status}
    </span>
  );
}

function TestRequest(props: { deployment: IDeployment; api: MLOpsApi; scoring: ScoringClient }): JSX.Element {
  const { deployment, api, scoring } = props;
  const [columns, setColumns] = useState<Columns>({ state: 'loading' });
  const [text, setText] = useState<string | null>(null);
  const [edited, setEdited] = useState(false);
  const [answer, setAnswer] = useState<Answer>({ state: 'none' });
  const [copied, setCopied] = useState(false);
  const area = useRef<HTMLTextAreaElement>(null);
  const healthy = deployment.status === 'healthy';
  // The model served may change (a swap, a rollback): ask again for its columns then.
  const serving = `${deployment.url} ${deployment.model_uri} ${deployment.version}`;

  useEffect(() => {
    if (!healthy) {
      return;
    }
    let current = true;
    setColumns(previous => (previous.state === 'ready' ? previous : { state: 'loading' }));
    scoring
      .columns(deployment)
      .then(found => {
        if (current) {
          setColumns({ state: 'ready', columns: found });
        }
      })
      .catch(error => {
        if (current) {
          setColumns(
            error instanceof ProxyUnavailableError
              ? { state: 'no-proxy', message: error.message }
              : { state: 'failed', message: `The model's input columns could not be read: ${message(error)}` }
          );
        }
      });
    return () => {
      current = false;
    };
  }, [serving, healthy]);

  // An answer from the model served before a swap or rollback would mislead.
  useEffect(() => setAnswer({ state: 'none' }), [serving]);

  // Fill the form from the columns until the user types in it, and show the example from its start.
  useEffect(() => {
    if (!edited && columns.state !== 'loading') {
      setText(exampleRequest(columns.state === 'ready' ? columns.columns : null));
    }
  }, [columns, edited]);
  useEffect(() => {
    if (!edited) {
      area.current?.scrollTo(0, 0);
    }
  }, [text, edited]);

  const send = async (): Promise<void> => {
    if (text === null) {
      return;
    }
    setAnswer({ state: 'sending' });
    try {
      // The token is asked for (an explicit POST) for this request only: no list holds it, nor this panel after.
      const token = deployment.has_token ? (await api.deploymentToken(deployment.name)).token : null;
      setAnswer({ state: 'answered', answer: await scoring.invoke(deployment, text, token) });
    } catch (error) {
      if (error instanceof ProxyUnavailableError) {
        setColumns({ state: 'no-proxy', message: error.message });
        setAnswer({ state: 'none' });
      } else {
        setAnswer({ state: 'failed', message: message(error) });
      }
    }
  };

  const copy = (): void => {
    Clipboard.copyToSystem(curlCommand(deployment, text ?? exampleRequest(null)));
    setCopied(true);
    window.setTimeout(() => setCopied(false), 1500);
  };

  const id = `mlops-request-${deployment.name}`;
  const noProxy = columns.state === 'no-proxy';
  const noSignature = columns.state === 'ready' && columns.columns === null;
  return (
    <div className="mlops-Request" data-testid="deployment-request">
      <div className="mlops-Request-head">
        <label className="mlops-Subheading" htmlFor={id}>
          Test request
        </label>
        <button
          className="mlops-Link mlops-Request-copy"
          onClick={copy}
          title={
            deployment.has_token
              ? "Copy this request as a curl command (for a shell on the lab's machine; it reads the token there)"
              : "Copy this request as a curl command (for a shell on the lab's machine)"
          }
        >
          {copied ? 'copied' : 'copy as curl'}
        </button>
      </div>
      {columns.state === 'loading' && healthy ? (
        <div className="mlops-Busy">Reading the model's input columns…</div>
      ) : null}
      {columns.state === 'failed' ? (
        <div className="mlops-Error" role="alert">
          {columns.message}
        </div>
      ) : null}
      {noSignature ? (
        <div className="mlops-Request-note">The model has no signature: write the record's columns yourself.</div>
      ) : null}
      <textarea
        ref={area}
        id={id}
        className="mlops-Request-body"
        spellCheck={false}
        rows={7}
        value={text ?? ''}
        placeholder={healthy ? '' : 'the deployment is not healthy'}
        onChange={e => {
          setEdited(true);
          setText(e.target.value);
        }}
      />
      {noProxy ? (
        <>
          <div className="mlops-Request-note">
            The panel cannot send it: {columns.message}. Run it in a terminal on the lab's machine (the model's
            columns are listed on its API page, the address above):
          </div>
          <pre className="mlops-Request-curl" data-testid="deployment-curl">
            {curlCommand(deployment, text ?? exampleRequest(null))}
          </pre>
        </>
      ) : (
        <div className="mlops-Actions mlops-Request-actions">
          <button
            className="mlops-Button mlops-Button-primary"
            onClick={send}
            disabled={text === null || answer.state === 'sending' || !healthy}
            title={`POST this body to ${deployment.url}/invocations, through the lab`}
          >
            {answer.state === 'sending' ? 'Sending…' : 'Send'}
          </button>
          {edited ? (
            <button
              className="mlops-Link"
              onClick={() => setEdited(false)}
              title="Put back the example record built from the model's columns"
            >
              reset
            </button>
          ) : null}
          {deployment.has_token ? (
            <span
              className="mlops-Request-hint"
              title="The token is asked for when you send, and Authorization: Bearer … is added to the request"
            >
              with its bearer token
            </span>
          ) : null}
        </div>
      )}
      {answer.state === 'failed' ? (
        <div className="mlops-Error" role="alert">
          {answer.message}
        </div>
      ) : null}
      {answer.state === 'answered' ? (
        <div
          className={`mlops-Answer ${answer.answer.status === 200 ? 'mlops-Answer-ok' : 'mlops-Answer-error'}`}
          data-testid="deployment-answer"
        >
          <div className="mlops-Answer-head">
            {describe(answer.answer)} · {Math.round(answer.answer.elapsed)} ms
          </div>
          <pre className="mlops-Answer-body">{formatAnswer(answer.answer)}</pre>
        </div>
      ) : null}
    </div>
  );
}

function DeploymentItem(props: {
  deployment: IDeployment;
  api: MLOpsApi;
  scoring: ScoringClient;
  refresh: () => void;
}): JSX.Element {
  const { deployment, api } = props;
  const [open, setOpen] = useState(false);
  const [logs, setLogs] = useState<Logs>({ state: 'hidden' });
  const [busy, setBusy] = useState<'stopping' | 'rolling back' | null>(null);
  const [error, setError] = useState<string | null>(null);
  const Caret = open ? caretDownIcon : caretRightIcon;
  const detailId = `mlops-deployment-${deployment.name}`;
  const isModel = Boolean(deployment.spec?.model);
  const created = new Date(deployment.created_at);

  const showLogs = async (): Promise<void> => {
    setLogs({ state: 'loading', lines: logs.state === 'shown' ? logs.lines : null });
    try {
      const answer = await api.deploymentLogs(deployment.name, LOG_LINES);
      setLogs({ state: 'shown', lines: answer.lines, at: new Date() });
    } catch (e) {
      setLogs({ state: 'failed', message: `The log could not be read: ${message(e)}` });
    }
  };

  const act = async (
    what: 'stopping' | 'rolling back',
    title: string,
    body: string,
    label: string,
    work: () => Promise<unknown>
  ): Promise<void> => {
    const choice = await showDialog({
      title,
      body,
      buttons: [Dialog.cancelButton(), Dialog.warnButton({ label })]
    });
    if (!choice.button.accept) {
      return;
    }
    setBusy(what);
    setError(null);
    try {
      await work();
    } catch (e) {
      setError(`${what === 'stopping' ? 'Stop' : 'Rollback'} failed: ${message(e)}`);
    } finally {
      setBusy(null);
      props.refresh();
    }
  };

  const stop = (): Promise<void> =>
    act(
      'stopping',
      `Stop ${deployment.name}?`,
      `${served(deployment)} stops answering at ${deployment.url}; %deploy starts it again.`,
      'Stop',
      () => api.stopDeployment(deployment.name)
    );

  const rollback = (): Promise<void> =>
    act(
      'rolling back',
      `Roll ${deployment.name} back?`,
      `It will serve ${previousModel(deployment)} again, instead of ${deployment.model_uri}.`,
      'Roll back',
      () => api.rollbackDeployment(deployment.name)
    );

  return (
    <li className="mlops-Deployment" data-deployment={deployment.name} data-status={deployment.status}>
      <div className="mlops-Deployment-head">
        <button
          className="mlops-ItemToggle mlops-Deployment-toggle"
          aria-expanded={open}
          aria-controls={detailId}
          onClick={() => setOpen(!open)}
          title={open ? 'Hide the details' : 'Test request, logs, rollback and stop'}
        >
          <Caret.react tag="span" className="mlops-Deployment-caret" />
          <span className="mlops-Deployment-name">{deployment.name}</span>
        </button>
        <StatusPill status={deployment.status} />
      </div>
      <div className="mlops-Deployment-meta">
        <span className="mlops-Deployment-model" title={deployment.model_uri ?? served(deployment)}>
          {served(deployment)}
          {deployment.version ? <span className="mlops-Deployment-version"> v{deployment.version}</span> : null}
        </span>
        {deployment.url ? (
          <a
            className="mlops-ExternalLink mlops-Deployment-url"
            href={isModel ? `${deployment.url}/docs` : deployment.url}
            target="_blank"
            rel="noopener noreferrer"
            title={isModel ? `Its API page: ${deployment.url}/docs` : deployment.url}
          >
            {deployment.url.replace(/^https?:\/\//, '')} ↗
          </a>
        ) : null}
        <span
          className={`mlops-Deployment-restarts${deployment.restarts ? ' mlops-Deployment-restarts-some' : ''}`}
          data-testid="deployment-restarts"
          title={`started ${Number.isNaN(created.getTime()) ? deployment.created_at : Time.format(created)}`}
        >
          {deployment.restarts ? count(deployment.restarts, 'restart') : 'no restarts'}
        </span>
      </div>
      {deployment.reason ? <div className="mlops-Deployment-reason">{deployment.reason}</div> : null}
      {open ? (
        <div className="mlops-Deployment-detail" id={detailId}>
          {isModel ? <TestRequest deployment={deployment} api={api} scoring={props.scoring} /> : null}
          <div className="mlops-Actions">
            <button
              className="mlops-Button"
              onClick={showLogs}
              disabled={logs.state === 'loading'}
              title={`Show the last ${LOG_LINES} lines of its log (again to refresh)`}
            >
              Logs
            </button>
            {deployment.previous_model ? (
              <button
                className="mlops-Button"
                onClick={rollback}
                disabled={busy !== null}
                title={`Serve ${previousModel(deployment)} again`}
              >
                {busy === 'rolling back' ? 'Rolling back…' : 'Rollback'}
              </button>
            ) : null}
            <button
              className="mlops-Button mlops-Button-danger"
              onClick={stop}
              disabled={busy !== null}
              title="Stop serving (asks first)"
            >
              {busy === 'stopping' ? 'Stopping…' : 'Stop'}
            </button>
          </div>
          {error ? (
            <div className="mlops-Error" role="alert">
              {error}
            </div>
          ) : null}
          <LogTail logs={logs} close={() => setLogs({ state: 'hidden' })} testId="deployment-logs" />
        </div>
      ) : null}
    </li>
  );
}

export function DeploymentsSection(props: IDeploymentsSectionProps): JSX.Element {
  const { api, pollInterval } = props;
  const deployments = usePolled(
    'mlops:deployments',
    pollInterval,
    () => api.deployments(),
    [api],
    'The deployments could not be listed'
  );
  const scoring = useRef(new ScoringClient(api.serverSettings));

  useEffect(() => {
    scoring.current = new ScoringClient(api.serverSettings);
  }, [api]);

  const down = deployments.data?.filter(d => d.status === 'failed' || d.status === 'unhealthy').length;
  const badge = listBadge(deployments.data, 'deployment') + (down ? ` · ${down} down` : '');

  return (
    <Section title="Deployments" badge={badge} initiallyOpen={false}>
      <Polled
        polled={deployments}
        empty={
          <>
            No deployments: run <code>%deploy MODEL</code> in a notebook.
          </>
        }
      >
        {list => (
          <ul className="mlops-DeploymentList" aria-label="Deployments">
            {list.map(deployment => (
              <DeploymentItem
                key={deployment.name}
                deployment={deployment}
                api={api}
                scoring={scoring.current}
                refresh={deployments.refresh}
              />
            ))}
          </ul>
        )}
      </Polled>
    </Section>
  );
}
