/**
 * Plugin registration only: the side panel, its commands and the palette entries.
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, Notification } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';

import { ICluster, MLOpsApi, MLOpsApiError } from './api';
import { mlopsIcon } from './icon';
import { insertMagic } from './notebook';
import { IClusterDefaults } from './panel/ClusterSection';
import { MLOpsPanel } from './panel/Panel';

const PLUGIN_ID = 'mlops-magics:plugin';
const DASK_POPULATE_URL = 'dask:populate-dashboard-url';

const CommandIDs = {
  openPanel: 'mlops:open-panel',
  startCluster: 'mlops:start-cluster',
  stopCluster: 'mlops:stop-cluster',
  connectNotebook: 'mlops:connect-notebook'
} as const;

const DEFAULTS: IClusterDefaults = {
  workers: 2,
  threadsPerWorker: 1,
  memoryLimit: 'auto',
  pollInterval: 2000
};

async function loadDefaults(registry: ISettingRegistry | null): Promise<IClusterDefaults> {
  if (!registry) {
    return DEFAULTS;
  }
  try {
    const settings = await registry.load(PLUGIN_ID);
    return {
      workers: settings.get('defaultWorkers').composite as number,
      threadsPerWorker: settings.get('defaultThreadsPerWorker').composite as number,
      memoryLimit: settings.get('defaultMemoryLimit').composite as string,
      pollInterval: settings.get('pollInterval').composite as number
    };
  } catch (error) {
    console.warn('mlops-magics: settings could not be loaded, using defaults', error);
    return DEFAULTS;
  }
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'The MLOps side panel: cluster, data, experiments, jobs, deployments, monitoring.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ICommandPalette, ILayoutRestorer, ISettingRegistry],
  activate: async (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    registry: ISettingRegistry | null
  ) => {
    const api = new MLOpsApi(app.serviceManager.serverSettings);
    const defaults = await loadDefaults(registry);
    let dashboardShown: string | null = null;

    // Hand a running cluster's dashboard to dask-labextension's panel when it is installed.
    const onClusterChanged = (cluster: ICluster | null): void => {
      const link = cluster?.status === 'running' ? cluster.dashboard_link : null;
      if (link && link !== dashboardShown && app.commands.hasCommand(DASK_POPULATE_URL)) {
        void app.commands.execute(DASK_POPULATE_URL, { url: link.replace(/\/status$/, '') });
      }
      dashboardShown = link;
    };
    const runMagic = (magic: string): Promise<boolean> => insertMagic(tracker, magic);

    const panel = new MLOpsPanel({ api, defaults, runMagic, onClusterChanged });
    panel.title.icon = mlopsIcon;
    panel.title.caption = 'MLOps';
    app.shell.add(panel, 'left', { rank: 600 });
    restorer?.add(panel, 'mlops-panel');

    const report = (error: unknown): void => {
      const text = error instanceof MLOpsApiError ? error.message : String(error);
      Notification.error(`MLOps: ${text}`, { autoClose: 8000 });
    };

    app.commands.addCommand(CommandIDs.openPanel, {
      label: 'MLOps: Open Panel',
      icon: mlopsIcon,
      execute: () => app.shell.activateById(panel.id)
    });
    app.commands.addCommand(CommandIDs.startCluster, {
      label: 'MLOps: Start Dask Cluster',
      execute: async () => {
        try {
          const cluster = await api.startCluster('default', {
            workers: defaults.workers,
            threads_per_worker: defaults.threadsPerWorker,
            memory_limit: defaults.memoryLimit
          });
          Notification.success(`MLOps: cluster running, dashboard ${cluster.dashboard_link}`, {
            autoClose: 5000
          });
        } catch (error) {
          report(error);
        }
      }
    });
    app.commands.addCommand(CommandIDs.stopCluster, {
      label: 'MLOps: Stop Dask Cluster',
      execute: async () => {
        try {
          await api.stopCluster('default');
        } catch (error) {
          report(error);
        }
      }
    });
    app.commands.addCommand(CommandIDs.connectNotebook, {
      label: 'MLOps: Connect Notebook to Cluster (%cluster)',
      execute: () => runMagic('%cluster')
    });

    if (palette) {
      for (const command of Object.values(CommandIDs)) {
        palette.addItem({ command, category: 'MLOps' });
      }
    }
  }
};

export default plugin;
