import React, { useEffect, useState } from 'react';

import { ICluster, MLOpsApi } from '../api';
import { PollError } from './Polled';
import { Section } from './Section';
import { usePolled } from './usePolled';
import { message } from '../format';
import { GatewayAuth, parseGatewayOptions, startMagic, Where } from '../cluster';

export interface IClusterDefaults {
  workers: number;
  threadsPerWorker: number;
  memoryLimit: string;
  pollInterval: number;
}

export interface IClusterSectionProps {
  api: MLOpsApi;
  defaults: IClusterDefaults;
  /** Insert a magic into the active notebook and run it. */
  runMagic: (magic: string) => Promise<boolean>;
  /** Tell the app (commands, dask-labextension) which cluster is current. */
  onClusterChanged: (cluster: ICluster | null) => void;
}

const CLUSTER_NAME = 'default';

function formatMemory(bytes: number): string {
  return bytes ? `${(bytes / 2 ** 30).toFixed(1)} GiB` : '-';
}

/** The panel's cluster, unless it is stopped (then the section offers to start one). */
function current(clusters: ICluster[] | null): ICluster | null {
  const found = clusters?.find(c => c.name === CLUSTER_NAME) ?? null;
  return found && found.status !== 'stopped' ? found : null;
}

/** The list with `changed` in place of the cluster of its name (or added). */
function withCluster(clusters: ICluster[] | null, changed: ICluster): ICluster[] {
  return [...(clusters ?? []).filter(c => c.name !== changed.name), changed];
}

