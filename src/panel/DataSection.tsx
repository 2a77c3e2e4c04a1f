import React, { useEffect, useState } from 'react';

import { Time } from '@jupyterlab/coreutils';

import { Clipboard } from '@jupyterlab/apputils';

import { IPrepSuggestion, IProfileSummary, MLOpsApi, PrepModel, PrepTask, ProfileReportKind } from '../api';
import { DataFrameListing, IDataFrameInfo } from '../notebook';
import { decisionTone, ownTargetLabel, profileColumns, profileTarget, suggestionCaption } from '../prep';
import { listBadge, Polled } from './Polled';
import { EmptyState, Section } from './Section';
import { usePolled } from './usePolled';
import { message, count } from '../format';

export interface IDataSectionProps {
  api: MLOpsApi;
  pollInterval: number;
  /** Insert a magic into the active notebook and run it. */
  runMagic: (magic: string) => Promise<boolean>;
  /** The DataFrames of the active notebook's kernel. */
  listDataFrames: () => Promise<DataFrameListing>;
  /** Open a profile's saved report in a main-area tab. */
  openReport: (profile: IProfileSummary, which: ProfileReportKind) => void;
  /** Insert code as a new cell below the active cell of the current notebook (not run); false without one. */
  insertCode: (code: string) => boolean;
  /** The notebook that code would go into (the current one), or null when none is open. */
  notebook: string | null;
  /** Bumped by the "Open Profiles" command: open the section and bring it into view. */
  revealRequest?: number;
  /** Bumped by the "Profile a DataFrame" command: also list the DataFrames. */
  pickRequest?: number;
}

/** What the "Profile a DataFrame" button found, shown below it until a frame is picked or the list is closed. */
type Picker =
  | { state: 'closed' }
  | { state: 'asking' }
  | { state: 'listed'; listing: DataFrameListing }
  | { state: 'failed'; message: string };

function frameShape(frame: IDataFrameInfo): string {
  const rows = frame.rows === null ? `${count(frame.partitions ?? 0, 'partition')}` : count(frame.rows, 'row');
  return `${frame.kind} · ${rows} × ${count(frame.columns, 'col')}`;
}

const TASKS: { value: PrepTask; label: string }[] = [
  { value: 'auto', label: 'auto' },
  { value: 'classification', label: 'classification' },
  { value: 'regression', label: 'regression' }
];

const MODELS: { value: PrepModel; label: string }[] = [
  { value: 'linear', label: 'linear, most' },
  { value: 'trees', label: 'boosted trees' }
];

/** The profile's columns for the target select, read once the form opens. */
type PrepColumns =
  | { state: 'loading' }
  | { state: 'ready'; columns: string[]; own: string | null }
  | { state: 'failed'; message: string };

type PrepResult =
  | { state: 'none' }
  | { state: 'asking' }
  | { state: 'done'; suggestion: IPrepSuggestion }
  | { state: 'failed'; message: string };

/** What a click on "Insert into notebook" or "Copy" did, said beside the buttons for a moment. */
type PrepNote = { text: string; at: number } | null;

