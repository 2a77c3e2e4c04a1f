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
import type { FileBrowser } from '@jupyterlab/filebrowser';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { CommandToolbarButton } from '@jupyterlab/ui-components';

import { ICluster, MLOpsApi, MLOpsApiError, ProfileReportKind } from './api';
import { mlopsIcon } from './icon';
import { MlflowUiLauncher } from './mlflow';
import { newJob } from './newJob';
import { currentNotebookName, insertCode, insertMagic, listDataFrames } from './notebook';
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
  openMlflowUi: 'mlops:open-mlflow-ui',
  newJob: 'mlops:new-job',
  runAsJob: 'mlops:run-as-job',
  createJobFromFile: 'mlops:create-job-from-file'
} as const;

/** Commands that need arguments or a context (a file browser item, a notebook's toolbar), kept out of the palette. */
const NOT_IN_PALETTE: string[] = [CommandIDs.openProfileReport, CommandIDs.runAsJob, CommandIDs.createJobFromFile];

/** The file browser's notebook items, where "Create Job from Notebook" is offered. */
const NOTEBOOK_ITEM = '.jp-DirListing-item[data-file-type="notebook"]';
/** The default file browser's id in the left area (@jupyterlab/filebrowser-extension). */
const FILE_BROWSER_ID = 'filebrowser';

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

    const report = (error: unknown): void => {
      const text = error instanceof MLOpsApiError ? error.message : String(error);
      Notification.error(`MLOps: ${text}`, { autoClose: 8000 });
    };

    // A job is made of a notebook file: the dialog asks its name and schedule, then the Jobs section shows it.
    const makeJob = async (
      path: string,
      options: { runNow: boolean; title: string; save?: () => Promise<void> }
    ): Promise<void> => {
      try {
        const made = await newJob(api, app.serviceManager.contents.localPath(path), options);
        if (!made) {
          return;
        }
        app.shell.activateById(panel.id);
        panel.showJobs(made.job.name);
        if (made.runError) {
          Notification.error(`MLOps: ${made.runError}`, { autoClose: 8000 });
        }
      } catch (error) {
        report(error);
      }
    };
    // The active notebook, saved when the dialog is accepted: the job runs the file as it is on disk.
    const makeJobOfActive = async (runNow: boolean, title: string): Promise<void> => {
      const current = tracker.currentWidget;
      if (!current) {
        Notification.warning('Open a notebook first: a job runs a notebook.', { autoClose: 5000 });
        return;
      }
      // Saved whatever its dirty flag says: an edit made a moment ago may not have set it yet, and the job's
      // snapshot must be what the person sees.
      const save = async (): Promise<void> => {
        if (!current.context.model.readOnly) {
          await current.context.save();
        }
      };
      await makeJob(current.context.path, { runNow, title, save });
    };
    // The notebook right-clicked in the file browser (a right click selects the item under it).
    const selectedNotebook = (): string | null => {
      for (const widget of app.shell.widgets('left')) {
        if (widget.id === FILE_BROWSER_ID && 'selectedItems' in widget) {
          const item = (widget as FileBrowser).selectedItems().next();
          return !item.done && item.value.type === 'notebook' ? item.value.path : null;
        }
      }
      return null;
    };

    const panel = new MLOpsPanel({
      api,
      defaults,
      runMagic,
      onClusterChanged,
      listDataFrames: () => listDataFrames(tracker),
      openReport: (profile, which) => opener.openReport(profile, which),
      insertCode: code => {
        const inserted = insertCode(tracker, code);
        if (inserted && tracker.currentWidget) {
          app.shell.activateById(tracker.currentWidget.id);
        }
        return inserted;
      },
      currentNotebook: () => currentNotebookName(tracker),
      mlflowUi,
      newJob: () => makeJobOfActive(false, 'New job from the active notebook'),
      openNotebook: path => void app.commands.execute('docmanager:open', { path })
    });
    panel.title.icon = mlopsIcon;
    panel.title.caption = 'MLOps';
    app.shell.add(panel, 'left', { rank: 600 });
    // The Data section's "Insert into notebook" says which notebook it inserts into, or why it cannot.
    tracker.currentChanged.connect(() => panel.update());
    restorer?.add(panel, 'mlops-panel');

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

    app.commands.addCommand(CommandIDs.newJob, {
      label: 'MLOps: New Job from Notebook…',
      caption: 'Make a job of the active notebook: run it now, on a schedule, or by a call',
      icon: mlopsIcon,
      execute: () => makeJobOfActive(false, 'New job from the active notebook')
    });
    app.commands.addCommand(CommandIDs.runAsJob, {
      label: 'Run as Job',
      caption: 'Run this notebook as a job, in a fresh kernel of the workspace controller (it outlives JupyterLab)',
      icon: mlopsIcon,
      execute: () => makeJobOfActive(true, 'Run as job')
    });
    app.commands.addCommand(CommandIDs.createJobFromFile, {
      label: 'Create Job from Notebook',
      caption: 'Make a job of this notebook: run it now, on a schedule, or by a call',
      icon: mlopsIcon,
      execute: async () => {
        const path = selectedNotebook();
        if (path) {
          await makeJob(path, { runNow: false, title: `New job from ${path.split('/').pop()}` });
        }
      }
    });
    app.contextMenu.addItem({ command: CommandIDs.createJobFromFile, selector: NOTEBOOK_ITEM, rank: 60 });
    app.docRegistry.addWidgetExtension('Notebook', {
      createNew: (notebook: NotebookPanel) => {
        const button = new CommandToolbarButton({ commands: app.commands, id: CommandIDs.runAsJob, label: 'Run as job' });
        if (!notebook.toolbar.insertAfter('cellType', 'mlops-run-as-job', button)) {
          notebook.toolbar.addItem('mlops-run-as-job', button);
        }
        return button;
      }
    });

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
