import React, { useEffect, useState } from 'react';

import { MlflowUiLauncher, MlflowUiState } from '../mlflow';

/** "Open MLflow UI" (and a link to it in a browser tab once it runs), with what the launcher is doing. */
export function MlflowUiActions(props: { mlflowUi: MlflowUiLauncher }): JSX.Element {
  const { mlflowUi } = props;
  const [ui, setUi] = useState<MlflowUiState>(mlflowUi.state);
  useEffect(() => mlflowUi.subscribe(setUi), [mlflowUi]);

  const open = async (): Promise<void> => {
    try {
      await mlflowUi.open();
    } catch {
      // The launcher's state says why; shown below.
    }
  };
  const starting = ui.phase === 'starting';

  return (
    <>
      <div className="mlops-Actions mlops-Actions-top">
        <button
          className="mlops-Button"
          onClick={open}
          disabled={starting}
          title="Start the MLflow UI over the workspace's runs (on 127.0.0.1) and open it in a tab"
        >
          {starting ? 'Starting MLflow UI…' : 'Open MLflow UI'}
        </button>
        {ui.phase === 'running' ? (
          <a
            className="mlops-ExternalLink"
            href={ui.url}
            target="_blank"
            rel="noopener noreferrer"
            title={`Open ${ui.url} in a new browser tab`}
          >
            new tab ↗
          </a>
        ) : null}
      </div>
      {starting ? <div className="mlops-Busy">Starting the MLflow UI: this takes a few seconds…</div> : null}
      {ui.phase === 'failed' ? (
        <div className="mlops-Error" role="alert">
          {ui.message}
        </div>
      ) : null}
    </>
  );
}
