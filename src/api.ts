/**
 * Typed client of the REST routes under /mlops/api/: one method per route. The shapes are generated from
 * api/openapi.yaml at build time (`jlpm build:api`, into src/generated/).
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import type { components, operations } from './generated/openapi';

type Schemas = components['schemas'];

// The wire shapes, generated from api/openapi.yaml (which `make api` writes from mlops_magics/api/): never by hand.
export type IClusterSpec = Schemas['ClusterSpec'];
export type ICluster = Schemas['Cluster'];
export type ClusterStatus = Schemas['ClusterStatus'];
export type IStatus = Schemas['Status'];
export type IWorkspace = Schemas['WorkspacePaths'];
/** One saved data profile (%eda), as GET /mlops/api/profiles lists it. */
export type IProfileSummary = Schemas['ProfileSummary'];
/** An MLflow experiment of the workspace's store. */
export type IExperiment = Schemas['Experiment'];
/** One MLflow run: what %%train logged (metrics, params), and where it came from. */
export type IRun = Schemas['Run'];
export type IModelVersion = Schemas['ModelVersion'];
export type IRegisteredModel = Schemas['RegisteredModel'];
export type IMlflowUi = Schemas['MlflowUi'];
/** The saved HTML reports of a profile: the compact one, or the full ydata-profiling one. */
export type ProfileReportKind = NonNullable<operations['getProfileReport']['parameters']['query']>['which'];
/** The preparation a profile asks for (%prep): a notebook cell of scikit-learn code, and its decisions. */
export type IPrepSuggestion = Schemas['PrepSuggestion'];
/** One decision: a column (or "(rows)", "(columns)"), what the profile found, what the code does about it. */
export type IPrepDecision = Schemas['PrepDecision'];
/** auto: read from the target column. */
export type PrepTask = NonNullable<NonNullable<operations['suggestPrep']['parameters']['query']>['task']>;
/** linear: one-hot, imputed, scaled (most models); trees: native categories, missing values left to the model. */
export type PrepModel = NonNullable<NonNullable<operations['suggestPrep']['parameters']['query']>['model']>;
/** What to serve and how (PUT /mlops/api/deployments/{name}): a model, or your own command or ASGI app. */
export type IDeploymentSpec = Schemas['DeploymentSpec'];
export type DeploymentStatus = Schemas['DeploymentStatus'];
/** A deployment as the controller sees it; its token is never part of it ({@link MLOpsApi.deploymentToken}). */
export type IDeployment = Schemas['Deployment'];
export type IDeploymentToken = Schemas['DeploymentToken'];
export type IDeploymentLogs = Schemas['DeploymentLogs'];
/** A job: a notebook with its parameters, kernel and triggers (PUT /mlops/api/jobs/{name}). */
export type IJobSpec = Schemas['JobSpec'];
/** A job as the controller sees it: its triggers in one line, its next run, its last run, its declared parameters. */
export type IJob = Schemas['Job'];
/** One run of a job: its state (with the reason), its live progress, its executed notebook and log. */
export type IJobRun = Schemas['JobRun'];
export type JobRunState = Schemas['RunState'];
export type JobTrigger = Schemas['TriggerKind'];
/** A run's parameters over the job's: JSON values, or text typed by the notebook's defaults. */
export type IRunRequest = Schemas['RunRequest'];
export type IRunLog = Schemas['RunLog'];
/** What a standing monitor checks, how often, and what its alerts start (PUT /mlops/api/monitors/{name}). */
export type IMonitorSpec = Schemas['MonitorSpec'];
/** A swap of the monitored deployment whose first window the monitor watches (rolled back when it is worse). */
export type IWatching = Schemas['Watching'];
/** A standing monitor with its last verdict, next check, and the swap it watches. */
export type IMonitor = Schemas['Monitor'];
/** One check of a monitor: its verdict, the alert it raised, and the whole check as `details`. */
export type IMonitorCheck = Schemas['MonitorCheckView'];
/** An alert a monitor raised, with the job run it started. */
export type IAlert = Schemas['Alert'];
export type AlertKind = Schemas['AlertKind'];
/** One step of a turn of the loop, with when it happened (null: not yet) and how it went. */
export type ILoopStep = Schemas['LoopStep'];
export type LoopStepName = ILoopStep['step'];
/** One turn of the loop: an alert (null: a swap without one) and the steps it led to. */
export type IIncident = Schemas['Incident'];

