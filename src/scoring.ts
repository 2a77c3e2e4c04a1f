/**
 * Test requests to a deployment's scoring server (MLflow's scoring protocol), sent through the lab.
 *
 * A deployment listens on 127.0.0.1:PORT, another origin than the lab's, and sends no CORS headers: the browser
 * cannot call it directly. jupyter-server-proxy (a dependency of dask-labextension) forwards
 * `{baseUrl}proxy/PORT/…` to 127.0.0.1:PORT behind the lab's own authentication, so the panel calls that.
 * When the proxy is not there, the panel shows a curl command instead.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { IDeployment } from './api';

/** One input column of the served model, from its /openapi.json. */
export interface IInputColumn {
  name: string;
  /** JSON schema type: number, integer, boolean, string. */
  type: string;
}

/** What the deployment answered to a request. */
export interface IScoringAnswer {
  status: number;
  /** The parsed JSON body; null when the body is not JSON (see `text`). */
  body: unknown;
  text: string;
  /** Milliseconds from send to the whole answer, as the browser saw it (the lab's proxy included). */
  elapsed: number;
}

/** The lab cannot forward to the deployment: no proxy, or the deployment listens on another host. */
export class ProxyUnavailableError extends Error {}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** The deployment's port on loopback, or null when it listens elsewhere (the proxy only reaches loopback). */
export function loopbackPort(deployment: IDeployment): number | null {
  if (!deployment.url) {
    return null;
  }
  try {
    const url = new URL(deployment.url);
    if (!LOOPBACK.has(url.hostname)) {
      return null;
    }
    return Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  } catch {
    return null;
  }
}

/** A request body of one record, every column set to zero (false, ''): what the test form starts from. */
export function exampleRequest(columns: IInputColumn[] | null): string {
  const record: Record<string, unknown> = {};
  for (const column of columns ?? []) {
    record[column.name] = column.type === 'boolean' ? false : column.type === 'string' ? '' : 0;
  }
  // One column a line, indented once: it fits the narrow sidebar.
  const fields = Object.entries(record).map(([name, value]) => `  ${JSON.stringify(name)}: ${JSON.stringify(value)}`);
  return fields.length ? `{"dataframe_records": [{\n${fields.join(',\n')}\n}]}` : '{"dataframe_records": [{}]}';
}

/** A shell-quoted single argument. */
function quote(text: string): string {
  return `'${text.replace(/'/g, "'\\''")}'`;
}

/**
 * The same request as a curl command, to run on the lab's machine. A token deployment's token is read there by
 * `mlops deploy token NAME`: the command shown or copied never holds the token itself.
 */
export function curlCommand(deployment: IDeployment, body: string): string {
  const lines = ['curl -sS -X POST', "-H 'Content-Type: application/json'"];
  if (deployment.has_token) {
    lines.push(`-H "Authorization: Bearer $(mlops deploy token ${deployment.name})"`);
  }
  let compact = body;
  try {
    compact = JSON.stringify(JSON.parse(body));
  } catch {
    // Not JSON: sent as typed.
  }
  lines.push(`-d ${quote(compact)}`, `${deployment.url}/invocations`);
  return lines.join(' \\\n  ');
}

/** The input columns of the record schema of POST /invocations (dataframe_records), in the model's order. */
export function inputColumns(openapi: unknown): IInputColumn[] | null {
  type Schema = { properties?: Record<string, Schema>; items?: Schema; oneOf?: Schema[]; type?: string };
  const spec = openapi as {
    paths?: Record<string, { post?: { requestBody?: { content?: Record<string, { schema?: Schema }> } } }>;
  };
  const schema = spec?.paths?.['/invocations']?.post?.requestBody?.content?.['application/json']?.schema;
  const choices = schema?.oneOf ?? (schema ? [schema] : []);
  for (const choice of choices) {
    const record = choice.properties?.dataframe_records?.items;
    if (record) {
      const properties = record.properties ?? {};
      const columns = Object.entries(properties).map(([name, s]) => ({ name, type: s?.type ?? 'string' }));
      return columns.length ? columns : null;
    }
  }
  return null;
}

export class ScoringClient {
  constructor(readonly serverSettings: ServerConnection.ISettings) {}

  /** The lab's URL that forwards to `path` of the deployment, or null when the proxy cannot reach it. */
  proxyUrl(deployment: IDeployment, path: string): string | null {
    const port = loopbackPort(deployment);
    return port === null ? null : URLExt.join(this.serverSettings.baseUrl, 'proxy', String(port), path);
  }

  /** The served model's input columns (null: it has no signature); ProxyUnavailableError when not reachable. */
  async columns(deployment: IDeployment): Promise<IInputColumn[] | null> {
    const answer = await this.send(deployment, 'openapi.json', { method: 'GET' });
    if (answer.status !== 200 || answer.body === null) {
      throw new Error(`${deployment.url}/openapi.json answered ${describe(answer)}`);
    }
    return inputColumns(answer.body);
  }

  /** POST /invocations with `body` (JSON text), with `token` (the deployment's bearer token) when it needs one. */
  invoke(deployment: IDeployment, body: string, token: string | null = null): Promise<IScoringAnswer> {
    return this.send(
      deployment,
      'invocations',
      { method: 'POST', body, headers: { 'Content-Type': 'application/json' } },
      token
    );
  }

  private async send(
    deployment: IDeployment,
    path: string,
    init: RequestInit,
    token: string | null = null
  ): Promise<IScoringAnswer> {
    const url = this.proxyUrl(deployment, path);
    if (url === null) {
      throw new ProxyUnavailableError(
        `${deployment.url} is not on this machine's loopback: the lab cannot forward requests to it`
      );
    }
    const headers = new Headers(init.headers);
    let settings = this.serverSettings;
    if (token) {
      // The deployment reads Authorization; the lab then knows the browser by its cookie (a wrong token in that
      // header is not a failure for the lab, it falls back to the cookie), so the lab's own token stays out of it.
      headers.set('Authorization', `Bearer ${token}`);
      settings = { ...settings, token: '' };
    }
    const began = performance.now();
    let response: Response;
    try {
      // 'no-cache' rather than the lab's 'no-store', which adds a cache-busting ?TIMESTAMP to the deployment's URL.
      response = await ServerConnection.makeRequest(url, { cache: 'no-cache', ...init, headers }, settings);
    } catch (error) {
      throw new Error(`the Jupyter server cannot be reached: ${error}`);
    }
    const text = await response.text();
    const elapsed = performance.now() - began;
    let body: unknown = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      body = null;
    }
    // The proxy's route is missing: the lab answers its own HTML 404 page, not the deployment's JSON.
    if (response.status === 404 && body === null) {
      throw new ProxyUnavailableError(
        'the lab does not forward requests to local ports (jupyter-server-proxy is not enabled)'
      );
    }
    return { status: response.status, body, text, elapsed };
  }
}

/** "HTTP 500 (not JSON)" and the like, for messages. */
export function describe(answer: IScoringAnswer): string {
  const body = answer.body === null ? (answer.text ? ' (not JSON: the lab could not reach it)' : ' (empty)') : '';
  return `HTTP ${answer.status}${body}`;
}
