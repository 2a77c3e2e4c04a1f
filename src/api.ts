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

  private async request<T>(path: string, init: RequestInit = {}): Promise<T> {
    const url = URLExt.join(this.serverSettings.baseUrl, 'mlops', 'api', path);
    let response: Response;
    try {
      response = await ServerConnection.makeRequest(url, init, this.serverSettings);
    } catch (error) {
      throw new MLOpsApiError('network', `the Jupyter server cannot be reached: ${error}`, 0);
    }
    const text = await response.text();
    let data: unknown = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      throw new MLOpsApiError('bad_response', `unexpected answer from ${path}: ${text.slice(0, 200)}`, response.status);
    }
    if (!response.ok) {
      const body = (data ?? {}) as { code?: string; message?: string };
      throw new MLOpsApiError(body.code ?? 'error', body.message ?? response.statusText, response.status);
    }
    return data as T;
  }
}