/** MLflow's run statuses (a run's `status` is a string: MLflow may add more). */
export type RunStatus = 'RUNNING' | 'SCHEDULED' | 'FINISHED' | 'FAILED' | 'KILLED';

/** The one error shape every route answers with: {code, message}. */
export class MLOpsApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number
  ) {
    super(message);
  }
}

export class MLOpsApi {
  constructor(
    readonly serverSettings: ServerConnection.ISettings = ServerConnection.makeSettings()
  ) {}

  status(): Promise<IStatus> {
    return this.request<IStatus>('status');
  }

  workspace(): Promise<IWorkspace> {
    return this.request<IWorkspace>('workspace');
  }

  clusters(): Promise<ICluster[]> {
    return this.request<ICluster[]>('clusters');
  }

  cluster(name: string): Promise<ICluster> {
    return this.request<ICluster>(`clusters/${encodeURIComponent(name)}`);
  }

  startCluster(name: string, spec: IClusterSpec): Promise<ICluster> {
    return this.request<ICluster>(`clusters/${encodeURIComponent(name)}`, {
      method: 'PUT',
      body: JSON.stringify(spec)
    });
  }

  scaleCluster(name: string, workers: number): Promise<ICluster> {
    return this.request<ICluster>(`clusters/${encodeURIComponent(name)}`, {
      method: 'PATCH',
      body: JSON.stringify({ workers })
    });
  }

  stopCluster(name: string): Promise<ICluster> {
    return this.request<ICluster>(`clusters/${encodeURIComponent(name)}`, {
      method: 'DELETE'
    });
  }

  /** Saved data profiles, newest first. */
  profiles(): Promise<IProfileSummary[]> {
    return this.request<IProfileSummary[]>('profiles');
  }

  /** One profile as JSON (statistics, correlations, alerts). */
  profile(id: string): Promise<Record<string, unknown>> {
    return this.request<Record<string, unknown>>(`profiles/${encodeURIComponent(id)}`);
  }

  /** A profile's saved report: a standalone HTML page, as text. */
  async profileReport(id: string, which: ProfileReportKind = 'report'): Promise<string> {
    const path = `profiles/${encodeURIComponent(id)}/report${which === 'report' ? '' : `?which=${which}`}`;
    const response = await this.fetch(path);
    const text = await response.text();
    if (!response.ok) {
      throw this.error(path, response, text);
    }
    return text;
  }

  /**
   * The data preparation a profile asks for (%prep). `target` empty: the column the profile was made with (none:
   * no target); a column that is not in the profile, or a task its values cannot have, is a 400.
   */
  suggestPrep(id: string, target = '', task: PrepTask = 'auto', model: PrepModel = 'linear'): Promise<IPrepSuggestion> {
    const query = new URLSearchParams();
    if (target) {
      query.set('target', target);
    }
    if (task !== 'auto') {
      query.set('task', task);
    }
    if (model !== 'linear') {
      query.set('model', model);
    }
    const search = query.toString();
    return this.request<IPrepSuggestion>(`profiles/${encodeURIComponent(id)}/prep${search ? `?${search}` : ''}`);
  }

  /** MLflow experiments of the workspace's store, most recently updated first. */
  experiments(): Promise<IExperiment[]> {
    return this.request<IExperiment[]>('experiments');
  }

  /** The runs of an experiment, newest first (nested trial runs have `parent` set). */
  experimentRuns(experimentId: string): Promise<IRun[]> {
    return this.request<IRun[]>(`experiments/${encodeURIComponent(experimentId)}/runs`);
  }

  /** One run. */
  run(runId: string): Promise<IRun> {
    return this.request<IRun>(`runs/${encodeURIComponent(runId)}`);
  }

  /** Registered models with their versions and aliases. */
  models(): Promise<IRegisteredModel[]> {
    return this.request<IRegisteredModel[]>('models');
  }

