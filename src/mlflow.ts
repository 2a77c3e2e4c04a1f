/**
 * The MLflow UI over the workspace's store: started on request (PUT /mlops/api/mlflow-ui, an mlflow server on
 * 127.0.0.1 owned by the controller) and shown in a main-area tab, one for the whole lab.
 */
import { IFrame, MainAreaWidget } from '@jupyterlab/apputils';
import { launchIcon, refreshIcon, ToolbarButton } from '@jupyterlab/ui-components';

import { IMlflowUi, MLOpsApi } from './api';
import { mlopsIcon } from './icon';
import { message } from './format';

export const MLFLOW_TAB_ID = 'mlops-mlflow-ui';

/**
 * The MLflow UI is a page of another origin (its own port on loopback): it needs its scripts and its own origin's
 * storage and requests to work, and it gets no more than that origin's rights. Downloads and popups for its
 * artifact links.
 */
const SANDBOX: IFrame.SandboxExceptions[] = [
  'allow-scripts',
  'allow-same-origin',
  'allow-forms',
  'allow-downloads',
  'allow-popups'
];

/** Where the launcher stands: the panel's button and the palette's command share it. */
export type MlflowUiState =
  | { phase: 'unknown' }
  | { phase: 'stopped' }
  | { phase: 'starting' }
  | { phase: 'running'; url: string; external: boolean }
  | { phase: 'failed'; message: string };

/** Starts the MLflow UI once (concurrent requests share the start) and opens or refreshes its tab. */
export class MlflowUiLauncher {
  constructor(
    private readonly api: MLOpsApi,
    private readonly addToMainArea: (widget: MainAreaWidget<IFrame>) => void,
    private readonly activate: (id: string) => void
  ) {}

  get state(): MlflowUiState {
    return this._state;
  }

  /** Call `listener` on every change of state; returns the function that stops it. */
  subscribe(listener: (state: MlflowUiState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The open MLflow tab, if any. */
  get widget(): MainAreaWidget<IFrame> | null {
    return this._widget && !this._widget.isDisposed ? this._widget : null;
  }

  /** Take what a status poll found (GET mlflow-ui), unless a start is under way. */
  observe(ui: IMlflowUi): void {
    if (this._state.phase === 'starting') {
      return;
    }
    if (ui.status === 'running' && ui.url) {
      this.setState({ phase: 'running', url: ui.url, external: ui.external });
    } else if (this._state.phase !== 'failed') {
      this.setState({ phase: 'stopped' });
    }
  }

  /** Start the UI (a no-op when it runs) and show it in its tab. Resolves to the URL, or throws. */
  async open(): Promise<string> {
    const url = await this.start();
    this.show(url);
    return url;
  }

  /** Start the UI when it is not running; concurrent calls wait for the same start. */
  start(): Promise<string> {
    if (!this.starting) {
      this.setState({ phase: 'starting' });
      this.starting = this.api
        .startMlflowUi()
        .then(ui => {
          if (ui.status !== 'running' || !ui.url) {
            throw new Error('the MLflow UI did not start (no URL in the answer)');
          }
          this.setState({ phase: 'running', url: ui.url, external: ui.external });
          return ui.url;
        })
        .catch(error => {
          const text = `The MLflow UI could not be started: ${message(error)}`;
          this.setState({ phase: 'failed', message: text });
          throw new Error(text);
        })
        .finally(() => {
          this.starting = null;
        });
    }
    return this.starting;
  }

  /** Open (or bring forward) the tab of the UI at `url`. */
  show(url: string): MainAreaWidget<IFrame> {
    const existing = this.widget;
    if (existing) {
      if (existing.content.url !== url) {
        existing.content.url = url;
      }
      existing.title.caption = `MLflow UI at ${url}`;
      this.activate(existing.id);
      return existing;
    }
    const content = new IFrame({ sandbox: SANDBOX, referrerPolicy: 'no-referrer' });
    content.addClass('mlops-MlflowFrame');
    content.node.querySelector('iframe')?.setAttribute('title', 'MLflow UI');
    content.url = url;
    const widget = new MainAreaWidget({ content });
    widget.id = MLFLOW_TAB_ID;
    widget.title.label = 'MLflow';
    widget.title.caption = `MLflow UI at ${url}`;
    widget.title.icon = mlopsIcon;
    widget.title.closable = true;
    widget.addClass('mlops-MlflowTab');
    widget.toolbar.addItem(
      'reload',
      new ToolbarButton({
        icon: refreshIcon,
        tooltip: 'Reload the MLflow UI',
        onClick: () => {
          const current = content.url;
          content.url = '';
          content.url = current;
        }
      })
    );
    widget.toolbar.addItem(
      'new-tab',
      new ToolbarButton({
        icon: launchIcon,
        label: 'Open in a new browser tab',
        tooltip: 'Open the MLflow UI in a browser tab of its own',
        onClick: () => window.open(content.url, '_blank', 'noopener,noreferrer')
      })
    );
    this._widget = widget;
    widget.disposed.connect(() => {
      if (this._widget === widget) {
        this._widget = null;
      }
    });
    this.addToMainArea(widget);
    this.activate(widget.id);
    return widget;
  }

  private setState(state: MlflowUiState): void {
    this._state = state;
    for (const listener of this.listeners) {
      listener(state);
    }
  }

  private _state: MlflowUiState = { phase: 'unknown' };
  private readonly listeners = new Set<(state: MlflowUiState) => void>();
  private _widget: MainAreaWidget<IFrame> | null = null;
  private starting: Promise<string> | null = null;
}
