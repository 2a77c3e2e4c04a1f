import React, { useEffect, useRef } from 'react';

import { count } from '../format';

/** A log's tail as the Logs buttons show it: asked for, being read, read (with when), or not readable. */
export type Logs =
  | { state: 'hidden' }
  | { state: 'loading'; lines: string[] | null }
  | { state: 'shown'; lines: string[]; at: Date }
  | { state: 'failed'; message: string };

/** The tail of a log (a deployment's, a run's), scrolled to its end; a close button hides it. */
export function LogTail(props: { logs: Logs; close: () => void; testId: string }): JSX.Element | null {
  const { logs } = props;
  const box = useRef<HTMLDivElement>(null);
  // A tail: show its end.
  useEffect(() => {
    if (box.current) {
      box.current.scrollTop = box.current.scrollHeight;
    }
  }, [logs]);
  if (logs.state === 'hidden') {
    return null;
  }
  if (logs.state === 'failed') {
    return (
      <div className="mlops-Error" role="alert">
        {logs.message}
      </div>
    );
  }
  const lines = logs.lines;
  return (
    <div className="mlops-Logs" data-testid={props.testId}>
      <div className="mlops-Logs-head">
        <span>
          {logs.state === 'loading'
            ? 'Reading the log…'
            : lines && lines.length
              ? `Last ${count(lines.length, 'line')} · ${logs.at.toLocaleTimeString()}`
              : 'The log is empty'}
        </span>
        <button className="mlops-Compare-close" onClick={props.close} aria-label="Close the log">
          ×
        </button>
      </div>
      {lines && lines.length ? (
        <div className="mlops-Logs-lines" ref={box}>
          {lines.map((line, index) => (
            <div key={index} className="mlops-Logs-line">
              {line || ' '}
            </div>
          ))}
        </div>
      ) : null}
    </div>
  );
}