  /** Whether the MLflow UI runs, and its URL. */
  mlflowUi(): Promise<IMlflowUi> {
    return this.request<IMlflowUi>('mlflow-ui');
  }

  /** Start the MLflow UI (an mlflow server on 127.0.0.1; the answer comes once it answers, in seconds). */
  startMlflowUi(): Promise<IMlflowUi> {
    return this.request<IMlflowUi>('mlflow-ui', { method: 'PUT' });
  }

  /** The deployments that run or should (and the failed ones), oldest first. */
  deployments(): Promise<IDeployment[]> {
    return this.request<IDeployment[]>('deployments');
  }

  /** One deployment, whatever its status. */
  deployment(name: string): Promise<IDeployment> {
    return this.request<IDeployment>(`deployments/${encodeURIComponent(name)}`);
  }

  /** Start a deployment, or swap the model of a running one; the answer comes once it is healthy (seconds). */
  deploy(name: string, spec: IDeploymentSpec): Promise<IDeployment> {
    return this.request<IDeployment>(`deployments/${encodeURIComponent(name)}`, {
      method: 'PUT',
      body: JSON.stringify(spec)
    });
  }

  /** Stop a deployment (it leaves the list). */
  stopDeployment(name: string): Promise<IDeployment> {
    return this.request<IDeployment>(`deployments/${encodeURIComponent(name)}`, { method: 'DELETE' });
  }

  /** Swap back to the model served before the last swap (409 when there is none). */
  rollbackDeployment(name: string): Promise<IDeployment> {
    return this.request<IDeployment>(`deployments/${encodeURIComponent(name)}/rollback`, { method: 'POST' });
  }

  /**
   * The deployment's bearer token (POST: an explicit action, never cached, in no list). Ask for it when a
   * request is sent and keep it no longer.
   */
  deploymentToken(name: string): Promise<IDeploymentToken> {
    return this.request<IDeploymentToken>(`deployments/${encodeURIComponent(name)}/token`, {
      method: 'POST',
      cache: 'no-store'
    });
  }

  /** The last `lines` lines of a deployment's log. */
  deploymentLogs(name: string, lines = 200): Promise<IDeploymentLogs> {
    return this.request<IDeploymentLogs>(`deployments/${encodeURIComponent(name)}/logs?lines=${lines}`);
  }

  /** The workspace's jobs, with their next run and last run. */
  jobs(): Promise<IJob[]> {
    return this.request<IJob[]>('jobs');
  }

  job(name: string): Promise<IJob> {
    return this.request<IJob>(`jobs/${encodeURIComponent(name)}`);
  }

  /** Create or replace a job: its notebook is checked, a snapshot taken, its parameters typed by the notebook's. */
  putJob(name: string, spec: IJobSpec): Promise<IJob> {
    return this.request<IJob>(`jobs/${encodeURIComponent(name)}`, {
      method: 'PUT',
      body: JSON.stringify(spec)
    });
  }

  /** Delete a job with its history; its active runs are stopped. */
  deleteJob(name: string): Promise<IJob> {
    return this.request<IJob>(`jobs/${encodeURIComponent(name)}`, { method: 'DELETE' });
  }

  /** Stop its schedule and data triggers (it still runs on demand). */
  pauseJob(name: string): Promise<IJob> {
    return this.request<IJob>(`jobs/${encodeURIComponent(name)}/pause`, { method: 'POST' });
  }

  resumeJob(name: string): Promise<IJob> {
    return this.request<IJob>(`jobs/${encodeURIComponent(name)}/resume`, { method: 'POST' });
  }

  /** Run the job now; the answer is the queued run. */
  runJob(name: string, request: IRunRequest = {}): Promise<IJobRun> {
    return this.request<IJobRun>(`jobs/${encodeURIComponent(name)}/runs`, {
      method: 'POST',
      body: JSON.stringify(request)
    });
  }

  /** The job's runs, newest first. */
  jobRuns(name: string): Promise<IJobRun[]> {
    return this.request<IJobRun[]>(`jobs/${encodeURIComponent(name)}/runs`);
  }

