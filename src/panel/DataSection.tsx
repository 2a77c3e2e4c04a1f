import React, { useEffect, useState } from 'react';

import { Time } from '@jupyterlab/coreutils';

import { IProfileSummary, MLOpsApi, ProfileReportKind } from '../api';
import { DataFrameListing, IDataFrameInfo } from '../notebook';
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

function ProfileItem(props: {
  profile: IProfileSummary;
  openReport: IDataSectionProps['openReport'];
}): JSX.Element {
  const { profile } = props;
  const created = new Date(profile.created_at);
  const when = Number.isNaN(created.getTime()) ? profile.created_at : Time.formatHuman(created, 'narrow');
  return (
    <li className="mlops-Profile" data-profile-id={profile.id}>
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
              <ProfileItem key={profile.id} profile={profile} openReport={props.openReport} />
            ))}
          </ul>
        )}
      </Polled>
    </Section>
  );
}
