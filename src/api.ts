/**
 * Typed client of the REST routes under /mlops/api/ — one method per route, mirroring api/openapi.yaml.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

export interface IClusterSpec {
  kind?: 'local' | 'address' | 'factory';
  workers?: number;
  threads_per_worker?: number;
  memory_limit?: string;
  address?: string | null;
  factory?: string | null;
  factory_kwargs?: Record<string, unknown>;
}

export interface ICluster {
  name: string;
  spec: Required<IClusterSpec>;
  status: 'starting' | 'running' | 'stopped' | 'failed' | 'unreachable';
  reason: string | null;
  scheduler_address: string | null;
  dashboard_link: string | null;
  workers: number;
  threads: number;
  memory: number;
  created_at: string;
}

export interface IStatus {
  version: string;
  workspace: string;
  controller: { pid: number; started_at: string } | null;
}

export interface IWorkspace {
  home: string;
  state_db: string;
  tracking_uri: string;
  artifacts: string;
  runs: string;
  requests: string;
  controller_log: string;
}

/** One saved data profile (%eda), as GET /mlops/api/profiles lists it. */
export interface IProfileSummary {
  id: string;
  title: string;
  /** Where the data came from: a variable's description, a path, … */
  source: string;
  rows: number;
  columns: number;
  /** How many alerts the profile raised. */
  alerts: number;
  /** Whether a full (ydata-profiling) report was made with `%eda --full`. */
  has_full_report: boolean;
  /** The id of the profile it was compared with (`%eda --compare`), if any. */
  compared_with: string | null;
  created_at: string;
}

/** An MLflow experiment of the workspace's store, as GET /mlops/api/experiments lists it. */
export interface IExperiment {
  id: string;
  name: string;
  /** How many runs it holds (counted up to the 200 the runs route lists). */
  runs: number;
  /** Epoch milliseconds. */
  last_update: number;
}

/** MLflow's run statuses. */
export type RunStatus = 'RUNNING' | 'SCHEDULED' | 'FINISHED' | 'FAILED' | 'KILLED';

/** One MLflow run: what %%train logged (metrics, params), and where it came from. */
export interface IRun {
  id: string;
  name: string;
  /** A {@link RunStatus}; a string, since MLflow may add more. */
  status: string;
  /** Epoch milliseconds. */
  start_time: number;
  /** Epoch milliseconds; null while the run is not finished. */
  end_time: number | null;
  /** A metric logged as NaN or an infinity is null: JSON has no such numbers. */
  metrics: Record<string, number | null>;
  params: Record<string, string>;
  /** The fitted model's module.Class ('' when the run was not made by %%train). */
  model_class: string;
  /** The id of the parent run, for the nested trial runs of a search. */
  parent: string | null;
  /** The notebook the run was made in. */
  notebook: string | null;
}

/** One version of a registered model. */
export interface IModelVersion {
  version: string;
  run_id: string;
  status: string;
  /** Epoch milliseconds. */
  created: number;
  /** The aliases pointing at this version (champion, challenger, previous, …). */
  aliases: string[];
}

/** A registered model with its versions, newest first, and its aliases. */
export interface IRegisteredModel {
  name: string;
  /** alias -> version */
  aliases: Record<string, string>;
  versions: IModelVersion[];
}

/** Whether the MLflow UI over the workspace's store runs, and where. */
export interface IMlflowUi {
  status: 'running' | 'stopped';
  url: string | null;
  /** True when the workspace tracks to an MLflow server of its own (its URL is that server's). */
  external: boolean;
}

/** The saved HTML reports of a profile: the compact one, or the full ydata-profiling one. */
export type ProfileReportKind = 'report' | 'full';

/** What to serve and how (PUT /mlops/api/deployments/{name}): a model, or your own command or ASGI app. */
export interface IDeploymentSpec {
  /** NAME@alias, NAME/version, models:/ or runs:/ URI. */
  model?: string | null;
  /** Your own HTTP app: a shell command listening on $PORT. */
  command?: string | null;
  /** Your own ASGI app: module:attribute. */
  app?: string | null;
  host?: string;
  port?: number;
  workers?: number;
  /** Whether requests need a bearer token (one is made; read it with {@link MLOpsApi.deploymentToken}). */
  token?: boolean;
  /** Listen beyond loopback with no token: refused unless this says it is meant. */
  insecure?: boolean;
  /** The share of requests logged for monitoring (0 to 1). */
  log_rate?: number;
  /** The largest request body accepted, in bytes. */
  max_body?: number;
}

export type DeploymentStatus = 'starting' | 'healthy' | 'unhealthy' | 'stopped' | 'failed';

/** A deployment as the controller sees it. */
export interface IDeployment {
  name: string;
  spec: IDeploymentSpec & { host: string; port: number; workers: number; token: boolean };
  /** A {@link DeploymentStatus}. */
  status: DeploymentStatus;
  /** Why it failed or is unhealthy. */
  reason: string | null;
  /** Where it listens: http://127.0.0.1:PORT (a wildcard host is shown as 127.0.0.1). */
  url: string;
  pid: number | null;
  /** The worker processes' ids. */
  workers: number[];
  /** The model it serves now (models:/NAME@alias, …); null for a command or app. */
  model_uri: string | null;
  /** The registered model's version it serves now. */
  version: string | null;
  /** The model served before the last swap, as it was asked for (an alias may have moved since). */
  previous_model: string | null;
  /** Its exact version: what a rollback goes back to. */
  previous_version: string | null;
  restarts: number;
  /** Whether its requests need a bearer token. The token itself is never in a view: {@link MLOpsApi.deploymentToken}. */
  has_token: boolean;
  created_at: string;
}

/** A deployment's bearer token, answered only to an explicit POST. */
export interface IDeploymentToken {
  name: string;
  token: string;
}

/** The tail of a deployment's log. */
export interface IDeploymentLogs {
  name: string;
  lines: string[];
}

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