export function ClusterSection(props: IClusterSectionProps): JSX.Element {
  const { api, defaults } = props;
  const clusters = usePolled(
    'mlops:clusters',
    defaults.pollInterval,
    () => api.clusters(),
    [api],
    'The clusters could not be listed'
  );
  const cluster = current(clusters.data);
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [workers, setWorkers] = useState(String(defaults.workers));
  const [threads, setThreads] = useState(String(defaults.threadsPerWorker));
  const [memory, setMemory] = useState(defaults.memoryLimit);
  const [where, setWhere] = useState<Where>('local');
  const [gatewayUrl, setGatewayUrl] = useState('');
  const [gatewayOptions, setGatewayOptions] = useState('');
  const [auth, setAuth] = useState<GatewayAuth | ''>('');
  const [scaleTo, setScaleTo] = useState('');

  // Told on every answer (the app compares the dashboard link itself), not before the first.
  useEffect(() => {
    if (clusters.data) {
      props.onClusterChanged(cluster);
    }
  }, [clusters.data]);

  const act = async (label: string, action: () => Promise<ICluster>): Promise<void> => {
    setBusy(label);
    setError(null);
    try {
      const next = await action();
      clusters.replace(withCluster(clusters.data, next));
      if (next.status === 'running') {
        setScaleTo(String(next.workers));
      }
    } catch (e) {
      setError(message(e));
    } finally {
      setBusy(null);
    }
  };

  const form = { workers, threads, memory, gateway: gatewayUrl, options: gatewayOptions, auth };
  const start = (): Promise<void> =>
    act('Starting cluster…', () =>
      api.startCluster(
        CLUSTER_NAME,
        where === 'local'
          ? { workers: Number(workers), threads_per_worker: Number(threads), memory_limit: memory }
          : {
              kind: 'gateway',
              workers: Number(workers),
              // Empty: the controller's dask config gateway.address; no auth: its gateway.auth.
              ...(gatewayUrl.trim() ? { address: gatewayUrl.trim() } : {}),
              options: parseGatewayOptions(gatewayOptions),
              ...(auth ? { auth } : {})
            }
      )
    );
  const startInNotebook = (): void => {
    let magic: string;
    try {
      magic = startMagic(where, form);
    } catch (e) {
      setError(message(e));
      return;
    }
    setError(null);
    void props.runMagic(magic);
  };
  const scale = (): Promise<void> =>
    act('Scaling…', () => api.scaleCluster(CLUSTER_NAME, Number(scaleTo || cluster?.workers)));
  const stop = (): Promise<void> => act('Stopping…', () => api.stopCluster(CLUSTER_NAME));

  const running = cluster?.status === 'running';
  const badge = cluster ? cluster.status : clusters.data ? 'none' : '…';

  return (
    <Section title="Cluster" badge={badge}>
      {cluster ? (
        <dl className="mlops-Status" data-testid="cluster-status">
          <dt>Status</dt>
          <dd>
            <span className={`mlops-Pill mlops-Pill-${cluster.status}`}>{cluster.status}</span>
            {cluster.reason ? ` ${cluster.reason}` : ''}
          </dd>
          <dt>Kind</dt>
          <dd>{cluster.spec.kind}</dd>
          <dt>Scheduler</dt>
          <dd title={cluster.scheduler_address ?? ''}>{cluster.scheduler_address ?? '-'}</dd>
          <dt>Workers</dt>
          <dd data-testid="cluster-workers">{cluster.workers}</dd>
          <dt>Threads</dt>
          <dd>{cluster.threads}</dd>
          <dt>Memory</dt>
          <dd>{formatMemory(cluster.memory)}</dd>
          <dt>Dashboard</dt>
          <dd>
            {cluster.dashboard_link ? (
              <a
                className="mlops-DashboardLink"
                href={cluster.dashboard_link}
                target="_blank"
                rel="noreferrer"
                title={cluster.dashboard_link}
              >
                {/* Without the scheme the usual link fits the default sidebar width; href and title keep it. */}
                {cluster.dashboard_link.replace(/^https?:\/\//, '')}
              </a>
            ) : (
              '-'
            )}
          </dd>
        </dl>
      ) : (
        <div className="mlops-Form">
          <label htmlFor="mlops-where">Where</label>
          <select
            id="mlops-where"
            className="mlops-Select"
            value={where}
            onChange={e => setWhere(e.target.value as Where)}
          >
            <option value="local">This machine</option>
            <option value="gateway">Dask Gateway</option>
          </select>
          <label htmlFor="mlops-workers">Workers</label>
          <input
            id="mlops-workers"
            type="number"
            min={1}
            value={workers}
            onChange={e => setWorkers(e.target.value)}
          />
          {where === 'local' ? (
            <>
              <label htmlFor="mlops-threads">Threads / worker</label>
              <input
                id="mlops-threads"
                type="number"
                min={1}
                value={threads}
                onChange={e => setThreads(e.target.value)}
              />
              <label htmlFor="mlops-memory">Memory / worker</label>
              <input id="mlops-memory" value={memory} onChange={e => setMemory(e.target.value)} />
            </>
          ) : (
            <>
              <label htmlFor="mlops-gateway">Gateway URL</label>
              <input
                id="mlops-gateway"
                placeholder="dask config gateway.address"
                value={gatewayUrl}
                onChange={e => setGatewayUrl(e.target.value)}
              />
              <label htmlFor="mlops-gateway-options">Options</label>
              <input
                id="mlops-gateway-options"
                placeholder="worker_cores=2 worker_memory=4"
                title="The gateway's cluster options, NAME=VALUE separated by spaces"
                value={gatewayOptions}
                onChange={e => setGatewayOptions(e.target.value)}
              />
              <label htmlFor="mlops-gateway-auth">Auth</label>
              <select
                id="mlops-gateway-auth"
                className="mlops-Select"
                value={auth}
                title="The password or token is read from the controller's environment (DASK_GATEWAY_PASSWORD, JUPYTERHUB_API_TOKEN), never typed here"
                onChange={e => setAuth(e.target.value as GatewayAuth | '')}
              >
                <option value="">as dask config says</option>
                <option value="none">none</option>
                <option value="simple">simple (DASK_GATEWAY_PASSWORD)</option>
                <option value="jupyterhub">JupyterHub (JUPYTERHUB_API_TOKEN)</option>
                <option value="kerberos">Kerberos</option>
              </select>
            </>
          )}
        </div>
      )}
      <div className="mlops-Actions">
        {cluster ? (
          <>
            <input
              className="mlops-ScaleInput"
              aria-label="Workers to scale to"
              type="number"
              min={1}
              style={{ width: '4em' }}
              value={scaleTo || String(cluster.workers)}
              onChange={e => setScaleTo(e.target.value)}
              disabled={!running || busy !== null}
            />
            <button className="mlops-Button" onClick={scale} disabled={!running || busy !== null}>
              Scale
            </button>
            <button
              className="mlops-Button"
              onClick={() => props.runMagic('%cluster')}
              disabled={!running || busy !== null}
              title="Insert %cluster into the active notebook and run it: the kernel gets a Client"
            >
              Connect notebook
            </button>
            <button
              className="mlops-Button mlops-Button-danger"
              onClick={stop}
              disabled={busy !== null}
            >
              Stop
            </button>
          </>
        ) : (
          <>
            <button
              className="mlops-Button mlops-Button-primary"
              onClick={start}
              disabled={busy !== null}
            >
              Start cluster
            </button>
            <button
              className="mlops-Button"
              onClick={startInNotebook}
              disabled={busy !== null}
              title="Insert %cluster start into the active notebook and run it"
            >
              Start in notebook
            </button>
          </>
        )}
      </div>
      {busy ? <div className="mlops-Busy">{busy}</div> : null}
      {error ? (
        <div className="mlops-Error" role="alert">
          {error}
        </div>
      ) : null}
      <PollError polled={clusters} />
    </Section>
  );
}
