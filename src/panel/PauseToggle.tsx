import React from 'react';

/** What a paused-or-running thing (a job, a monitor) is doing right now, for its buttons. */
export type PauseBusy = 'pausing' | 'resuming' | string | null;

export interface IPauseToggleProps {
  paused: boolean;
  busy: PauseBusy;
  onPause: () => void;
  onResume: () => void;
  /** What Pause stops, what Resume starts again (the buttons' titles). */
  pauseTitle: string;
  resumeTitle: string;
}

/** Pause, or Resume when paused: one button, disabled while anything of its owner is busy. */
export function PauseToggle(props: IPauseToggleProps): JSX.Element {
  const { paused, busy } = props;
  return paused ? (
    <button className="mlops-Button" onClick={props.onResume} disabled={busy !== null} title={props.resumeTitle}>
      {busy === 'resuming' ? 'Resuming…' : 'Resume'}
    </button>
  ) : (
    <button className="mlops-Button" onClick={props.onPause} disabled={busy !== null} title={props.pauseTitle}>
      {busy === 'pausing' ? 'Pausing…' : 'Pause'}
    </button>
  );
}