/** A profile's "prep" form: the target and task to ask for, then the suggested code and its decisions. */
function PrepView(props: {
  api: MLOpsApi;
  profile: IProfileSummary;
  notebook: string | null;
  insertCode: IDataSectionProps['insertCode'];
  close: () => void;
}): JSX.Element {
  const { api, profile } = props;
  const [columns, setColumns] = useState<PrepColumns>({ state: 'loading' });
  const [target, setTarget] = useState('');
  const [task, setTask] = useState<PrepTask>('auto');
  const [model, setModel] = useState<PrepModel>('linear');
  const [result, setResult] = useState<PrepResult>({ state: 'none' });
  const [note, setNote] = useState<PrepNote>(null);

  useEffect(() => {
    let live = true;
    api.profile(profile.id).then(
      whole => live && setColumns({ state: 'ready', columns: profileColumns(whole), own: profileTarget(whole) }),
      error =>
        live && setColumns({ state: 'failed', message: `The profile's columns could not be read: ${message(error)}` })
    );
    return () => {
      live = false;
    };
  }, [api, profile.id]);

  useEffect(() => {
    if (!note) {
      return;
    }
    const timer = window.setTimeout(() => setNote(null), 2500);
    return () => window.clearTimeout(timer);
  }, [note]);

  const ask = async (): Promise<void> => {
    setResult({ state: 'asking' });
    setNote(null);
    try {
      setResult({ state: 'done', suggestion: await api.suggestPrep(profile.id, target, task, model) });
    } catch (error) {
      setResult({ state: 'failed', message: message(error) });
    }
  };
  const choose = (change: () => void): void => {
    change();
    setResult({ state: 'none' });
  };

  const id = `mlops-prep-${profile.id}`;
  const own = columns.state === 'ready' ? columns.own : undefined;
  const suggestion = result.state === 'done' ? result.suggestion : null;
  const insert = (): void => {
    if (suggestion && props.insertCode(suggestion.code)) {
      setNote({ text: `inserted into ${props.notebook}`, at: Date.now() });
    }
  };
  const copy = (): void => {
    if (suggestion) {
      Clipboard.copyToSystem(suggestion.code);
      setNote({ text: 'copied', at: Date.now() });
    }
  };
  return (
    <div className="mlops-Prep" data-testid="prep">
      <div className="mlops-Subheading">Suggest preparation</div>
      <div className="mlops-Form mlops-Prep-form">
        <label htmlFor={`${id}-target`}>Target</label>
        <select
          id={`${id}-target`}
          className="mlops-Select"
          value={target}
          title="The column the model will predict: the code leaves it out of the features"
          onChange={e => choose(() => setTarget(e.target.value))}
        >
          <option value="">{ownTargetLabel(own)}</option>
          {columns.state === 'ready'
            ? columns.columns.map(column => (
                <option key={column} value={column}>
                  {column}
                </option>
              ))
            : null}
        </select>
        <label htmlFor={`${id}-task`}>Task</label>
        <select
          id={`${id}-task`}
          className="mlops-Select"
          value={task}
          title="auto: classification or regression, read from the target's values"
          onChange={e => choose(() => setTask(e.target.value as PrepTask))}
        >
          {TASKS.map(option => (
            <option key={option.value} value={option.value}>
              {option.label}
            </option>
          ))}
        </select>
        <label htmlFor={`${id}-model`}>Model</label>
        <select
          id={`${id}-model`}
          className="mlops-Select"
          value={model}
          title="linear: one-hot, imputed, scaled; trees: native categories, missing values left to the model"
          onChange={e => choose(() => setModel(e.target.value as PrepModel))}
        >
          {MODELS.map(option => (
            <option key={option.value} value={option.value}>
              {option.label}
            </option>
          ))}
        </select>
      </div>
      {columns.state === 'failed' ? (
        <div className="mlops-Error" role="alert">
          {columns.message}
        </div>
      ) : null}
      <div className="mlops-Actions mlops-Prep-actions">
        <button
          className="mlops-Button mlops-Button-primary"
          onClick={ask}
          disabled={result.state === 'asking'}
          title={`Write the scikit-learn preparation that ${profile.title}'s profile asks for (as %prep does)`}
        >
          {result.state === 'asking' ? 'Suggesting…' : 'Suggest preparation'}
        </button>
      </div>
      {result.state === 'failed' ? (
        <div className="mlops-Error" role="alert">
          {result.message}
        </div>
      ) : null}
      {suggestion ? (
        <div className="mlops-Prep-result" data-testid="prep-result">
          <div className="mlops-Prep-caption">{suggestionCaption(suggestion)}</div>
          <table className="mlops-PrepTable" aria-label={`Preparation decisions for ${profile.title}`}>
            <thead>
              <tr>
                <th scope="col">column</th>
                <th scope="col">found</th>
                <th scope="col">done</th>
              </tr>
            </thead>
            <tbody>
              {suggestion.decisions.map((decision, index) => (
                <tr key={index} data-tone={decisionTone(decision)}>
                  <th scope="row" title={decision.column}>
                    {decision.column}
                  </th>
                  <td>{decision.found}</td>
                  <td>{decision.done}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <pre className="mlops-Prep-code" data-testid="prep-code" tabIndex={0}>
            {suggestion.code}
          </pre>
          <div className="mlops-Actions mlops-Prep-actions">
            <button
              className="mlops-Button mlops-Button-primary"
              onClick={insert}
              disabled={!props.notebook}
              title={
                props.notebook
                  ? `Insert the code as a new cell below the active cell of ${props.notebook} (not run)`
                  : 'No notebook is open: open one to insert the code into it'
              }
            >
              Insert into notebook
            </button>
            <button className="mlops-Button" onClick={copy} title="Copy the code to the clipboard">
              Copy
            </button>
            {note ? (
              <span className="mlops-Prep-note" role="status">
                {note.text}
              </span>
            ) : !props.notebook ? (
              <span className="mlops-Prep-note">open a notebook to insert it</span>
            ) : null}
          </div>
        </div>
      ) : null}
      <button className="mlops-Picker-close" onClick={props.close} aria-label="Close the suggested preparation">
        ×
      </button>
    </div>
  );
}

function ProfileItem(props: {
  api: MLOpsApi;
  profile: IProfileSummary;
  openReport: IDataSectionProps['openReport'];
  insertCode: IDataSectionProps['insertCode'];
  notebook: string | null;
}): JSX.Element {
  const { profile } = props;
  const [prepOpen, setPrepOpen] = useState(false);
  const created = new Date(profile.created_at);
  const when = Number.isNaN(created.getTime()) ? profile.created_at : Time.formatHuman(created, 'narrow');
  return (
    <li className="mlops-Profile" data-profile-id={profile.id}>
      <div className="mlops-Profile-row">
        <button
          className="mlops-Profile-open"
          onClick={() => props.openReport(profile, 'report')}
          title={`Open the report of ${profile.title} (profiled ${Time.format(created)})`}
        >
          <span className="mlops-Profile-line">
            <span className="mlops-Profile-title">{profile.title}</span>
            <span className="mlops-Profile-time">{when}</span>
          </span>
          <span className="mlops-Profile-line mlops-Profile-meta">
            {profile.source && profile.source !== profile.title ? (
              <span className="mlops-Profile-source" title={profile.source}>
                {profile.source}
              </span>
            ) : null}
            <span className="mlops-Profile-shape">
              {count(profile.rows, 'row')} × {count(profile.columns, 'col')}
            </span>
            <span
              className={profile.alerts ? 'mlops-Profile-alerts mlops-Profile-alerts-some' : 'mlops-Profile-alerts'}
              data-testid="profile-alerts"
            >
              {profile.alerts ? count(profile.alerts, 'alert') : 'no alerts'}
            </span>
            {profile.compared_with ? (
              <span className="mlops-Profile-compared" title={`compared with profile ${profile.compared_with}`}>
                compared
              </span>
            ) : null}
          </span>
        </button>
        {profile.has_full_report ? (
          <button
            className="mlops-Profile-full"
            onClick={() => props.openReport(profile, 'full')}
            title={`Open the full ydata-profiling report of ${profile.title}`}
          >
            full
          </button>
        ) : null}
        <button
          className="mlops-Profile-full mlops-Profile-prep"
          onClick={() => setPrepOpen(!prepOpen)}
          aria-expanded={prepOpen}
          title={`Suggest preparation: the scikit-learn code ${profile.title}'s profile asks for (%prep)`}
        >
          prep
        </button>
      </div>
      {prepOpen ? (
        <PrepView
          api={props.api}
          profile={profile}
          notebook={props.notebook}
          insertCode={props.insertCode}
          close={() => setPrepOpen(false)}
        />
      ) : null}
    </li>
  );
}

function PickerView(props: {
  picker: Picker;
  pick: (frame: IDataFrameInfo) => void;
  close: () => void;
}): JSX.Element | null {
  const { picker } = props;
  if (picker.state === 'closed') {
    return null;
  }
  let body: JSX.Element;
  if (picker.state === 'asking') {
    body = <div className="mlops-Busy">Asking the notebook's kernel for its DataFrames…</div>;
  } else if (picker.state === 'failed') {
    body = (
      <div className="mlops-Error" role="alert">
        {picker.message}
      </div>
    );
  } else if (picker.listing.status === 'no-notebook') {
    body = (
      <EmptyState>
        No notebook is active: open one, create a DataFrame in it, and try again. The DataFrames are listed
        from the kernel of the active notebook.
      </EmptyState>
    );
  } else if (picker.listing.status === 'no-kernel') {
    body = <EmptyState>{picker.listing.notebook} has no running kernel: start one and try again.</EmptyState>;
  } else if (picker.listing.frames.length === 0) {
    body = (
      <EmptyState>
        No pandas or Dask DataFrames in the kernel of {picker.listing.notebook}. Create one (for example{' '}
        <code>df = pd.read_csv(…)</code>) and try again.
      </EmptyState>
    );
  } else {
    body = (
      <>
        <div className="mlops-Picker-caption" title="Pick one to insert %eda NAME into the notebook and run it">
          DataFrames in {picker.listing.notebook}
        </div>
        <ul className="mlops-Picker-list" aria-label="DataFrames to profile">
          {picker.listing.frames.map(frame => (
            <li key={frame.name}>
              <button
                className="mlops-Picker-item"
                onClick={() => props.pick(frame)}
                title={`Insert %eda ${frame.name} into the notebook and run it`}
              >
                <span className="mlops-Picker-name">{frame.name}</span>
                <span className="mlops-Picker-shape">{frameShape(frame)}</span>
              </button>
            </li>
          ))}
        </ul>
      </>
    );
  }
  return (
    <div className="mlops-Picker" data-testid="dataframe-picker">
      {body}
      <button className="mlops-Picker-close" onClick={props.close} aria-label="Close the DataFrame list">
        ×
      </button>
    </div>
  );
}

export function DataSection(props: IDataSectionProps): JSX.Element {
  const { api, pollInterval } = props;
  const profiles = usePolled(
    'mlops:profiles',
    pollInterval,
    () => api.profiles(),
    [api],
    'The profiles could not be listed'
  );
  const [picker, setPicker] = useState<Picker>({ state: 'closed' });
  const [running, setRunning] = useState<string | null>(null);

  const listFrames = async (): Promise<void> => {
    setPicker({ state: 'asking' });
    try {
      setPicker({ state: 'listed', listing: await props.listDataFrames() });
    } catch (e) {
      setPicker({ state: 'failed', message: message(e) });
    }
  };

  const pick = async (frame: IDataFrameInfo): Promise<void> => {
    setPicker({ state: 'closed' });
    setRunning(frame.name);
    try {
      await props.runMagic(`%eda ${frame.name}`);
    } finally {
      setRunning(null);
      profiles.refresh();
    }
  };

  useEffect(() => {
    if (props.pickRequest) {
      void listFrames();
    }
  }, [props.pickRequest]);

  return (
    <Section
      title="Data"
      badge={listBadge(profiles.data, 'profile')}
      revealRequest={(props.revealRequest ?? 0) + (props.pickRequest ?? 0)}
    >
      <div className="mlops-Actions mlops-Actions-top">
        <button
          className="mlops-Button"
          onClick={listFrames}
          disabled={picker.state === 'asking' || running !== null}
          title="List the pandas and Dask DataFrames of the active notebook's kernel, to profile one with %eda"
        >
          Profile a DataFrame
        </button>
      </div>
      <PickerView picker={picker} pick={pick} close={() => setPicker({ state: 'closed' })} />
      {running ? (
        <div className="mlops-Busy">
          Profiling <code>{running}</code> in the notebook…
        </div>
      ) : null}
      <Polled
        polled={profiles}
        empty={
          <>
            No profiles yet: run <code>%eda df</code> in a notebook, or use <b>Profile a DataFrame</b>.
          </>
        }
      >
        {list => (
          <ul className="mlops-ProfileList" aria-label="Data profiles">
            {list.map(profile => (
              <ProfileItem
                key={profile.id}
                api={api}
                profile={profile}
                openReport={props.openReport}
                insertCode={props.insertCode}
                notebook={props.notebook}
              />
            ))}
          </ul>
        )}
      </Polled>
    </Section>
  );
}