  /** One run, with its live progress. */
  jobRun(name: string, run: number): Promise<IJobRun> {
    return this.request<IJobRun>(`jobs/${encodeURIComponent(name)}/runs/${run}`);
  }

  /** Cancel a queued or running run. */
  cancelJobRun(name: string, run: number): Promise<IJobRun> {
    return this.request<IJobRun>(`jobs/${encodeURIComponent(name)}/runs/${run}/cancel`, { method: 'POST' });
  }

  /** The last `lines` lines of a run's log. */
  jobRunLogs(name: string, run: number, lines = 200): Promise<IRunLog> {
    return this.request<IRunLog>(`jobs/${encodeURIComponent(name)}/runs/${run}/logs?lines=${lines}`);
  }

  /** The workspace's standing monitors with their last verdict. */
  monitors(): Promise<IMonitor[]> {
    return this.request<IMonitor[]>('monitors');
  }

  /** A monitor's checks, newest first. */
  monitorChecks(name: string): Promise<IMonitorCheck[]> {
    return this.request<IMonitorCheck[]>(`monitors/${encodeURIComponent(name)}/checks`);
  }

  /** Check now (an alert is raised as a scheduled check would); the answer comes once the check is done. */
  checkMonitor(name: string): Promise<IMonitorCheck> {
    return this.request<IMonitorCheck>(`monitors/${encodeURIComponent(name)}/check`, { method: 'POST' });
  }

  /** Stop its scheduled checks. */
  pauseMonitor(name: string): Promise<IMonitor> {
    return this.request<IMonitor>(`monitors/${encodeURIComponent(name)}/pause`, { method: 'POST' });
  }

  resumeMonitor(name: string): Promise<IMonitor> {
    return this.request<IMonitor>(`monitors/${encodeURIComponent(name)}/resume`, { method: 'POST' });
  }

  /** Delete a monitor and its checks (its alerts stay). */
  deleteMonitor(name: string): Promise<IMonitor> {
    return this.request<IMonitor>(`monitors/${encodeURIComponent(name)}`, { method: 'DELETE' });
  }

  /** The monitors' alerts, newest first. */
  alerts(): Promise<IAlert[]> {
    return this.request<IAlert[]>('alerts');
  }

  /**
   * The monitor's incidents, newest first: each alert with the steps of the loop it started (retrain, review, swap,
   * watch, rollback). Null where the server has no such route (404, a server older than the panel): the panel then
   * shows no timeline.
   */
  async monitorTimeline(name: string): Promise<IIncident[] | null> {
    try {
      return await this.request<IIncident[]>(`monitors/${encodeURIComponent(name)}/timeline`);
    } catch (error) {
      if (error instanceof MLOpsApiError && error.status === 404) {
        return null;
      }
      throw error;
    }
  }

  private async fetch(path: string, init: RequestInit = {}): Promise<Response> {
    const url = URLExt.join(this.serverSettings.baseUrl, 'mlops', 'api', path);
    try {
      return await ServerConnection.makeRequest(url, init, this.serverSettings);
    } catch (error) {
      throw new MLOpsApiError('network', `the Jupyter server cannot be reached: ${error}`, 0);
    }
  }

  /** The route's {code, message}, or what can be said when the answer is not that. */
  private error(path: string, response: Response, text: string): MLOpsApiError {
    let body: { code?: string; message?: string } = {};
    try {
      body = (text ? JSON.parse(text) : {}) ?? {};
    } catch {
      return new MLOpsApiError('error', `${path}: ${response.status} ${response.statusText}`, response.status);
    }
    return new MLOpsApiError(body.code ?? 'error', body.message ?? response.statusText, response.status);
  }

  private async request<T>(path: string, init: RequestInit = {}): Promise<T> {
    const response = await this.fetch(path, init);
    const text = await response.text();
    if (!response.ok) {
      throw this.error(path, response, text);
    }
    let data: unknown = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      throw new MLOpsApiError('bad_response', `unexpected answer from ${path}: ${text.slice(0, 200)}`, response.status);
    }
    return data as T;
  }
}
