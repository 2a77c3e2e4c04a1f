/**
 * Plugin registration only: the side panel, its commands and the palette entries.
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  ICommandPalette,
  IFrame,
  IThemeManager,
  MainAreaWidget,
  Notification,
  WidgetTracker
} from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';

import { ICluster, MLOpsApi, MLOpsApiError, ProfileReportKind } from './api';
import { mlopsIcon } from './icon';
import { MlflowUiLauncher } from './mlflow';
import { insertMagic, listDataFrames } from './notebook';
import { IClusterDefaults } from './panel/ClusterSection';
import { MLOpsPanel } from './panel/Panel';
import { ProfileReportView, ReportOpener } from './report';

const PLUGIN_ID = 'mlops-magics:plugin';
const DASK_POPULATE_URL = 'dask:populate-dashboard-url';

const CommandIDs = {
  openPanel: 'mlops:open-panel',
  startCluster: 'mlops:start-cluster',
  stopCluster: 'mlops:stop-cluster',
  connectNotebook: 'mlops:connect-notebook',
  openProfiles: 'mlops:open-profiles',
  profileDataFrame: 'mlops:profile-dataframe',
  openProfileReport: 'mlops:open-profile-report',
  openMlflowUi: 'mlops:open-mlflow-ui'
} as const;

/** Commands that need arguments, kept out of the palette. */
const NOT_IN_PALETTE: string[] = [CommandIDs.openProfileReport];

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
  optional: [ICommandPalette, ILayoutRestorer, ISettingRegistry, IThemeManager],
  activate: async (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    registry: ISettingRegistry | null,
    themes: IThemeManager | null
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

    // Profile reports open in main-area tabs, one per profile and report kind, restored with the layout.
    const reports = new WidgetTracker<MainAreaWidget<ProfileReportView>>({ namespace: 'mlops-profile' });
    const opener = new ReportOpener(
      api,
      widget => {
        app.shell.add(widget, 'main');
        void reports.add(widget);
      },
      id => app.shell.activateById(id)
    );
    // The compact report takes the lab's theme colours; refill the open ones once the new theme is drawn
    // (the theme manager hides the app until the next frame: wait one more).
    themes?.themeChanged.connect(() =>
      requestAnimationFrame(() => requestAnimationFrame(() => opener.rethemeAll()))
    );

    // The MLflow UI (a server of its own on loopback) opens in one main-area tab, from the panel or the palette.
    const mlflowTabs = new WidgetTracker<MainAreaWidget<IFrame>>({ namespace: 'mlops-mlflow-ui' });
    const mlflowUi = new MlflowUiLauncher(
      api,
      widget => {
        app.shell.add(widget, 'main');
        void mlflowTabs.add(widget);
      },
      id => app.shell.activateById(id)
    );

    const panel = new MLOpsPanel({
      api,
      defaults,
      runMagic,
      onClusterChanged,
      listDataFrames: () => listDataFrames(tracker),
      openReport: (profile, which) => opener.openReport(profile, which),
      mlflowUi
    });
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

    app.commands.addCommand(CommandIDs.openProfiles, {
      label: 'MLOps: Open Profiles',
      caption: 'Show the saved data profiles (%eda) in the MLOps panel',
      execute: () => {
        app.shell.activateById(panel.id);
        panel.showProfiles();
      }
    });
    app.commands.addCommand(CommandIDs.profileDataFrame, {
      label: 'MLOps: Profile a DataFrame (%eda)',
      caption: "List the active notebook's DataFrames in the MLOps panel, to profile one",
      execute: () => {
        app.shell.activateById(panel.id);
        panel.pickDataFrame();
      }
    });
    app.commands.addCommand(CommandIDs.openProfileReport, {
      label: args => `Profile: ${args.title ?? args.id}`,
      execute: args => {
        const id = String(args.id ?? '');
        if (!id) {
          return;
        }
        const which: ProfileReportKind = args.which === 'full' ? 'full' : 'report';
        return opener.openReport({ id, title: String(args.title ?? id) }, which);
      }
    });
    app.commands.addCommand(CommandIDs.openMlflowUi, {
      label: 'MLOps: Open MLflow UI',
      caption: "Start the MLflow UI over the workspace's runs and models, and open it in a tab",
      isEnabled: () => mlflowUi.state.phase !== 'starting',
      execute: async args => {
        if (args.ifRunning) {
          // Restoring the layout: bring the tab back only when the UI still runs (a reload does not start it).
          try {
            const status = await api.mlflowUi();
            if (status.status === 'running' && status.url) {
              mlflowUi.observe(status);
              mlflowUi.show(status.url);
            }
          } catch (error) {
            console.warn('mlops-magics: the MLflow UI tab was not restored', error);
          }
          return;
        }
        try {
          await mlflowUi.open();
        } catch (error) {
          report(error);
        }
      }
    });
    mlflowUi.subscribe(() => app.commands.notifyCommandChanged(CommandIDs.openMlflowUi));

    if (restorer) {
      void restorer.restore(reports, {
        command: CommandIDs.openProfileReport,
        args: widget => ({
          id: widget.content.target.id,
          title: widget.content.target.title,
          which: widget.content.which
        }),
        name: widget => widget.id
      });
      void restorer.restore(mlflowTabs, {
        command: CommandIDs.openMlflowUi,
        args: () => ({ ifRunning: true }),
        name: () => 'mlflow-ui'
      });
    }

    if (palette) {
      for (const command of Object.values(CommandIDs)) {
        if (!NOT_IN_PALETTE.includes(command)) {
          palette.addItem({ command, category: 'MLOps' });
        }
      }
    }
  }
};

export default plugin;
